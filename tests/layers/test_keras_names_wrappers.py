"""Keras 3.15 layer names kerasish added for issue 14: GroupQueryAttention, StackedRNNCells, Wrapper,
SpectralNormalization, ReversibleEmbedding, InputSpec, layers.serialize / deserialize; each against Keras 3."""

import json

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError

from .helpers import assert_close, keras, make_inputs, random_weights

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _names(layer):
    return [(w.name.split("/")[-1], tuple(w.shape)) for w in layer.weights]


def _copy_and_compare(ours, theirs, *args, **kwargs):
    """Keras's (randomized) weights into ours; equal outputs (all leaves) on the same call."""
    assert _names(ours) == _names(theirs)
    theirs.set_weights(random_weights([(tuple(w.shape), w.name) for w in theirs.weights], seed=5))
    ours.set_weights(theirs.get_weights())
    got, want = ours(*args, **kwargs), theirs(*args, **kwargs)
    assert jax.tree.structure(jax.tree.map(np.asarray, list(jax.tree.leaves(got)))) is not None
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        assert np.asarray(a).shape == np.asarray(b).shape and np.asarray(a).dtype == np.asarray(b).dtype
        assert_close(a, b)
    return got


def _config_round_trip(layer, *args, **kwargs):
    restored = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert type(restored) is type(layer)
    assert json.loads(json.dumps(restored.get_config())) == json.loads(json.dumps(layer.get_config()))
    restored(*args, **kwargs)
    restored.set_weights(layer.get_weights())
    for a, b in zip(jax.tree.leaves(restored(*args, **kwargs)), jax.tree.leaves(layer(*args, **kwargs))):
        assert_close(a, b)


# -- GroupQueryAttention ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, call_kwargs", [
    ({"use_bias": False}, {"use_causal_mask": True}),
    ({"use_gate": True, "sliding_window": 2}, {"return_attention_scores": True}),
    ({"dropout": 0.2}, {"use_causal_mask": True}),
])
def test_group_query_attention_matches_keras(kwargs, call_kwargs):
    q, v = make_inputs([(2, 5, 8), (2, 3, 8)], seed=1)
    theirs = keras.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, **kwargs)
    ours = layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, **kwargs)
    theirs(q, v, **call_kwargs)
    ours(q, v, **call_kwargs)
    _copy_and_compare(ours, theirs, q, v, **call_kwargs)
    _config_round_trip(ours, q, v)
    mask = np.array([[True, True, False], [True, False, False]])
    attention_mask = np.broadcast_to(mask[:, None, :], (2, 5, 3))
    assert_close(ours(q, v, attention_mask=attention_mask), theirs(q, v, attention_mask=attention_mask))


def test_group_query_attention_in_a_trained_functional_model():
    x = kerasish.Input(shape=(6, 8))
    gqa = layers.GroupQueryAttention(4, 4, 1)
    h = gqa(x, x, use_causal_mask=True)
    model = kerasish.Model(x, layers.Dense(1)(layers.GlobalAveragePooling1D()(h)))
    assert [tuple(w.shape) for w in gqa.weights][:3] == [(8, 4, 4), (4, 4), (8, 1, 4)]  # one key head
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((4, 6, 8)).astype("float32"), rng.standard_normal((4, 1)).astype("float32"),
              epochs=2, verbose=0)


def test_group_query_attention_rejects_bad_heads():
    with pytest.raises(ConfigError, match="multiple"):
        layers.GroupQueryAttention(4, 6, 4)
    with pytest.raises(ConfigError, match="flash_attention"):
        layers.GroupQueryAttention(4, 4, 2, flash_attention=True)


# -- StackedRNNCells ----------------------------------------------------------------------------------------

