"""Pieces shared by the MobileNet, DenseNet and NASNet families: the input, the pooling head and the model.

Applications build channels-last graphs only (kerasish's layers default to ``"channels_last"``).
"""

from __future__ import annotations

from kerasish import layers
from kerasish.errors import ConfigError
from kerasish.layers.symbolic import KerasTensor
from kerasish.models import Functional
from kerasish.utils.misc import get_source_inputs

CHANNEL_AXIS = -1
DATA_FORMAT = "channels_last"


def check_pooling(pooling, name: str) -> None:
    """``pooling`` must be None, ``"avg"`` or ``"max"`` (Keras ignores other values; kerasish names them)."""
    if pooling not in (None, "avg", "max"):
        raise ConfigError(f"{name}: pooling must be None, 'avg' or 'max'; got pooling={pooling!r}.")


def is_symbolic(x) -> bool:
    """Whether ``x`` is a functional-API tensor (an ``Input`` or a layer's output on one)."""
    return isinstance(x, KerasTensor)


def image_input(input_shape, input_tensor, name: str) -> KerasTensor:
    """The tensor the network starts from: ``input_tensor`` when given, else a new ``Input(input_shape)``."""
    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not is_symbolic(input_tensor):
        raise ConfigError(f"{name}: input_tensor must be a symbolic tensor (kerasish.Input(...) or a layer's "
                          f"output on one); got {type(input_tensor).__name__}.")
    return input_tensor


def input_size(input_shape, input_tensor) -> tuple:
    """Height and width of the image: from ``input_shape`` if given, else from ``input_tensor``, else Nones."""
    if input_shape is not None:
        return tuple(input_shape)[0], tuple(input_shape)[1]
    if isinstance(input_tensor, KerasTensor):
        return input_tensor.shape[1], input_tensor.shape[2]
    return None, None


def pool_features(x, pooling, avg_name: str | None = None, max_name: str | None = None):
    """The ``include_top=False`` head: global average or max pooling, or the feature map unchanged."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def functional(input_tensor, img_input, outputs, name) -> Functional:
    """The model from the network's true inputs (those ``input_tensor`` came from, when given) to ``outputs``."""
    inputs = img_input if input_tensor is None else get_source_inputs(input_tensor)
    if isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    return Functional(inputs, outputs, name=name)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``), never more than
    10% below ``value`` (the channel rounding of TensorFlow's MobileNet reference code)."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded
