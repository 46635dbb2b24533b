"""Recurrent cells (Keras 3): SimpleRNNCell, LSTMCell, GRUCell, and the scan that runs a cell over time.

Every recurrence is one ``jax.lax.scan`` over time. For the built-in cells the input projection
``x @ kernel + bias`` of all time steps is one matmul before the scan, so the scan body holds only the
recurrent matmul and the gates. Weights and gate orders are Keras 3's.
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
