"""Staged host batches on the CPU (kerasish.engine.staging): fused calls' rows gathered into reused aligned buffers
that JAX takes without a copy. The oracle is the same fit/evaluate/predict with staging off: bit for bit."""

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import staging


def test_a_gather_lands_in_aligned_buffers_that_jax_takes_in_place():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(100, 7)).astype("float32"), rng.integers(0, 3, 100)
    ring = staging.Staging()
    order = rng.permutation(100)
    (gx, gy), slot = ring.gather((x, y), order[:32])
    np.testing.assert_array_equal(gx, x[order[:32]])
    np.testing.assert_array_equal(gy, y[order[:32]])
    assert gx.ctypes.data % staging.ALIGN == 0 and gy.ctypes.data % staging.ALIGN == 0
    placed = jax.device_put(gx.reshape(4, 8, 7))  # as a fused call's (k, batch, ...) view
    assert placed.unsafe_buffer_pointer() == gx.ctypes.data  # no copy: the device buffer is the staged memory
    (sx,), _ = ring.gather((x,), slice(10, 42))  # an in-order call: a slice, copied
    np.testing.assert_array_equal(sx, x[10:42])


def test_a_slot_is_written_again_only_after_the_call_that_read_it(monkeypatch):
    waited = []
    monkeypatch.setattr(staging.jax, "block_until_ready", lambda value: waited.append(value))
    ring = staging.Staging()
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    slots = []
    for call in range(staging.SLOTS + 2):
        (_,), slot = ring.gather((x,), slice(0, 4))
        slots.append(slot)
        assert waited == [f"output {c}" for c in range(call - staging.SLOTS + 1)]  # the call SLOTS before
        ring.done(slot, f"output {call}")
    assert slots == [0, 1, 2, 0, 1]
    for _ in range(staging.SLOTS):  # handed out, never handed back: not written again
        (held,), slot = ring.gather((x,), slice(0, 4))
    (fresh,), slot = ring.gather((x,), slice(4, 8))
    assert slot is None and not np.shares_memory(fresh, held)
    np.testing.assert_array_equal(fresh, x[4:8])


def _run(staged: bool, monkeypatch):
    monkeypatch.setattr(staging, "enabled", lambda: staged)
    gathers = []
    original = staging.Staging.gather
    monkeypatch.setattr(staging.Staging, "gather", lambda self, tree, index: gathers.append(1) or original(self, tree, index))
    kerasish.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6)).astype("float32")  # 300 = 18 * 16 + 12: fused calls, singles, a short batch
    y = rng.integers(0, 4, 300)
    weights = rng.uniform(0.5, 2.0, 300).astype("float32")
    model = kerasish.Sequential([layers.Input((6,)), layers.Dense(16, activation="relu"), layers.Dropout(0.2),
                                 layers.Dense(4)])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=2)
    history = model.fit(x, y, sample_weight=weights, batch_size=16, epochs=3, verbose=0,
                        validation_data=(x[:100], y[:100]), class_weight={0: 2.0}).history
    evaluation = model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0)
    predictions = model.predict(x, batch_size=16, verbose=0)
    return history, evaluation, predictions, [w.tobytes() for w in model.get_weights()], len(gathers)


def test_staged_calls_are_bitwise_the_plain_host_path(monkeypatch):
    history, evaluation, predictions, weights, gathers = _run(True, monkeypatch)
    plain = _run(False, monkeypatch)
    assert gathers > 3 * staging.SLOTS and plain[-1] == 0  # fused calls went through the ring, reusing its slots
    assert history == plain[0] and evaluation == plain[1] and weights == plain[3]
    assert predictions.tobytes() == plain[2].tobytes()


@pytest.mark.parametrize("where", ["gpu", "distribution"])
def test_staging_is_for_one_cpu_process_without_a_distribution(where, monkeypatch):
    assert staging.enabled()  # (these tests run on the CPU)
    if where == "gpu":
        monkeypatch.setattr(staging.jax, "default_backend", lambda: "gpu")
        assert not staging.enabled()
    else:
        with kerasish.distribution.DataParallel().scope():
            assert not staging.enabled()
