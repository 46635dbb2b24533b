"""MobileNet (v1): depthwise-separable convolutions with a width multiplier ``alpha``.

Reference: Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications" (2017), https://arxiv.org/abs/1704.04861.
"""

from __future__ import annotations

import warnings

from kerasish import layers
from kerasish.applications import _b_common as common
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError

__all__ = ["MobileNet", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"

_IMAGENET_SIZES = (128, 160, 192, 224)
_IMAGENET_ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}

# (pointwise filters before alpha, stride) of the 13 depthwise-separable blocks
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
           (512, 1), (1024, 2), (1024, 1))


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", name=None):
    """Build MobileNet, optionally with Keras's ImageNet weights.

    Expects inputs scaled to [-1, 1] (:func:`preprocess_input`).

    Args:
        input_shape: ``(height, width, channels)`` without the batch axis; only free when
            ``include_top=False`` (else ``(224, 224, 3)`` or another ImageNet size). Sides of at least 32.
        alpha: width multiplier: every layer's filter count is scaled by it (ImageNet weights exist for
            0.25, 0.5, 0.75 and 1.0).
        depth_multiplier: channels each depthwise convolution makes per input channel (1 for ImageNet weights).
        dropout: dropout rate before the classifier.
        include_top: whether to end with the 1x1-convolution classifier.
        weights: None (random), ``"imagenet"`` or the path of a weights file.
        input_tensor: a symbolic tensor to build the model on instead of a new ``Input``.
        pooling: with ``include_top=False``: None (the 4D feature map), ``"avg"`` or ``"max"`` (global pooling).
        classes: number of classes of the classifier.
        classifier_activation: the classifier's activation (None gives logits).
        name: the model's name; defaults to ``"mobilenet_{alpha:.2f}_{rows}"``.

    Returns:
        A functional ``kerasish.Model`` with Keras's layer names.

    Example:
        >>> model = MobileNet(weights=None, input_shape=(128, 128, 3), alpha=0.5, classes=10)
    """
    _weights.check_weights_argument(weights, include_top, classes, name="MobileNet")
    common.check_pooling(pooling, "MobileNet")
    rows, cols = common.input_size(input_shape, None)
    default_size = rows if rows == cols and rows in _IMAGENET_SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=common.DATA_FORMAT, require_flatten=include_top,
                                                    weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ConfigError("MobileNet: ImageNet weights need depth_multiplier=1; "
                              f"got depth_multiplier={depth_multiplier!r}.")
        if alpha not in _IMAGENET_ALPHAS:
            raise ConfigError("MobileNet: ImageNet weights exist for alpha 0.25, 0.5, 0.75 and 1.0 only; "
                              f"got alpha={alpha!r}.")
        if rows != cols or rows not in _IMAGENET_SIZES:
            rows = 224
            warnings.warn("MobileNet: input_shape is undefined, non-square or not one of 128, 160, 192, 224: "
                          "loading the weights made for 224x224 inputs.", stacklevel=2)

    img_input = common.image_input(input_shape, input_tensor, "MobileNet")
    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = common.pool_features(x, pooling)

    model = common.functional(input_tensor, img_input, x, name or f"mobilenet_{alpha:0.2f}_{rows}")
    if weights == "imagenet":
        alpha_text = _IMAGENET_ALPHAS[alpha]
        top, notop = f"mobilenet_{alpha_text}_{rows}_tf.h5", f"mobilenet_{alpha_text}_{rows}_tf_no_top.h5"
        _weights.load_weights(model, weights, include_top=include_top, fname_top=top,
                              origin_top=BASE_WEIGHT_PATH + top, fname_notop=notop,
                              origin_notop=BASE_WEIGHT_PATH + notop)
    else:
        _weights.load_weights(model, weights, include_top=include_top)
    return model


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    """The stem: a convolution (``alpha``-scaled filters), batch norm and ReLU6."""
    x = layers.Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False, strides=strides,
                      name="conv1")(inputs)
    x = layers.BatchNormalization(axis=common.CHANNEL_AXIS, name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1, strides=(1, 1), block_id=1):
    """Depthwise 3x3 conv, BN, ReLU6, then pointwise 1x1 conv, BN, ReLU6; a strided block pads bottom/right
    by one and convolves "valid" (TensorFlow's "same" for even sizes)."""
    x = inputs
    if strides != (1, 1):
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid",
                               depth_multiplier=depth_multiplier, strides=strides, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=common.CHANNEL_AXIS, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(pointwise_conv_filters * alpha), (1, 1), padding="same", use_bias=False, strides=(1, 1),
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=common.CHANNEL_AXIS, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x, data_format=None):
    """Scale pixels from [0, 255] to [-1, 1], the input MobileNet's ImageNet weights expect.

    Args:
        x: images as a float NumPy array or tensor (3D or 4D), RGB, values in [0, 255].
        data_format: ``"channels_last"`` / ``"channels_first"`` or None for the global setting.

    Returns:
        The scaled images.
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (shape ``(batch, 1000)``), as
    ``(class_id, class_name, score)`` tuples, best first."""
    return imagenet_utils.decode_predictions(preds, top=top)
