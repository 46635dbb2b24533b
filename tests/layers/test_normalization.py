"""BatchNormalization and LayerNormalization against Keras 3.

``run_layer_test`` also compares ``training=True`` outputs and the moving
statistics after that call (see its docstring for the path used).
"""

import numpy as np
import pytest

from kerasish import layers
from kerasish.errors import ConfigError, InputError

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


@pytest.mark.parametrize("kwargs, input_shape", [
    ({"axis": [1, 2]}, (2, 4, 3)),
    ({"axis": [-1, -2], "epsilon": 1e-5}, (2, 3, 4, 5)),
    ({"axis": [1, 3], "center": False}, (2, 3, 4, 5)),
    ({"axis": [2, 1], "scale": False}, (2, 3, 4)),
])
def test_layer_normalization_several_axes(kwargs, input_shape):
    run_layer_test(layers.LayerNormalization, kwargs, input_shape)


def test_layer_normalization_bad_axis():
    with pytest.raises(ConfigError, match="axis must be an int or a list of distinct ints"):
        layers.LayerNormalization(axis=[1, 1])
    with pytest.raises(InputError, match="axis 3 is out of range"):
        layers.LayerNormalization(axis=[1, 3])(np.ones((2, 3, 4), "float32"))


def test_keras_layer_normalization_default_epsilon_is_used():
    assert layers.LayerNormalization().epsilon == keras.layers.LayerNormalization().epsilon == 1e-3
    assert layers.BatchNormalization().epsilon == keras.layers.BatchNormalization().epsilon == 1e-3
    assert layers.BatchNormalization().momentum == keras.layers.BatchNormalization().momentum == 0.99


# -- GroupNormalization --------------------------------------------------------------------------
def _group_norm(kwargs, input_shape, **extra):
    from kerasish.layers.normalization import GroupNormalization

    return run_layer_test(GroupNormalization, kwargs, input_shape, expected_output_shape=input_shape,
                          custom_objects={"GroupNormalization": GroupNormalization}, **extra)


@pytest.mark.parametrize("kwargs, input_shape, n_weights", [
    ({"groups": 2}, (2, 3, 4), 2),
    ({"groups": 2}, (2, 3, 3, 4), 2),
    ({"groups": 4}, (2, 4), 2),  # one channel per group: each value alone in its group
    ({"groups": 1}, (2, 5, 6), 2),  # layer-norm-like over all non-batch axes
    ({"groups": -1}, (2, 5, 6), 2),  # instance normalization
    ({"groups": 3, "axis": 1}, (2, 6, 4, 5), 2),  # channels first
    ({"groups": 2, "epsilon": 1e-5}, (2, 3, 4), 2),
    ({"groups": 2, "center": False}, (2, 3, 4), 1),
    ({"groups": 2, "scale": False}, (2, 3, 4), 1),
    ({"groups": 2, "center": False, "scale": False}, (2, 3, 4), 0),
    ({"groups": 2, "beta_initializer": "ones", "gamma_initializer": "zeros", "gamma_regularizer": "l2",
      "beta_regularizer": "l1"}, (2, 3, 4), 2),
], ids=["3d", "nhwc", "one_per_group", "one_group", "instance", "channels_first", "epsilon", "no_center",
        "no_scale", "neither", "initializers_regularizers"])
def test_group_normalization(kwargs, input_shape, n_weights):
    _group_norm(kwargs, input_shape, expected_num_weights=n_weights)


def test_group_normalization_large_offset_is_stable():
    _group_norm({"groups": 2}, None, input_data=make_inputs((2, 5, 4)) + 1000.0, atol=1e-4, rtol=1e-4)


def test_group_normalization_defaults_and_groups_minus_one_config_are_keras():
    from kerasish.layers.normalization import GroupNormalization

    ours, theirs = GroupNormalization(), keras.layers.GroupNormalization()
    assert (ours.groups, ours.axis, ours.epsilon, ours.center, ours.scale) == \
        (theirs.groups, theirs.axis, theirs.epsilon, theirs.center, theirs.scale) == (32, -1, 1e-3, True, True)
    x = make_inputs((2, 64))
    assert_close(ours(x), theirs(x), "default GroupNormalization (32 groups of 2) on 64 channels")
    inst, keras_inst = GroupNormalization(groups=-1), keras.layers.GroupNormalization(groups=-1)
    inst(make_inputs((2, 3, 6))), keras_inst(make_inputs((2, 3, 6)))
    assert inst.get_config()["groups"] == keras_inst.get_config()["groups"] == 6


