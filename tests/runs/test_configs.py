"""Every config in configs/ runs offline to completion at reduced size (its recipe's SMOKE overrides).

Runs go through the CLI's entry point, ``kerasish.cli.main(["run", config, *overrides, "--root", dir])``,
in this process (test_cli.py runs the command in subprocesses); the dataset cache is an empty folder,
so recipes take their offline fallbacks.
"""

import json
from pathlib import Path

import pytest

from kerasish import cli
from kerasish.runs import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_configs_exist():
    assert len(CONFIGS) >= 1


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_runs_offline_at_smoke_size(path, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASISH_DATA_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(tmp_path)
    _, module, _ = load_config(path)
    smoke = getattr(module, "SMOKE", None)
    assert smoke, f"recipe {module.__file__} must define SMOKE overrides for this test"
    assert cli.main(["run", str(path), *smoke, "--root", str(tmp_path / "runs")]) == 0
    (run_dir,) = [p for p in (tmp_path / "runs").glob("*/*") if p.is_dir()]
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.yaml", "run.json", "console.log", "metrics.json"} <= names
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    first = (run_dir / "console.log").read_text().splitlines()[0]
    assert first.startswith("Data:"), f"the first line must say which data is used, got {first!r}"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics and all(v == v for v in metrics.values() if isinstance(v, float)), f"NaN metric: {metrics}"
    config = load_config(run_dir / "config.yaml")[2]
    if config["output"]["save_model"]:
        assert "model.kerasish" in names
