"""EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN, LambdaCallback.

Three kinds of checks: decision parity with Keras 3 (both callbacks driven with the same
synthetic epoch logs on a real compiled model each), end to end under kerasish ``fit`` (the
jitted step really uses the rates set, the weights restored are the best epoch's, ...), and
``get_state``/``set_state`` round trips split at every epoch.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import random
import warnings

import numpy as np
import pytest

import kerasish
from kerasish.callbacks.callback_list import CallbackList
from kerasish.callbacks.csv_logger import CSVLogger
from kerasish.callbacks.early_stopping import EarlyStopping
from kerasish.callbacks.lambda_callback import LambdaCallback, TerminateOnNaN
from kerasish.callbacks.lr import LearningRateScheduler, ReduceLROnPlateau
from kerasish.errors import ConfigError

_noise = np.random.default_rng(7)
SEQUENCES = {
    "plateaus": [1.0, 0.8, 0.7, 0.7, 0.7, 0.69995, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5],
    "noisy_down": [float(1 / (1 + 0.3 * t) + _noise.normal(0, 0.04)) for t in range(18)],
    "rising": [0.1, 0.3, 0.5, 0.6, 0.6, 0.61, 0.6, 0.59, 0.62, 0.62, 0.62, 0.7, 0.69, 0.68],
    "min_delta_steps": [1.0, 0.99, 0.98, 0.97, 0.96, 0.955, 0.95, 0.9, 0.89, 0.885, 0.88, 0.87],
    "float32_ties": [0.5, 0.5 + 1e-9, 0.5 - 1e-9, 0.5, 0.4, 0.4 + 1e-8, 0.4 - 1e-8, 0.4, 0.39, 0.39, 0.39],
    "v_shape": [1.0, 0.8, 0.6, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0, 0.4, 0.3, 0.3, 0.3],
    "constant": [0.3] * 10,
    "random_walk": [float(v) for v in 0.6 + np.cumsum(_noise.normal(0, 0.05, 20))],
    "with_nan": [1.0, math.nan, 0.9, 0.9, math.nan, 0.8, 0.8, 0.8, 0.8],
}
# Keras reads its variables with np.array(copy=False), which NumPy 2 flags on every read.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

MONITORS = [("auto", "val_loss"), ("auto", "val_accuracy"), ("min", "val_loss"), ("max", "val_loss")]


# -- models: a compiled Keras model (the oracle) and a kerasish one, both with optimizer state ---------
@pytest.fixture(scope="module")
def keras_model():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["accuracy"])
    model.evaluate(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)  # builds the metrics "auto" mode reads
    return model


@pytest.fixture(scope="module")
def ks_model():
    model = kerasish.Sequential([kerasish.Input(shape=(2,)), kerasish.layers.Dense(1)])
    model.compile(optimizer=kerasish.optimizers.SGD(0.1), loss="mse", metrics=["accuracy"])
    model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    return model


def _lr(model) -> float:
    return float(model.optimizer.learning_rate)


def _mark(model, value) -> None:
    """Weights that say which epoch they were read at."""
    model.set_weights([np.full(np.shape(w), value, "float32") for w in model.get_weights()])


def _marker(model) -> float:
    return float(np.asarray(model.get_weights()[0]).flat[0])


def _logs(monitor: str, value: float, epoch: int) -> dict:
    return {"loss": 1.0 / (epoch + 1), monitor: value}


def _snapshot(cb, model, logs) -> tuple:
    attrs = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")
    values = tuple(getattr(cb, a, None) for a in attrs)
    values = tuple(float(v) if isinstance(v, (float, np.floating)) else v for v in values)
    return (bool(model.stop_training), _lr(model), logs.get("learning_rate"), *values)


def _run(cb, model, sequence, epochs, *, monitor="val_loss", begin=True, end=True, state=None, marks=False,
         lr0=None):
    """Drive ``cb`` like fit does over ``epochs`` of synthetic logs; a trace of its decisions per epoch."""
    if begin:
        model.stop_training = False
        if lr0 is not None:
            model.optimizer.learning_rate = lr0
        cb.set_model(model)
        cb.on_train_begin({})
    if state is not None:
        cb.set_state(state)
    trace = []
    for epoch in epochs:
        if marks:
            _mark(model, epoch)
        cb.on_epoch_begin(epoch, {})
        logs = _logs(monitor, sequence[epoch], epoch)
        cb.on_epoch_end(epoch, logs)
        trace.append(_snapshot(cb, model, logs))
        if model.stop_training:
            break
    if end:
        cb.on_train_end({})
    return trace


def _same(a, b) -> bool:
    """Equal traces, NaN equal to NaN."""
    return json.dumps(a) == json.dumps(b)


def _configs(grid: dict, n: int, seed: int) -> list[dict]:
    every = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    return random.Random(seed).sample(every, min(n, len(every)))


# -- 1. decision parity with Keras ---------------------------------------------------------------
ES_GRID = {"sequence": list(SEQUENCES), "monitor": MONITORS, "patience": [0, 1, 3], "min_delta": [0, 0.01, -0.01],
           "baseline": [None, 0.55], "start_from_epoch": [0, 3], "restore_best_weights": [False, True]}


def _es_kwargs(config: dict) -> dict:
    mode, monitor = config["monitor"]
    kwargs = {k: v for k, v in config.items() if k not in ("sequence", "monitor")}
    return {"monitor": monitor, "mode": mode, **kwargs}


def test_early_stopping_decides_as_keras(keras_model, ks_model):
    import keras

    for config in _configs(ES_GRID, 220, seed=0):
        kwargs, sequence = _es_kwargs(config), SEQUENCES[config["sequence"]]
        marks = config["restore_best_weights"]
        ours = _run(EarlyStopping(**kwargs), ks_model, sequence, range(len(sequence)),
                    monitor=kwargs["monitor"], marks=marks)
        theirs = _run(keras.callbacks.EarlyStopping(**kwargs), keras_model, sequence, range(len(sequence)),
                      monitor=kwargs["monitor"], marks=marks)
        assert _same(ours, theirs), (config, ours, theirs)
        if marks:  # both restored the weights of the same epoch
            assert _marker(ks_model) == _marker(keras_model), config


def test_early_stopping_messages_as_keras(keras_model, ks_model, capsys):
    import keras

    sequence = SEQUENCES["v_shape"]
    for make in (EarlyStopping, keras.callbacks.EarlyStopping):
        model = ks_model if make is EarlyStopping else keras_model
        _run(make(patience=2, verbose=1, restore_best_weights=True), model, sequence, range(len(sequence)),
             marks=True)
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["Epoch 6: early stopping", "Restoring model weights from the end of the best epoch: 4."]
    assert out[2:] == out[:2]


RLR_GRID = {"sequence": list(SEQUENCES), "monitor": MONITORS, "factor": [0.5, 0.1], "patience": [0, 1, 2],
            "cooldown": [0, 2], "min_delta": [0, 1e-4, 0.05], "min_lr": [0.0, 0.004]}


def test_reduce_lr_on_plateau_decides_as_keras(keras_model, ks_model, capsys):
    import keras

    for config in _configs(RLR_GRID, 220, seed=1):
        mode, monitor = config["monitor"]
        kwargs = {k: v for k, v in config.items() if k not in ("sequence", "monitor")}
        kwargs.update(monitor=monitor, mode=mode, verbose=1)
        sequence = SEQUENCES[config["sequence"]]
        ours = _run(ReduceLROnPlateau(**kwargs), ks_model, sequence, range(len(sequence)), monitor=monitor, lr0=0.1)
        ours_out = capsys.readouterr().out
        theirs = _run(keras.callbacks.ReduceLROnPlateau(**kwargs), keras_model, sequence, range(len(sequence)),
                      monitor=monitor, lr0=0.1)
        assert _same(ours, theirs), (config, ours, theirs)
        assert ours_out == capsys.readouterr().out, config


@pytest.mark.parametrize("schedule", [
    lambda epoch, lr: lr if epoch < 3 else lr * 0.5,
    lambda epoch: 0.1 / (epoch + 1),
    lambda epoch, lr: np.float32(lr * 0.9),
    lambda epoch, lr=None: 0.05 * (epoch % 3 + 1),
], ids=["two_args", "one_arg", "float32", "default_arg"])
def test_learning_rate_scheduler_as_keras(keras_model, ks_model, capsys, schedule):
    import keras

    sequence = [0.5] * 6
    ours = _run(LearningRateScheduler(schedule, verbose=1), ks_model, sequence, range(6), lr0=0.1)
    ours_out = capsys.readouterr().out
    theirs = _run(keras.callbacks.LearningRateScheduler(schedule, verbose=1), keras_model, sequence, range(6),
                  lr0=0.1)
    assert ours == theirs
    assert ours_out == capsys.readouterr().out
    assert len({t[1] for t in ours}) > 1  # the rate did move


@pytest.mark.parametrize("losses", [[1.0, 2.0, math.nan, 3.0], [0.5, math.inf, 1.0], [-math.inf], [1.0, 2.0, 3.0]])
def test_terminate_on_nan_as_keras(keras_model, ks_model, capsys, losses):
    import keras

    results = []
    for cb, model in ((TerminateOnNaN(), ks_model), (keras.callbacks.TerminateOnNaN(), keras_model)):
        model.stop_training = False
        cb.set_model(model)
        seen = []
        for batch, loss in enumerate(losses):
            cb.on_train_batch_end(batch, {"loss": loss})
            seen.append(batch)
            if model.stop_training:
                break
        results.append((seen, model.stop_training, capsys.readouterr().out))
    assert results[0] == results[1]
    for make in (lambda: TerminateOnNaN(raise_error=True), lambda: keras.callbacks.TerminateOnNaN(raise_error=True)):
        cb = make()
        cb.set_model(ks_model)
        if any(not math.isfinite(v) for v in losses):
            with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
                for batch, loss in enumerate(losses):
                    cb.on_train_batch_end(batch, {"loss": loss})


def _csv_run(cb, epoch_logs, epochs=None, begin=True, end=True):
    if begin:
        cb.on_train_begin({})
    for epoch in epochs if epochs is not None else range(len(epoch_logs)):
        cb.on_epoch_end(epoch, dict(epoch_logs[epoch]))
    if end:
        cb.on_train_end({})


CSV_CASES = {
    "no_val_keys": [{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.25, "accuracy": 0.5, "val_loss": 0.3}],
    "val_keys": [{"loss": 0.5, "val_loss": 0.75, "mae": 1 / 3, "val_mae": 2 / 3}] * 3,
    "odd_values": [{"loss": np.float32(0.1), "tag": "a b", "vec": np.arange(3), "zero_d": np.array(2.5)},
                   {"loss": 0.2, "vec": [1, 2]}],
    "empty": [],
}


@pytest.mark.parametrize("case", list(CSV_CASES))
@pytest.mark.parametrize("separator", [",", ";"])
@pytest.mark.parametrize("append", [False, True])
def test_csv_logger_writes_as_keras(tmp_path, case, separator, append):
    import keras

    files = []
    for name, make in (("ours", CSVLogger), ("keras", keras.callbacks.CSVLogger)):
        path = tmp_path / f"{name}.csv"
        path.write_text("epoch,old\n0,1\n")  # overwritten unless appending
        _csv_run(make(str(path), separator=separator, append=append), CSV_CASES[case])
        _csv_run(make(str(path), separator=separator, append=append), CSV_CASES[case])  # a second fit
        files.append(path.read_bytes())
    assert files[0] == files[1]


def test_csv_logger_appends_to_a_new_file_as_keras(tmp_path):
    import keras

    ours, theirs = tmp_path / "ours.csv", tmp_path / "keras.csv"
    _csv_run(CSVLogger(ours, append=True), CSV_CASES["val_keys"])
    _csv_run(keras.callbacks.CSVLogger(str(theirs), append=True), CSV_CASES["val_keys"])
    assert ours.read_bytes() == theirs.read_bytes()


def test_missing_monitor_warns_as_keras_and_decides_nothing(keras_model, ks_model):
    import keras

    for make in (EarlyStopping, ReduceLROnPlateau, keras.callbacks.EarlyStopping, keras.callbacks.ReduceLROnPlateau):
        model = ks_model if make in (EarlyStopping, ReduceLROnPlateau) else keras_model
        cb = make(monitor="val_loss", patience=0)
        with pytest.warns(UserWarning, match=r"conditioned on metric `val_loss` which is not available\. "
                                             r"Available metrics are: loss"):
            trace = _run(cb, model, [1.0] * 3, range(3), monitor="other", lr0=0.1)
        assert [t[:2] for t in trace] == [(False, pytest.approx(0.1))] * 3


def test_missing_monitor_under_fit_warns_and_trains_on(rng):
    x, y, _, _ = _regression(rng, n=32)
    model = _linear_model(0.01)
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics are: loss"):
        history = model.fit(x, y, epochs=3, verbose=0, callbacks=[EarlyStopping(), ReduceLROnPlateau(patience=0)])
    assert len(history.history["loss"]) == 3 and model.optimizer.learning_rate == pytest.approx(0.01)


# -- arguments --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, argument", [
    (lambda: EarlyStopping(mode="maximum"), "mode"),
    (lambda: EarlyStopping(patience=-1), "patience"),
    (lambda: EarlyStopping(patience=1.5), "patience"),
    (lambda: EarlyStopping(min_delta="0.1"), "min_delta"),
    (lambda: EarlyStopping(baseline="high"), "baseline"),
    (lambda: EarlyStopping(start_from_epoch=-2), "start_from_epoch"),
    (lambda: EarlyStopping(restore_best_weights="yes"), "restore_best_weights"),
    (lambda: EarlyStopping(monitor=3), "monitor"),
    (lambda: EarlyStopping(verbose="loud"), "verbose"),
    (lambda: ReduceLROnPlateau(factor=1.0), "factor"),
    (lambda: ReduceLROnPlateau(factor=-0.5), "factor"),
    (lambda: ReduceLROnPlateau(mode="up"), "mode"),
    (lambda: ReduceLROnPlateau(patience=-1), "patience"),
    (lambda: ReduceLROnPlateau(cooldown=-1), "cooldown"),
    (lambda: ReduceLROnPlateau(min_lr=-1e-3), "min_lr"),
    (lambda: LearningRateScheduler(0.1), "schedule"),
    (lambda: CSVLogger("log.csv", separator="::"), "separator"),
    (lambda: CSVLogger(None), "filename"),
    (lambda: CSVLogger("log.csv", append="yes"), "append"),
    (lambda: TerminateOnNaN(raise_error=1), "raise_error"),
    (lambda: LambdaCallback(on_epoch_ende=print), "on_epoch_ende"),
    (lambda: LambdaCallback(on_epoch_end=3), "on_epoch_end"),
])
def test_bad_arguments_raise_config_error_naming_them(make, argument):
    with pytest.raises(ConfigError, match=argument):
        make()


def test_keras_style_arguments_are_accepted():
    assert EarlyStopping(verbose=True, min_delta=-0.5, patience=np.int64(2)).min_delta == 0.5
    assert LearningRateScheduler(lambda epoch: 0.1, verbose=False).verbose == 0
    with pytest.warns(UserWarning, match="epsilon"):
        ReduceLROnPlateau(epsilon=1e-4)  # an old Keras argument: ignored, as Keras does, but said


def test_auto_mode_reads_direction_from_names_and_compiled_metrics(ks_model):
    model = kerasish.Sequential([kerasish.Input(shape=(2,)), kerasish.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=[kerasish.metrics.BinaryAccuracy(name="score"), "mae"])
    model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32"), epochs=1, verbose=0)
    for monitor, direction in [("val_score", "max"), ("mae", "min"), ("val_loss", "min"), ("auc_1", "max"),
                               ("val_sparse_categorical_accuracy", "max"), ("val_precision", "max"),
                               ("mean_squared_error", "min"), ("out_a_loss", "min")]:
        cb = EarlyStopping(monitor=monitor)
        cb.set_model(model)
        cb.on_train_begin({})
        assert cb._improves.direction == direction, monitor
    cb = ReduceLROnPlateau(monitor="val_something")
    cb.set_model(model)
    with pytest.raises(ConfigError, match="mode='min' or mode='max'"):
        cb.on_train_begin({})
    EarlyStopping(monitor="val_something", mode="max").on_train_begin({})  # an explicit mode needs no name


# -- 2. end to end under kerasish fit -----------------------------------------------------------------
def _regression(rng, n=256, scale_val=0.5):
    x = rng.normal(size=(n, 4)).astype("float32")
    w = rng.normal(size=(4, 1)).astype("float32")
    xv = rng.normal(size=(64, 4)).astype("float32")
    return x, x @ w, xv, xv @ (scale_val * w)


def _linear_model(lr, **compile_kwargs):
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), kerasish.layers.Dense(1)])
    model.compile(optimizer=kerasish.optimizers.SGD(lr), loss="mse", **compile_kwargs)
    model.set_weights([np.zeros((4, 1), "float32"), np.zeros((1,), "float32")])
    return model


@pytest.mark.parametrize("patience", [2, 100])
def test_early_stopping_restores_the_best_val_loss_epoch_weights(rng, patience):
    # Training targets x @ w, validation targets x @ (w / 2): val_loss falls, then rises again.
    x, y, xv, yv = _regression(rng)
    model = _linear_model(0.02)
    weights = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    stop = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(x, y, batch_size=64, epochs=16, verbose=0, validation_data=(xv, yv), shuffle=False,
                        callbacks=[record, stop])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert 0 < best < len(val) - 1 and stop.best_epoch == best and stop.best == val[best]
    if patience == 2:
        assert len(val) == best + 3 < 16 and stop.stopped_epoch == best + 2
    else:
        assert len(val) == 16 and stop.stopped_epoch == 0  # not stopped, but restored all the same (Keras 3)
    for ours, recorded in zip(model.get_weights(), weights[best]):
        np.testing.assert_array_equal(ours, recorded)
    assert not np.array_equal(model.get_weights()[0], weights[-1][0])


def _sgd_steps_use(rates, starts, x, y):
    """Each epoch (one full batch of SGD on mse) moved the weights by -rate * gradient."""
    for rate, (kernel, bias), (next_kernel, next_bias) in zip(rates, starts, starts[1:]):
        kernel, bias = kernel.astype("float64"), bias.astype("float64")
        residual = x.astype("float64") @ kernel + bias - y
        grad_kernel, grad_bias = 2 * x.T @ residual / len(x), 2 * residual.sum(0) / len(x)
        np.testing.assert_allclose(next_kernel, kernel - rate * grad_kernel, rtol=2e-5, atol=1e-7)
        np.testing.assert_allclose(next_bias, bias - rate * grad_bias, rtol=2e-5, atol=1e-7)


def test_reduce_lr_on_plateau_changes_the_rate_the_step_uses(rng):
    x, y, _, _ = _regression(rng, n=64)
    model = _linear_model(0.1)
    fake = [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]  # an injected metric: a plateau, a drop, a plateau
    starts, rates, seen = [], [], []

    def begin(epoch, logs):
        starts.append(model.get_weights())
        rates.append(model.optimizer.learning_rate)

    inject = LambdaCallback(on_epoch_begin=begin, on_epoch_end=lambda epoch, logs: logs.update(fake=fake[epoch]))
    after = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["learning_rate"]))
    reduce = ReduceLROnPlateau(monitor="fake", mode="min", factor=0.5, patience=1, cooldown=1, min_lr=0.02)
    model.fit(x, y, batch_size=64, epochs=8, verbose=0, shuffle=False, callbacks=[inject, reduce, after])
    starts.append(model.get_weights())
    # Reduced at the ends of epochs 1 (plateau), 3 and 4 (cooldown over), then held at min_lr.
    f32 = [float(np.float32(r)) for r in (0.1, 0.05, 0.025, 0.02)]
    assert rates == [f32[0], f32[0], f32[1], f32[1], f32[2], f32[3], f32[3], f32[3]]
    assert seen == rates  # the rate each epoch ran at, in the logs of the callbacks after it
    _sgd_steps_use(rates, starts, x, y)

    # factor 0: the rate drops to 0 and the weights stop moving.
    model = _linear_model(0.1)
    weights = []
    inject = LambdaCallback(on_epoch_end=lambda epoch, logs: (logs.update(fake=1.0),
                                                             weights.append(model.get_weights())))
    model.fit(x, y, batch_size=16, epochs=5, verbose=0,
              callbacks=[inject, ReduceLROnPlateau(monitor="fake", mode="min", factor=0.0, patience=1)])
    assert model.optimizer.learning_rate == 0.0
    assert not np.array_equal(weights[0][0], weights[1][0])
    for later in weights[2:]:
        np.testing.assert_array_equal(later[0], weights[1][0])


def test_learning_rate_scheduler_sets_the_rate_the_step_uses(rng):
    x, y, _, _ = _regression(rng, n=64)
    model = _linear_model(1.0)
    starts, rates = [], []

    def begin(epoch, logs):
        starts.append(model.get_weights())
        rates.append(model.optimizer.learning_rate)

    schedule = LearningRateScheduler(lambda epoch, lr: 0.2 * 0.5 ** epoch)
    model.fit(x, y, batch_size=64, epochs=5, verbose=0, shuffle=False,
              callbacks=[schedule, LambdaCallback(on_epoch_begin=begin)])
    starts.append(model.get_weights())
    assert rates == [float(np.float32(0.2 * 0.5 ** e)) for e in range(5)]
    _sgd_steps_use(rates, starts, x, y)


def test_csv_logger_rows_equal_history_and_append_adds_rows_only(rng, tmp_path):
    x, y, xv, yv = _regression(rng, n=64)
    model = _linear_model(0.05, metrics=["mae"])
    path = tmp_path / "log.csv"
    first = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_data=(xv, yv),
                      callbacks=[CSVLogger(path)]).history
    second = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(xv, yv),
                       callbacks=[CSVLogger(path, append=True)]).history
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,mae,val_loss,val_mae" and lines.count(lines[0]) == 1
    rows = list(csv.DictReader(lines))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 0, 1]
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert [float(r[key]) for r in rows] == first[key] + second[key]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[CSVLogger(path)])  # overwrites
    assert len(path.read_text().splitlines()) == 2


@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_terminate_on_nan_stops_at_the_bad_batch(rng, capsys, steps_per_execution):
    x, y, _, _ = _regression(rng, n=96)
    x[5 * 8 + 2, 1] = np.inf  # batch 5 of 12 (check_finite=False: let it reach training, as TerminateOnNaN is for)
    model = _linear_model(0.01, steps_per_execution=steps_per_execution)
    batches, ends = [], []
    seen = LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch),
                          on_train_end=lambda logs: ends.append(True))
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=[TerminateOnNaN(), seen],
                        check_finite=False)
    assert "Batch 5: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(history.history["loss"]) == 1 and not math.isfinite(history.history["loss"][0])
    assert ends == [True]
    # Single steps stop right after the bad batch; a fused call of 4 (batches 4-7) has run its steps already.
    if steps_per_execution == 1:
        assert batches == list(range(6))
    else:
        assert batches[:6] == list(range(6)) and len(batches) <= 8
    model = _linear_model(0.01, steps_per_execution=steps_per_execution)  # this one's weights are NaN now
    with pytest.raises(RuntimeError, match="batch 5"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=[TerminateOnNaN(raise_error=True)],
                  check_finite=False)


def test_lambda_callback_hooks_get_their_arguments(rng):
    x, y, _, _ = _regression(rng, n=32)
    model = _linear_model(0.01, steps_per_execution=1)
    calls = []
    everything = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, round(float(logs["loss"]), 6))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, round(logs["loss"], 6))),
        on_train_end=lambda logs: calls.append(("train_end", logs)),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))),
    )
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[everything])
    losses = [round(v, 6) for v in history.history["loss"]]
    kinds = [c[0] for c in calls]
    assert kinds == ["train_begin"] + ["epoch_begin", "batch_begin", "batch_end", "batch_begin", "batch_end",
                                       "epoch_end"] * 2 + ["train_end"]
    assert [c[1] for c in calls if c[0] in ("epoch_begin", "epoch_end")] == [0, 0, 1, 1]
    assert [c[1] for c in calls if c[0].startswith("batch")] == [0, 0, 1, 1] * 2
    assert [c[2] for c in calls if c[0] == "epoch_end"] == losses
    assert [c for c in calls if c[0] == "batch_end"][1][2] == losses[0]  # the epoch's last batch logs
    model.evaluate(x, y, verbose=0, callbacks=[everything])
    assert calls[-1] == ("test_end", ["loss"])

    # Only the hooks given are installed: no per-batch dispatch unless asked; instances stay apart.
    quiet = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    legacy = LambdaCallback(on_batch_end=lambda batch, logs: calls.append(("legacy", batch)))
    hooks = CallbackList([quiet])
    assert not hooks.wants("on_train_batch_end") and not hooks.wants("on_train_batch_begin")
    assert CallbackList([legacy]).wants("on_train_batch_end") and not CallbackList([legacy]).wants("on_epoch_end")
    assert isinstance(quiet, LambdaCallback) and type(quiet) is not type(legacy)
    legacy.on_train_batch_end(7, {})
    assert calls[-1] == ("legacy", 7)


# -- 3. get_state / set_state: a run split at any epoch decides as an unsplit one ----------------------
def _roundtrip(state: dict) -> dict:
    """Through JSON, as BackupAndRestore stores them; NumPy arrays go as they are."""
    def has_array(v):
        return isinstance(v, np.ndarray) or (isinstance(v, list) and any(isinstance(a, np.ndarray) for a in v))

    return {k: v if has_array(v) else json.loads(json.dumps(v)) for k, v in state.items()}


SPLIT_CASES = [
    (EarlyStopping, {"patience": 3, "restore_best_weights": True}, "plateaus"),
    (EarlyStopping, {"patience": 2, "baseline": 0.55, "start_from_epoch": 2, "restore_best_weights": True}, "v_shape"),
    (EarlyStopping, {"patience": 4, "min_delta": 0.01, "mode": "max"}, "random_walk"),
    (ReduceLROnPlateau, {"patience": 1, "cooldown": 2, "factor": 0.5, "min_lr": 0.01}, "plateaus"),
    (ReduceLROnPlateau, {"patience": 0, "cooldown": 1, "min_delta": 0.02}, "noisy_down"),
    (LearningRateScheduler, {"schedule": lambda epoch, lr: lr * 0.9 if epoch % 2 else lr}, "constant"),
]


@pytest.mark.parametrize("make, kwargs, sequence", SPLIT_CASES)
def test_state_round_trip_at_every_epoch(ks_model, make, kwargs, sequence):
    values = SEQUENCES[sequence]
    marks = kwargs.get("restore_best_weights", False)
    full = _run(make(**kwargs), ks_model, values, range(len(values)), marks=marks, lr0=0.1)
    restored = _marker(ks_model)
    # Every case decides something: EarlyStopping stops, the others move the rate.
    assert full[-1][0] if make is EarlyStopping else len({t[1] for t in full}) > 1
    for k in range(1, len(full)):
        first = make(**kwargs)
        head = _run(first, ks_model, values, range(k), end=False, marks=marks, lr0=0.1)
        state = first.get_state()
        json.dumps({key: v for key, v in state.items() if key != "best_weights"})  # JSON-compatible
        # A fresh callback in a fresh run: on_train_begin, then set_state, then the remaining epochs
        # (the model keeps its rate, as the backup restores the optimizer state).
        ks_model.stop_training = False
        tail = _run(make(**kwargs), ks_model, values, range(k, len(values)), state=_roundtrip(state), marks=marks)
        assert _same(head + tail, full), (k, head + tail, full)
        if marks:
            assert _marker(ks_model) == restored


EPOCH_LOGS = [{"loss": 1 / (e + 1), "val_loss": 2 / (e + 1), "mae": e / 7} for e in range(6)]


@pytest.mark.parametrize("append", [False, True])
@pytest.mark.parametrize("when", ["after_row", "before_row", "extra_rows"])
def test_csv_logger_resumes_the_same_file(tmp_path, append, when):
    prefix = b"epoch;loss\r\n0;9\r\n"  # an earlier run's file: kept when appending, replaced otherwise
    whole = tmp_path / "whole.csv"
    whole.write_bytes(prefix)
    _csv_run(CSVLogger(whole, ";", append), EPOCH_LOGS)
    for k in range(0, len(EPOCH_LOGS)):
        path = tmp_path / f"split_{k}.csv"
        path.write_bytes(prefix)
        first = CSVLogger(path, ";", append)
        first.on_train_begin({})
        state = first.get_state()  # a backup taken before the first row (e.g. within epoch 0)
        for epoch in range(k):
            if when == "before_row":  # the backup callback runs before the CSVLogger at each epoch end
                state = first.get_state()
            first.on_epoch_end(epoch, dict(EPOCH_LOGS[epoch]))
            if when != "before_row":
                state = first.get_state()
        if when == "extra_rows":  # the interrupted run wrote past the backup, the last row cut short
            for epoch in range(k, min(k + 2, len(EPOCH_LOGS))):
                first.on_epoch_end(epoch, dict(EPOCH_LOGS[epoch]))
            with open(path, "ab") as f:
                f.write(b"5;0.1")
        first._close()  # the process died
        second = CSVLogger(path, ";", append)
        second.on_train_begin({})
        second.set_state(_roundtrip(state))
        _csv_run(second, EPOCH_LOGS, epochs=range(k, len(EPOCH_LOGS)), begin=False)
        assert path.read_bytes() == whole.read_bytes(), (k, path.read_text(), whole.read_text())


def test_early_stopping_round_trip_keeps_best_weights_and_ignores_new_baseline_wait(ks_model):
    cb = EarlyStopping(patience=1, restore_best_weights=True)
    _run(cb, ks_model, [1.0, 0.5, 0.7], range(3), end=False, marks=True)
    state = cb.get_state()
    assert state["best"] == 0.5 and state["best_epoch"] == 1 and state["wait"] == 1
    assert [float(np.asarray(w).flat[0]) for w in state["best_weights"]] == [1.0, 1.0]
    fresh = EarlyStopping(patience=1, restore_best_weights=True)
    fresh.set_model(ks_model)
    fresh.on_train_begin({})
    fresh.set_state(_roundtrip(state))
    _mark(ks_model, 9)
    fresh.on_train_end({})
    assert _marker(ks_model) == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        json.dumps(_roundtrip(ReduceLROnPlateau().get_state()))
