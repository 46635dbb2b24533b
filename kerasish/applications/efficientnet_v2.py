"""EfficientNetV2 B0 to B3, S, M and L (Tan & Le, "EfficientNetV2: Smaller Models and Faster Training",
ICML 2021).

Keras's architecture, layer names and ImageNet weights. By default the models take images with values in
[0, 255] and rescale them themselves (``include_preprocessing=True``), so :func:`preprocess_input` returns
its input unchanged; with ``include_preprocessing=False`` they expect values in [-1, 1].

Example:
    >>> model = kerasish.applications.EfficientNetV2B0(weights=None, include_top=False, pooling="avg",
    ...                                                input_shape=(64, 64, 3))
    >>> model.output_shape
    (None, 1280)
"""

from __future__ import annotations

import copy
import math

from kerasish import initializers, layers
from kerasish.applications import _c_common as common
from kerasish.applications import imagenet_utils
from kerasish.applications._c_efficientnet_v2_blocks import DEFAULT_BLOCKS_ARGS, FusedMBConvBlock, MBConvBlock
from kerasish.errors import ConfigError
from kerasish.models import Model

__all__ = ["EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2L",
           "EfficientNetV2M", "EfficientNetV2S", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/"

# (file with the classifier, file without it): MD5 hashes Keras publishes.
WEIGHTS_HASHES = {
    "b0": ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
    "b1": ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
    "b2": ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
    "b3": ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
    "-s": ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
    "-m": ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
    "-l": ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
}

# constructor suffix: (weights_name, width_coefficient, depth_coefficient, default_size)
_VARIANTS = {
    "B0": ("b0", 1.0, 1.0, 224), "B1": ("b1", 1.0, 1.1, 240), "B2": ("b2", 1.1, 1.2, 260),
    "B3": ("b3", 1.2, 1.4, 300), "S": ("-s", 1.0, 1.0, 384), "M": ("-m", 1.0, 1.0, 480), "L": ("-l", 1.0, 1.0, 480),
}


def round_filters(filters, width_coefficient, min_depth, depth_divisor) -> int:
    """Scale a channel count by ``width_coefficient`` to the nearest multiple of ``depth_divisor``
    (at least ``min_depth``, or ``depth_divisor`` when that is falsy)."""
    scaled = filters * width_coefficient
    minimum = min_depth or depth_divisor
    return int(max(minimum, int(scaled + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient) -> int:
    """The number of blocks of a stage scaled by ``depth_coefficient`` (rounded up)."""
    return int(math.ceil(depth_coefficient * repeats))


def _preprocessing(x, name: str, num_channels: int, axis: int):
    # The B variants were trained with EfficientNet's (V1) ImageNet normalization, the others with [-1, 1].
    if name.split("-")[-1].startswith("b") and num_channels == 3:
        x = layers.Rescaling(scale=1.0 / 255)(x)
        return layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2],
                                    axis=axis)(x)
    return layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)


