"""MobileNetV3 Small and Large: inverted residual blocks with squeeze-and-excite and hard-swish.

Reference: Howard et al., "Searching for MobileNetV3" (ICCV 2019), https://arxiv.org/abs/1905.02244.

By default the models rescale their input themselves (a ``Rescaling`` layer maps [0, 255] to [-1, 1]), so
:func:`preprocess_input` returns its input unchanged.
"""

from __future__ import annotations

import warnings

from kerasish import layers
from kerasish.applications import _b_common as common
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError

__all__ = ["MobileNetV3Large", "MobileNetV3Small", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/"

# "{type}[_minimalistic]_224_{alpha}_float" -> (MD5 of the file with the top, MD5 of the file without)
WEIGHTS_HASHES = {
    "large_224_0.75_float": ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
    "large_224_1.0_float": ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
    "large_minimalistic_224_1.0_float": ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973"),
    "small_224_0.75_float": ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
    "small_224_1.0_float": ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "small_minimalistic_224_1.0_float": ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4"),
}

# Blocks as (expansion, output filters before alpha, kernel, stride, squeeze-excite?, activation); kernel
# None, "se" and "act" mean the variant's own choice (5 / with SE / hard-swish, or 3 / none / ReLU when
# minimalistic), the rest are fixed.
_SMALL = ((1, 16, 3, 2, "se", "relu"), (72 / 16, 24, 3, 2, None, "relu"), (88 / 24, 24, 3, 1, None, "relu"),
          (4, 40, None, 2, "se", "act"), (6, 40, None, 1, "se", "act"), (6, 40, None, 1, "se", "act"),
          (3, 48, None, 1, "se", "act"), (3, 48, None, 1, "se", "act"), (6, 96, None, 2, "se", "act"),
          (6, 96, None, 1, "se", "act"), (6, 96, None, 1, "se", "act"))
_LARGE = ((1, 16, 3, 1, None, "relu"), (4, 24, 3, 2, None, "relu"), (3, 24, 3, 1, None, "relu"),
          (3, 40, None, 2, "se", "relu"), (3, 40, None, 1, "se", "relu"), (3, 40, None, 1, "se", "relu"),
          (6, 80, 3, 2, None, "act"), (2.5, 80, 3, 1, None, "act"), (2.3, 80, 3, 1, None, "act"),
          (2.3, 80, 3, 1, None, "act"), (6, 112, 3, 1, "se", "act"), (6, 112, 3, 1, "se", "act"),
          (6, 160, None, 2, "se", "act"), (6, 160, None, 1, "se", "act"), (6, 160, None, 1, "se", "act"))


def _relu(x):
    return layers.ReLU()(x)


def _hard_sigmoid(x):
    return layers.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)


def _hard_swish(x):
    return layers.Activation("hard_swish")(x)


def _bn(name):
    return layers.BatchNormalization(axis=common.CHANNEL_AXIS, epsilon=1e-3, momentum=0.999, name=name)


def _check_inputs(input_shape, input_tensor, name):
    """Keras's checks of ``input_shape`` against ``input_tensor``; returns the shape to build."""
    if input_tensor is not None and not common.is_symbolic(input_tensor):
        raise ConfigError(f"{name}: input_tensor must be a symbolic tensor (kerasish.Input(...)); got "
                          f"{type(input_tensor).__name__}.")
    if input_shape is not None and input_tensor is not None and input_tensor.shape[2] != tuple(input_shape)[1]:
        raise ConfigError(f"{name}: input_shape[1] must equal input_tensor.shape[2]; got "
                          f"input_shape={input_shape}, input_tensor.shape={input_tensor.shape}.")
    if input_shape is None:
        if input_tensor is not None:
            # Keras builds (cols, rows, 3) here: only the tensor is used, so the order does not matter
            input_shape = (input_tensor.shape[2], input_tensor.shape[1], 3)
        else:
            input_shape = (None, None, 3)
    rows, cols = tuple(input_shape)[0], tuple(input_shape)[1]
    if (rows and rows < 32) or (cols and cols < 32):
        raise ConfigError(f"{name}: input size must be at least 32x32; got input_shape={input_shape}.")
    return tuple(input_shape)


