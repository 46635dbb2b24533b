"""Pooling layers (flax ``nnx.max_pool`` / ``nnx.avg_pool``)."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from kerasish.errors import InputError
from kerasish.layers.base import Layer
from kerasish.layers.conv import (
    from_channels_last,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    to_channels_last,
)


class _Pooling2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", cls)
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, 2, "strides", cls)
        self.padding = normalize_padding(padding, cls)
        self.data_format = normalize_data_format(data_format, cls)

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise InputError(
                f"Layer {self.name!r} ({type(self).__name__}) expects 4D inputs (batch, height, width, channels), "
                f"got input shape {input_shape}."
            )

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        x = to_channels_last(inputs, self.data_format)
        y = self._pool(x)
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Max pooling over 2D windows."""

    def _pool(self, x):
        return nnx.max_pool(x, self.pool_size, strides=self.strides, padding=self.padding.upper())


class AveragePooling2D(_Pooling2D):
    """Average pooling over 2D windows (``same`` padding averages only real values, as Keras)."""

    def _pool(self, x):
        return nnx.avg_pool(x, self.pool_size, strides=self.strides, padding=self.padding.upper(),
                            count_include_pad=False)


class GlobalAveragePooling2D(Layer):
    """Mean over the spatial dimensions."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.keepdims = keepdims

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise InputError(f"Layer {self.name!r} (GlobalAveragePooling2D) expects 4D inputs, got {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        return jnp.mean(inputs, axis=axes, keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