def test_group_normalization_statistics_are_per_group():
    """Shift one group's channels: neither group's outputs move (the shift is normalized away, per group)."""
    from kerasish.layers.normalization import GroupNormalization

    layer = GroupNormalization(groups=2)
    x = make_inputs((2, 3, 4))
    y = np.asarray(layer(x))
    x2 = x.copy()
    x2[..., 2:] += 3.0
    y2 = np.asarray(layer(x2))
    assert_close(y2[..., :2], y[..., :2], "the untouched group")
    assert_close(y2[..., 2:], y[..., 2:], "a shift of a group's inputs is normalized away", atol=1e-4)
    assert_close(y.reshape(2, 3, 2, 2).mean(axis=(1, 3)), np.zeros((2, 2)), "zero group means", atol=1e-5)
    x3 = x.copy()
    x3[..., :2] = 0.0  # one group constant: it normalizes to zero (beta), the other group is unchanged
    y3 = np.asarray(layer(x3))
    assert_close(y3[..., :2], np.zeros((2, 3, 2)), "a constant group")
    assert_close(y3[..., 2:], y[..., 2:], "the other group")


def test_group_normalization_bad_arguments():
    from kerasish.layers.normalization import GroupNormalization

    for groups in (0, -2, 2.0, None):
        with pytest.raises(ConfigError, match=f"GroupNormalization: groups .*groups={groups!r}"):
            GroupNormalization(groups=groups)
    with pytest.raises(ConfigError, match="GroupNormalization: axis"):
        GroupNormalization(axis=[1, 2])
    with pytest.raises(InputError, match=r"'gn'.*groups=3 must divide the 4 channels on axis -1"):
        GroupNormalization(groups=3, name="gn")(make_inputs((2, 4)))
    with pytest.raises(InputError, match=r"groups=8 must divide the 4 channels"):
        GroupNormalization(groups=8)(make_inputs((2, 4)))
    with pytest.raises(InputError, match="out of range"):
        GroupNormalization(groups=1, axis=3)(make_inputs((2, 4)))
    layer = GroupNormalization(groups=2)
    layer(make_inputs((2, 4)))
    with pytest.raises(InputError, match="built for 4 channels"):
        layer(make_inputs((2, 6)))


# -- UnitNormalization ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape", [
    ({}, (2, 5)),
    ({}, (2, 3, 4)),
    ({"axis": 1}, (2, 3, 4)),
    ({"axis": [1, 2]}, (2, 3, 4)),
    ({"axis": (-2, -1)}, (2, 3, 4, 2)),
], ids=["2d", "3d", "axis1", "axis_list", "axis_tuple"])
def test_unit_normalization(kwargs, input_shape):
    from kerasish.layers.normalization import UnitNormalization

    out = run_layer_test(UnitNormalization, kwargs, input_shape, expected_output_shape=input_shape,
                         expected_num_weights=0, custom_objects={"UnitNormalization": UnitNormalization})
    axis = kwargs.get("axis", -1)
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    y = np.asarray(out["layer"](out["x"]))
    assert_close(np.sqrt(np.sum(y ** 2, axis=axis)), np.ones(np.sum(y, axis=axis).shape), "unit norms")


def test_unit_normalization_zero_vector_and_config():
    from kerasish.layers.normalization import UnitNormalization

    x = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]], "float32")
    ours = np.asarray(UnitNormalization()(x))
    assert_close(ours, np.asarray(keras.layers.UnitNormalization()(x)), "zero row and a 3-4-5 row")
    np.testing.assert_array_equal(ours[0], 0.0)
    assert_close(ours[1], [0.6, 0.0, 0.8])
    assert UnitNormalization(axis=(1, 2)).get_config()["axis"] == [1, 2]
    with pytest.raises(ConfigError, match="UnitNormalization: axis"):
        UnitNormalization(axis="last")
    with pytest.raises(InputError, match=r"axis 2 is out of range for input shape \(2, 3\)"):
        UnitNormalization(axis=2)(x)
