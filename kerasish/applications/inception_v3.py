"""InceptionV3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2016).

Inputs are preprocessed with :func:`preprocess_input` ("tf" mode: pixels scaled to [-1, 1]).
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _a_base, imagenet_utils

__all__ = ["InceptionV3", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                "inception_v3_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                       "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")

_CHANNELS = 3


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """A bias-free convolution, batch norm without scale, relu; with ``name``, the layers are ``{name}_conv``,
    ``{name}_bn`` and ``name``, otherwise named automatically."""
    conv_name, bn_name = (f"{name}_conv", f"{name}_bn") if name is not None else (None, None)
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
                      name=conv_name)(x)
    x = layers.BatchNormalization(axis=_CHANNELS, scale=False, name=bn_name)(x)
    return layers.Activation("relu", name=name)(x)


def _avg_pool_branch(x, filters):
    x = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(x, filters, 1, 1)


def _block_35(x, pool_filters, name):
    """The 35x35 module: 1x1, 5x5, double 3x3 and pooled branches."""
    branch1x1 = conv2d_bn(x, 64, 1, 1)
    branch5x5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch_pool = _avg_pool_branch(x, pool_filters)
    return layers.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=_CHANNELS, name=name)


def _block_17(x, width, name):
    """The 17x17 module: 1x1, factorized 7x7 (``width`` wide inside), double factorized 7x7 and pooled
    branches."""
    branch1x1 = conv2d_bn(x, 192, 1, 1)
    branch7x7 = conv2d_bn(x, width, 1, 1)
    branch7x7 = conv2d_bn(branch7x7, width, 1, 7)
    branch7x7 = conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = conv2d_bn(x, width, 1, 1)
    for filters, rows, cols in ((width, 7, 1), (width, 1, 7), (width, 7, 1), (192, 1, 7)):
        branch7x7dbl = conv2d_bn(branch7x7dbl, filters, rows, cols)
    branch_pool = _avg_pool_branch(x, 192)
    return layers.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=_CHANNELS, name=name)


def _block_8(x, i):
    """The 8x8 module with split 1x3 / 3x1 branches (``mixed9``, ``mixed10``)."""
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3 = layers.concatenate([conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)],
                                   axis=_CHANNELS, name=f"mixed9_{i}")
    branch3x3dbl = conv2d_bn(x, 448, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 384, 3, 3)
    branch3x3dbl = layers.concatenate([conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)],
                                      axis=_CHANNELS)
    branch_pool = _avg_pool_branch(x, 192)
    return layers.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=_CHANNELS,
                              name=f"mixed{9 + i}")


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="inception_v3"):
    """InceptionV3; default input 299x299, smallest 75x75.

    Example:
        >>> model = kerasish.applications.InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3))
        >>> model.output_shape
        (None, 1, 1, 2048)
    """
    img_input = _a_base.start(name, weights=weights, include_top=include_top, classes=classes, pooling=pooling,
                              input_tensor=input_tensor, input_shape=input_shape, default_size=299, min_size=75)
    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

    for i, pool_filters in enumerate((32, 64, 64)):  # mixed0..2: 35x35
        x = _block_35(x, pool_filters, f"mixed{i}")

    branch3x3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")  # mixed3: to 17x17
    branch3x3dbl = conv2d_bn(x, 64, 1, 1)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.concatenate([branch3x3, branch3x3dbl, branch_pool], axis=_CHANNELS, name="mixed3")

    for i, width in enumerate((128, 160, 160, 192)):  # mixed4..7: 17x17
        x = _block_17(x, width, f"mixed{4 + i}")

    branch3x3 = conv2d_bn(x, 192, 1, 1)  # mixed8: to 8x8
    branch3x3 = conv2d_bn(branch3x3, 320, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.concatenate([branch3x3, branch7x7x3, branch_pool], axis=_CHANNELS, name="mixed8")

    for i in range(2):  # mixed9, mixed10: 8x8
        x = _block_8(x, i)

    x = _a_base.head(x, include_top=include_top, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation, weights=weights)
    return _a_base.finish(img_input, input_tensor, x, name, weights=weights, include_top=include_top,
                          origin_top=WEIGHTS_PATH, hash_top="9a0d58056eeedaa3f26cb7ebd46da564",
                          origin_notop=WEIGHTS_PATH_NO_TOP, hash_notop="bcbd6486424b2319ff4ef7d526e38f63")


_a_base.add_args_doc(InceptionV3, default_size=299, min_size=75)


def preprocess_input(x, data_format=None):
    """InceptionV3's preprocessing: ``imagenet_utils.preprocess_input`` in "tf" mode (pixels to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
