"""Conv2D and the 2D pooling layers against Keras 3.

Inputs are 5x5 with 4 channels: odd sizes make ``padding="same"`` pad unevenly
(TensorFlow puts the extra row/column at the end), and 4 channels allow groups.
XLA compiles a random initializer once per kernel shape, and slowly for rank-4 shapes (seconds on a
small CPU): the initial-value checks run on one (3, 3, 4, 4) kernel (glorot_uniform and he_uniform share
the compiled function); cases with other kernel shapes start from zeros, as the helper overwrites the
weights with random values before comparing outputs anyway.
"""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError
from kerasish.layers import conv

from .helpers import keras, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

NHWC = (2, 5, 5, 4)
NCHW = (2, 4, 5, 5)
ZEROS = {"kernel_initializer": "zeros"}
DW_ZEROS = {"depthwise_initializer": "zeros"}
SEP_ZEROS = {"depthwise_initializer": "zeros", "pointwise_initializer": "zeros"}
# The new classes are exported by kerasish.layers separately; the registry finds them here meanwhile.
CUSTOM = {c.__name__: c for c in (conv.Conv1D, conv.Conv3D, conv.Conv1DTranspose, conv.Conv2DTranspose,
                                  conv.DepthwiseConv1D, conv.DepthwiseConv2D, conv.SeparableConv1D,
                                  conv.SeparableConv2D)}


# -- Conv2D --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"filters": 4, "kernel_size": 3}, NHWC, (2, 3, 3, 4)),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, NHWC, (2, 3, 3, 4)),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 6, 6, 4), (2, 3, 3, 4)),  # pads the end
    ({"filters": 4, "kernel_size": (3, 2), "strides": (2, 1), **ZEROS}, NHWC, (2, 2, 4, 4)),
    ({"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, NHWC, (2, 5, 5, 4)),
    ({"filters": 4, "kernel_size": 3, "dilation_rate": (2, 1)}, NHWC, (2, 1, 3, 4)),
    ({"filters": 4, "kernel_size": 3, "groups": 2, **ZEROS}, NHWC, (2, 3, 3, 4)),
    ({"filters": 4, "kernel_size": 3, "data_format": "channels_first"}, NCHW, (2, 4, 3, 3)),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "groups": 2,
      "data_format": "channels_first", **ZEROS}, NCHW, (2, 4, 3, 3)),
    ({"filters": 4, "kernel_size": 3, "activation": "relu", "use_bias": False}, NHWC, (2, 3, 3, 4)),
    ({"filters": 4, "kernel_size": 3, "kernel_initializer": "he_uniform", "bias_initializer": "ones",
      "kernel_regularizer": "l2", "bias_regularizer": "l1"}, NHWC, (2, 3, 3, 4)),
], ids=["valid", "same_s2", "same_s2_pad_end", "rect_strides", "dilation_same", "dilation_rect", "groups",
        "channels_first", "channels_first_groups_same_s2", "relu_no_bias", "init_regularizers"])
def test_conv2d(kwargs, input_shape, out_shape):
    n_weights = 2 if kwargs.get("use_bias", True) else 1
    run_layer_test(layers.Conv2D, kwargs, input_shape, expected_output_shape=out_shape,
                   expected_num_weights=n_weights)


def test_conv2d_callable_activation():
    run_layer_test(layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": kerasish.activations.sigmoid},
                   NHWC, keras_kwargs={"filters": 4, "kernel_size": 3, "activation": keras.activations.sigmoid},
                   expected_output_shape=(2, 3, 3, 4))


def test_conv2d_kernel_layout_is_keras():
    """A one-hot kernel picks one input channel at one tap: proves the (kh, kw, in, out) layout, not just shapes."""
    conv = layers.Conv2D(4, (3, 2), use_bias=False, **ZEROS)
    x = np.random.default_rng(0).standard_normal(NHWC).astype("float32")
    conv(x)
    kernel = np.zeros((3, 2, 4, 4), "float32")
    kernel[2, 1, 3, 1] = 1.0  # bottom-right tap, input channel 3 -> output channel 1
    conv.set_weights([kernel])
    y = np.asarray(conv(x))
    np.testing.assert_allclose(y[..., 1], x[:, 2:, 1:, 3])
    np.testing.assert_array_equal(y[..., [0, 2, 3]], 0.0)


