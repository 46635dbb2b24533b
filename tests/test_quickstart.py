"""The README's first quick-start command, read from the README itself, runs offline (at 2 epochs)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def quickstart_command() -> list[str]:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.S).group(1)
    first = block.splitlines()[0]
    assert first.startswith("pip install -e . && "), first
    return shlex.split(first.split("&& ", 1)[1])


def test_readme_quickstart_runs_offline(tmp_path):
    command = quickstart_command()
    assert command[0] == "kerasish", command
    script = Path(sys.executable).parent / "kerasish"
    env = {**os.environ, "KERASISH_DATA_DIR": str(tmp_path / "empty-cache"), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([str(script), *command[1:], "fit.epochs=2", "--root", str(tmp_path / "runs")],
                         cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Data: scikit-learn digits -- offline fallback"), lines[0]
    assert any(line.startswith("Test accuracy:") for line in lines)
    assert list((tmp_path / "runs").glob("*/*/model.kerasish"))
