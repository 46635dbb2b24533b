"""Merging layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum and Dot."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer


def _check_list(layer, input_shape):
    if not isinstance(input_shape, list) or len(input_shape) < 2:
        raise InputError(f"Layer {layer.name!r} ({type(layer).__name__}) must be called on a list of at least "
                         f"2 inputs, got input shape {input_shape}.")


class Concatenate(Layer):
    """Concatenates a list of inputs along ``axis``."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def _check_input(self, input_shape):
        _check_list(self, input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise InputError(f"Layer {self.name!r} (Concatenate) needs inputs of one rank, got shapes {input_shape}.")
        rank = ranks.pop()
        axis = self.axis % rank
        for dim in range(1, rank):
            sizes = {s[dim] for s in input_shape if s[dim] is not None}
            if dim != axis and len(sizes) > 1:
                raise InputError(f"Layer {self.name!r} (Concatenate) on axis {self.axis}: inputs must match on "
                                 f"every other axis, got shapes {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, mask=None):
        """As Keras: each mask is broadcast over its input's remaining axes (an input without a mask
        counts as all True), the masks are concatenated along ``axis``, and a position of the output
        is kept when any feature at it is: masks join along a time axis and combine with OR otherwise."""
        if mask is None or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask):
            m = jnp.ones(x.shape, bool) if m is None else jnp.asarray(m, bool)
            full.append(jnp.broadcast_to(m.reshape(m.shape + (1,) * (x.ndim - m.ndim)), x.shape))
        return jnp.any(jnp.concatenate(full, axis=self.axis), axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class _Merge(Layer):
    """Element-wise merge of a list of inputs, broadcast as Keras does.

    Non-batch shapes are aligned on their last axes; each pair of dimensions must be
    equal, unknown or 1. Inputs of lower rank get axes of size 1 inserted after the
    batch axis, as Keras's ``Merge`` layers do.
    """

    _min_inputs = 2
    _max_inputs: int | None = None

    def _check_input(self, input_shape):
        _check_list(self, input_shape)
        kind = type(self).__name__
        n = len(input_shape)
        if n < self._min_inputs or (self._max_inputs is not None and n > self._max_inputs):
            want = f"exactly {self._max_inputs}" if self._max_inputs == self._min_inputs else \
                f"at least {self._min_inputs}"
            raise InputError(f"Layer {self.name!r} ({kind}) must be called on {want} inputs, "
                             f"got {n} with shapes {input_shape}.")
        batches = {s[0] for s in input_shape if s and s[0] is not None}
        if len(batches) > 1:
            raise InputError(f"Layer {self.name!r} ({kind}) cannot merge inputs of different batch sizes, "
                             f"got shapes {input_shape}.")
        out: tuple = ()
        for shape in input_shape:
            out = _broadcast(self, out, tuple(shape[1:]), input_shape)

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        inputs = list(inputs)
        rank = max(x.ndim for x in inputs)
        inputs = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]
        return self._merge(inputs)

    def compute_mask(self, inputs, mask=None):
        """As Keras: the steps that any input has (logical OR), or no mask unless every input has one."""
        if not isinstance(mask, (list, tuple)):
            return mask
        if any(m is None for m in mask):
            return None
        out = jnp.asarray(mask[0], bool)
        for m in mask[1:]:
            out = jnp.logical_or(out, m)
        return out

    def _merge(self, inputs):
        """Combine the rank-aligned inputs; each merging layer overrides this."""
        raise NotImplementedError(f"{type(self).__name__}: merging layers override _merge(inputs).")


def _broadcast(layer, a: tuple, b: tuple, input_shapes) -> tuple:
    if len(a) < len(b):
        a, b = b, a
    out = list(a[:len(a) - len(b)])
    for i, j in zip(a[len(a) - len(b):], b):
        if i is None or j is None:
            out.append(None)
        elif i == 1 or j == 1 or i == j:
            out.append(j if i == 1 else i)
        else:
            raise InputError(f"Layer {layer.name!r} ({type(layer).__name__}) needs inputs of the same shape "
                             f"(or broadcastable: equal dimensions or 1), got shapes {input_shapes}.")
    return tuple(out)


class Add(_Merge):
    """Adds a list of inputs of the same (or broadcastable) shape."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    """Subtracts the second of exactly two inputs from the first."""

    _max_inputs = 2

    def _merge(self, inputs):
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Multiplies a list of inputs element-wise."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


class Average(_Merge):
    """Averages a list of inputs element-wise."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out / len(inputs)


class Maximum(_Merge):
    """The element-wise maximum of a list of inputs."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = jnp.maximum(out, x)
        return out


class Minimum(_Merge):
    """The element-wise minimum of a list of inputs."""

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = jnp.minimum(out, x)
        return out


def _l2_normalize(x, axis):
    # Keras's ops.normalize: x * min(rsqrt(sum(x^2)), 1 / epsilon), epsilon = 1e-7.
    inv = jnp.minimum(jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True)), 1e7)
    return x * inv


class Dot(Layer):
    """The dot product of two batches of samples along one axis of each (Keras's ``batch_dot``).

    Args:
        axes: an int (the same axis in both inputs) or a pair ``(axis_of_first, axis_of_second)``;
            negative values count from the end; the batch axis 0 cannot be used.
        normalize: L2-normalize both inputs along their dot axis first (the output is then
            the cosine similarity).

    Output shape: the first input's shape without its dot axis, then the second's without
    its batch and dot axes; ``(batch, 1)`` when that leaves only the batch axis.
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = [axes, axes] if isinstance(axes, int) and not isinstance(axes, bool) else axes
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or any(isinstance(a, bool) or not isinstance(a, int) for a in pair)):
            raise ConfigError(f"Dot: axes must be an int or a pair of ints, got {axes!r}.")
        if 0 in pair:
            raise ConfigError(f"Dot: axes cannot include the batch axis 0, got axes={axes!r}.")
        self.axes = axes if isinstance(axes, int) else list(axes)
        self.normalize = bool(normalize)

    def _axes(self, ranks) -> list[int]:
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        return [a % r if a < 0 else a for a, r in zip(pair, ranks)]

    def _check_input(self, input_shape):
        _check_list(self, input_shape)
        if len(input_shape) != 2:
            raise InputError(f"Layer {self.name!r} (Dot) must be called on exactly 2 inputs, "
                             f"got {len(input_shape)} with shapes {input_shape}.")
        s1, s2 = input_shape
        if len(s1) < 2 or len(s2) < 2:
            raise InputError(f"Layer {self.name!r} (Dot) needs inputs of rank >= 2, got shapes {input_shape}.")
        if s1[0] is not None and s2[0] is not None and s1[0] != s2[0]:
            raise InputError(f"Layer {self.name!r} (Dot) cannot merge inputs of different batch sizes, "
                             f"got shapes {input_shape}.")
        a1, a2 = self._axes((len(s1), len(s2)))
        if a1 >= len(s1) or a2 >= len(s2) or a1 == 0 or a2 == 0:
            raise InputError(f"Layer {self.name!r} (Dot): axes={self.axes} out of range (or the batch axis) "
                             f"for input shapes {input_shape}.")
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise InputError(f"Layer {self.name!r} (Dot): axis {a1} of the first input ({s1[a1]}) and axis {a2} "
                             f"of the second ({s2[a2]}) must have the same size, got shapes {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        x, y = inputs
        a1, a2 = self._axes((x.ndim, y.ndim))
        if self.normalize:
            x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
        x = jnp.moveaxis(x, a1, -1)  # (batch, *x_rest, k)
        y = jnp.moveaxis(y, a2, 1)  # (batch, k, *y_rest)
        b, k = x.shape[0], x.shape[-1]
        out = jnp.matmul(x.reshape(b, -1, k), y.reshape(b, k, -1))
        out = out.reshape((b,) + x.shape[1:-1] + y.shape[2:])
        return out.reshape(b, 1) if out.ndim == 1 else out

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# -- Keras's functional forms: build the merging layer and call it at once ------------------------------------

def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the sum of a list of inputs (KerasTensors or arrays)."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: the first of two inputs minus the second."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the element-wise product of a list of inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the element-wise mean of a list of inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the element-wise maximum of a list of inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the element-wise minimum of a list of inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``: a list of inputs joined along ``axis``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """``Dot(axes=axes, **kwargs)(inputs)``: the batched dot product of two inputs along ``axes``."""
    return Dot(axes=axes, **kwargs)(inputs)
