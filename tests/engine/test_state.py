"""The one training state: what fit binds, what an interrupted call leaves, what bad input leaves.

Oracles: a second model trained on exactly the batches the interrupted one saw (same seed, same
order), and the optimizer's own step counter.
"""

import signal

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import loop
from kerasish.engine import state as engine_state


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    return x, (x[:, :3] @ rng.normal(size=(3, 2))).astype("float32")


def _model(seed=0, **compile_args):
    kerasish.utils.set_random_seed(seed)
    model = kerasish.Sequential([kerasish.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(2)])
    model.compile(**{"optimizer": "adam", "loss": "mse", "metrics": ["mae"], "steps_per_execution": 1,
                     **compile_args})
    return model


def _same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_the_state_is_live_mid_fit_optimizer_metrics_and_step():
    x, y = _data()
    model = _model()
    seen = []

    class Watch(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            m = self.model
            seen.append((int(m.optimizer.iterations.value), engine_state.step_count(m),
                         float(m.metrics[0].result()), float(logs["loss"])))
            if batch == 1:
                m.optimizer.learning_rate = 0.5  # takes effect at the next step, through the live state

    model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[Watch()])
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5, 6] == [s[1] for s in seen]
    for _, _, tracked, logged in seen:  # the loss tracker's variables are the live accumulators
        assert tracked == pytest.approx(logged, rel=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.5)
    # after fit, the variables hold the state's last values (Keras's get_metrics_result works)
    assert float(model.get_metrics_result()["loss"]) == pytest.approx(seen[-1][3], rel=1e-6)


def _interrupted(exc_type, at_batch):
    x, y = _data()
    model = _model()

    class Stop(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == at_batch:
                raise exc_type("stop")

    with pytest.raises(exc_type):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[Stop()])
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, steps_per_epoch=at_batch + 1)
    return model, reference, (x, y)


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_fit_keeps_what_it_trained_and_stays_usable(exc_type):
    model, reference, (x, y) = _interrupted(exc_type, at_batch=3)
    _same_weights(model, reference)  # the weights of the 4 steps taken, no more, no less
    assert int(model.optimizer.iterations.value) == 4 == int(reference.optimizer.iterations.value)
    for a, b in zip(model.optimizer.variables, reference.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # consistent with the optimizer state
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # and the model trains on
    assert int(model.optimizer.iterations.value) == 10


def test_a_ctrl_c_during_a_step_waits_for_the_step_to_be_stored():
    guard = loop.InterruptGuard()
    with guard:
        guard.critical = True
        signal.raise_signal(signal.SIGINT)  # arrives while a step is in flight: deferred
        assert guard.pending
        guard.critical = False
        with pytest.raises(KeyboardInterrupt):
            guard.check()
        with pytest.raises(KeyboardInterrupt):  # outside a step it interrupts at once
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_sigint_inside_fit_stops_after_a_whole_step():
    x, y = _data()
    model = _model()

    class Interrupt(kerasish.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[Interrupt()])
    assert int(model.optimizer.iterations.value) == 2
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, steps_per_epoch=2)
    _same_weights(model, reference)


def test_bad_labels_leave_the_compiled_metrics_unresolved():
    """The issue's case: integer labels for a categorical loss fail clearly, and the next fit works."""
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).normal(size=(30, 4)).astype("float32")
    labels = np.arange(30) % 3
    before = model.get_weights()
    with pytest.raises(kerasish.InputError, match="one-hot"):
        model.fit(x, labels, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    history = model.fit(x, np.eye(3, dtype="float32")[labels], epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    accuracy = model.get_compile_config()  # still the compile arguments as given
    assert accuracy["metrics"] == ["accuracy"]
    assert type(model.metrics[1].entries[0][2]).__name__ == "CategoricalAccuracy"


def test_a_failing_first_step_undoes_what_the_call_resolved():
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input((4,)), layers.Dense(3, activation="softmax")])

    def bad_loss(y_true, y_pred):
        raise ValueError("a loss that fails while tracing")

    model.compile(loss=bad_loss, metrics=["accuracy"])
    x = np.zeros((8, 4), "float32")
    with pytest.raises(ValueError, match="fails while tracing"):
        model.fit(x, np.zeros((8,), "int32"), epochs=1, verbose=0)
    assert model.metrics[1:] == []  # compile_metrics not resolved from the failed call's labels
    assert not model.optimizer.built or int(model.optimizer.iterations.value) == 0


