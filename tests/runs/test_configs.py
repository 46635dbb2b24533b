"""Every config in configs/ runs offline to completion at reduced size (its recipe's SMOKE overrides).

Runs go through ``kerasish.runs.run`` in this process (the CLI's subprocess path is covered by
test_cli.py); the dataset cache is an empty folder, so recipes take their offline fallbacks.
"""

import json
from pathlib import Path

import pytest

from kerasish.runs import load_config, run

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
    result = run(path, smoke, root=tmp_path / "runs")
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"config.yaml", "run.json", "console.log", "metrics.json"} <= names
    assert json.loads((result.run_dir / "run.json").read_text())["status"] == "completed"
    first = (result.run_dir / "console.log").read_text().splitlines()[0]
    assert first.startswith("Data:"), f"the first line must say which data is used, got {first!r}"
    assert result.metrics and all(v == v for v in result.metrics.values() if isinstance(v, float)), "NaN metric"
    if result.model is not None and result.config["output"]["save_model"]:
        assert "model.kerasish" in names
