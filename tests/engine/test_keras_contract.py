"""Keras 3's base-class contract, as the custom layers, metrics and callbacks of the Keras guides use it."""

import inspect

import keras
import numpy as np
import pytest

import kerasish
from kerasish import layers, ops


class _Sum(kerasish.layers.Layer):
    def __init__(self, input_dim):
        super().__init__()
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)
        self.count = self.add_weight(shape=(), dtype="int32", trainable=False)
        self.scale = self.add_weight(shape=(input_dim,))

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total.value


def test_add_weight_has_keras_signature_and_defaults():
    layer = _Sum(2)
    np.testing.assert_array_equal(np.asarray(layer(np.ones((2, 2), "float32"))), [2.0, 2.0])
    np.testing.assert_array_equal(np.asarray(layer(np.ones((2, 2), "float32"))), [4.0, 4.0])
    assert sorted(w.name for w in layer.weights) == ["variable", "variable_1", "variable_2"]
    assert layer.count.value.dtype == np.int32 and int(layer.count.value) == 0  # zeros for ints, as Keras
    assert np.any(np.asarray(layer.scale.value) != 0)  # glorot_uniform for floats, as Keras
    # Keras 3.15's add_weight (its signature, read from its source: the method is wrapped by a decorator)
    keras_params = ["self", "shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint",
                    "aggregation", "overwrite_with_gradient", "name"]
    source = inspect.getsource(keras.src.layers.layer.Layer.add_weight)
    assert all(p in source for p in keras_params[1:])
    assert list(inspect.signature(kerasish.layers.Layer.add_weight).parameters) == keras_params


def test_the_name_first_form_still_works():
    class Old(kerasish.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight("kernel", (input_shape[-1], 3), "ones")

        def call(self, x):
            return x @ self.kernel

    layer = Old()
    assert layer(np.ones((1, 2), "float32")).shape == (1, 3)
    assert layer.kernel.name == "kernel"


def test_variable_has_keras_signature():
    v = kerasish.Variable(initializer="ones", shape=(2, 3), dtype="float32", name="w", trainable=False)
    np.testing.assert_array_equal(np.asarray(v.value), np.ones((2, 3)))
    assert (v.name, v.trainable) == ("w", False)
    assert kerasish.Variable(np.zeros(3)).name.startswith("variable")
    with pytest.raises(kerasish.ConfigError, match="needs a shape"):
        kerasish.Variable(initializer="ones")


def test_build_by_hand_keeps_the_weights_set():
    layer = layers.Dense(2)
    layer.build((None, 3))
    layer.set_weights([np.ones((3, 2), "float32"), np.zeros(2, "float32")])
    np.testing.assert_array_equal(np.asarray(layer(np.ones((1, 3), "float32"))), [[3.0, 3.0]])
    k = keras.layers.Dense(2)
    k.build((None, 3))
    ours, theirs = layer.get_build_config(), k.get_build_config()
    assert list(ours["input_shape"]) == list(theirs["input_shape"]) == [None, 3]


def test_compute_output_spec_and_sequential_inputs():
    spec = layers.Dense(4).compute_output_spec(kerasish.KerasTensor((None, 3)))
    assert spec.shape == (None, 4)
    model = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(2)])
    assert model.inputs[0].shape == (None, 3) and model.outputs[0].shape == (None, 2)
    assert model.output_shape == (None, 2)


class _TruePositives(kerasish.metrics.Metric):
    """The Keras guide's CategoricalTruePositives: multiplies per-row values by sample_weight."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
        if sample_weight is not None:
            values = ops.multiply(values, ops.cast(sample_weight, "float32"))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


@pytest.mark.parametrize("n", [64, 70])  # full batches, and a padded last one
def test_a_metric_of_your_own_counts_as_keras_would(n, rng):
    inputs = kerasish.Input((5,))
    model = kerasish.Model(inputs, layers.Dense(3, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[_TruePositives()], steps_per_execution=4)
    x, y = rng.normal(size=(n, 5)).astype("float32"), rng.integers(0, 3, size=(n, 1))
    logs = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    want = np.sum(np.argmax(model.predict(x, verbose=0), axis=1) == y[:, 0])
    assert logs["categorical_true_positives"] == want


def test_a_layer_drawing_noise_works_in_predict():
    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = kerasish.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = kerasish.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * eps

    inputs = kerasish.Input((4,))
    z = Sampling()([layers.Dense(2)(inputs), layers.Dense(2)(inputs)])
    out = kerasish.Model(inputs, z).predict(np.ones((3, 4), "float32"), verbose=0)
    assert out.shape == (3, 2) and np.all(np.isfinite(out)) and not np.allclose(out[0], out[1])


def test_on_batch_end_is_called_in_fit_as_keras():
    seen = []

    class Counter(kerasish.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(batch)

    model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=4, epochs=1, verbose=0, callbacks=[Counter()])
    assert seen == [0, 1]


def test_functional_layers_and_rank_adjustment_as_keras(rng):
    def build(lib):
        inputs = lib.Input(shape=(6, 6, 1))
        x = lib.layers.Flatten()(inputs)
        return lib.Model(inputs, lib.layers.Dense(2, name="d")(x) + 1.0)

    ours, theirs = build(kerasish), build(keras)
    assert [type(la).__name__ for la in ours.layers] == [type(la).__name__ for la in theirs.layers]
    assert len(ours.operations) == len(theirs.operations)
    text = []
    ours.summary(print_fn=text.append)
    assert "(Add)" in "\n".join(text)  # the op row, named add, add_1, ... as Keras
    ours.get_layer("d").set_weights(theirs.get_layer("d").get_weights())
    x = rng.normal(size=(4, 6, 6)).astype("float32")  # one axis short: Keras adds it
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile("sgd", "mse")
    ours.fit(x, np.zeros((4, 2)), verbose=0)


def test_eager_outputs_carry_keras_mask():
    out = layers.Embedding(10, 3, mask_zero=True)(np.array([[1, 2, 0]]))
    np.testing.assert_array_equal(np.asarray(out._keras_mask), [[True, True, False]])


def test_one_value_per_sample_outputs_are_not_padded(rng):
    """A (batch,) output's loss reduces over the batch itself: the short last batch must stay short."""
    def build(lib):
        inputs = lib.Input((3,))
        return lib.Model(inputs, lib.ops.sum(lib.layers.Dense(2, name="d")(inputs), axis=-1))

    ours, theirs = build(kerasish), build(keras)
    ours.get_layer("d").set_weights(theirs.get_layer("d").get_weights())
    for m in (ours, theirs):
        m.compile("sgd", "mse")
    x, y = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(5,)).astype("float32")
    assert ours.evaluate(x, y, batch_size=2, verbose=0) == pytest.approx(
        theirs.evaluate(x, y, batch_size=2, verbose=0), rel=1e-5)


def test_config_max_epochs_caps_fit():
    model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    kerasish.config.set_max_epochs(2)
    try:
        history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=5, verbose=0)
    finally:
        kerasish.config.set_max_epochs(None)
    assert len(history.history["loss"]) == 2
