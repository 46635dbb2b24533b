"""Reshaping layers (Permute, RepeatVector, ZeroPadding, Cropping, UpSampling) against Keras 3."""

import keras
import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError, InputError
from kerasish.layers import reshaping
from kerasish.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)

from .helpers import assert_close, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

# The classes by name, for the config round trip (through custom_objects until layers/__init__ exports them).
CUSTOM = {name: getattr(reshaping, name) for name in (
    "Permute", "RepeatVector", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D",
    "UpSampling1D", "UpSampling2D")}

CASES = [
    (Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3)),
    (Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4)),
    (RepeatVector, {"n": 3}, (2, 4), (2, 3, 4)),
    (ZeroPadding1D, {}, (2, 3, 4), (2, 5, 4)),
    (ZeroPadding1D, {"padding": (2, 0)}, (2, 3, 4), (2, 5, 4)),
    (ZeroPadding2D, {}, (2, 3, 4, 2), (2, 5, 6, 2)),
    (ZeroPadding2D, {"padding": 2}, (2, 3, 4, 2), (2, 7, 8, 2)),
    (ZeroPadding2D, {"padding": ((1, 0), (0, 3))}, (2, 3, 4, 2), (2, 4, 7, 2)),
    (Cropping1D, {}, (2, 5, 3), (2, 3, 3)),
    (Cropping1D, {"cropping": (0, 2)}, (2, 5, 3), (2, 3, 3)),
    (Cropping2D, {}, (2, 5, 6, 2), (2, 5, 6, 2)),
    (Cropping2D, {"cropping": 1}, (2, 5, 6, 2), (2, 3, 4, 2)),
    (Cropping2D, {"cropping": ((1, 0), (2, 1))}, (2, 5, 6, 2), (2, 4, 3, 2)),
    (UpSampling1D, {}, (2, 3, 4), (2, 6, 4)),
    (UpSampling1D, {"size": 3}, (2, 3, 4), (2, 9, 4)),
    (UpSampling2D, {}, (2, 3, 4, 2), (2, 6, 8, 2)),
    (UpSampling2D, {"size": (3, 2), "interpolation": "bilinear"}, (2, 3, 4, 2), (2, 9, 8, 2)),
    (UpSampling2D, {"size": 2, "interpolation": "bicubic"}, (2, 3, 4, 2), (2, 6, 8, 2)),
]


