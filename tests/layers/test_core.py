"""Core layers against Keras 3: Input, Dense, Activation, Dropout, Flatten, Reshape, Embedding, Lambda."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.backend import StatelessScope
from kerasish.errors import KerasishError

from .helpers import check_initial_values, keras, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


# -- Input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, kwargs", [
    ((3,), {}),
    ((4, 5), {"dtype": "int32"}),
    ((2, 2, 3), {"batch_size": 8, "name": "pixels"}),
])
def test_input_matches_keras(shape, kwargs):
    ours, theirs = kerasish.Input(shape=shape, **kwargs), keras.Input(shape=shape, **kwargs)
    assert ours.shape == tuple(theirs.shape)
    assert np.dtype(ours.dtype) == np.dtype(theirs.dtype)
    if "name" in kwargs:
        assert ours.name == theirs.name == kwargs["name"]


def test_input_layer_config_round_trip():
    layer = layers.InputLayer(shape=(4, 5), dtype="int32", name="tokens")
    restored = layers.InputLayer.from_config(layer.get_config())
    assert restored.get_config() == layer.get_config()
    assert restored.output_tensor.shape == (None, 4, 5)
    assert restored.output_tensor.dtype == jnp.int32


def test_input_batch_shape():
    assert kerasish.Input(batch_shape=(7, 3)).shape == tuple(keras.Input(batch_shape=(7, 3)).shape)


# -- Dense ---------------------------------------------------------------------------------------
# Every Dense case builds a (16, 16) kernel: one shape keeps XLA compilations (of the random initializers
# above all) shared between cases, and 256 values are enough to compare initial distributions with Keras's.
D = 16


@pytest.mark.parametrize("kwargs, keras_kwargs, input_shape, n_weights", [
    ({"units": D}, None, (2, D), 2),
    ({"units": D, "activation": "relu"}, None, (3, D), 2),
    ({"units": D, "activation": kerasish.activations.tanh}, {"units": D, "activation": keras.activations.tanh},
     (2, D), 2),
    ({"units": D, "use_bias": False, "activation": "softmax"}, None, (2, D), 1),
    ({"units": D, "kernel_initializer": "he_normal", "bias_initializer": "ones"}, None, (2, D), 2),
    ({"units": D, "kernel_regularizer": "l2", "bias_regularizer": "l1"}, None, (2, D), 2),
    ({"units": D, "activation": "gelu"}, None, (2, 3, D), 2),  # applied to the last axis
], ids=["plain", "relu", "callable", "no_bias", "initializers", "regularizers", "rank3"])
def test_dense(kwargs, keras_kwargs, input_shape, n_weights):
    run_layer_test(layers.Dense, kwargs, input_shape, keras_kwargs=keras_kwargs,
                   expected_output_shape=input_shape[:-1] + (D,), expected_num_weights=n_weights)


@pytest.mark.parametrize("initializer", [
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "random_normal", "random_uniform", "truncated_normal", "uniform", "normal", "orthogonal", "zeros", "ones",
])
def test_dense_kernel_initializer_names(initializer):
    """Every Keras initializer name is accepted and draws from Keras's distribution (mean and std).

    A (16, 64) kernel: fan_in, fan_out and fan_avg differ, and 1024 values allow tight tolerances
    (still about 5 standard errors for normal samples).
    """
    ours = layers.Dense(64, kernel_initializer=initializer)
    ours.build((None, D))
    theirs = keras.layers.Dense(64, kernel_initializer=initializer)
    theirs.build((None, D))
    check_initial_values(np.asarray(ours.kernel.value), np.asarray(theirs.kernel.value), initializer,
                         std_tol=0.15, mean_tol=0.3)


def test_dense_regularizers_by_name_add_keras_penalty():
    """``kernel_regularizer="l2"`` means Keras's L2(0.01), ``"l1"`` L1(0.01)."""
    dense = layers.Dense(D, kernel_regularizer="l2", bias_regularizer="l1", bias_initializer="ones")
    dense.build((None, D))
    kernel = np.asarray(dense.kernel.value)
    assert float(dense.kernel.regularizer(dense.kernel.value)) == pytest.approx(0.01 * np.sum(kernel ** 2), rel=1e-5)
    assert float(dense.bias.regularizer(dense.bias.value)) == pytest.approx(0.01 * D, rel=1e-5)


