"""An orbax checkpoint saved on 8 devices (ModelParallel, the kernel split) restores on 1 device, and the reverse."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("ckpt_script.py")


def script(*args):
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.parametrize("saved_on, restored_on", [("many", "one"), ("one", "many")])
def test_checkpoint_moves_between_device_counts(tmp_path, saved_on, restored_on):
    directory = str(tmp_path / "ckpt")
    assert f"saved {8 if saved_on == 'many' else 1}" in script(saved_on, directory, "save")
    out = script(restored_on, directory, "load")
    assert "restored equal: True" in out  # the exact weights of the saving run
    assert f"trained on {8 if restored_on == 'many' else 1} devices" in out
