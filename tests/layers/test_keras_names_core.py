"""Keras 3.15 layer names kerasish added for issue 14: functional merge forms, Convolution aliases, EinsumDense,
RMSNormalization, the 3D reshaping layers, adaptive pooling, SpatialDropout3D, AlphaDropout; and RNNs on bool
inputs. Each against Keras 3 (the oracle) on the same inputs and weights."""

import json

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras, make_inputs, run_layer_test

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


# -- functional merge forms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, kwargs, n", [
    ("add", {}, 3), ("subtract", {}, 2), ("multiply", {}, 2), ("average", {}, 3), ("maximum", {}, 2),
    ("minimum", {}, 2), ("concatenate", {"axis": 1}, 2), ("dot", {"axes": 1}, 2),
    ("dot", {"axes": -1, "normalize": True}, 2),
])
def test_functional_merge_forms_on_arrays_and_keras_tensors(name, kwargs, n):
    xs = make_inputs([(2, 4)] * n, seed=3)
    want = np.asarray(getattr(keras.layers, name)(xs, **kwargs))
    assert_close(getattr(layers, name)(xs, **kwargs), want, name)
    inputs = [kerasish.Input(shape=(4,)) for _ in range(n)]
    out = getattr(layers, name)(inputs, **kwargs, name=f"my_{name}")
    assert tuple(out.shape) == (None,) + want.shape[1:]
    model = kerasish.Model(inputs, out)
    assert model.layers[-1].name == f"my_{name}"
    assert_close(model(xs), want, f"{name} in a functional model")


def test_dot_default_axes_is_the_last():
    xs = make_inputs([(2, 3, 4), (2, 5, 4)], seed=1)
    assert_close(layers.dot(xs), keras.layers.dot(xs))


# -- Convolution aliases ------------------------------------------------------------------------------------

@pytest.mark.parametrize("alias, canonical", [
    ("Convolution1D", "Conv1D"), ("Convolution2D", "Conv2D"), ("Convolution3D", "Conv3D"),
    ("Convolution1DTranspose", "Conv1DTranspose"), ("Convolution2DTranspose", "Conv2DTranspose"),
    ("Convolution3DTranspose", "Conv3DTranspose"), ("SeparableConvolution1D", "SeparableConv1D"),
    ("SeparableConvolution2D", "SeparableConv2D"),
])
def test_convolution_aliases_are_the_classes_and_resolve_from_configs(alias, canonical):
    assert getattr(layers, alias) is getattr(layers, canonical)
    assert getattr(keras.layers, alias) is getattr(keras.layers, canonical)  # the same in Keras
    layer = deserialize_layer({"class_name": alias, "config": {"filters": 2, "kernel_size": 1, "name": "c"}})
    assert type(layer) is getattr(layers, canonical) and layer.filters == 2


def test_convolution2d_alias_matches_keras():
    run_layer_test(layers.Convolution2D, {"filters": 3, "kernel_size": 2}, (2, 5, 5, 2),
                   keras_cls=keras.layers.Convolution2D, expected_output_shape=(2, 4, 4, 3))


# -- EinsumDense --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"}, (2, 3), (2, 4)),
    ({"equation": "abc,cd->abd", "output_shape": (3, 4), "bias_axes": "d", "activation": "relu"},
     (2, 3, 5), (2, 3, 4)),
    ({"equation": "abc,cde->abde", "output_shape": (4, 2, 3), "bias_axes": "de"}, (2, 4, 5), (2, 4, 2, 3)),
    ({"equation": "abcd,cde->abe", "output_shape": (4, 3), "bias_axes": "e"}, (2, 4, 2, 5), (2, 4, 3)),
    ({"equation": "...b,bc->...c", "output_shape": 3, "bias_axes": "c"}, (2, 4, 5), (2, 4, 3)),
    ({"equation": "ab...,bc->ac...", "output_shape": 3}, (2, 5, 4), (2, 3, 4)),
    ({"equation": "abc,cde->abde", "output_shape": (4, 2, 3), "bias_axes": "d"}, (2, 4, 5), (2, 4, 2, 3)),
], ids=["dense", "seq", "heads", "merge_heads", "left_ellipsis", "right_ellipsis", "partial_bias"])
def test_einsum_dense_matches_keras(kwargs, input_shape, out_shape):
    run_layer_test(layers.EinsumDense, kwargs, input_shape, expected_output_shape=out_shape)


