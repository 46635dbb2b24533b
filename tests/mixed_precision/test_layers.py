"""Layers under mixed precision: float32 weights, half-precision compute, Keras 3's autocast rules.

Oracles are NumPy in float64 on the inputs and weights rounded to the half dtype (what a half-precision
layer sees), within that dtype's rounding.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import activations, layers
from kerasish.mixed_precision import set_global_policy

HALF = [("mixed_bfloat16", jnp.bfloat16), ("mixed_float16", jnp.float16)]
BF16_EPS = 2.0 ** -8  # bfloat16's relative rounding error


def rounded(a, dtype) -> np.ndarray:
    """``a`` as a half-precision layer sees it: rounded to ``dtype``, then float64 for the oracle."""
    return np.asarray(jnp.asarray(np.asarray(a, np.float32), dtype), np.float64)


def conv2d_same(x, kernel):
    """NumPy 'same' 2-D convolution (stride 1, odd kernel), channels last."""
    kh, kw = kernel.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # (n, h, w, c, kh, kw)
    return np.einsum("nhwcab,abco->nhwo", windows, kernel)


@pytest.mark.parametrize("policy, half", HALF)
def test_dense_and_conv_compute_in_half_precision_with_float32_weights(policy, half, rng):
    set_global_policy(policy)
    dense, conv = layers.Dense(5), layers.Conv2D(3, 3, padding="same")
    x = rng.normal(size=(4, 6)).astype(np.float32)
    images = rng.normal(size=(2, 5, 5, 2)).astype(np.float32)
    y, z = dense(x), conv(images)
    assert y.dtype == half and z.dtype == half
    assert [w.dtype for w in dense.weights + conv.weights] == [np.float32] * 4
    kernel, bias = dense.get_weights()
    want = rounded(x, half) @ rounded(kernel, half) + rounded(bias, half)
    np.testing.assert_allclose(np.asarray(y, np.float64), want, rtol=2e-2, atol=2e-2)
    ckernel, cbias = conv.get_weights()
    want = conv2d_same(rounded(images, half), rounded(ckernel, half)) + rounded(cbias, half)
    np.testing.assert_allclose(np.asarray(z, np.float64), want, rtol=2e-2, atol=3e-2)


def test_all_weights_are_float32_under_a_mixed_policy(rng):
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([
        kerasish.Input((6, 4)),
        layers.LSTM(3, return_sequences=True),
        layers.LayerNormalization(),
        layers.Conv1D(4, 3, padding="same"),
        layers.BatchNormalization(),
        layers.GroupNormalization(2),
        layers.Flatten(),
        layers.Dense(3),
    ])
    out = model(rng.normal(size=(2, 6, 4)).astype(np.float32))
    assert out.dtype == jnp.bfloat16
    assert model.weights and all(w.dtype == jnp.float32 for w in model.weights)
    for layer in model.layers:
        assert (layer.compute_dtype, layer.variable_dtype, layer.dtype) == ("bfloat16", "float32", jnp.float32)


def test_a_pure_float16_policy_makes_float16_weights(rng):
    dense = layers.Dense(3, dtype="float16")
    bn = layers.BatchNormalization(dtype="float16")
    out = bn(dense(rng.normal(size=(4, 2)).astype(np.float32)), training=True)
    assert out.dtype == jnp.float16
    assert all(w.dtype == jnp.float16 for w in dense.weights + bn.weights)


def test_multi_head_attention_computes_in_bfloat16_with_float32_weights(rng):
    set_global_policy("mixed_bfloat16")
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = rng.normal(size=(2, 4, 6)).astype(np.float32)
    assert mha(x, x).dtype == jnp.bfloat16
    assert all(w.dtype == jnp.float32 for w in mha.weights)
    assert all(sub.compute_dtype == "bfloat16" for sub in mha._layers)


def test_gradients_reach_the_float32_weights(rng):
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([kerasish.Input((4,)), layers.Dense(3)])
    x = rng.normal(size=(5, 4)).astype(np.float32)
    kernel, bias = model.get_weights()

    def loss(trainable):
        y, _ = model.stateless_call(trainable, [], x)
        return jnp.sum(jnp.square(y.astype(jnp.float32)))

    grads = jax.grad(loss)([v.value for v in model.trainable_weights])
    assert [g.dtype for g in grads] == [jnp.float32, jnp.float32]
    y = rounded(x, jnp.bfloat16) @ rounded(kernel, jnp.bfloat16) + rounded(bias, jnp.bfloat16)
    want = [rounded(x, jnp.bfloat16).T @ (2 * y), np.sum(2 * y, axis=0)]
    for g, w in zip(grads, want):
        np.testing.assert_allclose(np.asarray(g), w, rtol=3e-2, atol=3e-2 * np.abs(w).max())


def test_training_updates_float32_weights():
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([kerasish.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    model.compile(kerasish.optimizers.SGD(0.05), "mse")
    before = model.get_weights()
    x = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
    model.fit(x, x.sum(axis=1, keepdims=True), epochs=2, batch_size=8, verbose=0)
    after = model.get_weights()
    assert all(w.dtype == np.float32 for w in after)
    assert all(not np.allclose(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("index_dtype", [np.int32, np.float32])
def test_embedding_indices_are_never_cast_to_half_precision(index_dtype):
    set_global_policy("mixed_bfloat16")
    emb = layers.Embedding(1100, 4)
    # 1001 is not a bfloat16 number: a cast to bfloat16 would look up row 1000
    out = emb(np.array([[1001, 3]], index_dtype))
    assert out.dtype == jnp.bfloat16
    table = emb.get_weights()[0]
    assert table.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(out[0, 0], np.float64), rounded(table[1001], jnp.bfloat16))


@pytest.mark.parametrize("make", [
    lambda: layers.LayerNormalization(),
    lambda: layers.GroupNormalization(groups=4),
    lambda: layers.BatchNormalization(),
], ids=["layer_norm", "group_norm", "batch_norm"])
def test_normalization_computes_in_float32_and_returns_the_compute_dtype(make, rng):
    set_global_policy("mixed_bfloat16")
    layer = make()
    # a large mean and a small spread: statistics computed in bfloat16 (8 bits) would be far off
    x = jnp.asarray(100.0 + rng.normal(size=(16, 8)), jnp.bfloat16)
    out = layer(x, training=True) if isinstance(layer, layers.BatchNormalization) else layer(x)
    assert out.dtype == jnp.bfloat16
    assert all(w.dtype == jnp.float32 for w in layer.weights)
    xs = np.asarray(x, np.float64)
    if isinstance(layer, layers.GroupNormalization):  # 4 groups of 2 channels
        xg, axes = xs.reshape(16, 4, 2), (2,)
    else:  # LayerNormalization over the features, BatchNormalization over the batch
        xg, axes = xs, (1,) if isinstance(layer, layers.LayerNormalization) else (0,)
    want = ((xg - xg.mean(axis=axes, keepdims=True)) / np.sqrt(xg.var(axis=axes, keepdims=True) + 1e-3))
    np.testing.assert_allclose(np.asarray(out, np.float64), want.reshape(16, 8), rtol=2 * BF16_EPS, atol=2e-2)
    assert layer(np.asarray(x, np.float32)).dtype == jnp.bfloat16  # float32 inputs too


def test_batch_normalization_statistics_stay_float32(rng):
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(4), layers.BatchNormalization()])
    model.compile("sgd", "mse")
    model.fit(rng.normal(size=(16, 3)).astype(np.float32), np.zeros((16, 4), np.float32), epochs=1, verbose=0)
    bn = model.layers[1]
    assert bn.moving_mean.dtype == jnp.float32 and bn.moving_variance.dtype == jnp.float32
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)


def softmax64(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("apply", [
    lambda x: layers.Softmax()(x),
    lambda x: layers.Activation("softmax")(x),
    lambda x: activations.softmax(x),
], ids=["Softmax", "Activation", "activations.softmax"])
def test_softmax_is_computed_in_float32(apply, rng):
    set_global_policy("mixed_bfloat16")
    # 1000 classes: summing them in bfloat16 is off by several percent
    x = jnp.asarray(3.0 * rng.normal(size=(4, 1000)), jnp.bfloat16)
    out = apply(x)
    assert out.dtype == jnp.bfloat16  # as Keras 3: the compute dtype
    want = softmax64(x)
    assert np.max(np.abs(np.asarray(out, np.float64) - want) / want) <= BF16_EPS


def test_log_softmax_is_computed_in_float32(rng):
    x = jnp.asarray(3.0 * rng.normal(size=(2, 1000)), jnp.bfloat16)
    out = activations.log_softmax(x)
    assert out.dtype == jnp.bfloat16
    want = np.log(softmax64(x))
    np.testing.assert_allclose(np.asarray(out, np.float64), want, rtol=BF16_EPS, atol=BF16_EPS)


def test_a_float32_last_layer_gives_float32_outputs(rng):
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([kerasish.Input((5,)), layers.Dense(6), layers.Dense(4),
                                 layers.Activation("softmax", dtype="float32")])
    out = model(rng.normal(size=(3, 5)).astype(np.float32))
    assert out.dtype == jnp.float32
    assert model.layers[-1].input.dtype == jnp.bfloat16 and model.output_names
    logits = layers.Dense(4, dtype="float32")(jnp.ones((2, 6), jnp.bfloat16))
    assert logits.dtype == jnp.float32


def test_a_mask_survives_the_input_cast():
    set_global_policy("mixed_bfloat16")
    emb = layers.Embedding(10, 3, mask_zero=True)
    pool = layers.GlobalAveragePooling1D(dtype="float32")  # casts its bfloat16 input to float32
    tokens = np.array([[4, 5, 0, 0], [1, 2, 3, 0]], np.int32)
    out = pool(emb(tokens))
    assert out.dtype == jnp.float32
    table = rounded(emb.get_weights()[0], jnp.bfloat16)
    want = np.stack([table[[4, 5]].mean(0), table[[1, 2, 3]].mean(0)])
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6)


def _converts(model, x) -> int:
    trainable = [v.value for v in model.trainable_weights]
    non_trainable = [v.value for v in model.non_trainable_weights]
    jaxpr = jax.make_jaxpr(lambda t, n: model.stateless_call(t, n, x, training=True))(trainable, non_trainable)
    return str(jaxpr).count("convert_element_type")


def test_float32_models_get_no_casts(rng):
    def build():
        return kerasish.Sequential([kerasish.Input((6, 6, 2)), layers.Conv2D(3, 3, activation="relu"),
                                    layers.BatchNormalization(), layers.Flatten(), layers.Dense(8),
                                    layers.LayerNormalization(), layers.Dense(4, activation="softmax")])

    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    assert _converts(build(), x) == 0
    set_global_policy("mixed_bfloat16")
    assert _converts(build(), x) > 0  # the count above does see casts when there are some


def test_activity_penalties_are_summed_in_float32(rng):
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([kerasish.Input((8,)), layers.Dense(300, activity_regularizer="l2"),
                                 layers.ActivityRegularization(l1=0.01)])
    x = (3.0 * rng.normal(size=(4, 8))).astype(np.float32)
    y, _, losses = model.stateless_call([v.value for v in model.trainable_weights], [], x, return_losses=True)
    assert y.dtype == jnp.bfloat16 and [p.dtype for p in losses] == [jnp.float32, jnp.float32]
    ys = np.asarray(y, np.float64)  # the outputs the penalties are of, exactly
    np.testing.assert_allclose(float(losses[0]), 0.01 * np.sum(ys**2) / 4, rtol=1e-5)
    np.testing.assert_allclose(float(losses[1]), 0.01 * np.sum(np.abs(ys)) / 4, rtol=1e-5)
