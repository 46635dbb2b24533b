"""ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image Recognition", 2015), and the
residual stacks ResNetV2 shares.

Inputs are preprocessed with :func:`preprocess_input` ("caffe" mode: RGB to BGR, minus the ImageNet mean pixel).
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _a_base, imagenet_utils

__all__ = ["ResNet101", "ResNet152", "ResNet50", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
# Keras's published weight files: MD5 of (with top, without top)
WEIGHTS_HASHES = {
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}

_EPS = 1.001e-5  # the batch-norm epsilon of the converted Caffe / TF-slim weights


def _bn(x, name):
    return layers.BatchNormalization(axis=3, epsilon=_EPS, name=name)(x)


def ResNet(stack_fn, preact: bool, use_bias: bool, include_top=True, weights="imagenet", input_tensor=None,
           input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name="resnet",
           weights_name=None):
    """A ResNet: the 7x7 stem, ``stack_fn``'s residual stages, then the head.

    Args:
        stack_fn: builds the residual stages on the stem's output and returns their output.
        preact: pre-activation (v2): no batch norm after the stem, one (``post_bn``) after the stages.
        use_bias: whether the stem convolution has a bias.
        weights_name: the key of :data:`WEIGHTS_HASHES` of the published ImageNet weights.
        Others: as :func:`ResNet50`.
    """
    img_input = _a_base.start(name, weights=weights, include_top=include_top, classes=classes, pooling=pooling,
                              input_tensor=input_tensor, input_shape=input_shape, default_size=224, min_size=32)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn(x, "conv1_bn")
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _bn(x, "post_bn")
        x = layers.Activation("relu", name="post_relu")(x)
    x = _a_base.head(x, include_top=include_top, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation, weights=weights, avg_name="avg_pool",
                     max_name="max_pool")
    files = {}
    if weights_name in WEIGHTS_HASHES:
        top = f"{weights_name}_weights_tf_dim_ordering_tf_kernels.h5"
        notop = f"{weights_name}_weights_tf_dim_ordering_tf_kernels_notop.h5"
        files = dict(fname_top=top, origin_top=BASE_WEIGHTS_PATH + top, hash_top=WEIGHTS_HASHES[weights_name][0],
                     fname_notop=notop, origin_notop=BASE_WEIGHTS_PATH + notop,
                     hash_notop=WEIGHTS_HASHES[weights_name][1])
    return _a_base.finish(img_input, input_tensor, x, name, weights=weights, include_top=include_top, **files)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block (1x1, ``kernel_size``, 1x1 to ``4 * filters``) with batch norm after each
    convolution; the shortcut is a strided 1x1 convolution when ``conv_shortcut``, else the input."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(shortcut, f"{name}_0_bn")
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(x, f"{name}_1_bn")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(x, f"{name}_2_bn")
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(x, f"{name}_3_bn")
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v1 blocks named ``{name}_block1``...; the first one strides by ``stride1``."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """A pre-activation bottleneck block: batch norm and relu first, stride in the middle convolution; the
    shortcut is a 1x1 convolution of the pre-activation when ``conv_shortcut``, else the (subsampled) input."""
    preact = _bn(x, f"{name}_preact_bn")
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(x, f"{name}_1_bn")
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = _bn(x, f"{name}_2_bn")
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v2 blocks named ``{name}_block1``...; the last one strides by ``stride1``."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1_stages(depths):
    def stack_fn(x):
        for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), depths)):
            x = stack_residual_blocks_v1(x, filters, blocks, stride1=1 if i == 0 else 2, name=f"conv{i + 2}")
        return x

    return stack_fn


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    """ResNet50 (stages of 3, 4, 6 and 3 bottleneck blocks); default input 224x224.

    Example:
        >>> model = kerasish.applications.ResNet50(weights=None, include_top=False, pooling="avg")
        >>> model.output_shape
        (None, 2048)
    """
    return ResNet(_v1_stages((3, 4, 6, 3)), preact=False, use_bias=True, weights_name="resnet50", name=name,
                  include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                  pooling=pooling, classes=classes, classifier_activation=classifier_activation)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    """ResNet101 (stages of 3, 4, 23 and 3 bottleneck blocks); default input 224x224."""
    return ResNet(_v1_stages((3, 4, 23, 3)), preact=False, use_bias=True, weights_name="resnet101", name=name,
                  include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                  pooling=pooling, classes=classes, classifier_activation=classifier_activation)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet152"):
    """ResNet152 (stages of 3, 8, 36 and 3 bottleneck blocks); default input 224x224."""
    return ResNet(_v1_stages((3, 8, 36, 3)), preact=False, use_bias=True, weights_name="resnet152", name=name,
                  include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                  pooling=pooling, classes=classes, classifier_activation=classifier_activation)


_a_base.add_args_doc(ResNet50, ResNet101, ResNet152, default_size=224, min_size=32)


def preprocess_input(x, data_format=None):
    """ResNet's preprocessing: ``imagenet_utils.preprocess_input`` in "caffe" mode (RGB to BGR, minus the
    ImageNet mean pixel, no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
