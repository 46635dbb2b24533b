"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", 2017).

Inputs are preprocessed with :func:`preprocess_input` ("tf" mode: pixels scaled to [-1, 1]).
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _a_base, imagenet_utils

__all__ = ["Xception", "decode_predictions", "preprocess_input"]

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/xception/"
                "xception_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/xception/"
                       "xception_weights_tf_dim_ordering_tf_kernels_notop.h5")


def _bn(x, name=None):
    return layers.BatchNormalization(axis=-1, name=name)(x)


def _sepconv_bn(x, filters, name):
    x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return _bn(x, f"{name}_bn")


def _residual(x, filters):
    """The strided 1x1 projection of a downsampling block's shortcut (named automatically, as in Keras)."""
    residual = layers.Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    return _bn(residual)


def _entry_block(x, filters, block, first_act: bool = True):
    """Two separable convolutions and a strided max pool, plus the projected shortcut."""
    residual = _residual(x, filters[1])
    prefix = f"block{block}"
    if first_act:
        x = layers.Activation("relu", name=f"{prefix}_sepconv1_act")(x)
    x = _sepconv_bn(x, filters[0], f"{prefix}_sepconv1")
    x = layers.Activation("relu", name=f"{prefix}_sepconv2_act")(x)
    x = _sepconv_bn(x, filters[1], f"{prefix}_sepconv2")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"{prefix}_pool")(x)
    return layers.add([x, residual])


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="xception"):
    """Xception; default input 299x299, smallest 71x71.

    Example:
        >>> model = kerasish.applications.Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
        >>> model.output_shape
        (None, 3, 3, 2048)
    """
    img_input = _a_base.start(name, weights=weights, include_top=include_top, classes=classes, pooling=pooling,
                              input_tensor=input_tensor, input_shape=input_shape, default_size=299, min_size=71)
    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = _bn(x, "block1_conv1_bn")
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = _bn(x, "block1_conv2_bn")
    x = layers.Activation("relu", name="block1_conv2_act")(x)

    # entry flow; block 2 has no leading relu (Keras names its middle relu "block2_sepconv2_act" all the same)
    x = _entry_block(x, (128, 128), 2, first_act=False)
    x = _entry_block(x, (256, 256), 3)
    x = _entry_block(x, (728, 728), 4)

    for i in range(8):  # middle flow
        residual = x
        prefix = f"block{i + 5}"
        for j in range(1, 4):
            x = layers.Activation("relu", name=f"{prefix}_sepconv{j}_act")(x)
            x = _sepconv_bn(x, 728, f"{prefix}_sepconv{j}")
        x = layers.add([x, residual])

    x = _entry_block(x, (728, 1024), 13)  # exit flow
    x = _sepconv_bn(x, 1536, "block14_sepconv1")
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = _sepconv_bn(x, 2048, "block14_sepconv2")
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)

    x = _a_base.head(x, include_top=include_top, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation, weights=weights)
    return _a_base.finish(img_input, input_tensor, x, name, weights=weights, include_top=include_top,
                          origin_top=WEIGHTS_PATH, hash_top="0a58e3b7378bc2990ea3b43d5981f1f6",
                          origin_notop=WEIGHTS_PATH_NO_TOP, hash_notop="b0042744bf5b25fce3cb969f33bebb97")


_a_base.add_args_doc(Xception, default_size=299, min_size=71)


def preprocess_input(x, data_format=None):
    """Xception's preprocessing: ``imagenet_utils.preprocess_input`` in "tf" mode (pixels to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
