"""DenseNet 121, 169 and 201: every layer of a dense block sees the concatenated outputs of all before it.

Reference: Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017), https://arxiv.org/abs/1608.06993.
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _b_common as common
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/densenet/"

# blocks per dense block -> (file stem, MD5 with the top, MD5 without)
_WEIGHTS = {
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1"),
}

_BN_EPSILON = 1.001e-5


def _bn(name):
    return layers.BatchNormalization(axis=3, epsilon=_BN_EPSILON, name=name)


def dense_block(x, blocks, name):
    """``blocks`` conv blocks in a row, each adding 32 channels to the running concatenation."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN, ReLU, a 1x1 convolution keeping ``reduction`` of the channels, then 2x2 average pooling."""
    x = _bn(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 conv (4 x growth) then BN-ReLU-3x3 conv (growth), concatenated to the block's input."""
    y = _bn(f"{name}_0_bn")(x)
    y = layers.Activation("relu", name=f"{name}_0_relu")(y)
    y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = _bn(f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, y])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="densenet"):
    """Build a DenseNet with ``blocks`` (four block counts); the public constructors fix them."""
    label = name or "DenseNet"
    _weights.check_weights_argument(weights, include_top, classes, name=label)
    common.check_pooling(pooling, label)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format=common.DATA_FORMAT, require_flatten=include_top,
                                                    weights=weights)
    img_input = common.image_input(input_shape, input_tensor, label)

    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = _bn("bn")(x)
    x = layers.Activation("relu", name="relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = common.pool_features(x, pooling, avg_name="avg_pool", max_name="max_pool")

    model = common.functional(input_tensor, img_input, x, name)
    if weights == "imagenet":
        if tuple(blocks) not in _WEIGHTS:
            raise ConfigError(f"{label}: ImageNet weights exist for DenseNet121, 169 and 201 only; got "
                              f"blocks={list(blocks)}.")
        stem, hash_top, hash_notop = _WEIGHTS[tuple(blocks)]
        top = f"{stem}_weights_tf_dim_ordering_tf_kernels.h5"
        notop = f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"
        _weights.load_weights(model, weights, include_top=include_top, fname_top=top,
                              origin_top=BASE_WEIGHTS_PATH + top, hash_top=hash_top, fname_notop=notop,
                              origin_notop=BASE_WEIGHTS_PATH + notop, hash_notop=hash_notop)
    else:
        _weights.load_weights(model, weights, include_top=include_top)
    return model


_ARGS_DOC = """
    Expects inputs preprocessed by :func:`preprocess_input` (scaled to [0, 1], then normalized with
    ImageNet's per-channel mean and standard deviation).

    Args:
        include_top: whether to end with the dense classifier.
        weights: None (random), ``"imagenet"`` or the path of a weights file.
        input_tensor: a symbolic tensor to build the model on instead of a new ``Input``.
        input_shape: ``(height, width, channels)`` without the batch axis; only free when
            ``include_top=False`` (else ``(224, 224, 3)``). Sides of at least 32.
        pooling: with ``include_top=False``: None (the 4D feature map), ``"avg"`` or ``"max"``.
        classes: number of classes of the classifier.
        classifier_activation: the classifier's activation (None gives logits).
        name: the model's name.

    Returns:
        A functional ``kerasish.Model`` with Keras's layer names.
"""


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="densenet121"):
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="densenet169"):
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="densenet201"):
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


for _fn, _blocks in ((DenseNet121, "6, 12, 24, 16"), (DenseNet169, "6, 12, 32, 32"), (DenseNet201, "6, 12, 48, 32")):
    _fn.__doc__ = (f"Build {_fn.__name__} (dense blocks of {_blocks} layers), optionally with Keras's ImageNet "
                   f"weights.\n{_ARGS_DOC}\n    Example:\n        >>> model = {_fn.__name__}(weights=None, "
                   "include_top=False, input_shape=(64, 64, 3), pooling=\"avg\")\n")
del _fn, _blocks


def preprocess_input(x, data_format=None):
    """Scale pixels to [0, 1] and normalize each channel with ImageNet's mean and standard deviation
    ("torch" mode), the input DenseNet's ImageNet weights expect.

    Args:
        x: images as a float NumPy array or tensor (3D or 4D), RGB, values in [0, 255].
        data_format: ``"channels_last"`` / ``"channels_first"`` or None for the global setting.

    Returns:
        The normalized images.
    """
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (shape ``(batch, 1000)``), as
    ``(class_id, class_name, score)`` tuples, best first."""
    return imagenet_utils.decode_predictions(preds, top=top)
