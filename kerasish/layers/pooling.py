"""Pooling layers (flax ``nnx.max_pool`` / ``nnx.avg_pool``)."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.conv import (
    check_output_size,
    from_channels_last,
    normalize_data_format,
    normalize_padding,
    normalize_tuple,
    to_channels_last,
)

_SPATIAL = {1: "steps", 2: "height, width", 3: "dim1, dim2, dim3"}


def _expect_rank(layer, input_shape, rank):
    if not isinstance(input_shape, tuple) or len(input_shape) != rank + 2:
        raise InputError(
            f"Layer {layer.name!r} ({type(layer).__name__}) expects {rank + 2}D inputs "
            f"(batch, {_SPATIAL[rank]}, channels), got input shape {input_shape}."
        )


class _Pooling(Layer):
    """N-d max/average pooling over windows; ``_rank`` spatial dimensions. With ``padding="valid"``, an input
    smaller than ``pool_size`` is refused (InputError), as Keras."""

    _rank = 2

    def __init__(self, pool_size=None, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        n = self._rank
        if pool_size is None:
            raise ConfigError(f"{cls}: pool_size is required (an int or a tuple of {n} ints).")
        self.pool_size = normalize_tuple(pool_size, n, "pool_size", cls)
        self.strides = normalize_tuple(strides if strides is not None else self.pool_size, n, "strides", cls)
        for name, value in (("pool_size", self.pool_size), ("strides", self.strides)):
            if any(v <= 0 for v in value):
                raise ConfigError(f"{cls}: {name} must be positive, got {value}.")
        self.padding = normalize_padding(padding, cls)
        self.data_format = normalize_data_format(data_format, cls)

    def _check_input(self, input_shape):
        _expect_rank(self, input_shape, self._rank)
        check_output_size(self, input_shape, self.pool_size, self.strides, (1,) * self._rank, self.padding,
                          self.data_format, "pool_size")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        x = to_channels_last(inputs, self.data_format)
        y = self._pool(x)
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class _MaxPool:
    def _pool(self, x):
        return nnx.max_pool(x, self.pool_size, strides=self.strides, padding=self.padding.upper())


class _AvgPool:
    # Keras's "same" padding averages only the real values of a window (the padding is not counted).
    def _pool(self, x):
        return nnx.avg_pool(x, self.pool_size, strides=self.strides, padding=self.padding.upper(),
                            count_include_pad=False)


class _Pooling2D(_Pooling):
    _rank = 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling1D(_MaxPool, _Pooling):
    """Max pooling over 1D windows (Keras default pool_size 2)."""

    _rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_MaxPool, _Pooling2D):
    """Max pooling over 2D windows."""


class MaxPooling3D(_MaxPool, _Pooling):
    """Max pooling over 3D windows (Keras default pool_size (2, 2, 2))."""

    _rank = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_AvgPool, _Pooling):
    """Average pooling over 1D windows (``same`` padding averages only real values, as Keras)."""

    _rank = 1


class AveragePooling2D(_AvgPool, _Pooling2D):
    """Average pooling over 2D windows (``same`` padding averages only real values, as Keras)."""


class AveragePooling3D(_AvgPool, _Pooling):
    """Average pooling over 3D windows (``same`` padding averages only real values, as Keras)."""

    _rank = 3


class _GlobalPooling(Layer):
    """Reduce over all spatial dimensions; ``_rank`` of them."""

    _rank = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        if not isinstance(keepdims, bool):
            raise ConfigError(f"{type(self).__name__}: keepdims must be a bool, got {keepdims!r}.")
        self.keepdims = keepdims

    def _check_input(self, input_shape):
        _expect_rank(self, input_shape, self._rank)

    def build(self, input_shape):
        self._check_input(input_shape)

    def _axes(self):
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self._rank))

    def call(self, inputs):
        return self._reduce(inputs, axis=self._axes(), keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class _GlobalMax(_GlobalPooling):
    _reduce = staticmethod(jnp.max)


class _GlobalAvg(_GlobalPooling):
    _reduce = staticmethod(jnp.mean)


class GlobalMaxPooling1D(_GlobalMax):
    """Max over the steps."""

    _rank = 1


class GlobalMaxPooling2D(_GlobalMax):
    """Max over the spatial dimensions."""

    _rank = 2


class GlobalMaxPooling3D(_GlobalMax):
    """Max over the spatial dimensions."""

    _rank = 3


class GlobalAveragePooling1D(_GlobalAvg):
    """Mean over the steps; with ``mask`` (batch, steps), the mean of the unmasked steps only (as Keras)."""

    _rank = 1

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        steps = self._axes()[0]
        mask = jnp.asarray(mask)
        if mask.shape != inputs.shape[:1] + inputs.shape[steps:steps + 1]:
            raise InputError(f"Layer {self.name!r} (GlobalAveragePooling1D): mask shape {mask.shape} does not "
                             f"match (batch, steps) of the input shape {inputs.shape}.")
        keep = jnp.expand_dims(mask.astype(bool), 2 if self.data_format == "channels_last" else 1)
        total = jnp.sum(jnp.where(keep, inputs, 0), axis=steps, keepdims=self.keepdims)
        return total / jnp.sum(keep.astype(inputs.dtype), axis=steps, keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalAvg):
    """Mean over the spatial dimensions."""

    _rank = 2


class GlobalAveragePooling3D(_GlobalAvg):
    """Mean over the spatial dimensions."""

    _rank = 3


MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
MaxPool3D = MaxPooling3D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
AvgPool3D = AveragePooling3D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
