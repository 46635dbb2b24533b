"""Recurrent layers (Keras 3): SimpleRNN, LSTM, GRU, their cells, the generic RNN wrapper and Bidirectional.

Every recurrence is one ``jax.lax.scan`` over time. For the built-in cells the input projection
``x @ kernel + bias`` of all time steps is one matmul before the scan, so the scan body holds only the
recurrent matmul and the gates. Weights, gate orders and configs are Keras 3's, so
``layer.set_weights(keras_layer.get_weights())`` moves an RNN between the two frameworks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish import regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.rnn_cells import (  # noqa: F401 - the cells are part of this module's API
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    _Cell,
    _CellMath,
    _rate,
    _run_cell,
    _scan,
    _units,
)
from kerasish.saving.sublayers import deserialize_sublayer, serialize_sublayer


class RNN(Layer):
    """Runs a cell over the time axis with one ``jax.lax.scan``.

    Args:
        cell: a cell layer (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell`` or a custom layer with
            ``state_size`` and ``call(inputs, states) -> (output, new_states)``).
        return_sequences: return the output of every step ``(batch, time, units)`` instead of the last.
        return_state: also return the final states: ``[output, *states]``.
        go_backwards: process the sequence in reverse (the returned sequence is in processing order, as Keras).
        stateful: not supported (raises ConfigError).
        unroll: accepted for Keras compatibility; the loop is always a ``lax.scan``.
        zero_output_for_mask: masked steps output zeros instead of the previous output
            (``Bidirectional`` sets it to ``return_sequences``, as Keras).
        activity_regularizer: penalty on the outputs, added to the step's losses.

    Call arguments: ``inputs`` ``(batch, time, features)``; ``initial_state`` a list of state arrays;
    ``mask`` ``(batch, time)`` booleans: a masked step keeps the previous states and outputs the previous
    output; ``training`` turns dropout on.
    """

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, activity_regularizer=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = type(self).__name__
        if isinstance(cell, (list, tuple)) and cell and all(isinstance(c, Layer) for c in cell):
            from kerasish.layers.stacked_rnn_cells import StackedRNNCells

            cell = StackedRNNCells(list(cell))
        if not isinstance(cell, Layer) or not hasattr(cell, "state_size"):
            raise ConfigError(f"{owner}: cell must be a kerasish cell layer with a state_size, got {cell!r}.")
        if stateful:
            raise ConfigError(f"{owner}: stateful=True is not supported by kerasish (states are not kept between "
                              "batches); pass the state explicitly with initial_state / return_state instead.")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)

    @property
    def state_size(self) -> list[int]:
        """The cell's state sizes, flat (a ``StackedRNNCells``'s nested sizes in order)."""
        flat = getattr(self.cell, "_flat_state_sizes", None)
        if flat is not None:
            return list(flat)
        s = self.cell.state_size
        return list(s) if isinstance(s, (list, tuple)) else [s]

    def _rank_error(self, input_shape) -> InputError:
        return InputError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank 3 "
                          f"(batch, time, features), got input shape {input_shape}.")

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise self._rank_error(input_shape)
        self.cell._maybe_build((input_shape[0], input_shape[2]))
        for var in self.cell.weights:  # "lstm/lstm_cell/kernel", as Keras's paths
            var.path = f"{self.name}/{self.cell.name}/{var.name}"
        for sub in getattr(self.cell, "cells", ()):  # "rnn/stacked_rnn_cells/lstm_cell/kernel"
            for var in sub.weights:
                var.path = f"{self.name}/{self.cell.name}/{sub.name}/{var.name}"

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise self._rank_error(input_shape)
        self.cell._check_input((input_shape[0], input_shape[2]))

    def _initial_states(self, initial_state, batch: int, dtype) -> tuple:
        if initial_state is None:
            return tuple(jnp.zeros((batch, n), dtype) for n in self.state_size)
        states = jax.tree.leaves(initial_state)  # a StackedRNNCells's nested states, flat
        if len(states) != len(self.state_size):
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects {len(self.state_size)} initial "
                             f"state(s), got {len(states)}.")
        out = []
        for s, n in zip(states, self.state_size):
            s = jnp.asarray(s, dtype)
            if s.shape != (batch, n):
                raise InputError(f"Layer {self.name!r} ({type(self).__name__}): an initial state must have shape "
                                 f"{(batch, n)}, got {s.shape}.")
            out.append(s)
        return tuple(out)

    def call(self, inputs, initial_state=None, mask=None, training=None):
        x = jnp.asarray(inputs)
        if x.ndim != 3:
            raise self._rank_error(tuple(x.shape))
        if not jnp.issubdtype(x.dtype, jnp.floating):
            # Bool or integer sequences (one-hot flags, counts) run in the compute dtype, as Keras casts them;
            # left alone, the scan's carry (in the input's dtype) would not match the float step output.
            x = x.astype(self.compute_dtype)
        batch = x.shape[0]
        states = self._initial_states(initial_state, batch, x.dtype)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.shape != x.shape[:2]:
                raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects a mask of shape "
                                 f"(batch, time) = {x.shape[:2]}, got {mask.shape}.")
            mask = mask.astype(bool)
        cell = self.cell
        if isinstance(cell, _Cell):
            dp, rdp = cell._dropout_masks(batch, x.dtype, bool(training), x)
            # Jitted per cell math: repeated eager calls reuse one compiled scan; in a traced step it inlines.
            outs, final = _run_cell(_CellMath(cell), cell._params(), x, states, mask, dp, rdp,
                                    go_backwards=self.go_backwards, zero_out=self.zero_output_for_mask)
        else:
            kwargs = {"training": bool(training)} if cell._call_has_training else {}
            cell_step = getattr(cell, "call_flat", cell.call)

            def step(xt, carry):
                out, new = cell_step(xt, list(carry), **kwargs)
                return out, tuple(new) if isinstance(new, (list, tuple)) else (new,)

            outs, final = _scan(step, jnp.swapaxes(x, 0, 1), states, mask, self.go_backwards,
                                self.zero_output_for_mask)
        output = jnp.swapaxes(outs, 0, 1) if self.return_sequences else outs[-1]
        if hasattr(cell, "nest_states"):  # StackedRNNCells: its states in its nested structure, as Keras
            final = cell.nest_states(list(final))
        return [output, *final] if self.return_state else output  # the base class adds activity penalties

    def compute_mask(self, inputs, mask=None):
        """The input mask for a returned sequence, else None; with ``return_state`` one entry per output."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        if self.return_state:
            return [out] + [None] * len(self.state_size)
        return out

    def get_config(self):
        config = {**super().get_config(), "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards,
                  "stateful": self.stateful, "unroll": self.unroll,
                  "zero_output_for_mask": self.zero_output_for_mask}
        if type(self) is RNN:
            config["cell"] = serialize_sublayer(self.cell)
        if type(self) is not RNN:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if cls is RNN:
            config["cell"] = deserialize_sublayer(config["cell"], custom_objects)
        return cls(**config)


