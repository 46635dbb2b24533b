"""predict's output assembly: trimmed and joined on the host, bit for bit the step's outputs, no extra programs."""

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import batching, jit
from kerasish.engine.outputs import PredictOutputs

from .test_compilation import COUNTER


def _model(spe, two_outputs=False):
    kerasish.utils.set_random_seed(0)
    inputs = kerasish.Input(shape=(6,))
    h = layers.Dense(8, activation="relu")(inputs)
    outputs = {"a": layers.Dense(3, name="a")(h), "b": layers.Dense(2, name="b")(h)} if two_outputs else \
        layers.Dense(3)(h)
    model = kerasish.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=spe)
    return model


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).normal(size=(90, 6)).astype("float32")  # 5 batches of 16 and 10 rows


def _reference(model, x, batch_size):
    """The single predict step on each batch (the last one padded), trimmed and joined with NumPy."""
    program = jit.program(model, "predict")
    state = jit.initial_state(model, "predict", jit.state_variables(model, "predict"))
    maker = batching.BatchMaker(True)
    parts = []
    for start in range(0, len(x), batch_size):
        rows = x[start:start + batch_size]
        _, out = program.single(state, maker.make(rows, None, None, pad_to=batch_size))
        parts.append(jax.tree.map(lambda a, n=len(rows): np.asarray(a)[:n], out))
    return jax.tree.map(lambda *p: np.concatenate(p), *parts)


@pytest.mark.parametrize("spe", [1, 4])
@pytest.mark.parametrize("two_outputs", [False, True])
def test_predict_is_the_steps_outputs_bit_for_bit(x, spe, two_outputs):
    model = _model(spe, two_outputs)
    got = model.predict(x, batch_size=16, verbose=0)  # spe=4: one fused call of 4, then 2 single steps
    want = _reference(model, x, 16)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        assert isinstance(g, np.ndarray) and g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
        assert g.flags.writeable and g.flags.owndata  # a fresh array, never a view of a device buffer


def test_predict_fused_padded_tail_is_trimmed(x):
    # 90 rows, batch 16, spe=6: the whole call is one padded super-batch of 96 rows; 90 come back
    model = _model(6)
    got = model.predict(x, batch_size=16, verbose=0)
    np.testing.assert_array_equal(got, _reference(model, x, 16))


def test_predict_on_new_row_counts_compiles_nothing(x):
    # trimming on the device compiled a slice program for each new number of rows in the last batch
    model = _model(4)
    model.predict(x, batch_size=16, verbose=0)
    COUNTER.count, COUNTER.active = 0, True
    try:
        for n in (89, 75, 33, 20):  # (at least one batch of 16: a smaller batch is another shape)
            assert model.predict(x[:n], batch_size=16, verbose=0).shape == (n, 3)
    finally:
        COUNTER.active = False
    assert COUNTER.count == 0, f"predict on other row counts compiled {COUNTER.count} program(s)"


def test_predict_outputs_join_in_call_order():
    class Call:
        def __init__(self, fused, rows):
            self.fused, self.rows = fused, rows

    outputs = PredictOutputs()
    outputs.keep(jax.numpy.arange(12.0).reshape(2, 3, 2), Call(True, 5))  # two stacked batches of 3: 5 real rows
    outputs.keep(jax.numpy.arange(100.0, 106.0).reshape(3, 2), Call(False, 2))
    assert len(outputs) == 2
    np.testing.assert_array_equal(outputs.join(), np.concatenate([np.arange(10.0).reshape(5, 2),
                                                                  [[100.0, 101.0], [102.0, 103.0]]]))


def _decided(even, max_steps, single_step_s=1e-4, budget=None):
    from kerasish.engine.fused import AutoSteps

    policy = AutoSteps(max_steps=max_steps, even=even)
    policy.start(budget)
    policy._first_s = 0.5
    policy._single = [single_step_s] * AutoSteps.probe_single
    policy._decide_single()
    return policy


def test_inference_splits_a_call_into_even_fused_calls():
    # 1.5 ms steps aim at k=32 (a 50 ms call): training keeps it (a call of 32, then 28 single steps), inference
    # splits 60 steps into two calls of 30
    assert _decided(False, 60, 1.5e-3).k == 32
    assert _decided(True, 60, 1.5e-3).k == 30
    assert _decided(True, 469).k == 117  # 0.1 ms steps: k=128, at most; 469 steps as four calls of 117 and one step
    assert _decided(True, 60).k == 60
    assert _decided(True, 3).k == 3


def test_inference_weighs_its_repeats_against_the_fused_compilation(monkeypatch):
    # evaluate and predict count INFERENCE_REPEATS calls' steps when asking whether fusing pays (validation runs
    # every epoch, predictions come in loops); fit counts its epochs
    from kerasish.engine import trainer

    asked = []
    original = trainer.Trainer._auto

    def spy(self, kind, data, total_steps):
        asked.append((kind, total_steps))
        return original(self, kind, data, total_steps)

    monkeypatch.setattr(trainer.Trainer, "_auto", spy)
    model = _model("auto")
    x = np.random.default_rng(1).normal(size=(60 * 8, 6)).astype("float32")
    y = np.zeros((len(x), 3), "float32")
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    model.evaluate(x, y, batch_size=8, verbose=0)
    model.predict(x, batch_size=8, verbose=0)
    assert asked == [("train", 180), ("test", 60 * trainer.INFERENCE_REPEATS),
                     ("predict", 60 * trainer.INFERENCE_REPEATS)]


def test_predict_batch_hooks_see_each_batchs_outputs(x):
    seen = []

    class Hook(kerasish.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append(np.array(logs["outputs"]))

    model = _model(4)
    got = model.predict(x, batch_size=16, verbose=0, callbacks=[Hook()])
    assert [len(s) for s in seen] == [16] * 6  # the fused calls' batches are sliced from one host copy
    np.testing.assert_array_equal(np.concatenate(seen)[:90], got)
