"""Reshaping layers: Permute, RepeatVector, zero padding, cropping and up-sampling (channels_last)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer


def _data_format(layer: str, data_format) -> str:
    if data_format not in (None, "channels_last"):
        raise ConfigError(f"{layer}: data_format={data_format!r} is not supported; kerasish layers are "
                          f"channels_last only (pass data_format='channels_last' or None).")
    return "channels_last"


def _int(layer: str, arg: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive" if minimum > 0 else "a non-negative"
        raise ConfigError(f"{layer}: {arg} must be {kind} integer, got {value!r}.")
    return value


def _pair(layer: str, arg: str, value, minimum: int = 0) -> tuple[int, int]:
    """An int ``n`` as ``(n, n)``, or a pair of ints, each at least ``minimum`` (Keras's standardize_tuple)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (_int(layer, arg, value, minimum),) * 2
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{layer}: {arg} must be an int or a pair of ints, got {value!r}.")
    return tuple(_int(layer, arg, v, minimum) for v in value)


def _pair_of_pairs(layer: str, arg: str, value) -> tuple[tuple[int, int], tuple[int, int]]:
    """``n``, ``(h, w)`` or ``((top, bottom), (left, right))`` as a pair of pairs, as Keras's 2D layers take."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = _int(layer, arg, value, 0)
        return ((n, n), (n, n))
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{layer}: {arg} must be an int, a pair of ints or a pair of pairs of ints, got {value!r}.")
    return (_pair(layer, f"{arg}[0]", value[0]), _pair(layer, f"{arg}[1]", value[1]))


def _check_rank(layer: Layer, input_shape, rank: int, what: str) -> None:
    if not isinstance(input_shape, tuple) or len(input_shape) != rank:
        raise InputError(f"Layer {layer.name!r} ({type(layer).__name__}) expects inputs of rank {rank} {what}, "
                         f"got input shape {input_shape}.")


def _to_list(pairs):
    return [list(p) for p in pairs]


class Permute(Layer):
    """Permutes the non-batch dimensions of the input.

    Args:
        dims: a permutation of ``1..rank-1`` (1-indexed; the batch axis is not included),
            e.g. ``(2, 1)`` swaps the two non-batch axes of a rank-3 input.

    Input shape: ``(batch, d1, ..., dn)``. Output shape: the ``dims`` permutation of ``(d1, ..., dn)``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"Permute: dims must be a permutation of 1..n (the batch axis 0 excluded), got {dims!r}.")
        self.dims = tuple(int(d) for d in dims)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, len(self.dims) + 1, f"for dims={self.dims}")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.transpose(inputs, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeats a batch of vectors ``n`` times: ``(batch, features)`` -> ``(batch, n, features)``.

    Args:
        n: a positive integer, the number of repetitions.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _int("RepeatVector", "n", n, 1)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 2, "(batch, features)")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.repeat(inputs[:, None, :], self.n, axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class ZeroPadding1D(Layer):
    """Pads the steps axis of ``(batch, steps, features)`` with zeros.

    Args:
        padding: an int (both sides) or a pair ``(left, right)``.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("ZeroPadding1D", data_format)
        self.padding = _pair("ZeroPadding1D", "padding", padding)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, features)")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.pad(inputs, ((0, 0), self.padding, (0, 0)))

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding), "data_format": self.data_format}


class ZeroPadding2D(Layer):
    """Pads the rows and columns of ``(batch, rows, cols, channels)`` with zeros.

    Args:
        padding: an int (all sides), a pair ``(rows, cols)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("ZeroPadding2D", data_format)
        self.padding = _pair_of_pairs("ZeroPadding2D", "padding", padding)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, rows, cols, channels)")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def get_config(self):
        return {**super().get_config(), "padding": _to_list(self.padding), "data_format": self.data_format}


def _check_crop(layer: Layer, input_shape, axis: int, crop: tuple[int, int]) -> None:
    size = input_shape[axis]
    if size is not None and sum(crop) >= size:
        raise InputError(f"Layer {layer.name!r} ({type(layer).__name__}): cropping {crop} on axis {axis} leaves "
                         f"nothing of input shape {input_shape}.")


class Cropping1D(Layer):
    """Crops the steps axis of ``(batch, steps, features)``.

    Args:
        cropping: an int (both ends) or a pair ``(start, end)`` of steps to remove.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair("Cropping1D", "cropping", cropping)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, features)")
        _check_crop(self, input_shape, 1, self.cropping)

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        start, end = self.cropping
        return inputs[:, start:inputs.shape[1] - end]

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class Cropping2D(Layer):
    """Crops the rows and columns of ``(batch, rows, cols, channels)``.

    Args:
        cropping: an int (all sides), a pair ``(rows, cols)`` (symmetric), or
            ``((top, bottom), (left, right))``.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("Cropping2D", data_format)
        self.cropping = _pair_of_pairs("Cropping2D", "cropping", cropping)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, rows, cols, channels)")
        _check_crop(self, input_shape, 1, self.cropping[0])
        _check_crop(self, input_shape, 2, self.cropping[1])

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        (top, bottom), (left, right) = self.cropping
        return inputs[:, top:inputs.shape[1] - bottom, left:inputs.shape[2] - right]

    def get_config(self):
        return {**super().get_config(), "cropping": _to_list(self.cropping), "data_format": self.data_format}


