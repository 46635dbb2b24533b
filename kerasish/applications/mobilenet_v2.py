"""MobileNetV2: inverted residual blocks with linear bottlenecks.

Reference: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (CVPR 2018),
https://arxiv.org/abs/1801.04381.
"""

from __future__ import annotations

import warnings

from kerasish import layers
from kerasish.applications import _b_common as common
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError

__all__ = ["MobileNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"

_IMAGENET_SIZES = (96, 128, 160, 192, 224)
_IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)

# (output filters before alpha, stride, expansion) of the 17 inverted residual blocks
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
           (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
           (320, 1, 6))


def _bn(name):
    return layers.BatchNormalization(axis=common.CHANNEL_AXIS, epsilon=1e-3, momentum=0.999, name=name)


def _check_input_tensor(input_shape, input_tensor):
    """Keras's rule when both are given: the tensor's width must equal ``input_shape[1]``."""
    if input_shape is None or input_tensor is None:
        return
    if not common.is_symbolic(input_tensor):
        raise ConfigError("MobileNetV2: input_tensor must be a symbolic tensor (kerasish.Input(...)); got "
                          f"{type(input_tensor).__name__}.")
    if input_tensor.shape[2] != tuple(input_shape)[1]:
        raise ConfigError("MobileNetV2: input_tensor.shape[2] must equal input_shape[1]; got "
                          f"input_tensor.shape={input_tensor.shape}, input_shape={input_shape}.")


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    """Build MobileNetV2, optionally with Keras's ImageNet weights.

    Expects inputs scaled to [-1, 1] (:func:`preprocess_input`).

    Args:
        input_shape: ``(height, width, channels)`` without the batch axis; only free when
            ``include_top=False``. Sides of at least 32. When None and ``input_tensor`` is given, its
            size picks the ImageNet weights' size.
        alpha: width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4); above 1 it
            also widens the last convolution.
        include_top: whether to end with the dense classifier.
        weights: None (random), ``"imagenet"`` or the path of a weights file.
        input_tensor: a symbolic tensor to build the model on instead of a new ``Input``.
        pooling: with ``include_top=False``: None (the 4D feature map), ``"avg"`` or ``"max"``.
        classes: number of classes of the classifier.
        classifier_activation: the classifier's activation (None gives logits).
        name: the model's name; defaults to ``"mobilenetv2_{alpha:.2f}_{rows}"``.

    Returns:
        A functional ``kerasish.Model`` with Keras's layer names.

    Example:
        >>> model = MobileNetV2(weights=None, include_top=False, input_shape=(96, 96, 3), pooling="avg")
    """
    _weights.check_weights_argument(weights, include_top, classes, name="MobileNetV2")
    common.check_pooling(pooling, "MobileNetV2")
    _check_input_tensor(input_shape, input_tensor)
    rows, cols = common.input_size(input_shape, input_tensor)
    default_size = rows if rows == cols and rows in _IMAGENET_SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=common.DATA_FORMAT, require_flatten=include_top,
                                                    weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if alpha not in _IMAGENET_ALPHAS:
            raise ConfigError("MobileNetV2: ImageNet weights exist for alpha 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4 "
                              f"only; got alpha={alpha!r}.")
        if rows != cols or rows not in _IMAGENET_SIZES:
            rows = 224
            warnings.warn("MobileNetV2: input_shape is undefined, non-square or not one of 96, 128, 160, 192, "
                          "224: loading the weights made for 224x224 inputs.", stacklevel=2)

    img_input = common.image_input(input_shape, input_tensor, "MobileNetV2")
    x = layers.Conv2D(common.make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same",
                      use_bias=False, name="Conv1")(img_input)
    x = _bn("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, expansion=expansion, stride=stride, alpha=alpha, filters=filters,
                                block_id=block_id)

    # the last convolution keeps 1280 filters unless alpha widens the network (as in the paper)
    last_filters = common.make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = _bn("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = common.pool_features(x, pooling)

    model = common.functional(input_tensor, img_input, x, name or f"mobilenetv2_{alpha:0.2f}_{rows}")
    stem = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
    _weights.load_weights(model, weights, include_top=include_top, fname_top=f"{stem}.h5",
                          origin_top=f"{BASE_WEIGHT_PATH}{stem}.h5", fname_notop=f"{stem}_no_top.h5",
                          origin_notop=f"{BASE_WEIGHT_PATH}{stem}_no_top.h5")
    return model


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Expand (1x1, except block 0), depthwise 3x3, project (1x1, linear); a residual ``Add`` when the
    shapes allow it."""
    in_channels = inputs.shape[common.CHANNEL_AXIS]
    pointwise_filters = common.make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=f"{prefix}expand")(x)
        x = _bn(f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = _bn(f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def preprocess_input(x, data_format=None):
    """Scale pixels from [0, 255] to [-1, 1], the input MobileNetV2's ImageNet weights expect.

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
