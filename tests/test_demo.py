"""`python -m kerasish.demo` (the pre-recipes demo, kept as the `kerasish-demo` command) trains offline."""

import subprocess
import sys


def test_demo_runs_offline():
    out = subprocess.run([sys.executable, "-m", "kerasish.demo", "--epochs", "2"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "scikit-learn digits (offline)" in out.stdout
    accuracy = float(out.stdout.split("Test accuracy:")[1].split()[0])
    assert accuracy > 0.5  # two epochs; the full demo reaches about 0.97
