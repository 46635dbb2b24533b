"""Activation layers (Keras 3): ReLU, LeakyReLU, PReLU, ELU, Softmax, Identity."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from kerasish import activations, constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer


def _number(layer: str, arg: str, value, *, allow_none: bool = False, minimum: float | None = 0.0):
    """``value`` as a float, or ConfigError naming ``arg`` (None only where allowed; ``>= minimum``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{layer}: {arg} must be a number{' or None' if allow_none else ''}, got {value!r}.")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{layer}: {arg} must be >= {minimum}, got {value!r}.")
    return float(value)


class ReLU(Layer):
    """Rectified linear unit, as ``keras.layers.ReLU``.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold <= x < max_value``,
    ``negative_slope * (x - threshold)`` otherwise.

    Args:
        max_value: upper bound of the output (``None``: unbounded); >= 0.
        negative_slope: slope below the threshold; >= 0.
        threshold: the threshold; >= 0.
    """

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number("ReLU", "max_value", max_value, allow_none=True)
        self.negative_slope = _number("ReLU", "negative_slope", negative_slope)
        self.threshold = _number("ReLU", "threshold", threshold)

    def call(self, inputs):
        # Keras 3's formula: the positive part, clipped, minus the slope times the part below the threshold.
        x = jnp.asarray(inputs)
        if self.threshold != 0.0:
            y = x * (x > self.threshold).astype(x.dtype)
        else:
            y = jax.nn.relu(x)
        if self.max_value is not None:
            y = jnp.clip(y, 0.0, self.max_value).astype(x.dtype)
        if self.negative_slope != 0.0:
            y = y - self.negative_slope * jax.nn.relu(self.threshold - x)
        return y

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky ReLU: ``x`` for ``x >= 0``, ``negative_slope * x`` otherwise (Keras default 0.3)."""

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = _number("LeakyReLU", "negative_slope", negative_slope)

    def call(self, inputs):
        return jax.nn.leaky_relu(jnp.asarray(inputs), negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(Layer):
    """Parametric ReLU: ``x`` for ``x >= 0``, ``alpha * x`` otherwise, with a learned ``alpha``.

    ``alpha`` has the shape of one sample, with size 1 along each axis of ``shared_axes``
    (1-based, the batch excluded, as Keras): ``shared_axes=[1, 2]`` on images shares one
    slope per channel.

    Args:
        alpha_initializer / alpha_regularizer: for the ``alpha`` weight.
        alpha_constraint: a constraint name or object (applied after each update), or None.
        shared_axes: an int or a list of ints >= 1.
    """

    supports_masking = True

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get_argument("PReLU", "alpha_constraint", alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ConfigError(f"PReLU: shared_axes must be an int or a list of ints >= 1 "
                                  f"(axis 0 is the batch), got {shared_axes!r}.")
            self.shared_axes = axes

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise InputError(f"Layer {self.name!r} (PReLU) needs inputs of rank >= 2, got shape {input_shape}.")
        param_shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            if a >= len(input_shape):
                raise InputError(f"Layer {self.name!r} (PReLU): shared axis {a} is out of range for input "
                                 f"shape {input_shape}.")
            param_shape[a - 1] = 1
        if any(d is None for d in param_shape):
            raise InputError(f"Layer {self.name!r} (PReLU) needs known sizes along the axes that are not "
                             f"shared, got input shape {input_shape} and shared_axes={self.shared_axes}.")
        self.alpha = self.add_weight(name="alpha", shape=tuple(param_shape), initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self._param_shape = tuple(param_shape)

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple):
            return
        ok = len(input_shape) == len(self._param_shape) + 1 and all(
            p == 1 or d is None or d == p for d, p in zip(input_shape[1:], self._param_shape))
        if not ok:
            raise InputError(f"Layer {self.name!r} (PReLU) was built for samples of shape compatible with "
                             f"{self._param_shape}, got input shape {input_shape}.")

    def call(self, inputs):
        x = jnp.asarray(inputs)
        return jax.nn.relu(x) - self.alpha.value * jax.nn.relu(-x)

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number("ELU", "alpha", alpha, minimum=None)

    def call(self, inputs):
        return jax.nn.elu(jnp.asarray(inputs), alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


def _large_negative(dtype) -> float:
    return -3e4 if jnp.dtype(dtype) in (jnp.float16, jnp.bfloat16) else -1e9


class Softmax(Layer):
    """Softmax over ``axis`` (an int or a list of ints).

    ``call(inputs, mask=None)``: where ``mask`` (broadcastable to the inputs; bool, or numbers
    where > 0.5 means kept) is false, the input is replaced by a large negative number before
    the softmax and the output is 0, as Keras 3.

    Mixed precision: the softmax is computed in float32 and returned in the layer's compute dtype
    (bfloat16 under ``"mixed_bfloat16"``, as Keras 3 returns it). For float32 probabilities at the
    end of a mixed model, give this layer ``dtype="float32"``.
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ConfigError(f"Softmax: axis must be an int or a list of ints, got {axis!r}.")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def call(self, inputs, mask=None):
        x = jnp.asarray(inputs)
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.ndim > x.ndim or any(m != 1 and m != i for m, i in zip(mask.shape[::-1], x.shape[::-1])):
                raise InputError(f"Layer {self.name!r} (Softmax): mask of shape {mask.shape} is not "
                                 f"broadcastable to inputs of shape {x.shape}.")
            if mask.dtype != jnp.bool_:
                mask = mask > 0.5
            x = jnp.where(mask, x, jnp.asarray(_large_negative(x.dtype), x.dtype))
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        out = activations.softmax(x, axis=axis)  # float32 arithmetic for half-precision inputs
        if mask is not None:
            out = jnp.where(mask, out, jnp.zeros((), out.dtype))
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Identity(Layer):
    """Returns its inputs unchanged."""

    supports_masking = True

    def call(self, inputs):
        return inputs
