"""MultiHeadAttention, Attention and AdditiveAttention against Keras 3 with the same weights."""

from __future__ import annotations

import json

import jax
import keras
import numpy as np
import pytest

import kerasish
from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError
from kerasish.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from kerasish.saving.registry import deserialize_layer, serialize_layer
from kerasish.utils.random import set_random_seed
from tests.layers.helpers import assert_close, check_initial_values, random_weights, run_layer_test

RNG = np.random.default_rng(0)
Q = RNG.standard_normal((2, 4, 6)).astype("float32")
V = RNG.standard_normal((2, 5, 6)).astype("float32")
K3 = RNG.standard_normal((2, 5, 3)).astype("float32")
X4 = RNG.standard_normal((2, 3, 4, 6)).astype("float32")
ATTN_MASK = RNG.random((2, 4, 5)) > 0.3
Q_MASK = np.array([[True, True, True, False], [True, True, False, False]])
V_MASK = np.array([[True, True, False, True, False], [True, False, True, True, True]])
CUSTOM = {c.__name__: c for c in (MultiHeadAttention, Attention, AdditiveAttention)}


def _info(layer):
    return [(w.name.split("/")[-1], tuple(w.shape)) for w in layer.weights]


def _pair(kwargs, args, call_kwargs=None, seed=1, check_init=False):
    """Build the kerasish and Keras layers on ``args``, give both Keras-shaped random weights.

    Unless ``check_init``, kernels start at zeros (random initializers compile slowly, and the
    weights are overwritten anyway).
    """
    if not check_init:
        kwargs = {"kernel_initializer": "zeros", **kwargs}
    ours, theirs = MultiHeadAttention(**kwargs), keras.layers.MultiHeadAttention(**kwargs)
    ours(*args, **(call_kwargs or {}))
    theirs(*args, **(call_kwargs or {}))
    assert _info(ours) == _info(theirs)
    if check_init:
        for a, b, (name, _) in zip(ours.get_weights(), theirs.get_weights(), _info(theirs)):
            check_initial_values(a, b, name, min_size=64)
    weights = random_weights([(s, n) for n, s in _info(theirs)], seed)
    theirs.set_weights(weights)
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _compare(ours, theirs):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert np.shape(a) == np.shape(b)
            assert_close(a, b, f"output {i}")
    else:
        assert np.shape(ours) == np.shape(theirs)
        assert_close(ours, theirs)


