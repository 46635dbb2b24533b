"""BatchNormalization and LayerNormalization against Keras 3.

``run_layer_test`` also compares ``training=True`` outputs and the moving
statistics after that call (see its docstring for the path used).
"""

import numpy as np
import pytest

from kerasish import layers
from kerasish.errors import ConfigError

from .helpers import assert_close, keras, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

NHWC = (2, 5, 5, 4)
NCHW = (2, 4, 5, 5)


# -- BatchNormalization --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, n_weights, n_trainable", [
    ({}, (4, 3), 4, 2),
    ({}, NHWC, 4, 2),
    ({"axis": 1}, NCHW, 4, 2),
    ({"axis": -2}, (4, 3, 2), 4, 2),
    ({"center": False}, (4, 3), 3, 1),
    ({"scale": False}, (4, 3), 3, 1),
    ({"center": False, "scale": False}, (4, 3), 2, 0),
    ({"momentum": 0.9, "epsilon": 1e-5}, NHWC, 4, 2),
    ({"beta_initializer": "ones", "gamma_initializer": "zeros", "moving_mean_initializer": "ones",
      "moving_variance_initializer": "ones", "gamma_regularizer": "l2", "beta_regularizer": "l1"}, (4, 3), 4, 2),
    # A frozen BatchNormalization runs in inference mode even when called with training=True (Keras 3).
    ({"trainable": False}, (4, 3), 4, 0),
], ids=["2d", "nhwc", "channels_first", "middle_axis", "no_center", "no_scale", "neither", "momentum_eps",
        "initializers_regularizers", "frozen"])
def test_batch_normalization(kwargs, input_shape, n_weights, n_trainable):
    run_layer_test(layers.BatchNormalization, kwargs, input_shape, expected_output_shape=input_shape,
                   expected_num_weights=n_weights, expected_num_trainable_weights=n_trainable)


@pytest.fixture(scope="module")
def bn_pair():
    """A BatchNormalization model in both frameworks with Keras's weights, and Keras after one training call."""
    out = run_layer_test(layers.BatchNormalization, {"momentum": 0.8}, NHWC)
    model, keras_model, x = out["model"], out["keras_model"], out["x"]
    start = [np.asarray(w) for w in keras_model.get_weights()]
    keras_y = np.asarray(keras_model(x, training=True))
    return {"model": model, "x": x, "start": start, "keras_y": keras_y, "keras_after": keras_model.get_weights()}


def test_batch_normalization_eager_training_call_updates_moving_statistics_like_keras(bn_pair):
    """``model(x, training=True)`` called eagerly assigns the new moving statistics in place, as Keras does."""
    model, x, start = bn_pair["model"], bn_pair["x"], bn_pair["start"]
    model.set_weights(start)
    assert_close(model(x, training=True), bn_pair["keras_y"], "eager training=True output")
    gamma, beta, mean, var = start
    batch_mean, batch_var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased variance, as Keras
    expected = [gamma, beta, 0.8 * mean + 0.2 * batch_mean, 0.8 * var + 0.2 * batch_var]
    for ours, theirs, want in zip(model.get_weights(), bn_pair["keras_after"], expected):
        assert_close(ours, theirs, "weights after an eager training call")
        assert_close(ours, want, "weights after an eager training call, by the formula")
    before = model.get_weights()
    model(x, training=False)  # inference leaves them alone
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_batch_normalization_stateless_call_returns_keras_moving_statistics(bn_pair):
    """``model.stateless_call(..., training=True)``, the train step's pure path, returns the new statistics."""
    model, x, start = bn_pair["model"], bn_pair["x"], bn_pair["start"]
    model.set_weights(start)
    trainable = [v.value for v in model.trainable_weights]
    non_trainable = [v.value for v in model.non_trainable_weights]
    y, new_stats = model.stateless_call(trainable, non_trainable, x, training=True)
    assert_close(y, bn_pair["keras_y"], "stateless_call training=True output")
    assert_close(new_stats[0], bn_pair["keras_after"][2], "moving_mean from stateless_call")
    assert_close(new_stats[1], bn_pair["keras_after"][3], "moving_variance from stateless_call")
    for a, b in zip(model.get_weights(), start):
        np.testing.assert_array_equal(a, b)  # pure: nothing assigned


# -- LayerNormalization --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, n_weights", [
    ({}, (2, 3), 2),
    ({}, (2, 4, 3), 2),
    ({}, NHWC, 2),
    ({"axis": 1}, (2, 4, 3), 2),
    ({"axis": [-1]}, (2, 4, 3), 2),
    ({"epsilon": 1e-5}, (2, 3), 2),
    ({"center": False}, (2, 3), 1),
    ({"scale": False}, (2, 3), 1),
    ({"beta_initializer": "ones", "gamma_initializer": "zeros", "gamma_regularizer": "l2",
      "beta_regularizer": "l1"}, (2, 3), 2),
], ids=["2d", "3d", "nhwc", "axis1", "axis_list", "epsilon", "no_center", "no_scale", "initializers_regularizers"])
def test_layer_normalization(kwargs, input_shape, n_weights):
    run_layer_test(layers.LayerNormalization, kwargs, input_shape, expected_output_shape=input_shape,
                   expected_num_weights=n_weights)


def test_layer_normalization_large_offset_is_stable():
    """Inputs with a large common offset: the two-pass variance Keras uses must not cancel to garbage."""
    x = make_inputs((2, 4, 3)) + 1000.0
    run_layer_test(layers.LayerNormalization, {}, input_data=x, atol=1e-4, rtol=1e-4)


@pytest.mark.xfail(raises=ConfigError, strict=True,
                   reason="kerasish LayerNormalization supports one axis; Keras also normalizes over several")
def test_layer_normalization_several_axes():
    run_layer_test(layers.LayerNormalization, {"axis": [1, 2]}, (2, 4, 3))


def test_keras_layer_normalization_default_epsilon_is_used():
    assert layers.LayerNormalization().epsilon == keras.layers.LayerNormalization().epsilon == 1e-3
    assert layers.BatchNormalization().epsilon == keras.layers.BatchNormalization().epsilon == 1e-3
    assert layers.BatchNormalization().momentum == keras.layers.BatchNormalization().momentum == 0.99