# -- Activation ----------------------------------------------------------------------------------
ACTIVATION_NAMES = ["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "log_softmax", "tanh", "elu",
                    "selu", "softplus", "softsign", "silu", "swish", "gelu", "exponential", "leaky_relu", "mish"]


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_by_name(name):
    run_layer_test(layers.Activation, {"activation": name}, (3, 5), expected_output_shape=(3, 5),
                   expected_num_weights=0)


def test_activation_callable():
    run_layer_test(layers.Activation, {"activation": kerasish.activations.relu}, (2, 3, 4),
                   keras_kwargs={"activation": keras.activations.relu}, expected_output_shape=(2, 3, 4))


# -- Dropout -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{"rate": 0.5}, {"rate": 0.0}, {"rate": 0.3, "noise_shape": (None, 1, 4)}])
def test_dropout_standard_checks(kwargs):
    """Identity at inference (parity with Keras with training=False); random in training, so not compared."""
    out = run_layer_test(layers.Dropout, kwargs, (2, 3, 4), expected_output_shape=(2, 3, 4),
                         expected_num_weights=0, training_parity=False)
    np.testing.assert_array_equal(np.asarray(out["model"](out["x"], training=False)), out["x"])


def _dropout_train(layer, x, key=0, training=True):
    with StatelessScope({}, rng=jax.random.PRNGKey(key), training=training):
        return np.asarray(layer(x))


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_training_drops_rate_and_rescales(rate):
    x = np.abs(make_inputs((200, 100))) + 0.1  # no zeros of its own
    y = _dropout_train(layers.Dropout(rate), x)
    zeros = y == 0
    # A binomial fraction over 20,000 units: 5 standard errors is a safe bound.
    assert abs(zeros.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / x.size)
    np.testing.assert_allclose(y[~zeros], x[~zeros] / (1 - rate), rtol=1e-6)


def test_dropout_keys_and_modes():
    layer, x = layers.Dropout(0.5), make_inputs((200, 100)) + 10.0
    np.testing.assert_array_equal(_dropout_train(layer, x, key=1), _dropout_train(layer, x, key=1))
    assert not np.array_equal(_dropout_train(layer, x, key=1), _dropout_train(layer, x, key=2))
    np.testing.assert_array_equal(_dropout_train(layer, x, training=False), x)  # scope says inference
    with StatelessScope({}, rng=jax.random.PRNGKey(0), training=True):
        np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)  # explicit flag wins
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # outside any scope: inference
    with pytest.raises(KerasishError, match="random key"):
        with StatelessScope({}, rng=None, training=True):
            jax.jit(layer)(x)  # traced with no key: an error, not a mask frozen into the program
    eager = [np.asarray(layer(x, training=True)) for _ in range(2)]  # eagerly: the global seed stream
    assert not np.array_equal(eager[0], eager[1]) and not np.array_equal(eager[0], x)


def test_dropout_in_a_model_through_stateless_call():
    """The pure path the train step uses: ``training=True`` with a key drops, ``training=False`` is the identity."""
    model = kerasish.Sequential([kerasish.Input(shape=(100,)), layers.Dropout(0.25)])
    x = np.abs(make_inputs((200, 100))) + 0.1
    y, _ = model.stateless_call([], [], x, training=True, rng=jax.random.PRNGKey(3))
    y = np.asarray(y)
    zeros = y == 0
    assert abs(zeros.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / x.size)
    np.testing.assert_allclose(y[~zeros], x[~zeros] / 0.75, rtol=1e-6)
    y, _ = model.stateless_call([], [], x, training=False)
    np.testing.assert_array_equal(np.asarray(y), x)


