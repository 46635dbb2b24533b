"""Merging layers: Concatenate and Add."""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.errors import InputError
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

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Add(Layer):
    """Adds a list of inputs of the same shape."""

    def _check_input(self, input_shape):
        _check_list(self, input_shape)
        # Same rank; each dimension equal, unknown or 1 (broadcast), as Keras accepts.
        same_rank = len({len(s) for s in input_shape}) == 1
        if not same_rank or any(len({d for d in dims if d not in (None, 1)}) > 1
                                for dims in zip(*(s[1:] for s in input_shape))):
            raise InputError(f"Layer {self.name!r} (Add) needs inputs of the same shape, got shapes {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out