def EfficientNetV2(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2, drop_connect_rate=0.2,
                   depth_divisor=8, min_depth=8, bn_momentum=0.9, activation="swish", blocks_args="default",
                   name="efficientnetv2", include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax", include_preprocessing=True,
                   weights_name=None, *, _variant_name=None):
    """An EfficientNetV2 of the given scaling (the variants' constructors call this).

    Args:
        width_coefficient: multiplies every layer's channels.
        depth_coefficient: multiplies every stage's number of blocks.
        default_size: the default input height and width.
        dropout_rate: dropout before the classifier.
        drop_connect_rate: dropout of the residual branches, growing linearly to this along the network.
        depth_divisor: channel counts are multiples of this.
        min_depth: the smallest channel count.
        bn_momentum: momentum of every BatchNormalization.
        activation: the activation of the whole network.
        blocks_args: ``"default"`` (the table of ``name``, which must then be one of ``DEFAULT_BLOCKS_ARGS``)
            or a list of per-stage dicts.
        name: the model's name.
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
            include_preprocessing: as in :func:`EfficientNetV2B0`.
        weights_name: the variant (``"b0"``, ``"-s"`` ...) whose published weights ``weights="imagenet"`` loads.
        _variant_name: the variant's default name (``"efficientnetv2-b0"``), which picks the preprocessing;
            defaults to ``name`` (Keras picks it by ``name``, so that a renamed variant fails there).

    Returns:
        A functional ``Model``.
    """
    if blocks_args == "default":
        if name not in DEFAULT_BLOCKS_ARGS:
            raise ConfigError(f"EfficientNetV2: blocks_args='default' needs name to be one of "
                              f"{sorted(DEFAULT_BLOCKS_ARGS)}; got name={name!r}.")
        blocks_args = DEFAULT_BLOCKS_ARGS[name]
    common.check_arguments(name, weights, include_top, classes, pooling)
    if weights == "imagenet" and weights_name not in WEIGHTS_HASHES:
        raise ConfigError(f"{name}: no ImageNet weights are published for weights_name={weights_name!r}.")
    for args in blocks_args:
        if args["num_repeat"] <= 0:
            raise ConfigError(f"EfficientNetV2: the number of repeats of every stage must be > 0; "
                              f"got num_repeat={args['num_repeat']}.")
    input_shape = common.obtain_input_shape(input_shape, default_size, include_top, weights)
    img_input = common.image_input(input_tensor, input_shape)
    axis = common.channel_axis()

    def filters_of(n):
        return round_filters(n, width_coefficient, min_depth, depth_divisor)

    x = img_input
    if include_preprocessing:
        x = _preprocessing(x, _variant_name or name, input_shape[axis - 1], axis)

    x = layers.Conv2D(filters=filters_of(blocks_args[0]["input_filters"]), kernel_size=3, strides=2,
                      kernel_initializer=common.CONV_KERNEL_INITIALIZER, padding="same", use_bias=False,
                      name="stem_conv")(x)
    x = layers.BatchNormalization(axis=axis, momentum=bn_momentum, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    total = float(sum(args["num_repeat"] for args in blocks_args))  # unscaled, as Keras's drop schedule
    index = 0
    for i, stage in enumerate(copy.deepcopy(blocks_args)):
        block = {0: MBConvBlock, 1: FusedMBConvBlock}[stage.pop("conv_type")]
        repeats = round_repeats(stage.pop("num_repeat"), depth_coefficient)
        stage["input_filters"] = filters_of(stage["input_filters"])
        stage["output_filters"] = filters_of(stage["output_filters"])
        for j in range(repeats):
            if j > 0:  # only a stage's first block changes the resolution and the channels
                stage["strides"], stage["input_filters"] = 1, stage["output_filters"]
            x = block(activation=activation, bn_momentum=bn_momentum,
                      survival_probability=drop_connect_rate * index / total,
                      name=f"block{i + 1}{chr(j + 97)}_", **stage)(x)
            index += 1

    x = layers.Conv2D(filters=filters_of(1280), kernel_size=1, strides=1,
                      kernel_initializer=common.CONV_KERNEL_INITIALIZER, padding="same", use_bias=False,
                      name="top_conv")(x)
    x = layers.BatchNormalization(axis=axis, momentum=bn_momentum, name="top_bn")(x)
    x = layers.Activation(activation=activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer=common.DENSE_KERNEL_INITIALIZER,
                         bias_initializer=initializers.Constant(0.0), name="predictions")(x)
    else:
        x = common.pooled(x, pooling)

    model = Model(common.model_inputs(input_tensor, img_input), x, name=name)
    common.load_published(model, weights, include_top=include_top, base_url=BASE_WEIGHTS_PATH, file_stem=name,
                          hashes=WEIGHTS_HASHES.get(weights_name))
    return model


def _variant(suffix: str):
    weights_name, width, depth, size = _VARIANTS[suffix]
    default_name = f"efficientnetv2-{suffix.lower()}"

    def constructor(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                    classes=1000, classifier_activation="softmax", include_preprocessing=True, name=default_name):
        return EfficientNetV2(width_coefficient=width, depth_coefficient=depth, default_size=size, name=name,
                              include_top=include_top, weights=weights, input_tensor=input_tensor,
                              input_shape=input_shape, pooling=pooling, classes=classes,
                              classifier_activation=classifier_activation,
                              include_preprocessing=include_preprocessing, weights_name=weights_name,
                              blocks_args=DEFAULT_BLOCKS_ARGS[default_name], _variant_name=default_name)

    constructor.__name__ = constructor.__qualname__ = f"EfficientNetV2{suffix}"
    constructor.__doc__ = f"""The EfficientNetV2{suffix} image classifier (default input {size}x{size}).

    Args:
        include_top: build the classifier (global average pooling, dropout 0.2, a ``classes``-way dense
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
        include_preprocessing: scale the inputs inside the model (then give it values in [0, 255]); without it
            the model expects values in [-1, 1].
        name: the model's name.

    Returns:
        A functional ``Model``.

    Raises:
        ConfigError: bad ``weights``, ``pooling``, ``input_shape``, ``classes`` or ``classifier_activation``.
    """
    return constructor


EfficientNetV2B0 = _variant("B0")
EfficientNetV2B1 = _variant("B1")
EfficientNetV2B2 = _variant("B2")
EfficientNetV2B3 = _variant("B3")
EfficientNetV2S = _variant("S")
EfficientNetV2M = _variant("M")
EfficientNetV2L = _variant("L")


def preprocess_input(x, data_format=None):
    """EfficientNetV2 models scale their inputs themselves (``include_preprocessing=True``): ``x`` is returned
    unchanged.

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