def test_custom_steps_see_keras_state_tuples():
    shapes = {}

    class Probe(kerasish.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def train_step(self, state, data):
            shapes["train"] = [len(part) for part in state]
            shapes["data"] = len(data)
            return super().train_step(state, data)

        def test_step(self, state, data):
            shapes["test"] = [len(part) for part in state]
            return super().test_step(state, data)

    x, y = _data(32)
    model = Probe()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y))
    # (trainable, non_trainable, optimizer_variables, metrics_variables): 2 weights, none, SGD's count and
    # learning rate, the loss tracker's and mae's total and count
    assert shapes["train"] == [2, 0, len(model.optimizer.variables), 4]
    assert shapes["test"] == [2, 0, 4]
    assert shapes["data"] == 2  # (x, y): no sample weights were given


def test_callback_hooks_are_paired_and_end_hooks_get_keras_logs():
    x, y = _data()
    model = _model(steps_per_execution=4)  # fused calls: hooks still strictly paired, in order
    events = []

    class Record(kerasish.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            events.append(("te", batch, float(logs["loss"])))

        def on_predict_batch_end(self, batch, logs=None):
            events.append(("pe", batch, logs["outputs"].shape))

        def on_train_end(self, logs=None):
            events.append(("train_end", dict(logs)))

        def on_test_end(self, logs=None):
            events.append(("test_end", dict(logs)))

        def on_predict_end(self, logs=None):
            events.append(("predict_end", dict(logs)))

    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x, y), callbacks=[Record()])
    train_end = [e for e in events if e[0] == "train_end"]
    assert train_end == [("train_end", {k: v[-1] for k, v in history.history.items()})]
    events.clear()
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True, callbacks=[Record()])
    assert [e[1] for e in events if e[0] == "te"] == list(range(12))
    assert events[-1] == ("test_end", logs)
    events.clear()
    model.predict(x, batch_size=8, verbose=0, callbacks=[Record()])
    assert [e[1] for e in events if e[0] == "pe"] == list(range(12))
    assert all(e[2] == (8, 2) for e in events if e[0] == "pe")
    assert events[-1] == ("predict_end", {})


def test_batch_begin_and_end_hooks_strictly_alternate_in_evaluate_and_predict():
    x, y = _data()
    model = _model(steps_per_execution=4)
    order = []

    class Both(kerasish.callbacks.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            order.append(f"tb{batch}")

        def on_test_batch_end(self, batch, logs=None):
            order.append(f"te{batch}")

        def on_predict_batch_begin(self, batch, logs=None):
            order.append(f"pb{batch}")

        def on_predict_batch_end(self, batch, logs=None):
            order.append(f"pe{batch}")

    model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[Both()])
    model.predict(x, batch_size=8, verbose=0, callbacks=[Both()])
    expected = [f"{k}{i}" for kind in ("t", "p") for i in range(12) for k in (f"{kind}b", f"{kind}e")]
    assert order == expected


def test_fit_from_a_callback_of_the_same_model_is_refused_but_evaluate_works():
    x, y = _data(32)
    model = _model()
    seen = {}

    class Nested(kerasish.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["evaluate"] = self.model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
            with pytest.raises(kerasish.ConfigError, match="already training"):
                self.model.fit(x, y, verbose=0)

    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[Nested()])
    # evaluate inside the fit read the live weights: its loss is the epoch's end weights'
    assert seen["evaluate"] == pytest.approx(model.evaluate(x, y, verbose=0, return_dict=True)["loss"], rel=1e-6)
    assert history.history["loss"]