# -- pooling -------------------------------------------------------------------------------------
POOL_CASES = [
    ({"pool_size": 2}, NHWC, (2, 2, 2, 4)),
    ({"pool_size": 2, "padding": "same"}, NHWC, (2, 3, 3, 4)),  # last window holds one real row/column
    ({"pool_size": 3, "strides": 2, "padding": "same"}, NHWC, (2, 3, 3, 4)),
    ({"pool_size": 3, "strides": 1, "padding": "same"}, NHWC, (2, 5, 5, 4)),  # padded at both ends
    ({"pool_size": (2, 3), "strides": (1, 2)}, NHWC, (2, 4, 2, 4)),
    ({"pool_size": 2, "padding": "same", "data_format": "channels_first"}, NCHW, (2, 4, 3, 3)),
]
POOL_IDS = ["default", "same", "same_s2", "same_s1", "rect", "channels_first_same"]


@pytest.mark.parametrize("kwargs, input_shape, out_shape", POOL_CASES, ids=POOL_IDS)
def test_max_pooling2d(kwargs, input_shape, out_shape):
    run_layer_test(layers.MaxPooling2D, kwargs, input_shape, expected_output_shape=out_shape,
                   expected_num_weights=0)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", POOL_CASES, ids=POOL_IDS)
def test_average_pooling2d(kwargs, input_shape, out_shape):
    run_layer_test(layers.AveragePooling2D, kwargs, input_shape, expected_output_shape=out_shape,
                   expected_num_weights=0)


def test_average_pooling2d_same_averages_only_real_values():
    x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    y = np.asarray(layers.AveragePooling2D(2, padding="same")(x))
    assert y[0, 2, 2, 0] == 24.0  # the corner window holds one real value: no zeros averaged in
    assert y[0, 0, 2, 0] == np.mean([4.0, 9.0])


def test_pooling_aliases():
    assert layers.MaxPool2D is layers.MaxPooling2D
    assert layers.AvgPool2D is layers.AveragePooling2D
    assert layers.GlobalAvgPool2D is layers.GlobalAveragePooling2D


@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({}, NHWC, (2, 4)),
    ({"data_format": "channels_first"}, NCHW, (2, 4)),
    ({"keepdims": True}, NHWC, (2, 1, 1, 4)),
    ({"keepdims": True, "data_format": "channels_first"}, NCHW, (2, 4, 1, 1)),
])
def test_global_average_pooling2d(kwargs, input_shape, out_shape):
    run_layer_test(layers.GlobalAveragePooling2D, kwargs, input_shape, expected_output_shape=out_shape,
                   expected_num_weights=0)


# -- Conv1D / Conv3D -----------------------------------------------------------------------------
NWC = (2, 7, 4)
NDHWC = (2, 4, 5, 5, 4)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"filters": 3, "kernel_size": 3}, NWC, (2, 5, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, NWC, (2, 4, 3)),
    ({"filters": 3, "kernel_size": 3, "padding": "causal"}, NWC, (2, 7, 3)),
    ({"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, NWC, (2, 7, 3)),
    ({"filters": 4, "kernel_size": 2, "groups": 2, "dilation_rate": 3}, NWC, (2, 4, 4)),
    ({"filters": 4, "kernel_size": 2, "groups": 4, "padding": "same", "use_bias": False}, NWC, (2, 7, 4)),
    ({"filters": 3, "kernel_size": 3, "data_format": "channels_first", "activation": "tanh"}, (2, 4, 7), (2, 3, 5)),
], ids=["valid", "same_s2", "causal", "causal_dilated", "groups_dilated", "depthwise_groups", "channels_first"])
def test_conv1d(kwargs, input_shape, out_shape):
    run_layer_test(conv.Conv1D, kwargs, input_shape, expected_output_shape=out_shape,
                   expected_num_weights=2 if kwargs.get("use_bias", True) else 1, custom_objects=CUSTOM)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"filters": 2, "kernel_size": 2, **ZEROS}, NDHWC, (2, 3, 4, 4, 2)),
    ({"filters": 2, "kernel_size": (2, 3, 3), "strides": 2, "padding": "same", **ZEROS}, NDHWC, (2, 2, 3, 3, 2)),
    ({"filters": 4, "kernel_size": 2, "groups": 2, "dilation_rate": (1, 2, 1), **ZEROS}, NDHWC, (2, 3, 3, 4, 4)),
], ids=["valid", "same_s2", "groups_dilated"])
def test_conv3d(kwargs, input_shape, out_shape):
    run_layer_test(conv.Conv3D, kwargs, input_shape, expected_output_shape=out_shape, custom_objects=CUSTOM)


