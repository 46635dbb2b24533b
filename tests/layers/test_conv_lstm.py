"""ConvLSTM1D/2D/3D against Keras 3 with the same weights.

Shapes are tiny ((2, 3, 5, 5, 2), 3 filters) and most cases start from zeros, since the helper
overwrites the weights with random values before comparing. Keras 3's JAX scan path cannot mask a
ConvLSTM (it broadcasts a (batch, 1) mask against (batch, rows, cols, filters) states and fails),
so masked runs are compared with Keras's ``unroll=True`` path, which masks correctly.
"""

import jax
import numpy as np
import pytest

from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError, KerasishError
from kerasish.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D

from .helpers import assert_close, keras, make_inputs, random_weights, run_layer_test

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

SHAPE = (2, 3, 5, 5, 2)
ZEROS = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
CUSTOM = {c.__name__: c for c in (ConvLSTM1D, ConvLSTM2D, ConvLSTM3D)}


@pytest.mark.parametrize("cls, kwargs, input_shape, out_shape", [
    (ConvLSTM2D, {"padding": "same", "return_sequences": True}, SHAPE, (2, 3, 5, 5, 3)),
    (ConvLSTM2D, {"strides": 2, "dropout": 0.3, "recurrent_dropout": 0.2}, SHAPE, (2, 2, 2, 3)),
    (ConvLSTM2D, {"padding": "same", "strides": (2, 1), "go_backwards": True, "return_sequences": True}, SHAPE,
     (2, 3, 3, 5, 3)),
    (ConvLSTM2D, {"kernel_size": (3, 2), "dilation_rate": (1, 2), "use_bias": False, "activation": "relu",
                  "recurrent_activation": "hard_sigmoid", "data_format": "channels_first"}, (2, 3, 2, 5, 5),
     (2, 3, 3, 3)),
    (ConvLSTM1D, {"padding": "same", "return_sequences": True}, (2, 3, 5, 2), (2, 3, 5, 3)),
    (ConvLSTM3D, {"kernel_size": 2}, (2, 2, 3, 3, 3, 2), (2, 2, 2, 2, 3)),
], ids=["2d_same_sequences", "2d_valid_strides_dropout", "2d_backwards", "2d_channels_first_dilated_no_bias",
        "1d", "3d"])
def test_matches_keras(cls, kwargs, input_shape, out_shape):
    kwargs = {"filters": 3, "kernel_size": 3, **kwargs, **ZEROS}
    n_weights = 3 if kwargs.get("use_bias", True) else 2
    # With dropout, only inference is compared (the helper's training-mode call has no random key).
    run_layer_test(cls, kwargs, input_shape, expected_output_shape=out_shape, expected_num_weights=n_weights,
                   custom_objects=CUSTOM, training_parity="dropout" not in kwargs)


def _pair(kwargs, x, keras_extra=None, seed=1):
    """Built kerasish and Keras ConvLSTM2Ds holding the same random weights."""
    ours = ConvLSTM2D(3, 3, **kwargs, **ZEROS)
    theirs = keras.layers.ConvLSTM2D(3, 3, **kwargs, **(keras_extra or {}), **ZEROS)
    ours(x)
    theirs(x)
    weights = random_weights([(w.shape, w.name) for w in theirs.weights], seed)
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def test_return_state_and_initial_state():
    x = make_inputs(SHAPE)
    kwargs = {"padding": "same", "return_state": True}
    ours, theirs = _pair(kwargs, x)
    out, h, c = ours(x)
    k_out, k_h, k_c = theirs(x)
    for a, b, what in ((out, k_out, "output"), (h, k_h, "h"), (c, k_c, "c")):
        assert_close(a, b, what)
    assert_close(out, h, "the last output is the hidden state")
    # Starting from the returned states continues the sequence as Keras does.
    state = [np.asarray(h), np.asarray(c)]
    for a, b in zip(ours(x, initial_state=state), theirs(x, initial_state=state)):
        assert_close(a, b, "with initial_state")
    assert ours.compute_mask(x, None) == [None, None, None]


@pytest.mark.parametrize("kwargs", [{"return_sequences": True}, {"go_backwards": True}],
                         ids=["sequences", "backwards_last"])
