"""The same model under a mixed policy in kerasish and in Keras 3, with the same weights: the same outputs
(within the half dtype's rounding) and the same dtypes, layer by layer."""

import keras
import numpy as np
import pytest

import kerasish

TOLERANCE = {"mixed_bfloat16": 2e-2, "mixed_float16": 3e-3}


def build(lib):
    L = lib.layers
    inputs = lib.Input((8, 8, 3))
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="conv")(inputs)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(16, activation="relu", name="dense")(x)
    x = L.LayerNormalization(name="ln")(x)
    logits = L.Dense(10, name="logits")(x)
    return lib.Model(inputs, [L.Softmax(name="softmax")(logits), L.Dense(5, activation="softmax", name="probs")(x)])


def weights_for(model, rng):
    return [rng.uniform(0.5, 2.0, size=w.shape).astype(np.float32) if "variance" in w.path
            else (0.5 * rng.normal(size=w.shape)).astype(np.float32) for w in model.weights]


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_outputs_and_dtypes_match_keras(policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    kerasish.mixed_precision.set_global_policy(policy)
    theirs, ours = build(keras), build(kerasish)
    weights = weights_for(theirs, rng)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    assert [w.dtype for w in ours.weights] == [np.dtype(w.dtype) for w in theirs.weights]
    assert np.dtype(ours.inputs[0].dtype) == np.dtype(theirs.inputs[0].dtype) == np.float32
    for layer in theirs.layers[1:]:  # after the input layer
        mine = ours.get_layer(layer.name)
        assert (mine.dtype_policy.name, mine.compute_dtype, mine.variable_dtype) == \
            (layer.dtype_policy.name, layer.compute_dtype, layer.variable_dtype), layer.name
        assert np.dtype(mine.output.dtype) == np.dtype(layer.output.dtype), layer.name
    assert ours.get_layer("bn").get_config()["dtype"] == theirs.get_layer("bn").get_config()["dtype"]

    x = rng.normal(size=(16, 8, 8, 3)).astype(np.float32)
    for training in (False, True):  # the moving statistics, then the batch's
        want = [np.asarray(a) for a in theirs(x, training=training)]
        got = [np.asarray(a) for a in ours(x, training=training)]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype
            np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), atol=TOLERANCE[policy])
    got = ours.predict(x, verbose=0)
    want = theirs.predict(x, verbose=0)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g.astype(np.float32), w.astype(np.float32), atol=TOLERANCE[policy])


def test_embedding_and_lstm_match_keras(rng):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    kerasish.mixed_precision.set_global_policy("mixed_bfloat16")

    def make(lib):
        return lib.Sequential([lib.Input((6,), dtype="int32"), lib.layers.Embedding(300, 4, mask_zero=True),
                               lib.layers.LSTM(5), lib.layers.Dense(3)])

    theirs, ours = make(keras), make(kerasish)
    weights = [(0.5 * rng.normal(size=w.shape)).astype(np.float32) for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    tokens = np.array([[257, 3, 7, 0, 0, 0], [1, 2, 3, 4, 5, 299]], np.int32)
    want, got = np.asarray(theirs(tokens)), np.asarray(ours(tokens))
    assert got.dtype == want.dtype == np.dtype("bfloat16")
    np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=2e-2)