def test_conv1d_causal_sees_only_the_past():
    layer = conv.Conv1D(1, 3, padding="causal", use_bias=False, kernel_initializer="ones")
    x = np.zeros((1, 6, 1), "float32")
    x[0, 3, 0] = 1.0
    y = np.asarray(layer(x))[0, :, 0]
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 1])


# -- transposed ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"filters": 3, "kernel_size": 3}, NWC, (2, 9, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2}, NWC, (2, 15, 3)),
    ({"filters": 3, "kernel_size": 2, "strides": 3}, NWC, (2, 21, 3)),  # valid, stride > kernel
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, NWC, (2, 14, 3)),
    ({"filters": 3, "kernel_size": 4, "strides": 3, "padding": "same", "output_padding": 1}, NWC, (2, 19, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1}, NWC, (2, 16, 3)),
    ({"filters": 3, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, NWC, (2, 7, 3)),
], ids=["valid", "valid_s2", "valid_s3_k2", "same_s2", "same_s3_outpad", "valid_s2_outpad", "dilated_same"])
def test_conv1d_transpose(kwargs, input_shape, out_shape):
    run_layer_test(conv.Conv1DTranspose, kwargs, input_shape, expected_output_shape=out_shape,
                   custom_objects=CUSTOM)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"filters": 3, "kernel_size": 3, **ZEROS}, NHWC, (2, 7, 7, 3)),
    ({"filters": 3, "kernel_size": (3, 2), "strides": (2, 1), "padding": "same", **ZEROS}, NHWC, (2, 10, 5, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": (1, 0), **ZEROS}, NHWC, (2, 12, 11, 3)),
    ({"filters": 3, "kernel_size": 3, "dilation_rate": 2, "activation": "relu", **ZEROS}, NHWC, (2, 9, 9, 3)),
    ({"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "data_format": "channels_first",
      "use_bias": False, **ZEROS}, NCHW, (2, 3, 10, 10)),
], ids=["valid", "same_rect", "outpad", "dilated_relu", "channels_first_same"])
def test_conv2d_transpose(kwargs, input_shape, out_shape):
    run_layer_test(conv.Conv2DTranspose, kwargs, input_shape, expected_output_shape=out_shape,
                   custom_objects=CUSTOM)


@pytest.mark.parametrize("kwargs, out_shape", [
    ({"filters": 2, "kernel_size": 2, **ZEROS}, (2, 5, 6, 6, 2)),
    ({"filters": 2, "kernel_size": (2, 3, 3), "strides": (1, 2, 2), "padding": "same", **ZEROS}, (2, 4, 10, 10, 2)),
], ids=["valid", "same_s2"])
def test_conv3d_transpose(kwargs, out_shape):
    run_layer_test(conv.Conv3DTranspose, kwargs, NDHWC, expected_output_shape=out_shape,
                   custom_objects={**CUSTOM, "Conv3DTranspose": conv.Conv3DTranspose})


