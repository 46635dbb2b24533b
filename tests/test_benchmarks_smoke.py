"""Smoke test of the benchmark runner: every variant runs and reports positive numbers (no timing checks)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
def test_runner_reports_every_variant(tmp_path):
    from benchmarks.run import TRAIN_VARIANTS, label

    out_json = tmp_path / "bench.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
           "PYTHONPATH": str(REPO_ROOT)}
    # --in-process: one interpreter for all variants, so the test stays fast; the runner itself is
    # still a subprocess, so its JAX configuration (compilation cache off) cannot leak into this one.
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--workloads", "tiny_mlp", "--repeats", "1", "--samples", "1024",
         "--epochs", "2", "--in-process", "--json", str(out_json)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout
    assert "== tiny_mlp" in table
    number = r"([\d,]+(?:\.\d+)?)"
    for variant in TRAIN_VARIANTS:
        name = label(variant, "train")
        row = next((line for line in table.splitlines() if line.startswith(name)), None)
        assert row is not None, f"no row for {name!r} in:\n{table}"
        assert "FAILED" not in row, row
        rest = row[len(name):]
        m = re.match(rf"\s+{number}\s+\({number}-{number}\)\s+{number}\s+{number}", rest)
        assert m, f"unexpected row format: {row!r}"
        values = [float(g.replace(",", "")) for g in m.groups()]
        assert all(v > 0 for v in values), row
    assert "kerasish / best hand-written" in table
    assert "kerasish / Keras default" in table

    report = json.loads(out_json.read_text())
    stats = report["workloads"]["tiny_mlp"]["stats"]
    assert set(stats) == set(TRAIN_VARIANTS)
    assert report["meta"]["versions"]["jax"]
    for variant, s in stats.items():
        assert not s["errors"], (variant, s["errors"])
        assert s["samples_per_s"]["median"] > 0 and s["first_step_s"]["median"] > 0
