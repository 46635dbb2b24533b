"""Device-resident training data (kerasish.engine.resident).

Arrays live on the device by default on accelerators only; here (CPU) the tests ask for it with
``set_resident_data(0.25)``. The oracle is the same fit on the host path (``set_resident_data(0)``): the same weights and
history, bit for bit, with shuffling, sample and class weights, several inputs, short last batches,
``steps_per_epoch`` and the auto policy. Then: what is placed and when, how long the calls are, and the budget.
"""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import adapters, fused, resident
from kerasish.errors import ConfigError


class Calls(kerasish.callbacks.Callback):
    """Records each call's steps (the engine's ``on_run_call_end`` hook)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_run_call_end(self, run, steps):
        self.steps.append(steps)


@pytest.fixture
def placements(monkeypatch):
    """Counts the arrays' placements on the device."""
    count = []
    original = resident.place

    def place(tree):
        count.append(1)
        return original(tree)

    monkeypatch.setattr(resident, "place", place)
    return count


ON = 0.25


def _data(n, inputs=1, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(n, 5)).astype("float32") for _ in range(inputs)]
    return (xs[0] if inputs == 1 else {f"in{i}": a for i, a in enumerate(xs)}), rng.integers(0, 3, n)


def _model(inputs=1):
    if inputs == 1:
        return kerasish.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    ins = [layers.Input((5,), name=f"in{i}") for i in range(inputs)]
    h = layers.Dense(8, activation="relu")(layers.Concatenate()(ins))
    return kerasish.Model(ins, layers.Dense(3)(h))


def _fit(fraction, *, inputs=1, n=200, spe=4, epochs=2, callbacks=(), **fit_kwargs):
    kerasish.config.set_resident_data(fraction)
    try:
        kerasish.utils.set_random_seed(0)
        x, y = _data(n, inputs)
        model = _model(inputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=spe)
        history = model.fit(x, y, batch_size=fit_kwargs.pop("batch_size", 16), epochs=epochs, verbose=0,
                            callbacks=list(callbacks), **fit_kwargs)
        return model.get_weights(), history.history
    finally:
        kerasish.config.set_resident_data(None)


@pytest.mark.parametrize("case", [
    dict(),                                                        # shuffled, a short last batch (200 = 12*16 + 8)
    dict(shuffle=False, n=192),                                    # full batches only, in order
    dict(sample_weight=np.linspace(0.1, 2.0, 200).astype("float32")),
    dict(class_weight={0: 2.0, 1: 0.5}),
    dict(inputs=3, spe=3),                                         # a dict of inputs
    dict(steps_per_epoch=7),                                       # epochs of fewer steps than the data has
])
def test_resident_fit_is_bitwise_the_host_fit(case, placements):
    host_weights, host_history = _fit(0.0, **dict(case))
    assert not placements  # the oracle ran on the host
    weights, history = _fit(ON, **dict(case))
    assert placements, "the resident path was not taken"
    assert history == host_history
    assert all(np.array_equal(a, b) for a, b in zip(weights, host_weights, strict=True))


def test_fused_steps_match_single_steps_to_the_bit():
    # the fused loop gathers its batches as a resident call does, so k fused steps equal k single steps (a sliced
    # batch fused into the weighted loss's reduction used to sum in another order: 1 ulp on the logged loss)
    kw = dict(n=192, shuffle=False, sample_weight=np.linspace(0.1, 2.0, 192).astype("float32"), epochs=2)
    _, single = _fit(0.0, spe=1, **kw)
    _, fused_history = _fit(0.0, spe=4, **kw)
    assert single == fused_history


def test_arrays_are_placed_once_per_fit_and_calls_are_whole_k_chunks(placements):
    calls = Calls()
    _fit(ON, n=200, spe=4, epochs=3, callbacks=[calls])
    assert len(placements) == 1
    # 13 steps an epoch: 12 full batches as three resident calls of 4, the short last batch as a host step
    assert calls.steps == [4, 4, 4, 1] * 3


def test_unweighted_arrays_are_placed_as_x_and_y_only(monkeypatch):
    placed = []
    original = resident.place
    monkeypatch.setattr(resident, "place", lambda tree: placed.append(len(tree)) or original(tree))
    _fit(ON, epochs=1)
    _fit(ON, epochs=1, sample_weight=np.ones(200, "float32"))
    assert placed == [2, 3]