MHA_CASES = {
    "self": ({"num_heads": 2, "key_dim": 3}, (Q, Q), {}),
    "cross": ({"num_heads": 2, "key_dim": 3}, (Q, V), {}),
    "key_differs_from_value": ({"num_heads": 3, "key_dim": 2}, (Q, V, K3), {"return_attention_scores": True}),
    # Keras's fused path cannot take value_dim != key_dim, so its scores path is the reference.
    "value_dim_output_shape": ({"num_heads": 2, "key_dim": 3, "value_dim": 4, "output_shape": (2, 3)},
                               (Q, V, K3), {"return_attention_scores": True}),
    "output_shape_int_no_bias": ({"num_heads": 2, "key_dim": 3, "output_shape": 5, "use_bias": False},
                                 (Q, V), {}),
    "causal": ({"num_heads": 2, "key_dim": 3}, (Q, Q), {"use_causal_mask": True}),
    "causal_scores_cross": ({"num_heads": 2, "key_dim": 3}, (Q, V),
                            {"use_causal_mask": True, "return_attention_scores": True}),
    "attention_mask": ({"num_heads": 2, "key_dim": 3}, (Q, V), {"attention_mask": ATTN_MASK}),
    "attention_mask_scores": ({"num_heads": 2, "key_dim": 3}, (Q, V),
                              {"attention_mask": ATTN_MASK, "return_attention_scores": True}),
    "attention_axes_2d": ({"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)}, (X4, X4),
                          {"return_attention_scores": True}),
    "attention_axes_one": ({"num_heads": 2, "key_dim": 3, "attention_axes": 2}, (X4, X4), {}),
    "gate_sliding_window": ({"num_heads": 2, "key_dim": 3, "use_gate": True, "sliding_window": 2}, (Q, Q), {}),
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_matches_keras(case):
    kwargs, args, call_kwargs = MHA_CASES[case]
    ours, theirs = _pair(kwargs, args, call_kwargs, check_init=case == "cross")
    _compare(ours(*args, **call_kwargs), theirs(*args, **call_kwargs))


@pytest.mark.parametrize("scores", [False, True])
def test_mha_query_and_value_masks_match_keras_masking(scores):
    """Keras takes the query's mask from an upstream Masking layer and ANDs in the value mask."""
    x = Q.copy()
    x[~Q_MASK] = 0.0
    ours, theirs = _pair({"num_heads": 2, "key_dim": 3}, (x, V))
    inp_q, inp_v = keras.Input((4, 6)), keras.Input((5, 6))
    out = theirs(keras.layers.Masking(0.0)(inp_q), inp_v, value_mask=V_MASK,
                 return_attention_scores=scores)
    keras_model = keras.Model([inp_q, inp_v], out)
    expected = keras_model([x, V])
    got = ours(x, V, query_mask=Q_MASK, value_mask=V_MASK, return_attention_scores=scores)
    _compare(got, tuple(expected) if scores else expected)
    # The same masks as an explicit attention mask in Keras.
    explicit = Q_MASK[:, :, None] & V_MASK[:, None, :]
    _compare(got, theirs(x, V, attention_mask=explicit, return_attention_scores=scores))
    assert ours.compute_mask(x, Q_MASK) is Q_MASK
    assert ours.compute_mask([x, V], [Q_MASK, V_MASK]) is Q_MASK


def test_mha_key_mask_and_causal_combine():
    ours, theirs = _pair({"num_heads": 2, "key_dim": 3}, (Q, Q))
    qm = np.array([[True, True, False, True], [True, True, True, True]])
    explicit = np.tril(np.ones((4, 4), bool))[None] & qm[:, None, :]
    got = ours(Q, Q, key_mask=qm, use_causal_mask=True, return_attention_scores=True)
    _compare(got, theirs(Q, Q, attention_mask=explicit, return_attention_scores=True))


def test_mha_symbolic_build_and_shapes():
    q_in, v_in = kerasish.Input((4, 6)), kerasish.Input((5, 3))
    layer = MultiHeadAttention(num_heads=2, key_dim=3, output_shape=(7,))
    out, scores = layer(q_in, v_in, return_attention_scores=True)
    assert layer.built and out.shape == (None, 4, 7) and scores.shape == (None, 2, 4, 5)
    model = kerasish.Model([q_in, v_in], out)
    v = RNG.standard_normal((2, 5, 3)).astype("float32")
    assert_close(model.predict([Q, v], verbose=0), layer(Q, v))
    assert layer.compute_output_shape((None, 4, 6), (None, 5, 3)) == (None, 4, 7)
    # The graph, with the layer's call arguments, survives a JSON round trip.
    causal_in = kerasish.Input((4, 6))
    causal = kerasish.Model(causal_in, MultiHeadAttention(num_heads=2, key_dim=3)(causal_in, causal_in,
                                                                                 use_causal_mask=True))
    restored = kerasish.Model.from_config(json.loads(json.dumps(causal.get_config())), CUSTOM)
    restored.set_weights(causal.get_weights())
    assert_close(restored.predict(Q, verbose=0), causal.predict(Q, verbose=0))
    # Non-causal self-attention is permutation-equivariant; the restored causal mask breaks that.
    assert not np.allclose(restored.predict(Q, verbose=0)[:, 0], restored.predict(Q[:, ::-1], verbose=0)[:, -1])
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, output_shape=(7,))
    assert keras_layer.compute_output_shape((None, 4, 6), (None, 5, 3)) == (None, 4, 7)
    # Keras's build signature, and weights that Keras accepts.
    built = MultiHeadAttention(num_heads=2, key_dim=3, output_shape=(7,))
    built.build((None, 4, 6), (None, 5, 3))
    keras_layer.build((None, 4, 6), (None, 5, 3))
    keras_layer.set_weights(built.get_weights())
    assert_close(keras_layer(Q, v), built(Q, v))


def test_mha_dropout():
    args = (Q, V)
    layer = MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5)
    plain = MultiHeadAttention(num_heads=2, key_dim=3)
    layer(*args)
    plain(*args)
    plain.set_weights(layer.get_weights())
    reference = np.asarray(plain(*args))
    assert_close(layer(*args), reference)  # inference: identity
    assert_close(layer(*args, training=False), reference)
    with StatelessScope({}, rng=jax.random.PRNGKey(1), training=True):
        a, scores_a = layer(*args, return_attention_scores=True)
        b = layer(*args)  # the next key
    with StatelessScope({}, rng=jax.random.PRNGKey(1), training=True):
        a2 = layer(*args)
    assert not np.allclose(a, reference) and not np.allclose(a, b)
    assert_close(a, a2)  # same key, same mask
    # Scores are returned before dropout, as Keras does.
    assert_close(scores_a, plain(*args, return_attention_scores=True)[1])


