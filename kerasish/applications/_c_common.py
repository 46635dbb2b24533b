"""Pieces shared by the EfficientNet, EfficientNetV2 and ConvNeXt constructors.

These are the steps every one of those constructors takes in the same way: checking ``weights`` and
``pooling``, making the input tensor, finishing the network (classifier or pooling), and loading weights
from Keras's published files.
"""

from __future__ import annotations

from kerasish import backend, layers
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError
from kerasish.layers.symbolic import KerasTensor
from kerasish.utils import get_source_inputs

# Keras's initializers of these families, as config dicts (layers resolve them by name).
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}

_POOLINGS = (None, "avg", "max")


def check_arguments(name: str, weights, include_top: bool, classes: int, pooling) -> None:
    """The argument checks done before anything is built.

    Raises:
        ConfigError: bad ``weights`` (see ``_weights.check_weights_argument``) or a ``pooling`` other than
            None, ``"avg"`` and ``"max"`` (Keras ignores an unknown ``pooling``; kerasish refuses it).
    """
    _weights.check_weights_argument(weights, include_top, classes, name=name)
    if pooling not in _POOLINGS:
        raise ConfigError(f"{name}: pooling must be None, 'avg' or 'max'; got pooling={pooling!r}.")


def channel_axis() -> int:
    """The channels axis of a 4D image batch under the current ``image_data_format``."""
    return 3 if backend.image_data_format() == "channels_last" else 1


def image_input(input_tensor, input_shape) -> KerasTensor:
    """The tensor the network starts from: ``input_tensor`` itself, or a new ``Input`` of ``input_shape``.

    Raises:
        ConfigError: ``input_tensor`` is not a symbolic tensor (a ``kerasish.Input`` or a layer's output).
    """
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not backend.is_keras_tensor(input_tensor):
        raise ConfigError("input_tensor must be a KerasTensor (the output of kerasish.Input() or of a layer); "
                          f"got {type(input_tensor).__name__}: {input_tensor!r}.")
    return input_tensor


def model_inputs(input_tensor, img_input):
    """The model's inputs: the ``Input`` tensors ``input_tensor`` comes from, so that its predecessors stay in."""
    if input_tensor is None:
        return img_input
    return get_source_inputs(input_tensor)


def stride_padding(x, kernel_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``ZeroPadding2D`` padding that makes a stride-2 "valid" convolution of ``x`` match TensorFlow's
    "same" one (one pixel less on the top/left when the size is even)."""
    if backend.image_data_format() == "channels_first":
        height, width = x.shape[2:4]
    else:
        height, width = x.shape[1:3]
    adjust = (1, 1) if height is None else (1 - height % 2, 1 - width % 2)
    half = kernel_size // 2
    return (half - adjust[0], half), (half - adjust[1], half)


def pooled(x, pooling, *, avg_name: str | None = "avg_pool", max_name: str | None = "max_pool"):
    """Global pooling of ``x`` for ``include_top=False`` (``pooling`` None leaves the 4D features)."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def load_published(model, weights, *, include_top: bool, base_url: str, file_stem: str, hashes) -> None:
    """Load ``weights`` into ``model``: Keras's ``{file_stem}.h5`` / ``{file_stem}_notop.h5`` for
    ``"imagenet"`` (``hashes`` is the pair of published hashes), a local file for a path, nothing for None."""
    top, notop = f"{file_stem}.h5", f"{file_stem}_notop.h5"
    hash_top, hash_notop = hashes if hashes is not None else (None, None)
    _weights.load_weights(model, weights, include_top=include_top,
                          fname_top=top, origin_top=base_url + top, hash_top=hash_top,
                          fname_notop=notop, origin_notop=base_url + notop, hash_notop=hash_notop)


def obtain_input_shape(input_shape, default_size: int, include_top: bool, weights) -> tuple:
    """``imagenet_utils.obtain_input_shape`` with these families' minimum size (32)."""
    return imagenet_utils.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                             data_format=backend.image_data_format(),
                                             require_flatten=include_top, weights=weights)
