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

from .helpers import keras, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

NHWC = (2, 5, 5, 4)
NCHW = (2, 4, 5, 5)
ZEROS = {"kernel_initializer": "zeros"}


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
