"""SIGKILL at random moments inside ``model.save``, ``ModelCheckpoint`` and ``BackupAndRestore`` writes.

A child process (``scripts/write_loop.py``) writes the same files over and over; the test kills it at a
random moment of a write round. Afterwards every file under its final name is complete and loads (its
checksums verified), the next save to the same place leaves no temporary file behind, and a killed
``BackupAndRestore`` run, rerun, ends bitwise where an uninterrupted run ends.

CI runs one kill per kind; ``KERASISH_FAULTS_FULL=1`` runs 20 (the audit's count).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import kerasish

pytestmark = pytest.mark.faults

SCRIPT = Path(__file__).parent / "scripts" / "write_loop.py"
TRIALS = 20 if os.environ.get("KERASISH_FAULTS_FULL") else 1
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def _start(kind: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), kind, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def _kill_inside_a_round(proc: subprocess.Popen, rng: np.random.Generator, max_rounds: int = 4) -> bool:
    """Let the child write a random number of rounds, then kill it at a random moment of the next one.

    Returns whether the kill hit a running child (False: it had already finished)."""
    assert proc.stdout.readline().startswith("ready"), proc.stderr.read()[-3000:]
    last = 0.05
    for _ in range(int(rng.integers(0, max_rounds))):
        line = proc.stdout.readline()
        if not line:
            break
        last = max(float(line.split()[1]), 0.01)
    time.sleep(float(rng.uniform(0.0, last)))
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    proc.stderr.close()
    return alive


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.name.endswith(".tmp") or "tmp" in p.name.split("."))


@pytest.mark.parametrize("trial", range(TRIALS))
def test_killed_saves_leave_complete_files(tmp_path, trial):
    rng = np.random.default_rng(trial)
    assert _kill_inside_a_round(_start("save", tmp_path), rng)
    model = kerasish.models.load_model(tmp_path / "m.kerasish")  # verified: every member's checksum
    keras_model = kerasish.models.load_model(tmp_path / "m.keras")
    for a, b in zip(model.get_weights(), keras_model.get_weights()):
        assert a.shape == b.shape and np.all(np.isfinite(a)) and np.all(np.isfinite(b))
    keras_model.load_weights(tmp_path / "m.weights.h5")
    # The next save to each place removes what the killed save left behind.
    model.save(tmp_path / "m.keras")
    model.save(tmp_path / "m.kerasish")
    model.save_weights(tmp_path / "m.weights.h5")
    assert _temps(tmp_path) == []
    again = kerasish.models.load_model(tmp_path / "m.keras")
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_killed_model_checkpoint_leaves_a_loadable_file(tmp_path, trial):
    rng = np.random.default_rng(100 + trial)
    assert _kill_inside_a_round(_start("checkpoint", tmp_path), rng)
    model = kerasish.models.load_model(tmp_path / "ckpt.keras")
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


@pytest.fixture(scope="module")
def backup_reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("backup_reference")
    proc = subprocess.run([sys.executable, str(SCRIPT), "backup", str(out)], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return _weights(out / "final.npz")


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[k] for k in sorted(f, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_killed_backup_resumes_bitwise(tmp_path, backup_reference, trial):
    rng = np.random.default_rng(200 + trial)
    killed = _kill_inside_a_round(_start("backup", tmp_path), rng, max_rounds=10)
    assert killed and not (tmp_path / "final.npz").exists()
    proc = subprocess.run([sys.executable, str(SCRIPT), "backup", str(tmp_path)], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for a, b in zip(_weights(tmp_path / "final.npz"), backup_reference):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "backup").exists()  # a completed fit deletes its backup
    assert _temps(tmp_path) == []
