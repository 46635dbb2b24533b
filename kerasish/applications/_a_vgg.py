"""The VGG body shared by VGG16 and VGG19: five blocks of 3x3 convolutions, each ending in a 2x2 max pool."""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import _a_base, imagenet_utils

_FILTERS = (64, 128, 256, 512, 512)
_WEIGHTS_ROOT = "https://storage.googleapis.com/tensorflow/keras-applications"


def build_vgg(convs_per_block: tuple[int, ...], *, name: str, include_top, weights, input_tensor, input_shape,
              pooling, classes, classifier_activation, hashes: tuple[str, str]):
    """A VGG network with ``convs_per_block[i]`` convolutions in block ``i + 1``; ``hashes`` are the MD5s of
    Keras's published weights (with top, without top), stored under ``<name>/``."""
    img_input = _a_base.start(name, weights=weights, include_top=include_top, classes=classes, pooling=pooling,
                              input_tensor=input_tensor, input_shape=input_shape, default_size=224, min_size=32)
    x = img_input
    for block, (filters, convs) in enumerate(zip(_FILTERS, convs_per_block), start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = _a_base.head(x, include_top=False, pooling=pooling, classes=classes,
                         classifier_activation=classifier_activation, weights=weights)
    family = f"vgg{sum(convs_per_block) + 3}"
    top = f"{family}_weights_tf_dim_ordering_tf_kernels.h5"
    notop = f"{family}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return _a_base.finish(img_input, input_tensor, x, name, weights=weights, include_top=include_top,
                          fname_top=top, origin_top=f"{_WEIGHTS_ROOT}/{family}/{top}", hash_top=hashes[0],
                          fname_notop=notop, origin_notop=f"{_WEIGHTS_ROOT}/{family}/{notop}", hash_notop=hashes[1])