def test_stacked_rnn_cells_match_keras_with_nested_states():
    x = make_inputs((2, 4, 5), seed=2)
    theirs = keras.layers.RNN(keras.layers.StackedRNNCells(
        [keras.layers.LSTMCell(3), keras.layers.GRUCell(2), keras.layers.SimpleRNNCell(4)]),
        return_sequences=True, return_state=True)
    ours = layers.RNN(layers.StackedRNNCells([layers.LSTMCell(3), layers.GRUCell(2), layers.SimpleRNNCell(4)]),
                      return_sequences=True, return_state=True)
    theirs(x), ours(x)
    out = _copy_and_compare(ours, theirs, x)
    assert [np.shape(s) for s in out[1]] == [(2, 3), (2, 3)]  # the LSTM's [h, c], nested as Keras
    assert ours.cell.state_size == [[3, 3], 2, 4] and ours.cell.output_size == 4
    assert [w.path for w in ours.weights][:2] == ["rnn/stacked_rnn_cells/lstm_cell/kernel",
                                                  "rnn/stacked_rnn_cells/lstm_cell/recurrent_kernel"]
    state = [[np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")], np.ones((2, 2), "float32"),
             np.zeros((2, 4), "float32")]
    for a, b in zip(jax.tree.leaves(ours(x, initial_state=state)), jax.tree.leaves(theirs(x, initial_state=state))):
        assert_close(a, b)
    _config_round_trip(ours, x)
    # the stack as a cell, one step on nested states
    step_out, step_states = ours.cell(x[:, 0], state)
    keras_out, keras_states = theirs.cell(x[:, 0], state)
    assert_close(step_out, keras_out)
    for a, b in zip(jax.tree.leaves(step_states), jax.tree.leaves(keras_states)):
        assert_close(a, b)


def test_stacked_rnn_cells_train_in_a_sequential_model():
    model = kerasish.Sequential([kerasish.Input(shape=(4, 3)),
                                 layers.RNN(layers.StackedRNNCells([layers.GRUCell(4), layers.LSTMCell(2)])),
                                 layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((4, 4, 3)).astype("float32"), np.zeros((4, 1), "float32"), epochs=2, verbose=0)
    with pytest.raises(ConfigError, match="cells"):
        layers.StackedRNNCells([])


# -- Wrapper, SpectralNormalization -------------------------------------------------------------------------

def test_wrapper_builds_serializes_and_calls_the_wrapped_layer():
    class Doubled(layers.Wrapper):
        def call(self, inputs):
            return 2 * self.layer(inputs)

    x = make_inputs((2, 3))
    w = Doubled(layers.Dense(4, name="inner"))
    y = w(x)
    assert [v.name for v in w.weights] == ["kernel", "bias"]
    kernel, bias = w.get_weights()
    assert_close(y, 2 * (x @ kernel + bias))
    config = w.get_config()
    assert config["layer"]["class_name"] == "Dense" and config["layer"]["config"]["name"] == "inner"
    restored = Doubled.from_config(json.loads(json.dumps(config)))
    assert type(restored.layer) is layers.Dense and restored.layer.units == 4
    assert isinstance(layers.TimeDistributed(layers.Dense(2)), layers.Wrapper)
    with pytest.raises(ConfigError, match="layer"):
        layers.Wrapper("dense")


@pytest.mark.parametrize("make, input_shape", [
    (lambda m: m.layers.Dense(3), (2, 4)),
    (lambda m: m.layers.Conv2D(2, 2), (2, 4, 4, 3)),
])
def test_spectral_normalization_matches_keras(make, input_shape):
    x = make_inputs(input_shape, seed=3)
    theirs = keras.layers.SpectralNormalization(make(keras), power_iterations=2)
    ours = layers.SpectralNormalization(make(kerasish), power_iterations=2)
    theirs(x), ours(x)
    assert [(w.name, id(w) in {id(t) for t in ours.trainable_weights}) for w in ours.weights] == \
        [(w.name, id(w) in {id(t) for t in theirs.trainable_weights}) for w in theirs.weights]
    _copy_and_compare(ours, theirs, x)
    _copy_and_compare(ours, theirs, x, training=True)  # normalizes the kernel and updates vector_u
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, "weights after a training call")
    _config_round_trip(ours, x)


def test_spectral_normalization_bounds_the_spectral_norm_in_a_trained_model():
    model = kerasish.Sequential([kerasish.Input(shape=(4,)),
                                 layers.SpectralNormalization(layers.Dense(8), power_iterations=3),
                                 layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((8, 4)).astype("float32"), rng.standard_normal((8, 1)).astype("float32"),
              epochs=2, batch_size=4, verbose=0)
    layer = model.layers[0]
    layer(np.zeros((1, 4), "float32"), training=True)  # an eager training call normalizes the kernel in place
    for _ in range(20):
        layer(np.zeros((1, 4), "float32"), training=True)
    assert abs(np.linalg.svd(layer.get_weights()[0], compute_uv=False)[0] - 1.0) < 1e-3
    emb = layers.SpectralNormalization(layers.Embedding(5, 3))
    ids = np.array([[1, 2, 0]])
    for _ in range(20):
        out = emb(ids, training=True)
    assert out.dtype == np.float32  # Keras casts an embedding's rows to the indices' dtype; kerasish does not
    assert abs(np.linalg.svd(emb.get_weights()[0], compute_uv=False)[0] - 1.0) < 1e-3
    with pytest.raises(ConfigError, match="power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)
    with pytest.raises(ConfigError, match="kernel"):
        layers.SpectralNormalization(layers.Flatten())(np.zeros((1, 2)))


# -- ReversibleEmbedding ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"tie_weights": False}, {"logit_soft_cap": 2.0, "mask_zero": True}])
def test_reversible_embedding_matches_keras(kwargs):
    ids = np.array([[1, 2, 0], [3, 4, 5]])
    hidden = make_inputs((2, 3, 4), seed=4)
    theirs, ours = keras.layers.ReversibleEmbedding(6, 4, **kwargs), layers.ReversibleEmbedding(6, 4, **kwargs)
    theirs(ids), ours(ids)
    _copy_and_compare(ours, theirs, ids)
    assert_close(ours(hidden, reverse=True), theirs(hidden, reverse=True), "reverse")
    _config_round_trip(ours, ids)
    inp = kerasish.Input(shape=(3,), dtype="int32")
    emb = layers.ReversibleEmbedding(6, 4, **kwargs)
    model = kerasish.Model(inp, emb(layers.Dense(4)(emb(inp)), reverse=True))
    assert tuple(model.outputs[0].shape) == (None, 3, 6)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(ids, ids, epochs=1, verbose=0)


# -- InputSpec ----------------------------------------------------------------------------------------------

def test_input_spec_config_and_checks_as_keras():
    for kwargs in ({"ndim": 3, "axes": {-1: 4}}, {"shape": (None, 3), "dtype": "float32"},
                   {"min_ndim": 2, "max_ndim": 4, "optional": True}):
        ours, theirs = layers.InputSpec(**kwargs), keras.layers.InputSpec(**kwargs)
        config = ours.get_config()
        want = theirs.get_config()
        want["shape"] = None if want["shape"] is None else list(want["shape"])
        assert config == want
        assert layers.InputSpec.from_config(config).get_config() == config
        assert repr(ours) == repr(theirs)
    from kerasish.layers.input_spec import assert_input_compatibility

    spec = layers.InputSpec(ndim=3, axes={-1: 4})
    assert_input_compatibility(spec, np.zeros((2, 5, 4)), "l")
    with pytest.raises(InputError, match="rank 3"):
        assert_input_compatibility(spec, np.zeros((2, 4)), "l")
    with pytest.raises(InputError, match="size 4 on axis -1"):
        assert_input_compatibility(spec, np.zeros((2, 5, 3)), "l")
    with pytest.raises(InputError, match="dtype int32"):
        assert_input_compatibility(layers.InputSpec(dtype="int32"), np.zeros((2,), "float32"), "l")
    with pytest.raises(InputError, match=r"shape \(None, 3\)"):
        assert_input_compatibility(layers.InputSpec(shape=(None, 3)), np.zeros((2, 4)), "l")
    named = [layers.InputSpec(name="a"), layers.InputSpec(name="b", ndim=1)]
    assert_input_compatibility(named, {"b": np.zeros(2), "a": np.zeros((1, 1))}, "l")
    with pytest.raises(InputError, match="2 input"):
        assert_input_compatibility(named, [np.zeros(2)], "l")
    with pytest.raises(ConfigError, match="axes"):
        layers.InputSpec(axes=[1])


# -- layers.serialize / deserialize -------------------------------------------------------------------------

def test_serialize_deserialize_round_trip_and_keras_format():
    layer = layers.EinsumDense("ab,bc->ac", 3, bias_axes="c", name="proj")
    entry = layers.serialize(layer)
    assert entry["class_name"] == "EinsumDense" and entry["module"] == "keras.layers"
    restored = layers.deserialize(json.loads(json.dumps(entry)))
    assert type(restored) is layers.EinsumDense and restored.get_config() == layer.get_config()
    keras_layer = keras.layers.deserialize(json.loads(json.dumps(entry)))  # Keras reads kerasish's dict
    assert keras_layer.get_config()["equation"] == "ab,bc->ac"
    entry = keras.layers.serialize(keras.layers.UpSampling3D((1, 2, 3), name="up"))
    up = layers.deserialize(json.loads(json.dumps(entry)))  # and kerasish reads Keras's
    assert type(up) is layers.UpSampling3D and up.size == (1, 2, 3) and up.name == "up"
    with pytest.raises(ConfigError):
        layers.deserialize("Dense")