def test_einsum_dense_with_unknown_output_dims_matches_keras():
    """``None`` in output_shape takes the input's size. Keras leaves such a dimension unknown in its symbolic
    shape; kerasish's symbolic shape has the size (it comes from evaluating the call), a deliberate difference."""
    x = make_inputs((2, 3, 5), seed=2)
    kwargs = {"equation": "abc,cde->abde", "output_shape": (None, 2, 4), "bias_axes": "de"}
    theirs, ours = keras.layers.EinsumDense(**kwargs), layers.EinsumDense(**kwargs)
    theirs(x), ours(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    assert_close(ours(x), theirs(x))
    assert tuple(ours(kerasish.Input(shape=(3, 5))).shape) == (None, 3, 2, 4)


def test_einsum_dense_glorot_fans_follow_the_letters():
    """Keras counts the kernel's input letters as fan-in and its output letters as fan-out: a (c, d, e) kernel
    of 'abc,cde->abde' has the glorot limit sqrt(6 / (c + d*e)), not the receptive-field one."""
    layer = layers.EinsumDense("abc,cde->abde", output_shape=(None, 16, 16))
    layer(np.zeros((1, 2, 32), "float32"))
    limit = np.sqrt(6 / (32 + 16 * 16))
    kernel = layer.get_weights()[0]
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit


def test_einsum_dense_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="equation"):
        layers.EinsumDense("ab->b", output_shape=3)
    with pytest.raises(ConfigError, match="lora_rank"):
        layers.EinsumDense("ab,bc->ac", output_shape=3, lora_rank=2)
    with pytest.raises(ConfigError, match="bias_axes"):
        layers.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="z")(np.zeros((1, 2)))
    with pytest.raises(InputError, match="disagree"):
        layers.EinsumDense("abc,cd->abd", output_shape=(5, 4))(np.zeros((1, 3, 2)))


# -- RMSNormalization ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, input_shape", [
    ({}, (2, 5)), ({"epsilon": 1e-3}, (2, 3, 4)), ({"axis": [-2, -1]}, (2, 3, 4)), ({"axis": [2, 3]}, (2, 2, 3, 4)),
])
def test_rms_normalization_matches_keras(kwargs, input_shape):
    run_layer_test(layers.RMSNormalization, kwargs, input_shape, expected_num_weights=1)


# -- 3D reshaping -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, kwargs, out_shape", [
    ("ZeroPadding3D", {}, (2, 5, 6, 4, 2)),
    ("ZeroPadding3D", {"padding": ((0, 1), (2, 0), (1, 1))}, (2, 4, 6, 4, 2)),
    ("Cropping3D", {"cropping": (1, 0, 0)}, (2, 1, 4, 2, 2)),
    ("Cropping3D", {"cropping": ((0, 1), (1, 2), (0, 0))}, (2, 2, 1, 2, 2)),
    ("UpSampling3D", {}, (2, 6, 8, 4, 2)),
    ("UpSampling3D", {"size": (1, 2, 3)}, (2, 3, 8, 6, 2)),
], ids=["pad_default", "pad_pairs", "crop_triple", "crop_pairs",
        "up_default", "up_triple"])
def test_3d_reshaping_matches_keras(cls, kwargs, out_shape):
    run_layer_test(getattr(layers, cls), kwargs, (2, 3, 4, 2, 2), expected_output_shape=out_shape,
                   expected_num_weights=0)