class UpSampling1D(Layer):
    """Repeats each step ``size`` times: ``(batch, steps, features)`` -> ``(batch, steps * size, features)``.

    Args:
        size: a positive integer, the up-sampling factor.
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = _int("UpSampling1D", "size", size, 1)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, features)")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.repeat(inputs, self.size, axis=1)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


class UpSampling2D(Layer):
    """Up-samples rows and columns of ``(batch, rows, cols, channels)`` by ``size``.

    Args:
        size: an int or a pair ``(rows, cols)`` of positive up-sampling factors.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
        interpolation: ``"nearest"`` (repeats pixels) or ``"bilinear"``, ``"bicubic"``,
            ``"lanczos3"``, ``"lanczos5"`` (``jax.image.resize``, half-pixel centers, as Keras).
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("UpSampling2D", data_format)
        self.size = _pair("UpSampling2D", "size", size, minimum=1)
        interp = interpolation.lower() if isinstance(interpolation, str) else interpolation
        if interp not in _INTERPOLATIONS:
            raise ConfigError(f"UpSampling2D: interpolation must be one of {list(_INTERPOLATIONS)}, "
                              f"got {interpolation!r}.")
        self.interpolation = interp

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, rows, cols, channels)")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        rows, cols = self.size
        if self.interpolation == "nearest":
            return jnp.repeat(jnp.repeat(inputs, rows, axis=1), cols, axis=2)
        b, h, w, c = inputs.shape
        # As Keras's ops.image.resize on JAX (jax.image.resize takes the same method names).
        return jax.image.resize(inputs, (b, h * rows, w * cols, c), method=self.interpolation, antialias=False)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


def _triple(layer: str, arg: str, value, minimum: int = 0) -> tuple[int, int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (_int(layer, arg, value, minimum),) * 3
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ConfigError(f"{layer}: {arg} must be an int or a tuple of 3 ints, got {value!r}.")
    return tuple(_int(layer, arg, v, minimum) for v in value)


def _triple_of_pairs(layer: str, arg: str, value) -> tuple[tuple[int, int], ...]:
    """``n``, ``(d1, d2, d3)`` (symmetric) or three ``(before, after)`` pairs, as Keras's 3D layers take."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = _int(layer, arg, value, 0)
        return ((n, n),) * 3
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ConfigError(f"{layer}: {arg} must be an int, a tuple of 3 ints or a tuple of 3 pairs of ints, "
                          f"got {value!r}.")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple((_int(layer, arg, v, 0),) * 2 for v in value)
    return tuple(_pair(layer, f"{arg}[{i}]", v) for i, v in enumerate(value))


_RANK5 = "(batch, dim1, dim2, dim3, channels)"


class ZeroPadding3D(Layer):
    """Pads the three spatial axes of ``(batch, dim1, dim2, dim3, channels)`` with zeros.

    Args:
        padding: an int (every side), a tuple of 3 ints (symmetric per axis) or three
            ``(before, after)`` pairs.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
    """

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("ZeroPadding3D", data_format)
        self.padding = _triple_of_pairs("ZeroPadding3D", "padding", padding)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 5, _RANK5)

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.pad(inputs, ((0, 0),) + self.padding + ((0, 0),))

    def get_config(self):
        return {**super().get_config(), "padding": _to_list(self.padding), "data_format": self.data_format}


class Cropping3D(Layer):
    """Crops the three spatial axes of ``(batch, dim1, dim2, dim3, channels)``.

    Args:
        cropping: an int (every side), a tuple of 3 ints (symmetric per axis) or three
            ``(before, after)`` pairs of steps to remove.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
    """

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("Cropping3D", data_format)
        self.cropping = _triple_of_pairs("Cropping3D", "cropping", cropping)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 5, _RANK5)
        for axis, crop in enumerate(self.cropping, start=1):
            _check_crop(self, input_shape, axis, crop)

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        (a0, a1), (b0, b1), (c0, c1) = self.cropping
        _, d1, d2, d3, _ = inputs.shape
        return inputs[:, a0:d1 - a1, b0:d2 - b1, c0:d3 - c1]

    def get_config(self):
        return {**super().get_config(), "cropping": _to_list(self.cropping), "data_format": self.data_format}


class UpSampling3D(Layer):
    """Repeats each voxel ``size`` times along the three spatial axes of ``(batch, d1, d2, d3, channels)``.

    Args:
        size: an int or a tuple of 3 positive up-sampling factors.
        data_format: ``"channels_last"`` (or None); other formats are not supported.
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format("UpSampling3D", data_format)
        self.size = _triple("UpSampling3D", "size", size, minimum=1)

    def _check_input(self, input_shape):
        _check_rank(self, input_shape, 5, _RANK5)

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        for axis, n in enumerate(self.size, start=1):
            inputs = jnp.repeat(inputs, n, axis=axis)
        return inputs

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format}
