"""The last partial batch is padded, not recompiled, and the padding leaves loss, metrics and BN exact."""

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import jit


def _model(seed=0):
    kerasish.utils.set_random_seed(seed)
    model = kerasish.Sequential([kerasish.Input(shape=(5,)), layers.Dense(8, activation="relu"),
                                 layers.BatchNormalization(), layers.Dense(3)])
    model.compile(optimizer=kerasish.optimizers.SGD(0.1),
                  loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy", kerasish.metrics.SparseTopKCategoricalAccuracy(k=2)],
                  steps_per_execution=1)  # one program per step kind; 'auto' is tested in test_execution.py
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype("float32")
    return x, np.argmax(x[:, :3], axis=1).astype("int32")


class CompileCounter:
    """Counts XLA compilations (all of them, eager ops included) while active."""

    def __init__(self):
        self.count = 0
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, name, duration, **kwargs):
        if self.active and name == "/jax/core/compile/backend_compile_duration":
            self.count += 1


COUNTER = CompileCounter()


def test_fit_compiles_train_and_test_step_once(data):
    x, y = data
    model = _model()
    model.fit(x, y, batch_size=16, epochs=3, validation_data=(x[:20], y[:20]), verbose=0)  # 16+16+8; 16+4
    assert jit.program(model, "train").single._cache_size() == 1
    assert jit.program(model, "test").single._cache_size() == 1
    COUNTER.count, COUNTER.active = 0, True
    try:
        model.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:20], y[:20]), verbose=0)
        model.evaluate(x, y, batch_size=16, verbose=0)
    finally:
        COUNTER.active = False
    assert COUNTER.count == 0, f"a second fit/evaluate compiled {COUNTER.count} new program(s)"


def test_padded_last_batch_trains_exactly_like_unpadded_batches(data):
    x, y = data
    padded = _model()
    padded.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    reference = _model()
    for start in (0, 16, 32):  # train_on_batch never pads: the last batch has 8 real rows only
        reference.train_on_batch(x[start:start + 16], y[start:start + 16])
    for a, b in zip(padded.get_weights(), reference.get_weights()):  # includes BN moving statistics
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_padded_evaluate_and_predict_are_exact(data):
    x, y = data
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    by_16 = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    whole = model.evaluate(x, y, batch_size=40, return_dict=True, verbose=0)
    for key in whole:
        assert by_16[key] == pytest.approx(whole[key], rel=1e-5, abs=1e-6), key
    np.testing.assert_allclose(model.predict(x, batch_size=16, verbose=0), model.predict(x, batch_size=40, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert model.predict(x, batch_size=16, verbose=0).shape == (40, 3)


def test_padding_with_sample_weights_and_regularization():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, 4)).astype("float32")
    target = x @ rng.normal(size=(4, 2)).astype("float32")
    w = rng.uniform(0.5, 2.0, size=10).astype("float32")

    def make():
        kerasish.utils.set_random_seed(3)
        m = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(2, kernel_regularizer="l2")])
        m.compile(optimizer=kerasish.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
        return m

    padded = make()
    padded.fit(x, target, sample_weight=w, batch_size=4, epochs=2, shuffle=False, verbose=0)
    reference = make()
    for _ in range(2):
        for start in (0, 4, 8):
            reference.train_on_batch(x[start:start + 4], target[start:start + 4], sample_weight=w[start:start + 4])
    for a, b in zip(padded.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_padding_keeps_threshold_metrics_exact(data):
    x, y = data
    one_hot = np.eye(3, dtype="float32")[y]
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(5,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=[kerasish.metrics.AUC(), kerasish.metrics.F1Score(average="macro"),
                           kerasish.metrics.Precision(), kerasish.metrics.Recall()])
    by_16 = model.evaluate(x, one_hot, batch_size=16, return_dict=True, verbose=0)  # 16 + 16 + 8 (padded)
    whole = model.evaluate(x, one_hot, batch_size=40, return_dict=True, verbose=0)
    for key in whole:
        assert by_16[key] == pytest.approx(whole[key], rel=1e-5, abs=1e-6), key


def test_a_first_fit_compiles_nothing_after_its_first_epoch(data):
    # every program a fit needs compiles within the first epoch (the next epoch's fresh metric accumulators
    # included): a second epoch that compiled would be slower than the rest, and benchmarks time from the second
    x, y = data
    model = _model()

    class Epochs(kerasish.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                COUNTER.count, COUNTER.active = 0, True

    try:
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Epochs()])
    finally:
        COUNTER.active = False
    assert COUNTER.count == 0, f"epochs 2 and 3 compiled {COUNTER.count} program(s)"
