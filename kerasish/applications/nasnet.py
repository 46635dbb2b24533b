"""NASNet-A Mobile and Large: stacks of normal and reduction cells found by architecture search.

Reference: Zoph et al., "Learning Transferable Architectures for Scalable Image Recognition" (CVPR 2018),
https://arxiv.org/abs/1707.07012.
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _b_common as common
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError

__all__ = ["NASNetLarge", "NASNetMobile", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/"
NASNET_MOBILE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-mobile.h5"
NASNET_MOBILE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-mobile-no-top.h5"
NASNET_LARGE_WEIGHT_PATH = f"{BASE_WEIGHTS_PATH}NASNet-large.h5"
NASNET_LARGE_WEIGHT_PATH_NO_TOP = f"{BASE_WEIGHTS_PATH}NASNet-large-no-top.h5"

# default size -> (cache name, URL, MD5) with the top, then without
_WEIGHTS = {
    224: (("nasnet_mobile.h5", NASNET_MOBILE_WEIGHT_PATH, "020fb642bf7360b370c678b08e0adf61"),
          ("nasnet_mobile_no_top.h5", NASNET_MOBILE_WEIGHT_PATH_NO_TOP, "1ed92395b5b598bdda52abe5c0dbfd63")),
    331: (("nasnet_large.h5", NASNET_LARGE_WEIGHT_PATH, "11577c9a518f0070763c2b964a382f17"),
          ("nasnet_large_no_top.h5", NASNET_LARGE_WEIGHT_PATH_NO_TOP, "d81d89dc07e6e56530c4e77faddd61b5")),
}


def _bn(name=None):
    return layers.BatchNormalization(axis=common.CHANNEL_AXIS, momentum=0.9997, epsilon=1e-3, name=name)


def _conv1x1(filters, name):
    return layers.Conv2D(filters, (1, 1), strides=(1, 1), padding="same", use_bias=False, name=name,
                         kernel_initializer="he_normal")


def NASNet(input_shape=None, penultimate_filters=4032, num_blocks=6, stem_block_filters=96, skip_reduction=True,
           filter_multiplier=2, include_top=True, weights="imagenet", input_tensor=None, pooling=None, classes=1000,
           default_size=None, classifier_activation="softmax", name="NASNet"):
    """Build a NASNet-A network; :func:`NASNetMobile` and :func:`NASNetLarge` fix its hyperparameters.

    Args:
        penultimate_filters: channels before the classifier: a multiple of ``24 * filter_multiplier**2``.
        num_blocks: normal cells between consecutive reduction cells.
        stem_block_filters: filters of the first convolution.
        skip_reduction: whether the cells after a reduction cell skip it for their second input.
        filter_multiplier: how much each reduction multiplies the filter count.
        default_size: the ImageNet input size (224 for Mobile, 331 for Large; None: 331).

    The other arguments are the applications' common ones (see :func:`NASNetMobile`).
    """
    label = name or "NASNet"
    _weights.check_weights_argument(weights, include_top, classes, name=label)
    common.check_pooling(pooling, label)
    if isinstance(input_shape, tuple) and None in input_shape and weights == "imagenet":
        raise ConfigError(f"{label}: with weights='imagenet' the input_shape must be static (no None); got "
                          f"input_shape={input_shape}.")
    default_size = 331 if default_size is None else default_size
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                                    data_format=common.DATA_FORMAT, require_flatten=include_top,
                                                    weights=weights)
    img_input = common.image_input(input_shape, input_tensor, label)
    if penultimate_filters % (24 * (filter_multiplier**2)) != 0:
        raise ConfigError(f"{label}: penultimate_filters must be a multiple of 24 * filter_multiplier**2 = "
                          f"{24 * filter_multiplier**2}; got penultimate_filters={penultimate_filters}.")

    filters = penultimate_filters // 24
    x = layers.Conv2D(stem_block_filters, (3, 3), strides=(2, 2), padding="valid", use_bias=False,
                      name="stem_conv1", kernel_initializer="he_normal")(img_input)
    x = _bn("stem_bn1")(x)
    p = None
    x, p = _reduction_a_cell(x, p, filters // (filter_multiplier**2), block_id="stem_1")
    x, p = _reduction_a_cell(x, p, filters // filter_multiplier, block_id="stem_2")
    for stage in range(3):
        stage_filters = filters * filter_multiplier**stage
        if stage:
            x, p_reduced = _reduction_a_cell(x, p, stage_filters, block_id=f"reduce_{stage * num_blocks}")
            p = p if skip_reduction else p_reduced
        for i in range(num_blocks):
            x, p = _normal_a_cell(x, p, stage_filters, block_id=f"{stage * num_blocks + i + (1 if stage else 0)}")
    x = layers.Activation("relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = common.pool_features(x, pooling)

    model = common.functional(input_tensor, img_input, x, name)
    if weights == "imagenet":
        if default_size not in _WEIGHTS:
            raise ConfigError(f"{label}: ImageNet weights exist for NASNetLarge and NASNetMobile only "
                              f"(default_size 331 or 224); got default_size={default_size}.")
        (fname_top, origin_top, hash_top), (fname_notop, origin_notop, hash_notop) = _WEIGHTS[default_size]
        _weights.load_weights(model, weights, include_top=include_top, fname_top=fname_top, origin_top=origin_top,
                              hash_top=hash_top, fname_notop=fname_notop, origin_notop=origin_notop,
                              hash_notop=hash_notop)
    else:
        _weights.load_weights(model, weights, include_top=include_top)
    return model


_COMMON_ARGS_DOC = """
    Expects inputs scaled to [-1, 1] (:func:`preprocess_input`).

    Args:
        input_shape: ``(height, width, channels)`` without the batch axis; only free when
            ``include_top=False`` (else ``({size}, {size}, 3)``). Sides of at least 32.
        include_top: whether to end with the dense classifier.
        weights: None (random), ``"imagenet"`` or the path of a weights file.
        input_tensor: a symbolic tensor to build the model on instead of a new ``Input``.
        pooling: with ``include_top=False``: None (the 4D feature map), ``"avg"`` or ``"max"``.
        classes: number of classes of the classifier.
        classifier_activation: the classifier's activation (None gives logits).
        name: the model's name.

    Returns:
        A functional ``kerasish.Model`` with Keras's layer names.