def test_mha_config_round_trip():
    layer = MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1, output_shape=(5,),
                               attention_axes=(1,), kernel_initializer="he_normal", kernel_regularizer="l2",
                               bias_constraint="non_neg", seed=3)
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, dropout=0.1,
                                                  output_shape=(5,), attention_axes=(1,))
    config = layer.get_config()
    assert set(config) - {"batch_input_shape"} == set(keras_layer.get_config())
    restored = deserialize_layer(json.loads(json.dumps(serialize_layer(layer))), CUSTOM)
    assert json.loads(json.dumps(restored.get_config())) == json.loads(json.dumps(config))
    layer(Q, V)
    restored(Q, V)
    restored.set_weights(layer.get_weights())
    assert_close(restored(Q, V), layer(Q, V))
    # Kernel regularizer and bias constraint reach the projections' weights.
    kernels = [w for w in layer.weights if w.name == "kernel"]
    assert len(kernels) == 4 and all(w.regularizer is not None for w in kernels)
    assert all(w.constraint is not None for w in layer.weights if w.name == "bias")


@pytest.mark.parametrize("kwargs,match", [
    ({"num_heads": 0, "key_dim": 2}, "num_heads"),
    ({"num_heads": 2, "key_dim": -1}, "key_dim"),
    ({"num_heads": 2, "key_dim": 2.5}, "key_dim"),
    ({"num_heads": 2, "key_dim": 2, "value_dim": 0}, "value_dim"),
    ({"num_heads": 2, "key_dim": 2, "dropout": 1.5}, "dropout"),
    ({"num_heads": 2, "key_dim": 2, "output_shape": "x"}, "output_shape"),
    ({"num_heads": 2, "key_dim": 2, "attention_axes": "x"}, "attention_axes"),
    ({"num_heads": 2, "key_dim": 2, "sliding_window": 0}, "sliding_window"),
])
def test_mha_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=f"MultiHeadAttention.*{match}"):
        MultiHeadAttention(**kwargs)


def test_mha_bad_inputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=3)
    with pytest.raises(InputError, match="value"):
        layer(Q)
    with pytest.raises(InputError, match=r"value and key.*\(2, 5, 6\).*\(2, 4, 6\)"):
        layer(Q, V, Q)
    with pytest.raises(InputError, match="attention_axes"):
        MultiHeadAttention(num_heads=2, key_dim=3, attention_axes=(3,))(Q, V)
    layer(Q, V)
    with pytest.raises(InputError, match=r"built for query of shape \(2, 4, 6\).*\(2, 4, 5\)"):
        layer(Q[..., :5], V)
    with pytest.raises(InputError, match="value"):
        layer(Q, V[..., :5])


# -- Attention and AdditiveAttention -----------------------------------------------------------------

@pytest.mark.parametrize("cls,kwargs,shapes,weights", [
    (Attention, {}, [(2, 3, 4), (2, 5, 4)], 0),
    (Attention, {"use_scale": True}, [(2, 3, 4), (2, 5, 6), (2, 5, 4)], 1),
    (Attention, {"score_mode": "concat", "use_scale": True}, [(2, 3, 4), (2, 5, 4)], 2),
    (AdditiveAttention, {}, [(2, 3, 4), (2, 5, 6), (2, 5, 4)], 1),
    (AdditiveAttention, {"use_scale": False}, [(2, 3, 4), (2, 5, 4)], 0),
])
def test_luong_bahdanau_layer_checks(cls, kwargs, shapes, weights):
    run_layer_test(cls, kwargs, shapes, expected_num_weights=weights, custom_objects=CUSTOM)


