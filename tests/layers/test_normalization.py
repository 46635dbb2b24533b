"""BatchNormalization and LayerNormalization against Keras 3.

``run_layer_test`` also compares ``training=True`` outputs and the moving
statistics after that call (see its docstring for the path used).
"""

import keras
import numpy as np
import pytest

from kerasish import layers
from kerasish.errors import ConfigError

from .helpers import make_inputs, run_layer_test

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


def test_batch_normalization_training_call_updates_moving_statistics_like_keras():
    """One training-mode forward pass: the new moving statistics equal Keras's and follow its formula."""
    out = run_layer_test(layers.BatchNormalization, {"momentum": 0.8}, NHWC)
    model, keras_model, x = out["model"], out["keras_model"], out["x"]
    weights = [np.asarray(w) for w in keras_model.get_weights()]
    model.set_weights(weights)
    np.testing.assert_allclose(np.asarray(model(x, training=True)), np.asarray(keras_model(x, training=True)),
                               atol=1e-5, rtol=1e-5)
    gamma, beta, mean, var = weights
    batch_mean, batch_var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))  # biased variance, as Keras
    expected = [gamma, beta, 0.8 * mean + 0.2 * batch_mean, 0.8 * var + 0.2 * batch_var]
    for ours, theirs, want in zip(model.get_weights(), keras_model.get_weights(), expected):
        np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(ours, want, atol=1e-5, rtol=1e-5)
    # Inference leaves them alone.
    before = model.get_weights()
    model(x, training=False)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


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