"""


def NASNetMobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                 classes=1000, classifier_activation="softmax", name="nasnet_mobile"):
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32, skip_reduction=False,
                  filter_multiplier=2, include_top=include_top, weights=weights, input_tensor=input_tensor,
                  pooling=pooling, classes=classes, default_size=224, classifier_activation=classifier_activation,
                  name=name)


def NASNetLarge(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="nasnet_large"):
    return NASNet(input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96, skip_reduction=True,
                  filter_multiplier=2, include_top=include_top, weights=weights, input_tensor=input_tensor,
                  pooling=pooling, classes=classes, default_size=331, classifier_activation=classifier_activation,
                  name=name)


NASNetMobile.__doc__ = ("Build NASNet-A Mobile (4 @ 1056, 224x224), optionally with Keras's ImageNet weights.\n"
                        + _COMMON_ARGS_DOC.format(size=224) + "\n    Example:\n        >>> model = NASNetMobile("
                        "weights=None, include_top=False, input_shape=(96, 96, 3), pooling=\"avg\")\n")
NASNetLarge.__doc__ = ("Build NASNet-A Large (6 @ 4032, 331x331), optionally with Keras's ImageNet weights.\n"
                       + _COMMON_ARGS_DOC.format(size=331) + "\n    Example:\n        >>> model = NASNetLarge("
                       "weights=None, include_top=False, pooling=\"max\")\n")


def _separable_conv_block(ip, filters, kernel_size=(3, 3), strides=(1, 1), block_id=None):
    """Twice ReLU, separable convolution, batch norm (the first one strided, padded TensorFlow-style)."""
    x = layers.Activation("relu")(ip)
    if strides == (2, 2):
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"separable_conv_1_pad_{block_id}")(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = layers.SeparableConv2D(filters, kernel_size, strides=strides, name=f"separable_conv_1_{block_id}",
                               padding=conv_pad, use_bias=False)(x)
    x = _bn(f"separable_conv_1_bn_{block_id}")(x)
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(filters, kernel_size, name=f"separable_conv_2_{block_id}", padding="same",
                               use_bias=False)(x)
    return _bn(f"separable_conv_2_bn_{block_id}")(x)


def _adjust_block(p, ip, filters, block_id=None):
    """Bring the previous cell's output ``p`` to ``ip``'s spatial size and to ``filters`` channels.

    A smaller ``ip`` (after a reduction) halves ``p`` with two offset strided 1x1 paths concatenated; a
    channel mismatch alone gets a ReLU-1x1 conv-BN projection.
    """
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        p1 = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid", name=f"adjust_avg_pool_1_{block_id}")(p)
        p1 = _conv1x1(filters // 2, f"adjust_conv_1_{block_id}")(p1)
        # the second path starts one pixel down and right
        p2 = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(p)
        p2 = layers.Cropping2D(cropping=((1, 0), (1, 0)))(p2)
        p2 = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid",
                                     name=f"adjust_avg_pool_2_{block_id}")(p2)
        p2 = _conv1x1(filters // 2, f"adjust_conv_2_{block_id}")(p2)
        p = layers.concatenate([p1, p2], axis=common.CHANNEL_AXIS)
        return _bn(f"adjust_bn_{block_id}")(p)
    if p.shape[common.CHANNEL_AXIS] != filters:
        p = layers.Activation("relu")(p)
        p = _conv1x1(filters, f"adjust_conv_projection_{block_id}")(p)
        return _bn(f"adjust_bn_{block_id}")(p)
    return p


def _avg_pool_3x3(strides, padding, name):
    return layers.AveragePooling2D((3, 3), strides=strides, padding=padding, name=name)


def _normal_a_cell(ip, p, filters, block_id=None):
    """A NASNet-A normal cell (Fig. 4 of the paper): five pairwise combinations, concatenated with ``p``.

    Returns:
        The cell's output and its input ``ip`` (the next cell's ``p``).
    """
    p = _adjust_block(p, ip, filters, block_id)
    h = layers.Activation("relu")(ip)
    h = _conv1x1(filters, f"normal_conv_1_{block_id}")(h)
    h = _bn(f"normal_bn_1_{block_id}")(h)

    x1_1 = _separable_conv_block(h, filters, kernel_size=(5, 5), block_id=f"normal_left1_{block_id}")
    x1_2 = _separable_conv_block(p, filters, block_id=f"normal_right1_{block_id}")
    x1 = layers.add([x1_1, x1_2], name=f"normal_add_1_{block_id}")

    x2_1 = _separable_conv_block(p, filters, (5, 5), block_id=f"normal_left2_{block_id}")
    x2_2 = _separable_conv_block(p, filters, (3, 3), block_id=f"normal_right2_{block_id}")
    x2 = layers.add([x2_1, x2_2], name=f"normal_add_2_{block_id}")

    x3 = _avg_pool_3x3((1, 1), "same", f"normal_left3_{block_id}")(h)
    x3 = layers.add([x3, p], name=f"normal_add_3_{block_id}")

    x4_1 = _avg_pool_3x3((1, 1), "same", f"normal_left4_{block_id}")(p)
    x4_2 = _avg_pool_3x3((1, 1), "same", f"normal_right4_{block_id}")(p)
    x4 = layers.add([x4_1, x4_2], name=f"normal_add_4_{block_id}")

    x5 = _separable_conv_block(h, filters, block_id=f"normal_left5_{block_id}")
    x5 = layers.add([x5, h], name=f"normal_add_5_{block_id}")

    x = layers.concatenate([p, x1, x2, x3, x4, x5], axis=common.CHANNEL_AXIS, name=f"normal_concat_{block_id}")
    return x, ip


def _reduction_a_cell(ip, p, filters, block_id=None):
    """A NASNet-A reduction cell (Fig. 4 of the paper): halves the spatial size.

    Returns:
        The cell's output and its input ``ip`` (the next cell's ``p``).
    """
    p = _adjust_block(p, ip, filters, block_id)
    h = layers.Activation("relu")(ip)
    h = _conv1x1(filters, f"reduction_conv_1_{block_id}")(h)
    h = _bn(f"reduction_bn_1_{block_id}")(h)
    h3 = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)

    x1_1 = _separable_conv_block(h, filters, (5, 5), strides=(2, 2), block_id=f"reduction_left1_{block_id}")
    x1_2 = _separable_conv_block(p, filters, (7, 7), strides=(2, 2), block_id=f"reduction_right1_{block_id}")
    x1 = layers.add([x1_1, x1_2], name=f"reduction_add_1_{block_id}")

    x2_1 = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="valid", name=f"reduction_left2_{block_id}")(h3)
    x2_2 = _separable_conv_block(p, filters, (7, 7), strides=(2, 2), block_id=f"reduction_right2_{block_id}")
    x2 = layers.add([x2_1, x2_2], name=f"reduction_add_2_{block_id}")

    x3_1 = _avg_pool_3x3((2, 2), "valid", f"reduction_left3_{block_id}")(h3)
    x3_2 = _separable_conv_block(p, filters, (5, 5), strides=(2, 2), block_id=f"reduction_right3_{block_id}")
    x3 = layers.add([x3_1, x3_2], name=f"reduction_add3_{block_id}")

    x4 = _avg_pool_3x3((1, 1), "same", f"reduction_left4_{block_id}")(x1)
    x4 = layers.add([x2, x4])

    x5_1 = _separable_conv_block(x1, filters, (3, 3), block_id=f"reduction_left4_{block_id}")
    x5_2 = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="valid", name=f"reduction_right5_{block_id}")(h3)
    x5 = layers.add([x5_1, x5_2], name=f"reduction_add4_{block_id}")

    x = layers.concatenate([x2, x3, x4, x5], axis=common.CHANNEL_AXIS, name=f"reduction_concat_{block_id}")
    return x, ip


def preprocess_input(x, data_format=None):
    """Scale pixels from [0, 255] to [-1, 1], the input NASNet's ImageNet weights expect.

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