def test_auto_runs_long_resident_calls_once_fusing_has_won(monkeypatch, placements):
    # make the probe pick k=4 and keep it: the calls after the probe are then the rest of the epoch's full
    # batches, at most LONG_CALL_FACTOR * k steps each, in whole multiples of k
    monkeypatch.setattr(fused.AutoSteps, "max_k", 4)
    monkeypatch.setattr(fused.AutoSteps, "slow_step_s", 1e9)
    monkeypatch.setattr(fused.AutoSteps, "min_gain", 1e9)
    monkeypatch.setattr(fused.AutoSteps, "fused_compile_ratio", 0.0)
    monkeypatch.setattr(resident, "LONG_CALL_FACTOR", 8)
    host_weights, host_history = _fit(0.0, n=16 * 75, spe="auto", epochs=3)
    assert not placements
    calls = Calls()
    weights, history = _fit(ON, n=16 * 75, spe="auto", epochs=3, callbacks=[calls])
    assert history == host_history  # the host path ran calls of 4: the same steps, bit for bit
    assert all(np.array_equal(a, b) for a, b in zip(weights, host_weights, strict=True))
    epochs, done = [[]], 0
    for steps in calls.steps:
        epochs[-1].append(steps)
        done += steps
        if done % 75 == 0:
            epochs.append([])
    assert 4 in epochs[0]  # the probe: single steps, then calls of k=4
    # each later epoch: 75 full batches = 32 + 32 + 8 resident steps, then 3 single host steps
    assert epochs[1:] == [[32, 32, 8, 1, 1, 1]] * 2 + [[]]


def test_a_user_steps_per_execution_keeps_its_calls():
    assert fused.AutoSteps(fixed=4).call_steps == 4
    assert fused.AutoSteps(fixed=4, auto=True).call_steps == 4 * resident.LONG_CALL_FACTOR
    assert fused.AutoSteps(fixed=1, auto=True).call_steps == 1


def test_the_default_is_on_for_accelerators_only(monkeypatch):
    kerasish.config.set_resident_data(None)
    assert resident.fraction() == 0.0  # (these tests run on the CPU)
    monkeypatch.setattr(resident.jax, "default_backend", lambda: "gpu")
    assert resident.fraction() == resident.DEFAULT_FRACTION


def test_data_over_the_budget_stays_on_the_host(monkeypatch, placements):
    monkeypatch.setattr(kerasish.config, "_RESIDENT", ON)
    monkeypatch.setattr(resident, "device_memory", lambda: 1000)
    x, y = _data(200)
    assert not adapters.ArrayData(x, y).residable  # 200 * 5 * 4 bytes > 0.25 * 1000
    monkeypatch.setattr(resident, "device_memory", lambda: 10**6)
    assert adapters.ArrayData(x, y).residable
    monkeypatch.setattr(resident, "device_memory", lambda: 1000)
    _fit(ON)
    assert not placements


def test_the_setting_is_validated(monkeypatch):
    for bad in (-0.1, 1.5, "half", True):
        with pytest.raises(ConfigError, match="set_resident_data"):
            kerasish.config.set_resident_data(bad)
    monkeypatch.setenv("KERASISH_RESIDENT_DATA", "lots")
    with pytest.raises(ConfigError, match="KERASISH_RESIDENT_DATA"):
        kerasish.config._env_resident()
    monkeypatch.setenv("KERASISH_RESIDENT_DATA", "0.5")
    assert kerasish.config._env_resident() == 0.5


def _infer(fraction, *, spe=4, outputs=1):
    """A trained two-input model's validation history, evaluate (sample weights, metrics, a short last batch) and
    predict (one or two outputs), with the arrays resident (``fraction``) or on the host path (0)."""
    kerasish.config.set_resident_data(fraction)
    try:
        kerasish.utils.set_random_seed(0)
        x, y = _data(200, inputs=2)
        ins = [layers.Input((5,), name=f"in{i}") for i in range(2)]
        h = layers.Dense(8, activation="relu")(layers.Concatenate()(ins))
        heads = [layers.Dense(3, name="a")(h)] + ([layers.Dense(2, name="b")(h)] if outputs == 2 else [])
        model = kerasish.Model(ins, heads if outputs == 2 else heads[0])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=spe)
        val = ({k: v[:120] for k, v in x.items()}, y[:120])
        if outputs == 1:
            history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_data=val).history
            weights = np.linspace(0.2, 3.0, 200).astype("float32")
            evaluation = model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0, return_dict=True)
        else:
            history, evaluation = {}, {}
        return history, evaluation, model.predict(x, batch_size=16, verbose=0)
    finally:
        kerasish.config.set_resident_data(None)


@pytest.mark.parametrize("outputs", [1, 2])
def test_resident_evaluate_and_predict_are_bitwise_the_host_path(outputs, placements):
    history, evaluation, predictions = _infer(ON, outputs=outputs)
    # fit's arrays and its validation arrays once each (not once per validation pass), then evaluate and predict
    assert len(placements) == (4 if outputs == 1 else 1)
    host_history, host_evaluation, host_predictions = _infer(0.0, outputs=outputs)
    assert history == host_history and evaluation == host_evaluation  # val_loss, val_accuracy; loss, accuracy
    for a, b in zip(np.atleast_1d(predictions) if outputs == 1 else predictions,
                    np.atleast_1d(host_predictions) if outputs == 1 else host_predictions):
        assert a.shape == b.shape and a.tobytes() == b.tobytes()
    assert (predictions.shape if outputs == 1 else [p.shape for p in predictions]) == \
        ((200, 3) if outputs == 1 else [(200, 3), (200, 2)])
