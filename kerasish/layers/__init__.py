"""Keras-named layers."""

from kerasish.layers.base import Layer
from kerasish.layers.conv import Conv2D
from kerasish.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Reshape,
)
from kerasish.layers.merging import Add, Concatenate
from kerasish.layers.normalization import BatchNormalization, LayerNormalization
from kerasish.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    MaxPool2D,
    MaxPooling2D,
)
from kerasish.layers.symbolic import KerasTensor

__all__ = [
    "Activation", "Add", "AveragePooling2D", "AvgPool2D", "BatchNormalization", "Concatenate", "Conv2D",
    "Dense", "Dropout", "Embedding", "Flatten", "GlobalAveragePooling2D", "GlobalAvgPool2D", "Input",
    "InputLayer", "KerasTensor", "Lambda", "Layer", "LayerNormalization", "MaxPool2D", "MaxPooling2D", "Reshape",
]
