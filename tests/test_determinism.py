"""``kerasish.utils.set_random_seed`` makes training bitwise reproducible on CPU.

A run covers everything random in training: weight initializers, Dropout masks and
the per-epoch shuffling in ``fit``. Runs are repeated in this process and in fresh
Python processes.
"""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import kerasish

# The run, as source, so that the very same code runs here and in subprocesses.
RUN_SOURCE = textwrap.dedent('''
    import hashlib

    import numpy as np

    import kerasish
    from kerasish import layers


    def data():
        rng = np.random.default_rng(7)  # fixed data, independent of the global seed
        x = rng.normal(size=(96, 6)).astype("float32")
        y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype("int32") + (x[:, 3] > 0.5).astype("int32")
        return x, y


    def build_model():
        model = kerasish.Sequential([
            kerasish.Input(shape=(6,)),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(3, activation="softmax"),
        ])
        model.compile(optimizer=kerasish.optimizers.Adam(learning_rate=0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


    def fit(model, epochs=4):
        x, y = data()
        # 96 = 6 batches of 16: one batch shape, so one compilation.
        return model.fit(x, y, epochs=epochs, batch_size=16, shuffle=True, verbose=0)


    def run(seed):
        kerasish.utils.set_random_seed(seed)
        model = build_model()
        history = fit(model)
        return model.get_weights(), history.history


    def digest(weights):
        h = hashlib.sha256()
        for w in weights:
            w = np.ascontiguousarray(w)
            h.update(str((w.dtype.str, w.shape)).encode())
            h.update(w.tobytes())
        return h.hexdigest()
''')

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu",
                                reason="set_random_seed promises bitwise-identical runs on CPU only")

_ns: dict = {}
exec(compile(RUN_SOURCE, "<determinism run>", "exec"), _ns)
run, digest, build_model, fit = _ns["run"], _ns["digest"], _ns["build_model"], _ns["fit"]


def _assert_bitwise_equal(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        assert wa.dtype == wb.dtype and wa.shape == wb.shape
        assert np.array_equal(wa, wb)


def _differs(a, b):
    return any(not np.array_equal(wa, wb) for wa, wb in zip(a, b))


@pytest.fixture(scope="module")
def run_123():
    return run(123)


def test_same_seed_gives_bitwise_identical_runs(run_123):
    weights_a, history_a = run_123
    weights_b, history_b = run(123)
    _assert_bitwise_equal(weights_a, weights_b)
    assert history_a == history_b  # exact float equality, every epoch
    assert len(history_a["loss"]) == 4


def test_different_seed_gives_different_weights(run_123):
    weights_a, history_a = run_123
    weights_c, history_c = run(124)
    assert _differs(weights_a, weights_c)
    assert history_a != history_c


def test_seed_controls_dropout_and_shuffling_not_only_init():
    """Same initial weights; fit after different seeds differs, fit after the same seed repeats."""
    kerasish.utils.set_random_seed(5)
    initial = build_model().get_weights()

    def fit_from_initial(fit_seed):
        model = build_model()
        model.set_weights(initial)
        kerasish.utils.set_random_seed(fit_seed)
        fit(model, epochs=2)
        return model.get_weights()

    first, again, other = fit_from_initial(1), fit_from_initial(1), fit_from_initial(2)
    _assert_bitwise_equal(first, again)
    assert _differs(first, other)


def test_runs_in_separate_processes_are_bitwise_identical(run_123):
    script = RUN_SOURCE + "\nweights, _ = run(123)\nprint('DIGEST', digest(weights))\n"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    # Both processes at once: most of their time is importing JAX and compiling.
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    digests = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
            lines = [line for line in out.splitlines() if line.startswith("DIGEST ")]
            assert len(lines) == 1, out
            digests.append(lines[0].split()[1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert digests[0] == digests[1]
    # ...and the same bits as the run in this process.
    assert digests[0] == digest(run_123[0])
