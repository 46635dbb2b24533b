"""Masks from Embedding(mask_zero=True) and Masking travel to the layers that use them, as in Keras 3.

Keras 3 (JAX backend) with the same weights is the oracle: every model here is built in both
frameworks and compared on padded sequences, eagerly and through the jitted predict.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.masking import get_mask

from .helpers import assert_close, keras

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
              pytest.mark.filterwarnings("ignore:.*does not support masking.*:UserWarning:keras")]

V, T = 12, 6


def padded_tokens(seed=0, n=5):
    """Rows of tokens in [1, V) with trailing zeros (padding); row 0 has no padding at all."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, V, size=(n, T)).astype("int32")
    for i, length in enumerate([T, 3, 1, 5, 2][:n]):
        x[i, length:] = 0
    return x


def copy_weights(ours, theirs):
    ours.set_weights(theirs.get_weights())


def test_embedding_mask_reaches_pooling_through_dense_sequential():
    x = padded_tokens()
    k = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, 4, mask_zero=True),
                          keras.layers.Dense(3), keras.layers.GlobalAveragePooling1D()])
    m = kerasish.Sequential([kerasish.Input((T,), dtype="int32"), layers.Embedding(V, 4, mask_zero=True),
                             layers.Dense(3), layers.GlobalAveragePooling1D()])
    copy_weights(m, k)
    expected = np.asarray(k(x))
    assert_close(m(x), expected, "eager")
    assert_close(m.predict(x, verbose=0), expected, "jitted predict")
    # the mask matters: without it the mean would include the padding rows' embeddings of index 0
    unmasked = kerasish.Sequential([kerasish.Input((T,), dtype="int32"), layers.Embedding(V, 4),
                                    layers.Dense(3), layers.GlobalAveragePooling1D()])
    copy_weights(unmasked, k)
    assert not np.allclose(unmasked(x)[1:], expected[1:], atol=1e-4)
    assert_close(unmasked(x)[0], expected[0], "a row without padding is the same either way")


def test_masking_layer_matches_keras():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, T, 3)).astype("float32")
    x[1, 4:] = 0.0
    x[2, 1:] = 0.0
    x[3, 2, :] = 0.0  # a masked step in the middle
    x[0, 3, 0] = 0.0  # one zero feature is not a masked step
    k, m = keras.layers.Masking(0.0), layers.Masking(0.0)
    assert_close(m(x), k(x))
    assert_close(m.compute_mask(jnp.asarray(x)), np.asarray(k.compute_mask(x)))
    kd = keras.Sequential([keras.Input((T, 3)), keras.layers.Masking(), keras.layers.GlobalAveragePooling1D()])
    md = kerasish.Sequential([kerasish.Input((T, 3)), layers.Masking(), layers.GlobalAveragePooling1D()])
    assert_close(md.predict(x, verbose=0), kd(x))


def test_functional_masks_combine_in_merge_layers():
    a, b = padded_tokens(0), padded_tokens(3)[::-1].copy()

    def build(lib, Model):
        ia, ib = lib.Input((T,), dtype="int32"), lib.Input((T,), dtype="int32")
        emb = lib.layers.Embedding(V, 4, mask_zero=True)
        ea, eb = emb(ia), emb(ib)
        added = lib.layers.GlobalAveragePooling1D()(lib.layers.Add()([ea, eb]))
        joined = lib.layers.GlobalAveragePooling1D()(lib.layers.Concatenate(axis=1)([ea, eb]))
        features = lib.layers.GlobalAveragePooling1D()(lib.layers.Concatenate()([ea, eb]))
        return Model([ia, ib], [added, joined, features])

    k = build(keras, keras.Model)
    m = build(kerasish, kerasish.Model)
    copy_weights(m, k)
    for ours, theirs in zip(m.predict([a, b], verbose=0), k([a, b])):
        assert_close(ours, theirs)


def test_layers_that_do_not_support_masking_drop_it():
    x = padded_tokens()
    k = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, 4, mask_zero=True),
                          keras.layers.Conv1D(3, 1), keras.layers.GlobalAveragePooling1D()])
    m = kerasish.Sequential([kerasish.Input((T,), dtype="int32"), layers.Embedding(V, 4, mask_zero=True),
                             layers.Conv1D(3, 1), layers.GlobalAveragePooling1D()])
    copy_weights(m, k)
    with pytest.warns(UserWarning, match=r"\(Conv1D\) got an input with a mask but does not support masking"):
        out = m.predict(x, verbose=0)
    assert_close(out, k(x))


def test_mask_propagates_in_a_subclassed_model_and_under_jit():
    class Pooled(kerasish.Model):
        def __init__(self):
            super().__init__()
            self.embed = layers.Embedding(V, 4, mask_zero=True)
            self.dense = layers.Dense(2)
            self.pool = layers.GlobalAveragePooling1D()

        def call(self, inputs):
            return self.pool(self.dense(self.embed(inputs)))

    x = padded_tokens()
    m = Pooled()
    m(x)
    k = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, 4, mask_zero=True),
                          keras.layers.Dense(2), keras.layers.GlobalAveragePooling1D()])
    k.set_weights(m.get_weights())
    assert_close(m.predict(x, verbose=0), k(x))


