"""Recurrent layers (Keras 3): SimpleRNN, LSTM, GRU, their cells, the generic RNN wrapper and Bidirectional.

Every recurrence is one ``jax.lax.scan`` over time. For the built-in cells the input projection
``x @ kernel + bias`` of all time steps is one matmul before the scan, so the scan body holds only the
recurrent matmul and the gates. Weights, gate orders and configs are Keras 3's, so
``layer.set_weights(keras_layer.get_weights())`` moves an RNN between the two frameworks.
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from kerasish import activations, constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.saving.registry import deserialize_layer, serialize_layer

# -- helpers -------------------------------------------------------------------------------------


def _rate(owner: str, arg: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ConfigError(f"{owner}: {arg} must be a number in [0, 1), got {value!r}.")
    return float(value)


def _units(owner: str, units) -> int:
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ConfigError(f"{owner}: units must be a positive integer, got {units!r}.")
    return int(units)



def _dropout_mask(layer: Layer, shape, rate: float, dtype, inputs=None):
    """Inverted-dropout multipliers (0 or 1/(1-rate)), drawn once per call and reused at every step."""
    keep = jax.random.bernoulli(layer.random_key(inputs), 1.0 - rate, shape)
    return keep.astype(dtype) / (1.0 - rate)


def _local_classes(custom_objects: dict | None) -> dict:
    """custom_objects plus this module's classes, so nested cells and layers resolve before they are exported."""
    local = {cls.__name__: cls for cls in (SimpleRNNCell, LSTMCell, GRUCell, RNN, SimpleRNN, LSTM, GRU,
                                           Bidirectional)}
    return {**local, **(custom_objects or {})}


def _scan(step, xs, states: tuple, mask, go_backwards: bool, zero_out: bool):
    """One ``lax.scan`` of ``step(x_t, states) -> (output, new_states)`` over time-major ``xs``.

    Returns the outputs in processing order (time-major) and the final states. A masked step keeps the
    states; its output is the previous output (the first state, as Keras assumes) or zeros.
    """
    if mask is None:
        def body(carry, xt):
            out, new = step(xt, carry)
            return tuple(new), out
    else:
        xs = (xs, jnp.swapaxes(mask, 0, 1))

        def body(carry, inp):
            xt, mt = inp
            out, new = step(xt, carry)
            keep = mt[:, None]
            out = jnp.where(keep, out, jnp.zeros_like(out) if zero_out else carry[0])
            return tuple(jnp.where(keep, n, s) for n, s in zip(new, carry)), out

    final, outs = jax.lax.scan(body, tuple(states), xs, reverse=go_backwards)
    if go_backwards:
        outs = jnp.flip(outs, 0)  # processing order, as Keras
    return outs, final


class _CellMath:
    """A jit static argument for a built-in cell, equal for cells that compute the same function.

    Cells with the same class, sizes and activations share one traced scan (their weights are arguments);
    a cell whose math-defining attributes change after a call gets a new trace instead of a stale one.
    """

    def __init__(self, cell):
        self.cell = cell
        self.key = (type(cell), cell.units, cell.activation, cell.recurrent_activation, cell.use_bias,
                    getattr(cell, "reset_after", None), cell.dtype_policy.name)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _CellMath) and self.key == other.key


@functools.partial(jax.jit, static_argnames=("math", "go_backwards", "zero_out"))
def _run_cell(math, p, x, states, mask, dp, rdp, *, go_backwards, zero_out):
    """A built-in cell over ``x`` (batch-major): the input projection of all steps, then the scan."""
    cell = math.cell
    xz = cell._project(p, x if dp is None else x * dp[:, None, :])
    return _scan(lambda xt, carry: cell._recur(p, xt, carry, rdp), jnp.swapaxes(xz, 0, 1), states, mask,
                 go_backwards, zero_out)


# -- cells -------------------------------------------------------------------------------------------


