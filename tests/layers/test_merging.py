"""Concatenate and Add against Keras 3, in functional models with several Inputs."""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import InputError

from .helpers import run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.mark.parametrize("kwargs, input_shapes, out_shape", [
    ({}, [(2, 3), (2, 4)], (2, 7)),
    ({"axis": 1}, [(2, 3, 4), (2, 2, 4)], (2, 5, 4)),
    ({"axis": -2}, [(2, 3, 4), (2, 3, 4)], (2, 6, 4)),
    ({}, [(2, 3), (2, 3), (2, 2)], (2, 8)),
], ids=["last_axis", "axis1", "negative_axis", "three_inputs"])
def test_concatenate(kwargs, input_shapes, out_shape):
    run_layer_test(layers.Concatenate, kwargs, input_shapes, expected_output_shape=out_shape,
                   expected_num_weights=0)


@pytest.mark.parametrize("input_shapes, out_shape", [
    ([(2, 3), (2, 3)], (2, 3)),
    ([(2, 3, 4), (2, 3, 4)], (2, 3, 4)),
    ([(2, 3), (2, 3), (2, 3)], (2, 3)),
    ([(2, 1, 4), (2, 3, 4)], (2, 3, 4)),  # Keras broadcasts dimensions of size 1
], ids=["two", "rank3", "three", "broadcast"])
def test_add(input_shapes, out_shape):
    run_layer_test(layers.Add, {}, input_shapes, expected_output_shape=out_shape, expected_num_weights=0)


def test_merging_rejects_mismatched_shapes():
    a, b = kerasish.Input(shape=(3,)), kerasish.Input(shape=(4,))
    with pytest.raises(InputError, match="same shape"):
        layers.Add()([a, b])
    a, b = kerasish.Input(shape=(3, 4)), kerasish.Input(shape=(2, 5))
    with pytest.raises(InputError, match="every other axis"):
        layers.Concatenate(axis=1)([a, b])
    with pytest.raises(InputError, match="list of at least 2"):
        layers.Add()(kerasish.Input(shape=(3,)))


def test_merging_in_a_functional_model_with_weighted_branches():
    """Two Inputs through Dense branches, then Add and Concatenate: one model, outputs as computed by hand."""
    a_in, b_in = kerasish.Input(shape=(16,), name="a"), kerasish.Input(shape=(16,), name="b")
    da, db = layers.Dense(16, name="da"), layers.Dense(16, name="db")
    a, b = da(a_in), db(b_in)
    out = layers.Concatenate()([layers.Add()([a, b]), a_in])
    model = kerasish.Model([a_in, b_in], out)
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((2, 16)).astype("float32"), rng.standard_normal((2, 16)).astype("float32")
    (ka, ba), (kb, bb) = da.get_weights(), db.get_weights()
    want = np.concatenate([xa @ ka + ba + xb @ kb + bb, xa], axis=-1)
    np.testing.assert_allclose(np.asarray(model([xa, xb])), want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model({"a": xa, "b": xb})), want, atol=1e-5, rtol=1e-5)