def test_conv2d_transpose_kernel_layout_is_keras():
    layer = conv.Conv2DTranspose(5, (3, 2))
    layer(np.zeros(NHWC, "float32"))
    assert [w.shape for w in layer.get_weights()] == [(3, 2, 5, 4), (5,)]
    k = keras.layers.Conv2DTranspose(5, (3, 2))
    k.build((None, 5, 5, 4))
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in k.get_weights()]


# -- depthwise / separable -----------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"kernel_size": 3, **DW_ZEROS}, NHWC, (2, 3, 3, 4)),
    ({"kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same", **DW_ZEROS}, NHWC, (2, 3, 3, 8)),
    ({"kernel_size": (3, 2), "depth_multiplier": 3, "dilation_rate": 2, **DW_ZEROS}, NHWC, (2, 1, 3, 12)),
    ({"kernel_size": 3, "depth_multiplier": 2, "data_format": "channels_first", "use_bias": False, **DW_ZEROS},
     NCHW, (2, 8, 3, 3)),
], ids=["valid", "dm2_same_s2", "dm3_dilated", "channels_first"])
def test_depthwise_conv2d(kwargs, input_shape, out_shape):
    run_layer_test(conv.DepthwiseConv2D, kwargs, input_shape, expected_output_shape=out_shape,
                   custom_objects=CUSTOM)


def test_depthwise_conv1d():
    run_layer_test(conv.DepthwiseConv1D, {"kernel_size": 3, "depth_multiplier": 2, "padding": "same"}, NWC,
                   expected_output_shape=(2, 7, 8), custom_objects=CUSTOM)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", [
    ({"filters": 5, "kernel_size": 3, **SEP_ZEROS}, NHWC, (2, 3, 3, 5)),
    ({"filters": 5, "kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same", **SEP_ZEROS},
     NHWC, (2, 3, 3, 5)),
    ({"filters": 5, "kernel_size": 2, "dilation_rate": 2, "use_bias": False, "activation": "relu", **SEP_ZEROS},
     NHWC, (2, 3, 3, 5)),
], ids=["valid", "dm2_same_s2", "dilated_relu"])
def test_separable_conv2d(kwargs, input_shape, out_shape):
    run_layer_test(conv.SeparableConv2D, kwargs, input_shape, expected_output_shape=out_shape,
                   custom_objects=CUSTOM)


@pytest.mark.parametrize("kwargs, out_shape", [
    ({"filters": 5, "kernel_size": 3}, (2, 5, 5)),
    ({"filters": 5, "kernel_size": 3, "depth_multiplier": 3, "strides": 2, "padding": "same"}, (2, 4, 5)),
], ids=["valid", "dm3_same_s2"])
def test_separable_conv1d(kwargs, out_shape):
    run_layer_test(conv.SeparableConv1D, kwargs, NWC, expected_output_shape=out_shape, custom_objects=CUSTOM)


# -- bad arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, kwargs, word", [
    (conv.Conv2D, {"filters": 6, "kernel_size": 3, "groups": 4}, "groups"),
    (conv.Conv1D, {"filters": 0, "kernel_size": 3}, "filters"),
    (conv.Conv2D, {"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding"),
    (conv.Conv2D, {"filters": 2, "kernel_size": 3, "data_format": "channels_middle"}, "data_format"),
    (conv.Conv3D, {"filters": 2, "kernel_size": (3, 3)}, "kernel_size"),
    (conv.Conv1D, {"filters": 2, "kernel_size": 3, "strides": 2, "dilation_rate": 2}, "dilation_rate"),
    (conv.Conv2DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2}, "output_padding"),
    (conv.DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 0}, "depth_multiplier"),
    (conv.SeparableConv2D, {"filters": 2, "kernel_size": 3, "padding": "causal"}, "padding"),
    (conv.Conv2D, {"filters": 2, "kernel_size": 3, "strides": 0}, "strides"),
])
def test_bad_arguments_raise_config_error(cls, kwargs, word):
    with pytest.raises(ConfigError, match=word):
        cls(**kwargs)


def test_groups_must_divide_input_channels():
    with pytest.raises(ValueError, match="groups"):
        conv.Conv2D(6, 3, groups=3)(np.zeros(NHWC, "float32"))