def test_explicit_mask_argument_wins_and_is_dropped_for_layers_without_one():
    x = jnp.asarray(np.random.default_rng(2).standard_normal((2, T, 3)), jnp.float32)
    mask = jnp.asarray(np.arange(T)[None, :] < np.array([[2], [T]]))
    pool = layers.GlobalAveragePooling1D()
    assert_close(pool(x, mask=mask)[0], np.asarray(x)[0, :2].mean(0))
    dense = layers.Dense(2)
    out = dense(x, mask=mask)  # Dense declares no mask: it passes the given mask on instead of failing
    assert out.shape == (2, T, 2)
    assert np.array_equal(np.asarray(get_mask(out)), np.asarray(mask))


def test_masks_are_built_inside_the_jitted_program():
    emb = layers.Embedding(V, 4, mask_zero=True)
    pool = layers.GlobalAveragePooling1D()
    x = padded_tokens()

    @jax.jit
    def f(tokens):
        return pool(emb(tokens))

    eager = pool(emb(jnp.asarray(x)))
    assert_close(f(x), eager)
    assert_close(eager[2], np.asarray(emb.embeddings.value)[x[2, 0]], "one real token: its embedding")


def test_masking_errors():
    with pytest.raises(ConfigError, match="mask_value"):
        layers.Masking("zero")
    with pytest.raises(InputError, match="Masking"):
        layers.Masking()(jnp.ones((3,)))


def test_masking_config_round_trip():
    m = layers.Masking(-1.0, name="pad")
    clone = layers.Masking.from_config(m.get_config())
    assert clone.mask_value == -1.0 and clone.name == "pad"
    assert layers.Embedding(V, 4, mask_zero=True).get_config()["mask_zero"] is True


def test_loss_and_metrics_leave_masked_steps_out_as_keras():
    """A per-step classifier on padded sequences: Keras 3 counts only the real steps in the loss and metrics."""
    x = padded_tokens(4)
    y = np.random.default_rng(5).integers(0, 3, size=x.shape).astype("int32")

    def build(lib):
        return lib.Sequential([lib.Input((T,), dtype="int32"), lib.layers.Embedding(V, 4, mask_zero=True),
                               lib.layers.Dense(3, activation="softmax")])

    k, m = build(keras), build(kerasish)
    copy_weights(m, k)
    for model in (k, m):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ours = m.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    theirs = k.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    assert_close(ours["loss"], theirs["loss"], "loss")
    assert_close(ours["accuracy"], theirs["accuracy"], "accuracy")
    plain = build(kerasish)
    plain.layers[0].mask_zero = False
    copy_weights(plain, k)
    plain.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert abs(plain.evaluate(x, y, batch_size=5, verbose=0) - ours["loss"]) > 1e-4, "the mask changed nothing"
    # training steps see the same masked loss: one SGD step matches Keras's
    k.fit(x, y, batch_size=5, epochs=1, verbose=0, shuffle=False)
    m.fit(x, y, batch_size=5, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(m.get_weights(), k.get_weights()):
        assert_close(a, b, "weights after one masked SGD step")


def test_attention_layers_get_the_masks_of_their_inputs_as_keras():
    """MultiHeadAttention takes query/value masks from its inputs; Attention takes [query, value] masks."""
    x = padded_tokens(6)

    def build(lib, Model):
        tokens = lib.Input((T,), dtype="int32")
        e = lib.layers.Embedding(V, 8, mask_zero=True)(tokens)
        mha = lib.layers.MultiHeadAttention(num_heads=2, key_dim=4)(e, e)
        luong = lib.layers.Attention()([e, e])
        return Model(tokens, [lib.layers.GlobalAveragePooling1D()(mha), lib.layers.GlobalAveragePooling1D()(luong)])

    k = build(keras, keras.Model)
    m = build(kerasish, kerasish.Model)
    copy_weights(m, k)
    theirs = k(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mask dropped" warning from the attention's own projections
        predicted = m.predict(x, verbose=0)
    for ours, expected in zip(predicted, theirs):
        assert_close(ours, expected)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "ignore_class"])
def test_a_padded_last_batch_gives_keras_masked_loss(loss):
    """15 rows at batch 4: kerasish pads the last batch to 4 rows; the masked mean must count real rows only."""
    x = np.concatenate([padded_tokens(s) for s in (7, 8, 9)])[:15]
    y = np.random.default_rng(10).integers(0, 3, size=x.shape).astype("int32")

    def build(lib):
        m = lib.Sequential([lib.Input((T,), dtype="int32"), lib.layers.Embedding(V, 4, mask_zero=True),
                            lib.layers.Dense(3, activation="softmax")])
        lf = lib.losses.SparseCategoricalCrossentropy(ignore_class=2) if loss == "ignore_class" else loss
        m.compile(optimizer="sgd", loss=lf, metrics=["accuracy"])
        return m

    k, m = build(keras), build(kerasish)
    copy_weights(m, k)
    ours = m.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    theirs = k.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert_close(ours["loss"], theirs["loss"], "loss over batches with a short last one")
    assert_close(ours["accuracy"], theirs["accuracy"], "accuracy")
    hk = k.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False).history["loss"]
    hm = m.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False).history["loss"]
    assert_close(hm, hk, "training loss")
    for a, b in zip(m.get_weights(), k.get_weights()):
        assert_close(a, b, "weights after the short last batch's update")