def test_cropping3d_default_crops_one_from_every_side():
    run_layer_test(layers.Cropping3D, {}, (2, 3, 4, 4, 2), expected_output_shape=(2, 1, 2, 2, 2))


def test_3d_reshaping_argument_forms():
    assert layers.ZeroPadding3D(2).padding == ((2, 2),) * 3
    assert layers.ZeroPadding3D((1, 0, 2)).padding == ((1, 1), (0, 0), (2, 2))
    assert layers.Cropping3D(1).cropping == ((1, 1),) * 3
    assert layers.UpSampling3D(3).size == (3, 3, 3)
    x = make_inputs((1, 2, 2, 2, 1))
    assert_close(layers.ZeroPadding3D((1, 0, 2))(x), keras.layers.ZeroPadding3D((1, 0, 2))(x))


def test_3d_reshaping_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="padding"):
        layers.ZeroPadding3D(padding=(1, 2))
    with pytest.raises(ConfigError, match="size"):
        layers.UpSampling3D(size=0)
    with pytest.raises(InputError, match="rank 5"):
        layers.Cropping3D()(np.zeros((1, 4, 4, 4)))
    with pytest.raises(InputError, match="leaves nothing"):
        layers.Cropping3D(cropping=2)(np.zeros((1, 4, 5, 5, 1)))