_CELL_ARGS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
              "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
              "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
              "bias_constraint", "dropout", "recurrent_dropout", "reset_after", "seed")


class _CellRNN(RNN):
    """An RNN layer that builds its own cell from the cell's arguments (SimpleRNN, LSTM, GRU)."""

    _cell_cls: type = _Cell
    _cell_name = "cell"

    def __init__(self, cell_kwargs: dict, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, activity_regularizer=None,
                 use_cudnn="auto", **kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ConfigError(f"{type(self).__name__}: use_cudnn must be 'auto', True or False, got {use_cudnn!r}.")
        kwargs.pop("implementation", None)
        cell = self._cell_cls(**cell_kwargs, name=self._cell_name, dtype=kwargs.get("dtype"),
                              trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, activity_regularizer=activity_regularizer,
                         **kwargs)

    def __getattr__(self, name):
        # units, activation, dropout, ... read through to the cell, as Keras's properties do.
        if name in _CELL_ARGS and "cell" in self.__dict__:
            return getattr(self.__dict__["cell"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        cell_config = self.cell.get_config()
        return {**super().get_config(), **{k: cell_config[k] for k in _CELL_ARGS if k in cell_config}}


class SimpleRNN(_CellRNN):
    """Fully connected RNN whose output is fed back as the next input state (Keras 3 ``SimpleRNN``).

    Args:
        units, activation, use_bias, initializers, regularizers, constraints, dropout, recurrent_dropout, seed:
            as :class:`SimpleRNNCell`.
        return_sequences, return_state, go_backwards, stateful, unroll, activity_regularizer: as :class:`RNN`.

    Input shape: ``(batch, time, features)``. Output shape: ``(batch, units)``, or ``(batch, time, units)``
    with ``return_sequences``; with ``return_state`` a list ``[output, state]``.
    """

    _cell_cls = SimpleRNNCell
    _cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, seed=None, **kwargs):
        cell_kwargs = dict(units=units, activation=activation, use_bias=use_bias,
                           kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                           bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                           bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           seed=seed)
        super().__init__(cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)  # Keras writes the seed of SimpleRNN's cell only, not the layer's
        return config


class LSTM(_CellRNN):
    """Long Short-Term Memory layer (Keras 3 ``LSTM``): weights ``kernel (in, 4u)``, ``recurrent_kernel
    (u, 4u)``, ``bias (4u,)`` with gates ``i, f, c, o``.

    Args:
        units, activation, recurrent_activation, use_bias, initializers, unit_forget_bias, regularizers,
            constraints, dropout, recurrent_dropout, seed: as :class:`LSTMCell`.
        return_sequences, return_state, go_backwards, stateful, unroll, activity_regularizer: as :class:`RNN`.
        use_cudnn: accepted for Keras compatibility.

    Input shape: ``(batch, time, features)``. Output shape: ``(batch, units)``, or ``(batch, time, units)``
    with ``return_sequences``; with ``return_state`` a list ``[output, h, c]``.
    """

    _cell_cls = LSTMCell
    _cell_name = "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", **kwargs):
        cell_kwargs = dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                           use_bias=use_bias, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
                           recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                           kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                           bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                           seed=seed)
        super().__init__(cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, use_cudnn=use_cudnn, **kwargs)