def test_dropout_noise_shape_broadcasts_the_mask():
    x = np.ones((4, 6, 5), "float32")
    y = _dropout_train(layers.Dropout(0.5, noise_shape=(None, 1, 5)), x)
    assert np.all(y == y[:, :1, :]), "the mask must be shared along the axis of size 1 in noise_shape"
    assert 0 < (y == 0).mean() < 1


# -- Flatten / Reshape -----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({}, (2, 3, 4), (2, 12)),
    ({}, (2, 5), (2, 5)),
    ({}, (2, 2, 3, 4), (2, 24)),
    ({"data_format": "channels_last"}, (2, 2, 3, 4), (2, 24)),
    # channels_first: Keras moves the channels last before flattening, so a following Dense sees the same order.
    ({"data_format": "channels_first"}, (2, 4, 2, 3), (2, 24)),
])
def test_flatten(kwargs, input_shape, out_shape):
    run_layer_test(layers.Flatten, kwargs, input_shape, expected_output_shape=out_shape, expected_num_weights=0)


@pytest.mark.parametrize("target_shape, input_shape, out_shape", [
    ((6,), (2, 2, 3), (2, 6)),
    ((3, 2), (2, 6), (2, 3, 2)),
    ((-1, 2), (2, 3, 4), (2, 6, 2)),
    ((2, -1, 3), (2, 12), (2, 2, 2, 3)),
])
def test_reshape(target_shape, input_shape, out_shape):
    run_layer_test(layers.Reshape, {"target_shape": target_shape}, input_shape, expected_output_shape=out_shape,
                   expected_num_weights=0)


# -- Embedding -----------------------------------------------------------------------------------
# One (16, 16) table for every case, Dense's kernel shape: shared compilations, and 256 values for the
# initial-distribution check.
@pytest.mark.parametrize("kwargs, input_shape, dtype", [
    ({}, (3, 5), "int32"),
    ({}, (2, 3, 4), "int32"),
    pytest.param({"embeddings_initializer": "random_normal"}, (2, 6), "int64", marks=pytest.mark.filterwarnings(
        "ignore:Explicitly requested dtype int64")),  # JAX without x64 makes it int32, and says so
    ({"embeddings_regularizer": "l2"}, (2, 4), "int32"),
])
def test_embedding(kwargs, input_shape, dtype):
    run_layer_test(layers.Embedding, {"input_dim": D, "output_dim": D, **kwargs}, input_shape, input_dtype=dtype,
                   int_high=D, expected_output_shape=input_shape + (D,), expected_num_weights=1)


def test_embedding_casts_float_indices_like_keras():
    x = np.array([[0.0, 3.0, 9.0]], "float32")
    out = run_layer_test(layers.Embedding, {"input_dim": D, "output_dim": D}, input_data=x)
    table = out["model"].get_weights()[0]
    np.testing.assert_allclose(np.asarray(out["model"](x)), table[[0, 3, 9]][None])


# -- Lambda --------------------------------------------------------------------------------------
def square_plus_one(x):
    return x * x + 1.0


def scale_by(x, factor):
    return x * factor


def first_half(x):
    return x[..., : x.shape[-1] // 2]


@pytest.mark.parametrize("fn, kwargs, input_shape, out_shape", [
    (square_plus_one, {}, (2, 3), (2, 3)),
    (scale_by, {"arguments": {"factor": 2.5}}, (2, 3, 4), (2, 3, 4)),
    (first_half, {}, (2, 6), (2, 3)),
])
def test_lambda_with_named_function(fn, kwargs, input_shape, out_shape):
    out = run_layer_test(layers.Lambda, {"function": fn, **kwargs}, input_shape,
                         custom_objects={fn.__name__: fn}, expected_output_shape=out_shape, expected_num_weights=0)
    assert out["layer"].get_config()["function"] == fn.__name__