# -- adaptive pooling ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("rank, output_size, input_shape, data_format", [
    (1, 3, (2, 7, 2), None), (1, 5, (2, 3, 1), None), (2, (2, 4), (2, 5, 3, 2), None),
    (2, (2, 3), (2, 3, 5, 7), "channels_first"), (3, (2, 1, 3), (1, 5, 3, 4, 2), None),
], ids=["1d_down", "1d_up", "2d_down_up", "2d_channels_first", "3d"])
def test_adaptive_pooling_matches_keras(kind, rank, output_size, input_shape, data_format):
    name = f"Adaptive{kind}Pooling{rank}D"
    x = make_inputs(input_shape, seed=rank)
    want = np.asarray(jax.jit(getattr(keras.layers, name)(output_size, data_format=data_format))(x))  # jit: fast
    layer = getattr(layers, name)(output_size, data_format=data_format)
    got = layer(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert_close(got, want, name)
    symbolic = layer(kerasish.Input(shape=input_shape[1:]))
    assert tuple(symbolic.shape) == (None,) + want.shape[1:] and not layer.weights
    restored = deserialize_layer(json.loads(json.dumps(serialize_layer(layer))))
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()


def test_adaptive_pooling_rejects_bad_output_size():
    with pytest.raises(ConfigError, match="output_size"):
        layers.AdaptiveAveragePooling2D((2, 2, 2))
    with pytest.raises(ConfigError, match="output_size"):
        layers.AdaptiveMaxPooling1D(0)


# -- SpatialDropout3D, AlphaDropout -------------------------------------------------------------------------

def test_spatial_dropout3d_drops_whole_channels():
    run_layer_test(layers.SpatialDropout3D, {"rate": 0.5}, (2, 2, 3, 2, 4), training_parity=False)
    x = np.ones((4, 2, 3, 2, 8), "float32")
    y = np.asarray(layers.SpatialDropout3D(0.5)(x, training=True))
    per_channel = y.reshape(4, -1, 8)
    assert np.all(per_channel == per_channel[:, :1]), "a channel is kept or dropped as a whole"
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1
    first = layers.SpatialDropout3D(0.5, data_format="channels_first")
    yf = np.asarray(first(np.ones((4, 8, 2, 3, 2), "float32"), training=True)).reshape(4, 8, -1)
    assert np.all(yf == yf[:, :, :1])


def test_alpha_dropout_keeps_selu_statistics():
    run_layer_test(layers.AlphaDropout, {"rate": 0.2}, (2, 5), training_parity=False)
    rate = 0.3
    x = np.random.default_rng(0).standard_normal((200, 100)).astype("float32")
    y = np.asarray(layers.AlphaDropout(rate)(x, training=True))
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    kept = np.isclose(y, a * x + b, atol=1e-5)
    dropped = np.isclose(y, a * alpha_p + b, atol=1e-5)
    assert np.all(kept | dropped)
    assert abs(dropped.mean() - rate) < 0.02
    assert abs(y.mean()) < 0.05 and abs(y.std() - 1) < 0.05  # zero mean, unit variance kept
    assert_close(layers.AlphaDropout(rate)(x), x)  # inference: the identity
    y = np.asarray(layers.AlphaDropout(rate, noise_shape=(None, 1))(x, training=True))
    rows_dropped = np.isclose(y, a * alpha_p + b, atol=1e-5).all(axis=1)
    rows_kept = np.isclose(y, a * x + b, atol=1e-5).all(axis=1)
    assert np.all(rows_dropped | rows_kept) and rows_dropped.any(), "noise_shape (None, 1) drops whole rows"
    with pytest.raises(ConfigError, match="rate"):
        layers.AlphaDropout(1.0)


# -- several new layers in one trained model ----------------------------------------------------------------

def test_new_layers_train_in_sequential_and_functional_models():
    rng = np.random.default_rng(0)
    x3 = rng.standard_normal((8, 4, 4, 4, 2)).astype("float32")
    y = rng.integers(0, 3, size=(8,))
    model = kerasish.Sequential([
        kerasish.Input(shape=(4, 4, 4, 2)),
        layers.ZeroPadding3D(1), layers.Convolution3D(3, 3), layers.Cropping3D(((0, 1), (0, 1), (0, 1))),
        layers.UpSampling3D(2), layers.SpatialDropout3D(0.2), layers.AdaptiveAveragePooling3D(2),
        layers.Reshape((8, 3)), layers.EinsumDense("abc,cd->abd", (None, 5), bias_axes="d"),
        layers.RMSNormalization(), layers.AdaptiveMaxPooling1D(2), layers.Flatten(), layers.AlphaDropout(0.1),
        layers.Dense(3),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x3, y, batch_size=4, epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))

    a, b = kerasish.Input(shape=(6,)), kerasish.Input(shape=(6,))
    h = layers.concatenate([layers.add([a, b]), layers.multiply([a, b])])
    out = layers.Dense(1)(layers.average([layers.Dense(4)(h), layers.Dense(4)(h)]))
    model = kerasish.Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse")
    xa, xb = rng.standard_normal((8, 6)).astype("float32"), rng.standard_normal((8, 6)).astype("float32")
    history = model.fit([xa, xb], rng.standard_normal((8, 1)).astype("float32"), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    json.loads(model.to_json())


# -- issue 14 (b): recurrent layers on bool and integer inputs ----------------------------------------------

@pytest.mark.parametrize("cls", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("dtype", ["bool", "int32"])
def test_rnn_on_non_float_inputs_matches_keras(cls, dtype):
    """Issue 14 (b): a bool (or int) sequence crashed lax.scan (a carry in the input's dtype); Keras computes in
    the layer's compute dtype."""
    x = (np.random.default_rng(0).random((2, 5, 3)) > 0.5).astype(dtype)
    keras_layer = getattr(keras.layers, cls)(4, return_sequences=True)
    want = np.asarray(keras_layer(x))
    layer = getattr(layers, cls)(4, return_sequences=True)
    layer(x)
    layer.set_weights(keras_layer.get_weights())
    got = layer(x)
    assert got.dtype == want.dtype == np.float32
    assert_close(got, want, f"{cls} on {dtype} inputs")


def test_lstm_on_bool_inputs_trains_in_a_functional_model():
    x = np.random.default_rng(0).random((4, 5, 3)) > 0.5
    inp = kerasish.Input(shape=(5, 3), dtype="bool")
    model = kerasish.Model(inp, layers.Dense(1)(layers.LSTM(4)(inp)))
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, np.ones((4, 1), "float32"), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