def _mobilenet_v3(blocks, last_point_ch, input_shape, alpha, model_type, minimalistic, include_top, weights,
                  input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing, name):
    label = "MobileNetV3" + model_type.capitalize()
    _weights.check_weights_argument(weights, include_top, classes, name=label)
    common.check_pooling(pooling, label)
    input_shape = _check_inputs(input_shape, input_tensor, label)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if (minimalistic and alpha != 1.0) or (not minimalistic and alpha not in (0.75, 1.0)):
            raise ConfigError(f"{label}: ImageNet weights exist for alpha 0.75 and 1.0 (1.0 only when "
                              f"minimalistic); got alpha={alpha!r}, minimalistic={minimalistic!r}.")
        if rows != cols or rows != 224:
            warnings.warn(f"{label}: input_shape is undefined, non-square or not 224x224: loading the weights "
                          "made for 224x224 inputs.", stacklevel=3)

    img_input = common.image_input(input_shape, input_tensor, label)
    if minimalistic:
        kernel, activation, se_ratio = 3, _relu, None
    else:
        kernel, activation, se_ratio = 5, _hard_swish, 0.25

    x = img_input
    if include_preprocessing:
        x = layers.Rescaling(scale=1.0 / 127.5, offset=-1.0)(x)
    x = layers.Conv2D(16, kernel_size=3, strides=(2, 2), padding="same", use_bias=False, name="conv")(x)
    x = _bn("conv_bn")(x)
    x = activation(x)
    for block_id, (expansion, filters, block_kernel, stride, se, act) in enumerate(blocks):
        x = _inverted_res_block(x, expansion, common.make_divisible(filters * alpha), block_kernel or kernel,
                                stride, se_ratio if se else None, activation if act == "act" else _relu, block_id)

    last_conv_ch = common.make_divisible(x.shape[common.CHANNEL_AXIS] * 6)
    if alpha > 1.0:  # a wider network also widens the penultimate layer
        last_point_ch = common.make_divisible(last_point_ch * alpha)
    x = layers.Conv2D(last_conv_ch, kernel_size=1, padding="same", use_bias=False, name="conv_1")(x)
    x = _bn("conv_1_bn")(x)
    x = activation(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Conv2D(last_point_ch, kernel_size=1, padding="same", use_bias=True, name="conv_2")(x)
        x = activation(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate)(x)
        x = layers.Conv2D(classes, kernel_size=1, padding="same", name="logits")(x)
        x = layers.Flatten()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = common.pool_features(x, pooling, avg_name="avg_pool", max_name="max_pool")

    model = common.functional(input_tensor, img_input, x, name)
    key = f"{model_type}{'_minimalistic' if minimalistic else ''}_224_{alpha}_float"
    hash_top, hash_notop = WEIGHTS_HASHES.get(key, (None, None))
    top, notop = f"weights_mobilenet_v3_{key}.h5", f"weights_mobilenet_v3_{key}_no_top_v2.h5"
    _weights.load_weights(model, weights, include_top=include_top, fname_top=top, origin_top=BASE_WEIGHT_PATH + top,
                          hash_top=hash_top, fname_notop=notop, origin_notop=BASE_WEIGHT_PATH + notop,
                          hash_notop=hash_notop)
    return model


def MobileNetV3Small(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights="imagenet",
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
                     classifier_activation="softmax", include_preprocessing=True, name="MobileNetV3Small"):
    """Build MobileNetV3Small, optionally with Keras's ImageNet weights.

    Args:
        input_shape: ``(height, width, channels)`` without the batch axis (sides of at least 32); None takes
            ``input_tensor``'s size, or any size.
        alpha: width multiplier (ImageNet weights: 0.75 or 1.0; 1.0 when minimalistic).
        minimalistic: the variant without squeeze-and-excite, hard-swish or 5x5 kernels.
        include_top: whether to end with the classifier.
        weights: None (random), ``"imagenet"`` or the path of a weights file.
        input_tensor: a symbolic tensor to build the model on instead of a new ``Input``.
        classes: number of classes of the classifier.
        pooling: with ``include_top=False``: None (the 4D feature map), ``"avg"`` or ``"max"``.
        dropout_rate: dropout before the last convolution of the classifier (0 leaves the layer out).
        classifier_activation: the classifier's activation (None gives logits).
        include_preprocessing: whether the model first rescales [0, 255] pixels to [-1, 1]; without it the
            model expects inputs in [-1, 1].
        name: the model's name.

    Returns:
        A functional ``kerasish.Model`` with Keras's layer names.

    Example:
        >>> model = MobileNetV3Small(weights=None, input_shape=(96, 96, 3), classes=10)
    """
    return _mobilenet_v3(_SMALL, 1024, input_shape, alpha, "small", minimalistic, include_top, weights,
                         input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                         name)


def MobileNetV3Large(input_shape=None, alpha=1.0, minimalistic=False, include_top=True, weights="imagenet",
                     input_tensor=None, classes=1000, pooling=None, dropout_rate=0.2,
                     classifier_activation="softmax", include_preprocessing=True, name="MobileNetV3Large"):
    """Build MobileNetV3Large, optionally with Keras's ImageNet weights.

    Takes the same arguments as :func:`MobileNetV3Small`; the network is deeper (15 blocks) and its
    penultimate layer has 1280 channels instead of 1024.

    Example:
        >>> model = MobileNetV3Large(weights=None, include_top=False, pooling="avg")
    """
    return _mobilenet_v3(_LARGE, 1280, input_shape, alpha, "large", minimalistic, include_top, weights,
                         input_tensor, classes, pooling, dropout_rate, classifier_activation, include_preprocessing,
                         name)


def _se_block(inputs, filters, se_ratio, prefix):
    """Squeeze-and-excite: channel weights from the pooled features, through a bottleneck and hard-sigmoid."""
    x = layers.GlobalAveragePooling2D(keepdims=True, name=f"{prefix}squeeze_excite_avg_pool")(inputs)
    x = layers.Conv2D(common.make_divisible(filters * se_ratio), kernel_size=1, padding="same",
                      name=f"{prefix}squeeze_excite_conv")(x)
    x = layers.ReLU(name=f"{prefix}squeeze_excite_relu")(x)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", name=f"{prefix}squeeze_excite_conv_1")(x)
    x = _hard_sigmoid(x)
    return layers.Multiply(name=f"{prefix}squeeze_excite_mul")([inputs, x])


def _inverted_res_block(x, expansion, filters, kernel_size, stride, se_ratio, activation, block_id):
    """Expand (1x1, except block 0), depthwise, optional squeeze-excite, project (1x1, linear), residual."""
    shortcut = x
    in_filters = x.shape[common.CHANNEL_AXIS]
    prefix = f"expanded_conv_{block_id}_" if block_id else "expanded_conv_"
    if block_id:
        x = layers.Conv2D(common.make_divisible(in_filters * expansion), kernel_size=1, padding="same",
                          use_bias=False, name=f"{prefix}expand")(x)
        x = _bn(f"{prefix}expand_bn")(x)
        x = activation(x)
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{prefix}depthwise_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=stride, padding="same" if stride == 1 else "valid",
                               use_bias=False, name=f"{prefix}depthwise")(x)
    x = _bn(f"{prefix}depthwise_bn")(x)
    x = activation(x)
    if se_ratio:
        x = _se_block(x, common.make_divisible(in_filters * expansion), se_ratio, prefix)
    x = layers.Conv2D(filters, kernel_size=1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = _bn(f"{prefix}project_bn")(x)
    if stride == 1 and in_filters == filters:
        x = layers.Add(name=f"{prefix}add")([shortcut, x])
    return x


def preprocess_input(x, data_format=None):
    """Return ``x`` unchanged: MobileNetV3 models rescale their input themselves (``include_preprocessing``).

    Kept so that code written for the other families runs unchanged.

    Args:
        x: images as a NumPy array or tensor.
        data_format: ignored (accepted for the common signature).

    Returns:
        ``x``.
    """
    return x


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (shape ``(batch, 1000)``), as
    ``(class_id, class_name, score)`` tuples, best first."""
    return imagenet_utils.decode_predictions(preds, top=top)
