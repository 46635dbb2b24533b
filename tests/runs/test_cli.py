"""The ``kerasish`` command end to end, in subprocesses as a user runs it: help, a run, errors, resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasish

RUN_FILES = {"config.yaml", "run.json", "console.log", "metrics.json", "model.kerasish", "history.csv",
             "tensorboard", "checkpoints"}


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "kerasish", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}, timeout=300)


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*") if p.is_dir())


def test_help_explains_commands_overrides_and_resume():
    top = cli("--help")
    assert top.returncode == 0 and "run" in top.stdout
    run = cli("run", "--help")
    assert run.returncode == 0
    for phrase in ("fit.epochs=3", "--resume RUN_DIR", "console.log", "metrics.json", "early_stopping"):
        assert phrase in run.stdout


def test_a_run_fills_its_directory(project):
    done = cli("run", "configs/tiny.yaml", "fit.epochs=2", "--root", "out", cwd=project)
    assert done.returncode == 0, done.stderr
    (run_dir,) = run_dirs(project / "out")
    assert run_dir.parent.name == "tiny"
    assert RUN_FILES <= {p.name for p in run_dir.iterdir()}
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    assert "fit:\n  epochs: 2" in (run_dir / "config.yaml").read_text()
    log = (run_dir / "console.log").read_text()
    assert log.splitlines()[0].startswith("Data: synthetic regression")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) == {"final_loss", "final_mae"} and np.isfinite(metrics["final_loss"])
    model = kerasish.models.load_model(run_dir / "model.kerasish")
    assert model.count_params() == 4 * 8 + 8 + 8 + 1
    assert list((run_dir / "tensorboard" / "fit0" / "train").glob("events.out.tfevents.*"))
    assert "Done: final_loss=" in done.stdout


def test_a_bad_config_fails_before_training_with_the_key(project):
    bad = cli("run", "configs/tiny.yaml", "fit.epochs=0", "model.depth=2", "--root", "out", cwd=project)
    assert bad.returncode == 2
    assert "fit.epochs" in bad.stderr and "model.depth: unknown key; allowed keys: activation, units" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (project / "out").exists(), "nothing is written for an invalid config"


def test_resume_refuses_a_completed_run_and_arguments(project):
    cli("run", "configs/tiny.yaml", "--root", "out", cwd=project)
    (run_dir,) = run_dirs(project / "out")
    again = cli("run", "--resume", str(run_dir), cwd=project)
    assert again.returncode == 2 and "already completed" in again.stderr
    both = cli("run", "configs/tiny.yaml", "--resume", str(run_dir), cwd=project)
    assert both.returncode == 2 and "--resume takes a run directory only" in both.stderr


def test_a_killed_run_resumes_exactly(project):
    """SIGKILL in the middle of epoch 2, then --resume: the same weights and metrics as a run never killed."""
    whole = cli("run", "configs/tiny.yaml", "--root", "whole", cwd=project)
    assert whole.returncode == 0, whole.stderr
    # 256 samples, 25% validation, batch 16: 12 batches an epoch; die at the 18th (epoch 2, batch 6)
    killed = cli("run", "configs/tiny.yaml", "--root", "killed", cwd=project, env={"TINY_KILL_AT": "18"})
    assert killed.returncode == -9
    (run_dir,) = run_dirs(project / "killed")
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    assert not (run_dir / "metrics.json").exists()
    committed = [p.name for p in (run_dir / "backup" / "fit0").iterdir() if p.name.isdigit()]
    assert committed, "the killed run left a committed backup to resume from"
    resumed = cli("run", "--resume", str(run_dir), cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    (whole_dir,) = run_dirs(project / "whole")
    assert json.loads((run_dir / "metrics.json").read_text()) == json.loads((whole_dir / "metrics.json").read_text())
    a = kerasish.models.load_model(run_dir / "model.kerasish").get_weights()
    b = kerasish.models.load_model(whole_dir / "model.kerasish").get_weights()
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "completed" and meta["resumed"] is True
    history = (run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 3, "one CSV row per epoch, none repeated by the resume"


@pytest.mark.parametrize("entry", ["kerasish"])
def test_the_console_script_is_installed(entry):
    script = Path(sys.executable).parent / entry
    assert script.exists(), f"{script} missing: pyproject's [project.scripts] must define {entry}"
    out = subprocess.run([str(script), "run", "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "--resume" in out.stdout


def test_options_and_overrides_in_any_order(project):
    from kerasish import cli as command

    assert command.main(["run", "configs/tiny.yaml", "--root", "out", "fit.epochs=2", "model.units=[3]"]) == 0
    (run_dir,) = run_dirs(project / "out")
    config = (run_dir / "config.yaml").read_text()
    assert "fit:\n  epochs: 2" in config and "units:\n  - 3" in config
    assert command.main(["run", "fit.epochs=1", "--root", "out2", "configs/tiny.yaml"]) == 2  # the config first