@pytest.mark.parametrize("cls,kwargs", [
    (Attention, {"use_scale": True}),
    (Attention, {"score_mode": "concat"}),
    (AdditiveAttention, {}),
])
@pytest.mark.parametrize("causal", [False, True])
def test_luong_bahdanau_masks_match_keras(cls, kwargs, causal):
    q, v = Q[:, :, :4], V[:, :, :4]
    ours, theirs = cls(**kwargs), getattr(keras.layers, cls.__name__)(**kwargs)
    ours([q, v])
    theirs([q, v])
    weights = random_weights([(tuple(w.shape), w.name) for w in theirs.weights], 3)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    call = {"mask": [Q_MASK, V_MASK], "use_causal_mask": causal, "return_attention_scores": True}
    _compare(ours([q, v], **call), theirs([q, v], **call))
    _compare(ours([q, v], use_causal_mask=causal), theirs([q, v], use_causal_mask=causal))
    assert ours.compute_mask([q, v], [Q_MASK, V_MASK]) is Q_MASK
    assert ours.compute_mask([q, v], None) is None


@pytest.mark.parametrize("cls", [Attention, AdditiveAttention])
def test_luong_bahdanau_dropout_and_config(cls):
    q, v = Q[:, :, :4], V[:, :, :4]
    layer = cls(dropout=0.5, seed=1)
    reference = np.asarray(cls()([q, v]))
    if layer.use_scale:  # AdditiveAttention's scale is random: compare with the same weights
        plain = cls()
        plain([q, v])
        layer([q, v])
        plain.set_weights(layer.get_weights())
        reference = np.asarray(plain([q, v]))
    assert_close(layer([q, v]), reference)
    with StatelessScope({}, rng=jax.random.PRNGKey(0), training=True):
        a, b = layer([q, v]), layer([q, v])
    assert not np.allclose(a, reference) and not np.allclose(a, b)
    keras_config = getattr(keras.layers, cls.__name__)(dropout=0.5, seed=1).get_config()
    assert set(layer.get_config()) == set(keras_config)
    restored = deserialize_layer(json.loads(json.dumps(serialize_layer(layer))), CUSTOM)
    assert restored.get_config() == layer.get_config()


def test_luong_bahdanau_bad_arguments_and_inputs():
    with pytest.raises(ConfigError, match="Attention: score_mode must be 'dot' or 'concat', got 'add'"):
        Attention(score_mode="add")
    with pytest.raises(ConfigError, match="AdditiveAttention: dropout"):
        AdditiveAttention(dropout=-0.1)
    with pytest.raises(InputError, match="list"):
        Attention()(Q)
    with pytest.raises(InputError, match=r"same last dimension.*\(2, 4, 6\).*\(2, 5, 3\)"):
        Attention()([Q, V, K3])
    layer = AdditiveAttention()
    layer([Q, V])
    with pytest.raises(InputError, match="same last dimension"):
        layer([Q[..., :5], V])
    with pytest.raises(InputError, match="mask must be a list"):
        Attention()([Q, V], mask=Q_MASK)


# -- a model that needs attention ----------------------------------------------------------------------

def _pointer_data(n, seed, vocab=10, steps=8):
    """Random tokens and one flagged position: the label is the flagged token.

    The flag and the tokens enter as separate embeddings that are added, so pooling the
    embeddings loses which token was flagged: only attention can bind the two.
    """
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, vocab, size=(n, steps)).astype("int32")
    where = rng.integers(0, steps, size=n)
    flags = np.zeros((n, steps), "int32")
    flags[np.arange(n), where] = 1
    return tokens, flags, tokens[np.arange(n), where]


def test_attention_model_learns_pointer_task():
    from kerasish import layers

    set_random_seed(0)
    vocab, steps = 10, 8
    tokens, flags, labels = _pointer_data(2000, 0, vocab, steps)
    test_tokens, test_flags, test_labels = _pointer_data(500, 1, vocab, steps)
    tok_in = kerasish.Input((steps,), dtype="int32")
    flag_in = kerasish.Input((steps,), dtype="int32")
    h = layers.Add()([layers.Embedding(vocab, 16)(tok_in), layers.Embedding(2, 16)(flag_in)])
    h = layers.Add()([h, MultiHeadAttention(num_heads=2, key_dim=8)(h, h)])
    out = layers.Dense(vocab, activation="softmax")(layers.GlobalAveragePooling1D()(h))
    model = kerasish.Model([tok_in, flag_in], out)
    model.compile(optimizer=kerasish.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit([tokens, flags], labels, batch_size=64, epochs=3, verbose=0)
    _, accuracy = model.evaluate([test_tokens, test_flags], test_labels, verbose=0)
    assert accuracy >= 0.95
