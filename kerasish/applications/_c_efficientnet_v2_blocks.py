"""The two blocks of EfficientNetV2 (MBConv and Fused-MBConv) and the stage tables of its variants."""

from __future__ import annotations

from kerasish import backend, layers
from kerasish.applications import _c_common as common

_STAGE_KEYS = ("kernel_size", "num_repeat", "input_filters", "output_filters", "expand_ratio", "se_ratio",
               "strides", "conv_type")


def _stages(*rows) -> list[dict]:
    return [dict(zip(_STAGE_KEYS, row)) for row in rows]


# conv_type 1: Fused-MBConv, 0: MBConv. The B variants share one table (scaled by their coefficients).
_B_STAGES = ((3, 1, 32, 16, 1, 0, 1, 1), (3, 2, 16, 32, 4, 0, 2, 1), (3, 2, 32, 48, 4, 0, 2, 1),
             (3, 3, 48, 96, 4, 0.25, 2, 0), (3, 5, 96, 112, 6, 0.25, 1, 0), (3, 8, 112, 192, 6, 0.25, 2, 0))
DEFAULT_BLOCKS_ARGS = {
    "efficientnetv2-s": _stages(
        (3, 2, 24, 24, 1, 0.0, 1, 1), (3, 4, 24, 48, 4, 0.0, 2, 1), (3, 4, 48, 64, 4, 0, 2, 1),
        (3, 6, 64, 128, 4, 0.25, 2, 0), (3, 9, 128, 160, 6, 0.25, 1, 0), (3, 15, 160, 256, 6, 0.25, 2, 0)),
    "efficientnetv2-m": _stages(
        (3, 3, 24, 24, 1, 0, 1, 1), (3, 5, 24, 48, 4, 0, 2, 1), (3, 5, 48, 80, 4, 0, 2, 1),
        (3, 7, 80, 160, 4, 0.25, 2, 0), (3, 14, 160, 176, 6, 0.25, 1, 0), (3, 18, 176, 304, 6, 0.25, 2, 0),
        (3, 5, 304, 512, 6, 0.25, 1, 0)),
    "efficientnetv2-l": _stages(
        (3, 4, 32, 32, 1, 0, 1, 1), (3, 7, 32, 64, 4, 0, 2, 1), (3, 7, 64, 96, 4, 0, 2, 1),
        (3, 10, 96, 192, 4, 0.25, 2, 0), (3, 19, 192, 224, 6, 0.25, 1, 0), (3, 25, 224, 384, 6, 0.25, 2, 0),
        (3, 7, 384, 640, 6, 0.25, 1, 0)),
    **{f"efficientnetv2-b{i}": _stages(*_B_STAGES) for i in range(4)},
}


def _conv(filters, kernel_size, name, strides=1, activation=None):
    return layers.Conv2D(filters, kernel_size=kernel_size, strides=strides, padding="same", use_bias=False,
                         activation=activation, kernel_initializer=common.CONV_KERNEL_INITIALIZER,
                         data_format=backend.image_data_format(), name=name)


def _bn(name, momentum):
    return layers.BatchNormalization(axis=common.channel_axis(), momentum=momentum, name=name)


def _squeeze_excite(x, name, filters, input_filters, se_ratio, activation):
    """Channel attention (global average, 1x1 bottleneck, sigmoid gate), as in EfficientNet's blocks."""
    filters_se = max(1, int(input_filters * se_ratio))
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se_shape = (filters, 1, 1) if common.channel_axis() == 1 else (1, 1, filters)
    se = layers.Reshape(se_shape, name=f"{name}se_reshape")(se)
    se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                       kernel_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                       kernel_initializer=common.CONV_KERNEL_INITIALIZER, name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability):
    if strides == 1 and input_filters == output_filters:
        # Keras passes the "survival probability" to Dropout as its rate; kept for identical models.
        if survival_probability:
            x = layers.Dropout(survival_probability, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def MBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,
                bn_momentum=0.9, activation="swish", survival_probability=0.8, name=None):
    """An inverted-bottleneck block: 1x1 expansion, depthwise conv, squeeze-excitation, 1x1 projection.

    Returns:
        A function of the input tensor that builds the block (layer names prefixed with ``name``).
    """
    name = name if name is not None else str(backend.get_uid("block0"))  # Keras's default prefix: a number

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(filters, 1, f"{name}expand_conv")(x)
            x = _bn(f"{name}expand_bn", bn_momentum)(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        x = layers.DepthwiseConv2D(kernel_size=kernel_size, strides=strides, padding="same", use_bias=False,
                                   depthwise_initializer=common.CONV_KERNEL_INITIALIZER,
                                   data_format=backend.image_data_format(), name=f"{name}dwconv2")(x)
        x = _bn(f"{name}bn", bn_momentum)(x)
        x = layers.Activation(activation, name=f"{name}activation")(x)
        if 0 < se_ratio <= 1:
            x = _squeeze_excite(x, name, filters, input_filters, se_ratio, activation)
        x = _conv(output_filters, 1, f"{name}project_conv")(x)
        x = _bn(f"{name}project_bn", bn_momentum)(x)
        return _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability)

    return apply


def FusedMBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,
                     bn_momentum=0.9, activation="swish", survival_probability=0.8, name=None):
    """MBConv with the expansion and the depthwise conv fused into one full convolution (cheaper early on).

    Returns:
        A function of the input tensor that builds the block (layer names prefixed with ``name``).
    """
    name = name if name is not None else str(backend.get_uid("block0"))  # Keras's default prefix: a number

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(filters, kernel_size, f"{name}expand_conv", strides=strides)(x)
            x = _bn(f"{name}expand_bn", bn_momentum)(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        if 0 < se_ratio <= 1:
            x = _squeeze_excite(x, name, filters, input_filters, se_ratio, activation)
        # Without expansion the projection itself is the k x k (strided) convolution.
        fused = expand_ratio == 1
        x = layers.Conv2D(output_filters, kernel_size=kernel_size if fused else 1, strides=strides if fused else 1,
                          padding="same", use_bias=False, kernel_initializer=common.CONV_KERNEL_INITIALIZER,
                          name=f"{name}project_conv")(x)
        x = _bn(f"{name}project_bn", bn_momentum)(x)
        if fused:
            x = layers.Activation(activation, name=f"{name}project_activation")(x)
        return _residual(x, inputs, name, strides, input_filters, output_filters, survival_probability)

    return apply
