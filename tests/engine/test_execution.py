"""Fused multi-step execution gives the same training as single steps, and 'auto' settles without recompiling."""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import batching, jit, steps
from kerasish.engine import state as engine_state
from kerasish.engine.fused import AutoSteps

from .test_compilation import COUNTER


def _model(spe, seed=0):
    kerasish.utils.set_random_seed(seed)
    model = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dropout(0.2),
                                 layers.BatchNormalization(), layers.Dense(3)])
    model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=spe)
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6)).astype("float32")  # 90 = 5 full batches of 16 + 10: a padded batch and super-batch
    return x, np.argmax(x[:, :3], axis=1).astype("int32")


class Record(kerasish.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, float(logs["loss"]), float(logs["accuracy"])))


def test_fused_steps_match_single_steps(data):
    x, y = data
    runs = {}
    for spe in (1, 4):
        model, rec = _model(spe), Record()
        hist = model.fit(x, y, batch_size=16, epochs=2, callbacks=[rec], verbose=0)
        runs[spe] = (model, rec.batches, hist.history)
    (single, single_batches, single_hist), (fused, fused_batches, fused_hist) = runs[1], runs[4]
    for a, b in zip(single.get_weights(), fused.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Every batch's logs reach the batch hook, in order, with the same values.
    assert [b for b, _, _ in fused_batches] == [b for b, _, _ in single_batches] == list(range(6)) * 2
    np.testing.assert_allclose([v for _, v, _ in fused_batches], [v for _, v, _ in single_batches], rtol=1e-5)
    for key in single_hist:
        np.testing.assert_allclose(fused_hist[key], single_hist[key], rtol=1e-5)


def test_stop_training_in_a_batch_hook_with_fusing(data):
    x, y = data

    class StopAt3(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                self.model.stop_training = True

    model = _model(2)
    hist = model.fit(x, y, batch_size=16, epochs=5, callbacks=[StopAt3()], verbose=0)
    assert hist.epoch == [0]


def test_auto_decides_once_and_second_fit_compiles_nothing(data, monkeypatch):
    x, y = data
    monkeypatch.setattr(AutoSteps, "probe_single", 2)
    monkeypatch.setattr(AutoSteps, "probe_fused", 1)
    monkeypatch.setattr(AutoSteps, "fused_compile_ratio", 0.0)  # the probe pays even on this short fit
    model = _model("auto")
    model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    (decision,) = engine_state.of(model).steps_decisions.values()
    assert decision >= 1
    COUNTER.count, COUNTER.active = 0, True
    try:
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    finally:
        COUNTER.active = False
    assert COUNTER.count == 0


def test_auto_keeps_single_steps_for_slow_steps():
    policy = AutoSteps()
    policy._single = [0.03] * policy.probe_single  # 30 ms steps (over slow_step_s): fusing cannot pay
    policy._decide_single()
    assert policy.k == 1 and not policy.probing


def test_auto_falls_back_when_fused_is_not_faster():
    policy = AutoSteps()
    policy._single = [1e-4] * policy.probe_single
    policy._decide_single()
    assert policy.k > 1 and policy.phase == "fused"
    policy._fused = [1e-4] * policy.probe_fused  # no faster per step than single steps
    policy.after_call(np.zeros(()), policy.k)
    assert policy.k == 1 and not policy.probing


def test_steps_per_execution_validation():
    model = kerasish.Sequential([kerasish.Input(shape=(2,)), layers.Dense(1)])
    with pytest.raises(kerasish.ConfigError, match="steps_per_execution"):
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=0)


def test_fused_evaluate_and_predict_match_single(data):
    x, y = data
    fused = _model(4)
    fused.fit(x, y, batch_size=16, epochs=1, verbose=0)
    single = _model(1)
    single.set_weights(fused.get_weights())
    for bs in (16, 7):
        ev_f = fused.evaluate(x, y, batch_size=bs, return_dict=True, verbose=0)
        ev_s = single.evaluate(x, y, batch_size=bs, return_dict=True, verbose=0)
        for key in ev_s:
            assert ev_f[key] == pytest.approx(ev_s[key], rel=1e-5, abs=1e-6), key
        np.testing.assert_allclose(fused.predict(x, batch_size=bs, verbose=0),
                                   single.predict(x, batch_size=bs, verbose=0), rtol=1e-5, atol=1e-6)
    assert fused.predict(x, batch_size=16, verbose=0).shape == (90, 3)
    seen = []

    class Rec(kerasish.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen.append(batch)

    fused.evaluate(x, y, batch_size=16, callbacks=[Rec()], verbose=0)
    assert seen == list(range(6))


def test_auto_probe_continues_across_short_calls(data, monkeypatch):
    x, y = data
    monkeypatch.setattr(AutoSteps, "probe_single", 3)
    monkeypatch.setattr(AutoSteps, "probe_fused", 2)
    monkeypatch.setattr(AutoSteps, "fused_compile_ratio", 0.0)  # the probe pays even on these short fits
    model = _model("auto")
    for _ in range(6):  # 6 steps per fit: too few for the whole probe in one call
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        model.evaluate(x, y, batch_size=16, verbose=0)
    decisions = engine_state.of(model).steps_decisions
    assert all(isinstance(v, int) for v in decisions.values())
    assert len(decisions) == 2  # fit's and evaluate's decisions


def _primitives(jaxpr, found=None):
    found = set() if found is None else found
    for eqn in jaxpr.eqns:
        found.add(eqn.primitive.name)
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", None)
            if inner is not None:
                _primitives(getattr(inner, "jaxpr", inner), found)
    return found


def _train_jaxpr(model, x, y):
    import jax

    model.fit(x[:16], y[:16], batch_size=16, epochs=1, verbose=0)
    state = jit.initial_state(model, "train", jit.state_variables(model, "train"))
    batch = batching.BatchMaker(pad=True).make(x[:16], y[:16], None)
    return jax.make_jaxpr(steps.make_train_step(model.train_step))(state, batch).jaxpr


def test_step_without_stochastic_layers_runs_no_random_code(data):
    # On CPU a key derivation is a loop of its own inside the fused scan: a deterministic
    # model must not pay for one each step.
    x, y = data
    plain = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    plain.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert not {p for p in _primitives(_train_jaxpr(plain, x, y)) if "random" in p or "threefry" in p}
    assert any("random" in p or "threefry" in p for p in _primitives(_train_jaxpr(_model(1), x, y)))


def test_dropout_masks_change_every_step_and_every_fit():
    # Dropout feeding a bias-free Dense(1) trained by SGD: a step changes exactly the kernel
    # entries whose inputs the step's mask kept, so the weight updates show every mask.
    kerasish.utils.set_random_seed(3)
    model = kerasish.Sequential([kerasish.Input(shape=(64,)), layers.Dropout(0.5),
                                 layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=1)
    kernels = [model.get_weights()[0][:, 0].copy()]

    class Grab(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            kernels.append(self.model.get_weights()[0][:, 0].copy())

    x, y = np.ones((2, 64), np.float32), np.ones((2, 1), np.float32)
    model.fit(x, y, batch_size=1, epochs=1, verbose=0, callbacks=[Grab()])
    model.fit(x, y, batch_size=1, epochs=1, verbose=0, callbacks=[Grab()])
    masks = [np.diff(kernels, axis=0)[i] != 0 for i in range(4)]
    for i in range(4):
        assert 10 < masks[i].sum() < 54  # about half kept
        for j in range(i):
            assert not np.array_equal(masks[i], masks[j]), (i, j)


def test_fused_steps_match_single_steps_with_sample_and_class_weights(data):
    x, y = data
    sw = np.linspace(0.2, 2.0, len(x)).astype("float32")
    weights = []
    for spe in (1, 4):
        model = _model(spe, seed=5)
        model.fit(x, y, batch_size=16, epochs=2, sample_weight=sw, class_weight={0: 1.0, 1: 3.0, 2: 0.5},
                  verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unweighted_fused_calls_carry_only_x_and_y(data, monkeypatch):
    # Sample weights and masks of ones are filled in inside the program, not gathered per call (on the host path:
    # arrays on the device are tested in test_resident_data)
    monkeypatch.setattr(kerasish.config, "_RESIDENT", 0.0)
    x, y = data
    model = _model(4)
    shapes = []
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # compile resolved, optimizer built: the programs stay
    program = jit.program(model, "train")
    fused = program.fused

    def spy(state, batch):
        data, mask = batch
        shapes.append((len(data), mask is None))
        return fused(state, batch)

    monkeypatch.setattr(program, "fused", spy)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert shapes == [(2, True)]  # steps 0-3 fused, (x, y) alone; steps 4-5 (the padded last batch) run singly
    model.fit(x, y, batch_size=16, epochs=1, sample_weight=np.ones(len(x), "float32"), verbose=0)
    assert shapes == [(2, True), (3, True)]


def test_reading_fused_logs_compiles_nothing(data):
    # Each read slices a host copy of the call's logs; indexing the device arrays would
    # compile (and run) a small program per read.
    x, y = data
    model, rec = _model(4), Record()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    COUNTER.count, COUNTER.active = 0, True
    try:
        model.fit(x, y, batch_size=16, epochs=1, callbacks=[rec], verbose=0)
    finally:
        COUNTER.active = False
    assert len(rec.batches) == 6 and COUNTER.count == 0
