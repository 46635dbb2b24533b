"""Optimizers and learning-rate schedules with Keras 3 names, defaults and numerics, built on optax."""

from . import schedules
from .base import capture_gradients
from .loss_scale import LossScaleOptimizer, LossScaleState
from .optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Nadam,
    Optimizer,
    RMSprop,
    ScaleByKerasNadamState,
    clip_by_tensor_norm,
    deserialize,
    get,
    get_learning_rate,
    scale_by_keras_adam,
    scale_by_keras_adamax,
    scale_by_keras_nadam,
    serialize,
    set_learning_rate,
)

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "LossScaleOptimizer",
    "LossScaleState",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "ScaleByKerasNadamState",
    "capture_gradients",
    "clip_by_tensor_norm",
    "deserialize",
    "get",
    "get_learning_rate",
    "scale_by_keras_adam",
    "scale_by_keras_adamax",
    "scale_by_keras_nadam",
    "schedules",
    "serialize",
    "set_learning_rate",
]
