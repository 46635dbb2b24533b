"""EfficientNet B0 to B7 (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", ICML 2019).

Keras's architecture, layer names and ImageNet weights. The models take images with values in [0, 255]:
their first layers rescale and normalize them, so :func:`preprocess_input` returns its input unchanged.

Example:
    >>> model = kerasish.applications.EfficientNetB0(weights=None, include_top=False, pooling="avg",
    ...                                              input_shape=(64, 64, 3))
    >>> model.output_shape
    (None, 1280)
"""

from __future__ import annotations

import math

from kerasish import layers
from kerasish.applications import _c_common as common
from kerasish.applications import imagenet_utils
from kerasish.errors import ConfigError
from kerasish.models import Model

__all__ = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
           "EfficientNetB5", "EfficientNetB6", "EfficientNetB7", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/keras-applications/"

# (file with the classifier, file without it): MD5 hashes Keras publishes.
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}

# The seven stages of B0, scaled in width and depth by the other variants.
_STAGE_KEYS = ("kernel_size", "repeats", "filters_in", "filters_out", "expand_ratio", "strides")
DEFAULT_BLOCKS_ARGS = [
    {**dict(zip(_STAGE_KEYS, stage)), "id_skip": True, "se_ratio": 0.25}
    for stage in ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
                  (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
]

IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]

# name: (width_coefficient, depth_coefficient, default_size, dropout_rate)
_VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}


