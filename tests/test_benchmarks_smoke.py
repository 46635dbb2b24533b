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
    # No Keras nightly venv here (its variants are in the default list when one is found): the runner must
    # say that it skips them, and run the rest.
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
           "PYTHONPATH": str(REPO_ROOT), "KERASISH_BENCH_NIGHTLY_VENV": str(tmp_path / "no-nightly-venv")}
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
    assert "NOTE: skipping keras_nightly_spe32, keras_nightly_spe128: no Keras nightly venv at" in table

    report = json.loads(out_json.read_text())
    stats = report["workloads"]["tiny_mlp"]["stats"]
    assert set(stats) == set(TRAIN_VARIANTS)
    assert set(report["meta"]["skipped_variants"]) == {"keras_nightly_spe32", "keras_nightly_spe128"}
    assert report["meta"]["versions"]["jax"]
    for variant, s in stats.items():
        assert not s["errors"], (variant, s["errors"])
        assert s["samples_per_s"]["median"] > 0 and s["first_step_s"]["median"] > 0
        assert s["peak_memory"]["kind"] in ("device", "host RSS") and s["peak_memory"]["median"] > 0


def _run_runner(args, tmp_path, timeout):
    out_json = tmp_path / "bench.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"),
           "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", *args, "--in-process", "--json", str(out_json)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out_json.read_text())


@pytest.mark.timeout(120)
def test_lstm_workload_runs_in_every_framework(tmp_path):
    # One batch an epoch and one variant per framework: the LSTM's compilations dominate the test's time.
    variants = ["kerasish", "hw_step", "keras"]
    table, report = _run_runner(["--workloads", "lstm", "--variants", ",".join(variants), "--repeats", "1",
                                 "--samples", "64", "--epochs", "2"], tmp_path, timeout=110)
    assert "== lstm" in table
    stats = report["workloads"]["lstm"]["stats"]
    assert list(stats) == variants
    for variant, s in stats.items():
        assert not s["errors"], (variant, s["errors"])
        assert s["samples_per_s"]["median"] > 0 and s["first_step_s"]["median"] > 0
    assert "kerasish_vs_best_handwritten" in report["workloads"]["lstm"]["ratios"]


def test_lstm_not_in_cpu_default_list():
    from benchmarks.run import CPU_DEFAULT
    from benchmarks.workloads import WORKLOADS

    assert "lstm" in WORKLOADS and "lstm" not in CPU_DEFAULT
    w = WORKLOADS["lstm"]
    assert (w.task, w.sample_shape, w.vocab, w.num_classes, w.batch_size) == ("train", (64,), 1000, 2, 64)
    assert w.size(quick=False) == (16384, 3) and w.size(quick=True) == (1024, 2)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_sequence_models_are_the_same_architecture(name):
    """kerasish and Keras build the same layers (same classes, weight shapes) and the nnx model has as many
    parameters; kerasish's weights load Keras's (the workloads' lists of layers come from one builder)."""
    import jax
    import numpy as np
    from flax import nnx

    from benchmarks import workloads

    w = workloads.WORKLOADS[name]
    keras_model = workloads.build_keras(w)
    kerasish_model = workloads.build_kerasish(w)
    keras_layers = [type(layer).__name__ for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    kerasish_layers = [type(layer).__name__ for layer in kerasish_model.layers
                       if type(layer).__name__ != "InputLayer"]
    assert kerasish_layers == keras_layers
    expected = {"transformer": {"MultiHeadAttention", "GlobalAveragePooling1D"}, "lstm": {"LSTM", "Embedding"}}
    assert expected[name] <= set(kerasish_layers)
    assert "Lambda" not in kerasish_layers
    keras_weights = keras_model.get_weights()
    assert [tuple(np.shape(a)) for a in kerasish_model.get_weights()] == [a.shape for a in keras_weights]
    kerasish_model.set_weights(keras_weights)
    if name == "lstm":  # the transformer's forward pass compiles for long; the lstm's is cheap
        x, _ = workloads.make_data(w, 4)
        np.testing.assert_allclose(np.asarray(kerasish_model(x)), np.asarray(keras_model(x)), atol=1e-5)
    nnx_model = workloads.build_nnx(w)
    nnx_count = sum(a.size for a in jax.tree.leaves(nnx.state(nnx_model, nnx.Param)))
    assert nnx_count == sum(a.size for a in keras_weights)


def test_mixed_bfloat16_workload_sets_the_policy_in_every_framework():
    """resnet20_bf16: kerasish and Keras build it under mixed_bfloat16 (bfloat16 compute, float32 weights),
    the hand-written nnx model computes in bfloat16 on float32 parameters; the float32 workload does not."""
    import jax
    import jax.numpy as jnp
    import keras
    import numpy as np
    from flax import nnx

    import kerasish
    from benchmarks import workloads

    w = workloads.WORKLOADS["resnet20_bf16"]
    assert (w.model, w.policy) == ("resnet20", "mixed_bfloat16")
    try:
        for model in (workloads.build_kerasish(w), workloads.build_keras(w)):
            convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
            assert len(convs) == 21 and {layer.compute_dtype for layer in convs} == {"bfloat16"}
            assert {str(np.dtype(v.dtype)) for v in model.weights} == {"float32"}
        nnx_model = workloads.build_nnx(w)
        assert {a.dtype for a in jax.tree.leaves(nnx.state(nnx_model, nnx.Param))} == {jnp.dtype("float32")}
        assert nnx_model(jnp.zeros((2, 32, 32, 3)), train=False).dtype == jnp.bfloat16
        assert workloads.build_nnx(workloads.WORKLOADS["resnet20"])(
            jnp.zeros((2, 32, 32, 3)), train=False).dtype == jnp.float32
    finally:
        kerasish.mixed_precision.set_global_policy("float32")
        keras.mixed_precision.set_global_policy("float32")