class _Cell(Layer):
    """Weights and arguments shared by the Keras cells; ``_gates`` blocks of ``units`` columns per kernel.

    A cell computes one step with ``call(inputs, states, training=None) -> (output, new_states)``. Its
    RNN layer uses the split form instead: ``_project`` (the input part, for all steps at once) and
    ``_recur`` (the recurrent part, inside the scan).
    """

    _gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = _units(owner, units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get_argument(owner, "kernel_constraint", kernel_constraint)
        self.recurrent_constraint = constraints.get_argument(owner, "recurrent_constraint", recurrent_constraint)
        self.bias_constraint = constraints.get_argument(owner, "bias_constraint", bias_constraint)
        self.dropout = _rate(owner, "dropout", dropout)
        self.recurrent_dropout = _rate(owner, "recurrent_dropout", recurrent_dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"{owner}: seed must be None or an int, got {seed!r}.")
        self.seed = seed
        self.state_size = self.units
        self.output_size = self.units

    @property
    def _state_sizes(self) -> list[int]:
        return list(self.state_size) if isinstance(self.state_size, (list, tuple)) else [self.state_size]

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or not input_shape or input_shape[-1] is None:
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) needs a known last input dimension, "
                             f"got input shape {input_shape}.")
        self.input_dim = int(input_shape[-1])
        width = self._gates * self.units
        self.kernel = self.add_weight("kernel", (self.input_dim, width), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _check_input(self, input_shape):
        if isinstance(input_shape, tuple) and input_shape and input_shape[-1] not in (None, self.input_dim):
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs whose last dimension "
                             f"is {self.input_dim}, got input shape {input_shape}.")

    def _params(self) -> dict:
        """The current (scope-resolved) weight values, read once outside the scan."""
        return {"kernel": self.kernel.value, "recurrent_kernel": self.recurrent_kernel.value,
                "bias": None if self.bias is None else self.bias.value}

    def _input_bias(self, p):
        return p["bias"]

    def _project(self, p, x):
        """The input part of every gate, ``x @ kernel (+ input bias)``, for any leading dims."""
        z = jnp.matmul(x, p["kernel"])
        bias = self._input_bias(p)
        return z if bias is None else z + bias

    def _recur(self, p, xz, states, rec_mask):
        """One step from the projected input ``xz``; returns ``(output, new_states)`` (override)."""
        raise NotImplementedError

    def _dropout_masks(self, batch: int, dtype, training: bool, inputs=None):
        """``(input_mask or None, recurrent_mask or None)``, fixed across the time steps of one call."""
        dp = rdp = None
        if training and self.dropout > 0:
            dp = _dropout_mask(self, (batch, self.input_dim), self.dropout, dtype, inputs)
        if training and self.recurrent_dropout > 0:
            rdp = _dropout_mask(self, (batch, self.units), self.recurrent_dropout, dtype, inputs)
        return dp, rdp

    def get_initial_state(self, batch_size: int, dtype=None) -> list:
        return [jnp.zeros((batch_size, n), dtype or self.compute_dtype) for n in self._state_sizes]

    def call(self, inputs, states, training=None):
        single = not isinstance(states, (list, tuple))
        states = [states] if single else list(states)
        dp, rdp = self._dropout_masks(inputs.shape[0], inputs.dtype, bool(training), inputs)
        x = inputs if dp is None else inputs * dp
        out, new_states = self._recur(self._params(), self._project(self._params(), x), tuple(states), rdp)
        return out, (new_states[0] if single else list(new_states))

    def get_config(self):
        config = {**super().get_config(), "units": self.units,
                  "activation": activations.serialize(self.activation)}
        if type(self) is not SimpleRNNCell:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config.update({
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed})
        return config


class SimpleRNNCell(_Cell):
    """One step of a fully connected RNN: ``h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)``.

    Args:
        units: size of the output and state.
        activation: name or callable (``"tanh"``).
        use_bias: whether to add a bias.
        kernel_initializer / recurrent_initializer / bias_initializer: Keras defaults
            ``glorot_uniform`` / ``orthogonal`` / ``zeros``.
        kernel_regularizer / recurrent_regularizer / bias_regularizer: names or regularizers.
        kernel_constraint / recurrent_constraint / bias_constraint: names or constraints.
        dropout / recurrent_dropout: fractions of the inputs / states dropped in training, in [0, 1).
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
    """

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)

    def _recur(self, p, xz, states, rec_mask):
        h = states[0] if rec_mask is None else states[0] * rec_mask
        out = self.activation(xz + jnp.matmul(h, p["recurrent_kernel"]))
        return out, (out,)


