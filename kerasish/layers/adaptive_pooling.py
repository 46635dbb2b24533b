"""Adaptive pooling (Keras 3): pool any spatial size down (or up) to a fixed ``output_size``.

Output position ``i`` of an axis of length ``L`` pooled to ``n`` covers the input steps
``floor(i * L / n) <= j < ceil((i + 1) * L / n)`` (PyTorch's and Keras's windows). A box window is
separable, so each spatial axis is pooled in turn: an average by a fixed ``(L, n)`` averaging matrix, a
maximum over a gathered ``(n, window)`` index table whose short windows repeat their last index.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.conv import from_channels_last, normalize_data_format, to_channels_last


def _windows(length: int, n: int) -> list[tuple[int, int]]:
    return [((i * length) // n, -((-(i + 1) * length) // n)) for i in range(n)]


def _average_axis(x, axis: int, n: int):
    length = x.shape[axis]
    weights = np.zeros((length, n), np.float32)
    for i, (start, end) in enumerate(_windows(length, n)):
        weights[start:end, i] = 1.0 / (end - start)
    y = jnp.tensordot(jnp.moveaxis(x, axis, -1), jnp.asarray(weights, x.dtype), axes=1)
    return jnp.moveaxis(y, -1, axis)


def _max_axis(x, axis: int, n: int):
    windows = _windows(x.shape[axis], n)
    width = max(end - start for start, end in windows)
    index = np.array([[min(start + k, end - 1) for k in range(width)] for start, end in windows], np.int32)
    gathered = jnp.take(x, jnp.asarray(index.reshape(-1)), axis=axis)
    shape = x.shape[:axis] + (n, width) + x.shape[axis + 1:]
    return jnp.max(gathered.reshape(shape), axis=axis + 1)


class _AdaptivePooling(Layer):
    _rank = 2
    _pool_axis = staticmethod(_average_axis)

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        cls, n = type(self).__name__, self._rank
        sizes = (output_size,) * n if isinstance(output_size, int) and not isinstance(output_size, bool) \
            else output_size
        if (not isinstance(sizes, (list, tuple)) or len(sizes) != n
                or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sizes)):
            raise ConfigError(f"{cls}: output_size must be a positive int or a tuple of {n} positive ints, "
                              f"got {output_size!r}.")
        self.output_size = tuple(sizes)
        self.data_format = normalize_data_format(data_format, cls)

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self._rank + 2:
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank {self._rank + 2} "
                             f"(batch, spatial..., channels), got input shape {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        x = to_channels_last(inputs, self.data_format)
        for axis, n in enumerate(self.output_size, start=1):
            x = self._pool_axis(x, axis, n)
        return from_channels_last(x, self.data_format)

    def get_config(self):
        return {**super().get_config(), "output_size": list(self.output_size), "data_format": self.data_format}


class _AdaptiveMax(_AdaptivePooling):
    _pool_axis = staticmethod(_max_axis)


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Average pooling of ``(batch, steps, channels)`` to ``output_size`` steps (an int or a 1-tuple).

    Args:
        output_size: the number of output steps.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    _rank = 1


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Average pooling of ``(batch, height, width, channels)`` to ``output_size`` (an int or ``(h, w)``)."""

    _rank = 2


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Average pooling of ``(batch, d1, d2, d3, channels)`` to ``output_size`` (an int or 3 ints)."""

    _rank = 3


class AdaptiveMaxPooling1D(_AdaptiveMax):
    """Max pooling of ``(batch, steps, channels)`` to ``output_size`` steps (an int or a 1-tuple)."""

    _rank = 1


class AdaptiveMaxPooling2D(_AdaptiveMax):
    """Max pooling of ``(batch, height, width, channels)`` to ``output_size`` (an int or ``(h, w)``)."""

    _rank = 2


class AdaptiveMaxPooling3D(_AdaptiveMax):
    """Max pooling of ``(batch, d1, d2, d3, channels)`` to ``output_size`` (an int or 3 ints)."""

    _rank = 3