class GRU(_CellRNN):
    """Gated Recurrent Unit layer (Keras 3 ``GRU``): weights ``kernel (in, 3u)``, ``recurrent_kernel (u, 3u)``,
    ``bias (2, 3u)`` (``(3u,)`` with ``reset_after=False``) with gates ``z, r, h``.

    Args:
        units, activation, recurrent_activation, use_bias, initializers, regularizers, constraints, dropout,
            recurrent_dropout, reset_after, seed: as :class:`GRUCell`.
        return_sequences, return_state, go_backwards, stateful, unroll, activity_regularizer: as :class:`RNN`.
        use_cudnn: accepted for Keras compatibility.

    Input shape: ``(batch, time, features)``. Output shape: ``(batch, units)``, or ``(batch, time, units)``
    with ``return_sequences``; with ``return_state`` a list ``[output, h]``.
    """

    _cell_cls = GRUCell
    _cell_name = "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True, use_cudnn="auto", **kwargs):
        cell_kwargs = dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                           use_bias=use_bias, kernel_initializer=kernel_initializer,
                           recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                           kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                           bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                           recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                           dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after, seed=seed)
        super().__init__(cell_kwargs, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, use_cudnn=use_cudnn, **kwargs)


_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs an RNN layer forwards and a copy backwards over the sequence and merges the two outputs.

    Args:
        layer: the forward RNN layer (``LSTM``, ``GRU``, ``SimpleRNN``, ``RNN``); a copy named
            ``forward_<name>`` runs forwards.
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or None (a list of both outputs).
        backward_layer: the backward RNN layer; by default a copy of ``layer`` with ``go_backwards=True``.

    With ``return_sequences`` the backward output is flipped back to the input's time order and masked steps
    output zeros (as Keras). With ``return_state`` the output is followed by the forward then backward states;
    ``initial_state`` is split the same way. Weights: forward layer's, then backward layer's.
    """

    supports_masking = True

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ConfigError(f"Bidirectional: layer must be a kerasish RNN layer (LSTM, GRU, SimpleRNN, RNN), "
                              f"got {layer!r}.")
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ConfigError(f"Bidirectional: backward_layer must be a kerasish RNN layer, got {backward_layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ConfigError(f"Bidirectional: merge_mode must be one of {list(_MERGE_MODES)}, got {merge_mode!r}.")
        self.forward_layer = self._copy(layer, f"forward_{_strip(layer.name, 'forward_')}")
        if backward_layer is None:
            backward_layer = self._copy(layer, f"backward_{_strip(layer.name, 'backward_')}", go_backwards=True)
        self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ConfigError("Bidirectional: the forward and backward layers must have different go_backwards, "
                              f"got {self.forward_layer.go_backwards} for both.")
        for attr in ("return_sequences", "return_state"):
            f, b = getattr(self.forward_layer, attr), getattr(self.backward_layer, attr)
            if f != b:
                raise ConfigError(f"Bidirectional: the forward and backward layers must have the same {attr}, "
                                  f"got {f} (forward) and {b} (backward).")
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = self.forward_layer.return_sequences
        self.return_state = self.forward_layer.return_state
        self.stateful = False

    @staticmethod
    def _copy(layer: RNN, name: str, **overrides) -> RNN:
        entry = serialize_sublayer(layer)
        entry["config"] = {**entry["config"], "name": name, **overrides}
        return deserialize_sublayer(entry, {type(layer).__name__: type(layer)})

    def build(self, input_shape):
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)

    def _check_input(self, input_shape):
        self.forward_layer._check_input(input_shape)

    def call(self, inputs, initial_state=None, mask=None, training=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            fwd_state, bwd_state = states[:half], states[half:]
        y = self.forward_layer(inputs, initial_state=fwd_state, mask=mask, training=training)
        y_rev = self.backward_layer(inputs, initial_state=bwd_state, mask=mask, training=training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            out = [jnp.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            out = [y + y_rev]
        elif self.merge_mode == "ave":
            out = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            out = [y * y_rev]
        else:
            out = [y, y_rev]
        if self.merge_mode is not None and not self.return_state:
            return out[0]
        return out + states

    def compute_mask(self, inputs, mask=None):
        """The input mask per sequence output (None for last outputs), None for each state."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        masks = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n = len(self.forward_layer.state_size) + len(self.backward_layer.state_size)
            return masks + [None] * n
        return masks[0] if self.merge_mode is not None else masks

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_sublayer(self.forward_layer), "backward_layer": serialize_sublayer(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        classes = custom_objects or {}
        config["layer"] = deserialize_sublayer(config["layer"], classes)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_sublayer(config["backward_layer"], classes)
        return cls(**config)