def _round_filters(filters: float, width_coefficient: float, divisor: int) -> int:
    """Scale a channel count by the width coefficient, to a multiple of ``divisor``, never 10% below."""
    scaled = filters * width_coefficient
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def _round_repeats(repeats: int, depth_coefficient: float) -> int:
    return int(math.ceil(depth_coefficient * repeats))


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16, kernel_size=3,
          strides=1, expand_ratio=1, se_ratio=0.0, id_skip=True):
    """One mobile inverted bottleneck (MBConv) block with squeeze-and-excitation.

    Args:
        inputs: the block's input tensor.
        activation: activation of the expansion, depthwise and squeeze layers.
        drop_rate: dropout rate (whole samples) of the residual branch.
        name: prefix of the block's layer names (``"block1a_"``).
        filters_in, filters_out: channels in and out.
        kernel_size, strides: of the depthwise convolution.
        expand_ratio: the 1x1 expansion multiplies the channels by this (1: no expansion layer).
        se_ratio: squeeze channels as a fraction of ``filters_in`` (0: no squeeze-and-excitation).
        id_skip: add the input to the output when the shapes allow.

    Returns:
        The block's output tensor.
    """
    axis = common.channel_axis()
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                          kernel_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}expand_conv")(x)
        x = layers.BatchNormalization(axis=axis, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)

    # A strided depthwise conv pads explicitly, as TensorFlow's "same" padding does.
    conv_pad = "same"
    if strides == 2:
        x = layers.ZeroPadding2D(padding=common.stride_padding(x, kernel_size), name=f"{name}dwconv_pad")(x)
        conv_pad = "valid"
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=conv_pad, use_bias=False,
                               depthwise_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)

    if 0 < se_ratio <= 1:
        x = _squeeze_excite(x, name, filters, max(1, int(filters_in * se_ratio)), activation, axis)

    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      kernel_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=axis, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def _squeeze_excite(x, name: str, filters: int, filters_se: int, activation, axis: int):
    """Channel attention: global average, a 1x1 bottleneck, and a sigmoid gate multiplied into ``x``."""
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se_shape = (filters, 1, 1) if axis == 1 else (1, 1, filters)
    se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
    se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                       kernel_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                       kernel_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2, drop_connect_rate=0.2,
                 depth_divisor=8, activation="swish", blocks_args="default", name="efficientnet",
                 include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                 classes=1000, classifier_activation="softmax", weights_name=None):
    """An EfficientNet of the given width and depth scaling (the variants' constructors call this).

    Args:
        width_coefficient: multiplies every layer's channels.
        depth_coefficient: multiplies every stage's number of blocks.
        default_size: the default input height and width.
        dropout_rate: dropout before the classifier.
        drop_connect_rate: dropout of the residual branches, growing linearly to this along the network.
        depth_divisor: channel counts are multiples of this.
        activation: the activation of the whole network.
        blocks_args: ``"default"`` or a list of per-stage dicts as ``DEFAULT_BLOCKS_ARGS``.
        name: the model's name.
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation: as in
            :func:`EfficientNetB0`.
        weights_name: the variant (``"b0"`` ...) whose published weights ``weights="imagenet"`` loads.

    Returns:
        A functional ``Model``.
    """
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    common.check_arguments(name, weights, include_top, classes, pooling)
    if weights == "imagenet" and weights_name not in WEIGHTS_HASHES:
        raise ConfigError(f"{name}: no ImageNet weights are published for weights_name={weights_name!r}.")
    for args in blocks_args:
        if args["repeats"] <= 0:
            raise ConfigError(f"EfficientNet: the number of repeats of every stage must be > 0; "
                              f"got repeats={args['repeats']}.")
    input_shape = common.obtain_input_shape(input_shape, default_size, include_top, weights)
    img_input = common.image_input(input_tensor, input_shape)
    axis = common.channel_axis()

    def filters_of(n):
        return _round_filters(n, width_coefficient, depth_divisor)

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=axis)(x)
    if weights == "imagenet":
        # Keras's published weights store the squared std as the Normalization variance while the
        # original network divides by the variance itself: one more 1/sqrt(std) scale makes them agree.
        x = layers.Rescaling([1.0 / math.sqrt(std) for std in IMAGENET_STDDEV_RGB])(x)

    x = layers.ZeroPadding2D(padding=common.stride_padding(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(filters_of(32), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=common.CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=axis, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    total = float(sum(_round_repeats(args["repeats"], depth_coefficient) for args in blocks_args))
    index = 0
    for i, stage in enumerate(blocks_args):
        args = {k: v for k, v in stage.items() if k != "repeats"}
        args["filters_in"], args["filters_out"] = filters_of(stage["filters_in"]), filters_of(stage["filters_out"])
        for j in range(_round_repeats(stage["repeats"], depth_coefficient)):
            if j > 0:  # only a stage's first block changes the resolution and the channels
                args["strides"], args["filters_in"] = 1, args["filters_out"]
            x = block(x, activation, drop_connect_rate * index / total, name=f"block{i + 1}{chr(j + 97)}_", **args)
            index += 1

    x = layers.Conv2D(filters_of(1280), 1, padding="same", use_bias=False,
                      kernel_initializer=common.CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(axis=axis, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer=common.DENSE_KERNEL_INITIALIZER, name="predictions")(x)
    else:
        x = common.pooled(x, pooling)

    model = Model(common.model_inputs(input_tensor, img_input), x, name=name)
    common.load_published(model, weights, include_top=include_top, base_url=BASE_WEIGHTS_PATH, file_stem=name,
                          hashes=WEIGHTS_HASHES.get(weights_name))
    return model


def _variant(key: str):
    width, depth, size, dropout = _VARIANTS[key]

    def constructor(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                    classes=1000, classifier_activation="softmax", name=f"efficientnet{key}"):
        return EfficientNet(width, depth, size, dropout, name=name, include_top=include_top, weights=weights,
                            input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                            classifier_activation=classifier_activation, weights_name=key)

    constructor.__name__ = constructor.__qualname__ = f"EfficientNet{key.upper()}"
    constructor.__doc__ = f"""The EfficientNet{key.upper()} image classifier (default input {size}x{size}).

    The model rescales and normalizes its inputs itself: give it RGB images with values in [0, 255].

    Args:
        include_top: build the classifier (global average pooling, dropout {dropout}, a ``classes``-way dense
            layer). Defaults to True.
        weights: None (random initialization), ``"imagenet"`` (Keras's ImageNet weights, downloaded once into
            the dataset cache) or the path of a weights file. Defaults to ``"imagenet"``.
        input_tensor: an optional ``kerasish.Input`` (or a layer's output) to build the model on.
        input_shape: the image shape without the batch axis, e.g. ``({size}, {size}, 3)``; at least 32x32.
            Free (``(None, None, 3)``) when ``include_top`` is False and it is not given.
        pooling: with ``include_top=False``: None (4D features), ``"avg"`` or ``"max"`` (global pooling to 2D).
        classes: size of the classifier; 1000 with ImageNet weights.
        classifier_activation: activation of the classifier (None gives logits); with pretrained weights only
            None or ``"softmax"``.
        name: the model's name.

    Returns:
        A functional ``Model``.

    Raises:
        ConfigError: bad ``weights``, ``pooling``, ``input_shape``, ``classes`` or ``classifier_activation``.
    """
    return constructor


EfficientNetB0 = _variant("b0")
EfficientNetB1 = _variant("b1")
EfficientNetB2 = _variant("b2")
EfficientNetB3 = _variant("b3")
EfficientNetB4 = _variant("b4")
EfficientNetB5 = _variant("b5")
EfficientNetB6 = _variant("b6")
EfficientNetB7 = _variant("b7")


def preprocess_input(x, data_format=None):
    """EfficientNet models rescale and normalize their inputs themselves: ``x`` is returned unchanged.

    Kept so that code written for the other applications (``preprocess_input(images)`` before
    ``predict``) runs as it is.

    Args:
        x: RGB images with values in [0, 255] (NumPy array or tensor).
        data_format: unused (accepted as Keras's).

    Returns:
        ``x`` itself.
    """
    return x


def decode_predictions(preds, top: int = 5):
    """The ``top`` best ImageNet classes ``(class_name, description, score)`` of each row of ``preds``
    (shape ``(samples, 1000)``), as ``imagenet_utils.decode_predictions``."""
    return imagenet_utils.decode_predictions(preds, top=top)