class LSTMCell(_Cell):
    """One step of a Long Short-Term Memory layer; gates ``i, f, c, o`` in Keras's column order.

    Args:
        units: size of the output and of both states ``[h, c]``.
        activation: name or callable (``"tanh"``).
        recurrent_activation: the gates' activation (``"sigmoid"``).
        unit_forget_bias: start the forget gate's bias at 1 (Keras's default True).
        (the other arguments as :class:`SimpleRNNCell`.)
    """

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras's choice of kernel split; one math here
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, u = self.bias_initializer, self.units

        def init(key, shape, dtype=jnp.float32):
            values = np.array(base(key, shape, dtype))
            values[u:2 * u] = 1.0  # the forget gate's block
            return jax.device_put(values)

        return init

    def _recur(self, p, xz, states, rec_mask):
        h, c = states
        hr = h if rec_mask is None else h * rec_mask
        i, f, g, o = jnp.split(xz + jnp.matmul(hr, p["recurrent_kernel"]), 4, axis=-1)
        i, f, o = self.recurrent_activation(i), self.recurrent_activation(f), self.recurrent_activation(o)
        c = f * c + i * self.activation(g)
        h = o * self.activation(c)
        return h, (h, c)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """One step of a Gated Recurrent Unit; gates ``z, r, h`` in Keras's column order.

    Args:
        units: size of the output and state.
        activation / recurrent_activation: ``"tanh"`` / ``"sigmoid"``.
        reset_after: apply the reset gate after the recurrent matmul (Keras's default True, the cuDNN
            convention, with separate input and recurrent biases: bias shape ``(2, 3 * units)``); False
            applies it before, with one bias ``(3 * units,)``.
        (the other arguments as :class:`SimpleRNNCell`.)
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self, p):
        if p["bias"] is None:
            return None
        return p["bias"][0] if self.reset_after else p["bias"]

    def _recur(self, p, xz, states, rec_mask):
        (h,) = states
        u, rk = self.units, p["recurrent_kernel"]
        hr = h if rec_mask is None else h * rec_mask
        x_z, x_r, x_h = jnp.split(xz, 3, axis=-1)
        if self.reset_after:
            inner = jnp.matmul(hr, rk)
            if p["bias"] is not None:
                inner = inner + p["bias"][1]
            r_z, r_r, r_h = jnp.split(inner, 3, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + r * r_h)
        else:
            r_z, r_r = jnp.split(jnp.matmul(hr, rk[:, :2 * u]), 2, axis=-1)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            hh = self.activation(x_h + jnp.matmul(r * hr, rk[:, 2 * u:]))
        h = z * h + (1 - z) * hh
        return h, (h,)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


# -- layers ------------------------------------------------------------------------------------------


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

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise self._rank_error(input_shape)
        self.cell._check_input((input_shape[0], input_shape[2]))

    def _initial_states(self, initial_state, batch: int, dtype) -> tuple:
        if initial_state is None:
            return tuple(jnp.zeros((batch, n), dtype) for n in self.state_size)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
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

            def step(xt, carry):
                out, new = cell.call(xt, list(carry), **kwargs)
                return out, tuple(new) if isinstance(new, (list, tuple)) else (new,)

            outs, final = _scan(step, jnp.swapaxes(x, 0, 1), states, mask, self.go_backwards,
                                self.zero_output_for_mask)
        output = jnp.swapaxes(outs, 0, 1) if self.return_sequences else outs[-1]
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
            config["cell"] = serialize_layer(self.cell)
        if type(self) is not RNN:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if cls is RNN:
            config["cell"] = deserialize_layer(config["cell"], _local_classes(custom_objects))
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
        entry = serialize_layer(layer)
        entry["config"] = {**entry["config"], "name": name, **overrides}
        return deserialize_layer(entry, _local_classes({type(layer).__name__: type(layer)}))

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
                "layer": serialize_layer(self.forward_layer), "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        classes = _local_classes(custom_objects)
        config["layer"] = deserialize_layer(config["layer"], classes)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"], classes)
        return cls(**config)