def test_mask_keeps_states_as_keras(kwargs):
    x = make_inputs((2, 4, 5, 5, 2))
    mask = np.array([[True, True, False, True], [False, True, True, False]])
    ours, theirs = _pair({"padding": "same", **kwargs}, x, keras_extra={"unroll": True})
    y = np.asarray(ours(x, mask=mask))
    expected = np.asarray(theirs(x, mask=mask))
    assert_close(y, expected, "masked")
    assert not np.allclose(y, np.asarray(ours(x)), atol=1e-3), "the mask changed nothing"
    if not kwargs.get("return_sequences"):
        assert ours.compute_mask(x, mask) is None
        return
    assert_close(y[0, 2], y[0, 1], "a masked step repeats the previous output")
    assert ours.compute_mask(x, mask) is mask
    # zero_output_for_mask: zeros at masked steps, the states carry on as without the option.
    zeroed = ConvLSTM2D(3, 3, padding="same", return_sequences=True, zero_output_for_mask=True, **ZEROS)
    zeroed(x)
    zeroed.set_weights(ours.get_weights())
    assert_close(zeroed(x, mask=mask), expected * mask[:, :, None, None, None], "zero_output_for_mask")


def test_one_scan_over_time():
    layer = ConvLSTM2D(3, 3, padding="same", return_sequences=True, **ZEROS)
    x = np.zeros(SHAPE, "float32")
    layer(x)
    jaxpr = str(jax.make_jaxpr(lambda a: layer(a))(x))
    assert jaxpr.count("scan[") == 1, jaxpr
    # Only the recurrent convolution is inside the loop; the input one runs once for all steps.
    assert jaxpr.count("conv_general_dilated[") == 2, jaxpr


def test_initial_bias_and_config_keys_match_keras():
    x = np.zeros(SHAPE, "float32")
    for unit_forget_bias in (True, False):
        ours = ConvLSTM2D(3, 3, unit_forget_bias=unit_forget_bias, **ZEROS)
        theirs = keras.layers.ConvLSTM2D(3, 3, unit_forget_bias=unit_forget_bias, **ZEROS)
        ours(x)
        theirs.build(SHAPE)
        assert_close(ours.bias.value, theirs.get_weights()[2])
    assert_close(ours.get_weights()[2], np.zeros(12))
    keras_keys = set(keras.layers.ConvLSTM2D(3, 3).get_config())
    assert set(ConvLSTM2D(3, 3).get_config()) >= keras_keys - {"dtype"}


def test_dropout_only_in_training():
    """Inference with dropout matches Keras (test_matches_keras); training draws masks from the scope's key."""
    x = make_inputs(SHAPE)
    layer = ConvLSTM2D(3, 3, padding="same", return_sequences=True, dropout=0.5, recurrent_dropout=0.5, **ZEROS)
    layer(x)
    layer.set_weights(random_weights([(w.shape, w.name) for w in layer.weights], 1))
    y = np.asarray(layer(x, training=False))

    def train(seed):
        with StatelessScope({}, rng=jax.random.PRNGKey(seed), training=True):
            return np.asarray(layer(x))

    a, b, c = train(0), train(0), train(1)
    assert_close(a, b, "same key, same dropout")
    assert not np.allclose(a, y, atol=1e-3) and not np.allclose(a, c, atol=1e-3)
    with pytest.raises(KerasishError, match="random key"):
        jax.jit(lambda v: layer(v, training=True))(x)  # no step, no key: an error, not a frozen mask


@pytest.mark.parametrize("kwargs, match", [
    ({"stateful": True}, "stateful"),
    ({"filters": 0}, "filters"),
    ({"padding": "causal"}, "padding"),
    ({"dropout": 1.5}, "dropout"),
    ({"recurrent_dropout": -0.1}, "recurrent_dropout"),
    ({"strides": 2, "dilation_rate": 2}, "dilation_rate"),
    ({"kernel_size": (3, 3, 3)}, "kernel_size"),
    ({"return_sequences": "yes"}, "return_sequences"),
])
def test_bad_args(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ConvLSTM2D(**{"filters": 3, "kernel_size": 3, **kwargs})


def test_bad_inputs():
    layer = ConvLSTM2D(3, 3, **ZEROS)
    with pytest.raises(InputError, match="rank 5"):
        layer(np.zeros((2, 5, 5, 2), "float32"))
    layer(np.zeros(SHAPE, "float32"))
    with pytest.raises(InputError, match="input channels"):
        layer(np.zeros((2, 3, 5, 5, 4), "float32"))
    with pytest.raises(InputError, match="mask"):
        layer(np.zeros(SHAPE, "float32"), mask=np.ones((2, 4), bool))
    with pytest.raises(InputError, match="initial state"):
        layer(np.zeros(SHAPE, "float32"), initial_state=[np.zeros((2, 5, 5, 3))] * 2)