@pytest.mark.parametrize("cls, kwargs, input_shape, out_shape", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_against_keras(cls, kwargs, input_shape, out_shape):
    run_layer_test(cls, kwargs, input_shape, expected_output_shape=out_shape, expected_num_weights=0,
                   custom_objects=CUSTOM)


@pytest.mark.parametrize("cls, kwargs, input_shape, out_shape", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_eager_values_and_config_match_keras(cls, kwargs, input_shape, out_shape):
    """Eager outputs on the same data, and the same config values as Keras's (tuples as lists)."""
    x = make_inputs(input_shape, seed=3)
    ours, theirs = cls(**kwargs), getattr(keras.layers, cls.__name__)(**kwargs)
    y = np.asarray(ours(x))
    assert y.shape == out_shape
    assert_close(y, np.asarray(theirs(x)), f"{cls.__name__}({kwargs})")

    def listify(v):
        return [listify(i) for i in v] if isinstance(v, (list, tuple)) else v

    want = {k: listify(v) for k, v in theirs.get_config().items() if k not in ("name", "dtype", "trainable")}
    got = {k: listify(v) for k, v in ours.get_config().items() if k not in ("name", "dtype", "trainable")}
    assert got == want


def test_reshaping_in_a_functional_model():
    """A chain of reshaping layers with a Dense between, in both frameworks, same weights, same outputs."""
    def build(m, L):
        inp = m.Input(shape=(6, 5, 3))
        h = L.ZeroPadding2D(((1, 0), (0, 2)))(inp)
        h = L.Cropping2D(((0, 1), (1, 1)))(h)
        h = L.UpSampling2D((2, 1), interpolation="bilinear")(h)
        h = L.Permute((2, 1, 3))(h)
        h = L.Reshape((5 * 12, 3))(h)
        h = L.Cropping1D((2, 3))(h)
        h = L.ZeroPadding1D(1)(h)
        h = L.UpSampling1D(2)(h)
        h = L.Dense(4)(h)
        h = L.Flatten()(h)
        h = L.Dense(2)(h)
        h = L.RepeatVector(3)(h)
        return m.Model(inp, h)

    ns = type("NS", (), {**CUSTOM, "Reshape": kerasish.layers.Reshape, "Dense": kerasish.layers.Dense,
                         "Flatten": kerasish.layers.Flatten})
    ours, theirs = build(kerasish, ns), build(keras, keras.layers)
    assert tuple(ours.outputs[0].shape) == tuple(theirs.outputs[0].shape) == (None, 3, 2)
    ours.set_weights(theirs.get_weights())
    x = make_inputs((2, 6, 5, 3), seed=4)
    assert_close(np.asarray(ours(x)), np.asarray(theirs(x)), "functional model of reshaping layers")
    assert_close(np.asarray(ours.predict(x, verbose=0)), np.asarray(theirs(x)), "predict")


@pytest.mark.parametrize("make", [
    lambda: Permute((1, 3)),
    lambda: Permute((0, 1)),
    lambda: Permute(2),
    lambda: RepeatVector(0),
    lambda: RepeatVector(2.0),
    lambda: ZeroPadding1D(-1),
    lambda: ZeroPadding1D((1, 2, 3)),
    lambda: ZeroPadding2D(((1, 1), (1, 1), (1, 1))),
    lambda: ZeroPadding2D("same"),
    lambda: Cropping1D(-1),
    lambda: Cropping2D(((1, -1), (0, 0))),
    lambda: UpSampling1D(0),
    lambda: UpSampling2D((2, 0)),
    lambda: UpSampling2D(interpolation="area"),
    lambda: ZeroPadding1D(data_format="channels_first"),
    lambda: ZeroPadding2D(data_format="channels_first"),
    lambda: Cropping2D(data_format="channels_first"),
    lambda: UpSampling2D(data_format="channels_first"),
], ids=["perm_gap", "perm_batch", "perm_int", "repeat0", "repeat_float", "pad_neg", "pad_triple",
        "pad2_triple", "pad2_str", "crop_neg", "crop2_neg", "up0", "up2_zero", "up2_interp",
        "pad1_cf", "pad2_cf", "crop2_cf", "up2_cf"])
def test_bad_arguments_raise_config_error(make):
    with pytest.raises(ConfigError):
        make()


def test_data_format_error_names_it():
    with pytest.raises(ConfigError, match="channels_first"):
        UpSampling2D(data_format="channels_first")
    assert UpSampling2D(data_format="channels_last").get_config()["data_format"] == "channels_last"


@pytest.mark.parametrize("layer, shape, match", [
    (Permute((2, 1)), (4, 5, 6), "rank 3"),
    (RepeatVector(2), (3, 4), "rank 2"),
    (ZeroPadding2D(), (4, 5), "rank 4"),
    (Cropping1D((2, 3)), (5, 3), "leaves nothing"),
    (Cropping2D(((0, 0), (3, 3))), (4, 6, 2), "leaves nothing"),
    (UpSampling1D(), (4, 5, 6), "rank 3"),
], ids=["permute", "repeat", "pad2", "crop1", "crop2", "up1"])
def test_bad_input_shapes_raise_input_error(layer, shape, match):
    with pytest.raises(InputError, match=match) as info:
        layer(kerasish.Input(shape=shape))
    assert layer.name in str(info.value)


def test_input_error_after_build():
    layer = Cropping1D((1, 1))
    layer(np.zeros((2, 5, 3), "float32"))
    with pytest.raises(InputError, match="leaves nothing"):
        layer(np.zeros((2, 2, 3), "float32"))
