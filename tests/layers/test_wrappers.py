"""TimeDistributed against Keras 3 (same weights), plus its one-call folding, masks, config and errors."""

import json

import jax
import numpy as np
import pytest

from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError
from kerasish.layers import Conv2D, Dense, Dropout
from kerasish.layers.base import Layer
from kerasish.layers.wrappers import TimeDistributed
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras, run_layer_test

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

CUSTOM = {"TimeDistributed": TimeDistributed}


def wrapping(make_inner):
    """A TimeDistributed whose default inner layer is a fresh ``make_inner()``, for run_layer_test
    (which constructs the layer several times from the same kwargs)."""

    class TimeDistributed_(TimeDistributed):
        def __init__(self, layer=None, **kwargs):
            super().__init__(make_inner() if layer is None else layer, **kwargs)

    TimeDistributed_.__name__ = "TimeDistributed"  # the helper finds keras.layers.TimeDistributed by name
    return TimeDistributed_


def test_dense_matches_keras():
    cls = wrapping(lambda: Dense(4, activation="relu"))
    run_layer_test(cls, {}, (2, 3, 5), keras_kwargs={"layer": keras.layers.Dense(4, activation="relu")},
                   expected_output_shape=(2, 3, 4), expected_num_weights=2,
                   custom_objects={"TimeDistributed": cls})


def test_conv2d_matches_keras():
    cls = wrapping(lambda: Conv2D(4, 3, padding="same", strides=2, kernel_initializer="zeros"))
    run_layer_test(cls, {}, (2, 3, 5, 5, 2),
                   keras_kwargs={"layer": keras.layers.Conv2D(4, 3, padding="same", strides=2,
                                                              kernel_initializer="zeros")},
                   expected_output_shape=(2, 3, 3, 3, 4), expected_num_weights=2,
                   custom_objects={"TimeDistributed": cls})


def test_one_call_of_the_inner_layer():
    """Time is folded into the batch: one matmul in the program for 7 timesteps, not 7."""
    td = TimeDistributed(Dense(4))
    x = np.ones((2, 7, 5), "float32")
    td(x)
    jaxpr = str(jax.make_jaxpr(lambda a: td(a))(x))
    assert jaxpr.count("dot_general") == 1, jaxpr


def test_weights_are_the_inner_layers():
    inner = Dense(4)
    td = TimeDistributed(inner)
    td(np.zeros((2, 3, 5), "float32"))
    assert [w.name for w in td.weights] == ["kernel", "bias"]
    assert inner.built and inner.kernel.shape == (5, 4)
    assert td.weights[0] is inner.kernel


def test_config_round_trip_nested_layer():
    td = TimeDistributed(Dense(3, activation="tanh", use_bias=False), name="td")
    x = np.random.default_rng(0).standard_normal((2, 4, 5)).astype("float32")
    y = np.asarray(td(x))
    entry = json.loads(json.dumps(serialize_layer(td)))
    assert entry["config"]["layer"]["class_name"] == "Dense"
    restored = deserialize_layer(entry, CUSTOM)
    assert isinstance(restored, TimeDistributed) and isinstance(restored.layer, Dense)
    assert restored.get_config() == td.get_config()
    restored(x)
    restored.set_weights(td.get_weights())
    assert_close(restored(x), y)


def test_training_flag_reaches_the_inner_layer():
    td = TimeDistributed(Dropout(0.5))
    x = np.ones((2, 3, 8), "float32")
    assert_close(td(x, training=False), x)
    with StatelessScope({}, rng=jax.random.PRNGKey(0), training=True):
        y = np.asarray(td(x))
    assert set(np.unique(y)) <= {0.0, 2.0} and (y == 0).any() and (y == 2).any()


class _MaskedScale(Layer):
    """Zeroes the rows a (batch,) mask marks as padding (an inner layer that takes ``mask``)."""

    def call(self, inputs, mask=None):
        return inputs if mask is None else inputs * mask[:, None].astype(inputs.dtype)


class _KerasMaskedScale(keras.layers.Layer):
    def call(self, inputs, mask=None):
        return inputs if mask is None else inputs * keras.ops.cast(mask, inputs.dtype)[:, None]


def test_mask_is_passed_to_the_inner_layer_as_keras():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)).astype("float32")
    m = np.array([[True, False, True], [False, True, True]])
    ours = np.asarray(TimeDistributed(_MaskedScale())(x, mask=m))
    theirs = np.asarray(keras.layers.TimeDistributed(_KerasMaskedScale())(x, mask=m))
    assert_close(ours, theirs)
    assert_close(ours[~m], 0.0)


def test_mask_passes_through():
    td = TimeDistributed(Dense(2))
    x = np.zeros((2, 3, 4), "float32")
    m = np.array([[True, False, True], [True, True, False]])
    assert td.compute_mask(x, m) is m
    assert td.compute_mask(x, None) is None
    assert td.supports_masking
    # A layer without a mask argument still runs when given one (Dense ignores it).
    assert np.asarray(td(x, mask=m)).shape == (2, 3, 2)


def test_bad_inputs_and_args():
    with pytest.raises(InputError, match="rank 3 or more"):
        TimeDistributed(Dense(2))(np.zeros((2, 5), "float32"))
    td = TimeDistributed(Dense(2))
    td(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(InputError, match="rank 3 or more"):
        td(np.zeros((2, 4), "float32"))
    with pytest.raises(InputError, match="mask"):
        td(np.zeros((2, 3, 4), "float32"), mask=np.ones((2, 4), bool))
    with pytest.raises(ConfigError, match="layer must be a kerasish Layer"):
        TimeDistributed("dense")
