"""StackedRNNCells (Keras 3): several RNN cells run as one, each feeding its output to the next."""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.errors import ConfigError
from kerasish.layers.base import Layer
from kerasish.saving.sublayers import deserialize_sublayer, serialize_sublayer


def _sizes(state_size) -> list[int]:
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


def _output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    return size if size is not None else _sizes(cell.state_size)[0]


class StackedRNNCells(Layer):
    """A stack of RNN cells that behaves as one cell, for ``RNN(StackedRNNCells([...]))``.

    At each step the first cell reads the input, each next cell reads the previous cell's output, and the
    last cell's output is the step's output.

    Args:
        cells: a list of cells (``LSTMCell``, ``GRUCell``, ``SimpleRNNCell`` or custom cells with a
            ``state_size`` and ``call(inputs, states)``).

    ``state_size`` is the list of the cells' state sizes (nested, as Keras: ``[[h, c], h]`` for an
    LSTMCell then a GRUCell); ``call(inputs, states)`` takes and returns states in that structure, and an
    ``RNN`` over this cell returns its final states so with ``return_state=True``. Weights: each cell's, in order.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ConfigError(f"StackedRNNCells: cells must be a non-empty list of cells, got {cells!r}.")
        for cell in cells:
            if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
                raise ConfigError(f"StackedRNNCells: every cell must be a kerasish cell layer with a state_size, "
                                  f"got {cell!r}.")
        self.cells = list(cells)

    @property
    def state_size(self) -> list:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        return _output_size(self.cells[-1])

    @property
    def _flat_state_sizes(self) -> list[int]:
        return [n for c in self.cells for n in _sizes(c.state_size)]

    def nest_states(self, flat) -> list:
        """A flat list of state arrays in this stack's nested ``state_size`` structure."""
        out, i = [], 0
        for cell in self.cells:
            n = len(_sizes(cell.state_size))
            part = list(flat[i:i + n])
            out.append(part if isinstance(cell.state_size, (list, tuple)) else part[0])
            i += n
        return out

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            cell._maybe_build(shape)
            shape = (shape[0], _output_size(cell))

    def _check_input(self, input_shape):
        self.cells[0]._check_input(input_shape)

    def get_initial_state(self, batch_size: int, dtype=None) -> list:
        return self.nest_states([jnp.zeros((batch_size, n), dtype or self.compute_dtype)
                                 for n in self._flat_state_sizes])

    def call_flat(self, inputs, flat_states, training=False):
        """One step on a flat list of states, returning ``(output, flat new states)`` (what ``RNN`` scans)."""
        new = []
        i = 0
        for cell in self.cells:
            n = len(_sizes(cell.state_size))
            kwargs = {"training": training} if cell._call_has_training else {}
            states = list(flat_states[i:i + n])
            inputs, states = cell.call(inputs, states, **kwargs)
            new.extend(states if isinstance(states, (list, tuple)) else [states])
            i += n
        return inputs, new

    def call(self, inputs, states, training=False):
        flat = []
        for cell, s in zip(self.cells, states):
            flat.extend(s if isinstance(s, (list, tuple)) else [s])
        out, new = self.call_flat(inputs, flat, training)
        return out, self.nest_states(new)

    def get_config(self):
        return {**super().get_config(), "cells": [serialize_sublayer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["cells"] = [deserialize_sublayer(c, custom_objects) for c in config["cells"]]
        return cls(**config)
