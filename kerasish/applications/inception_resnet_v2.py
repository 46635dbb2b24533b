"""InceptionResNetV2 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning", 2017).

Inputs are preprocessed with :func:`preprocess_input` ("tf" mode: pixels scaled to [-1, 1]).
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _a_base, imagenet_utils
from kerasish.errors import ConfigError

__all__ = ["InceptionResNetV2", "decode_predictions", "preprocess_input"]

BASE_WEIGHT_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/"

_CHANNELS = 3


def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", use_bias=False, name=None):
    """A convolution, then (without a bias) batch norm without scale, then ``activation`` (None: none).
    With ``name`` the layers are ``name``, ``{name}_bn`` and ``{name}_ac``; otherwise named automatically."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name)(x)
    if not use_bias:
        x = layers.BatchNormalization(axis=_CHANNELS, scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


class CustomScaleLayer(layers.Layer):
    """``inputs[0] + inputs[1] * scale``: the scaled residual sum of an Inception-ResNet block.

    Args:
        scale: the factor of the residual branch.
    """

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return inputs[0] + inputs[1] * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _block_branches(x, block_type):
    if block_type == "block35":
        branch_0 = conv2d_bn(x, 32, 1)
        branch_1 = conv2d_bn(conv2d_bn(x, 32, 1), 32, 3)
        branch_2 = conv2d_bn(x, 32, 1)
        branch_2 = conv2d_bn(branch_2, 48, 3)
        branch_2 = conv2d_bn(branch_2, 64, 3)
        return [branch_0, branch_1, branch_2]
    if block_type == "block17":
        branch_0 = conv2d_bn(x, 192, 1)
        branch_1 = conv2d_bn(x, 128, 1)
        branch_1 = conv2d_bn(branch_1, 160, [1, 7])
        branch_1 = conv2d_bn(branch_1, 192, [7, 1])
        return [branch_0, branch_1]
    if block_type == "block8":
        branch_0 = conv2d_bn(x, 192, 1)
        branch_1 = conv2d_bn(x, 192, 1)
        branch_1 = conv2d_bn(branch_1, 224, [1, 3])
        branch_1 = conv2d_bn(branch_1, 256, [3, 1])
        return [branch_0, branch_1]
    raise ConfigError(f"inception_resnet_block: block_type must be 'block35', 'block17' or 'block8'; "
                      f"got block_type={block_type!r}.")


def inception_resnet_block(x, scale, block_type, block_idx, activation="relu"):
    """One Inception-ResNet block: the ``block_type`` branches, concatenated and projected back to ``x``'s
    channels by a 1x1 convolution, added to ``x`` times ``scale``, then ``activation``. Layers are named
    ``{block_type}_{block_idx}_...``."""
    branches = _block_branches(x, block_type)
    block_name = f"{block_type}_{block_idx}"
    mixed = layers.Concatenate(axis=_CHANNELS, name=f"{block_name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[_CHANNELS], 1, activation=None, use_bias=True, name=f"{block_name}_conv")
    x = CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{block_name}_ac")(x)
    return x


def InceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                      classes=1000, classifier_activation="softmax", name="inception_resnet_v2"):
    """InceptionResNetV2; default input 299x299, smallest 75x75.

    Example:
        >>> model = kerasish.applications.InceptionResNetV2(weights=None, include_top=False,
        ...                                                 input_shape=(75, 75, 3), pooling="avg")
        >>> model.output_shape
        (None, 1536)
    """
    img_input = _a_base.start(name, weights=weights, include_top=include_top, classes=classes, pooling=pooling,
                              input_tensor=input_tensor, input_shape=input_shape, default_size=299, min_size=75)
    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid")  # stem
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = layers.MaxPooling2D(3, strides=2)(x)

    branch_0 = conv2d_bn(x, 96, 1)  # mixed 5b (Inception-A)
    branch_1 = conv2d_bn(conv2d_bn(x, 48, 1), 64, 5)
    branch_2 = conv2d_bn(x, 64, 1)
    branch_2 = conv2d_bn(branch_2, 96, 3)
    branch_2 = conv2d_bn(branch_2, 96, 3)
    branch_pool = layers.AveragePooling2D(3, strides=1, padding="same")(x)
    branch_pool = conv2d_bn(branch_pool, 64, 1)
    x = layers.Concatenate(axis=_CHANNELS, name="mixed_5b")([branch_0, branch_1, branch_2, branch_pool])
    for block_idx in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=block_idx)

    branch_0 = conv2d_bn(x, 384, 3, strides=2, padding="valid")  # mixed 6a (Reduction-A)
    branch_1 = conv2d_bn(x, 256, 1)
    branch_1 = conv2d_bn(branch_1, 256, 3)
    branch_1 = conv2d_bn(branch_1, 384, 3, strides=2, padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = layers.Concatenate(axis=_CHANNELS, name="mixed_6a")([branch_0, branch_1, branch_pool])
    for block_idx in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=block_idx)

    branch_0 = conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid")  # mixed 7a (Reduction-B)
    branch_1 = conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid")
    branch_2 = conv2d_bn(x, 256, 1)
    branch_2 = conv2d_bn(branch_2, 288, 3)
    branch_2 = conv2d_bn(branch_2, 320, 3, strides=2, padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = layers.Concatenate(axis=_CHANNELS, name="mixed_7a")([branch_0, branch_1, branch_2, branch_pool])
    for block_idx in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=block_idx)
    x = inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)

    x = conv2d_bn(x, 1536, 1, name="conv_7b")
    x = _a_base.head(x, include_top=include_top, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation, weights=weights)
    top = "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5"
    notop = "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return _a_base.finish(img_input, input_tensor, x, name, weights=weights, include_top=include_top,
                          fname_top=top, origin_top=BASE_WEIGHT_URL + top, hash_top="e693bd0210a403b3192acc6073ad2e96",
                          fname_notop=notop, origin_notop=BASE_WEIGHT_URL + notop,
                          hash_notop="d19885ff4a710c122648d3b5c3b684e4")


_a_base.add_args_doc(InceptionResNetV2, default_size=299, min_size=75)


def preprocess_input(x, data_format=None):
    """InceptionResNetV2's preprocessing: ``imagenet_utils.preprocess_input`` in "tf" mode (pixels to
    [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
