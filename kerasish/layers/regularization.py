"""Regularization layers (Keras 3): SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout,
ActivityRegularization.

The stochastic layers draw their keys from the stateless scope's RNG stream (as ``Dropout``) and act
only when ``training``; ``seed`` is accepted for Keras compatibility.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
from flax import nnx

from kerasish.backend import current_scope
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer


def _rate(layer: str, arg: str, value, high: float = 1.0, high_inclusive: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value and (
        value <= high if high_inclusive else value < high)
    if not ok:
        interval = f"[0, {high}{']' if high_inclusive else ')'}"
        raise ConfigError(f"{layer}: {arg} must be a number in {interval}, got {value!r}.")
    return float(value)


def _seed(layer: str, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"{layer}: seed must be None or an int, got {seed!r}.")
    return seed



class _SpatialDropout(Layer):
    _rank = 3
    supports_masking = True

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.rate = _rate(name, "rate", rate)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ConfigError(f"{name}: data_format must be 'channels_last' or 'channels_first', "
                              f"got {data_format!r}.")
        self.data_format = data_format or "channels_last"
        self.seed = _seed(name, seed)

    def _check_input(self, input_shape):
        if isinstance(input_shape, tuple) and len(input_shape) != self._rank:
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank "
                             f"{self._rank}, got shape {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        # One keep/drop draw per (sample, channel), broadcast over the spatial axes.
        spatial = tuple(range(1, self._rank - 1)) if self.data_format == "channels_last" \
            else tuple(range(2, self._rank))
        drop = nnx.Dropout(self.rate, broadcast_dims=spatial)
        return drop(jnp.asarray(inputs), deterministic=False, rngs=self.random_key(inputs))

    def get_config(self):
        # Keras's spatial dropouts write no 'trainable', and their dtype as a name.
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype_policy.name}


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole channels of ``(batch, steps, channels)`` inputs, rescaled by ``1 / (1 - rate)``.

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
    """

    _rank = 3

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of 4D inputs (``channels_last`` by default), rescaled by ``1 / (1 - rate)``.

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
    """

    _rank = 4

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature volumes of 5D inputs (``channels_last`` by default), rescaled by ``1 / (1 - rate)``.

    Args:
        rate: fraction of the channels to drop, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
    """

    _rank = 5

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, data_format, seed, name=name, dtype=dtype, **kwargs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}

class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` (in [0, 1], as Keras) when training."""

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _rate("GaussianNoise", "stddev", stddev, high_inclusive=True)
        self.seed = _seed("GaussianNoise", seed)

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        x = jnp.asarray(inputs)
        return x + self.stddev * jax.random.normal(self.random_key(x), x.shape, x.dtype)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` when training.

    Args:
        rate: in [0, 1) (Keras also accepts 1, which gives infinite noise).
    """

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate("GaussianDropout", "rate", rate)
        self.seed = _seed("GaussianDropout", seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        x = jnp.asarray(inputs)
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * (1.0 + stddev * jax.random.normal(self.random_key(x), x.shape, x.dtype))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Layer):
    """The identity, with the activity penalty ``(l1 * sum|x| + l2 * sum x**2) / batch_size`` (Keras 3).

    The penalty goes to the current ``StatelessScope``'s ``losses``, which the default train
    and test steps add to the loss (as Keras adds ``model.losses``). Padded rows of a last
    partial batch (the scope's ``sample_mask``) count neither in the penalty nor in the
    batch size.

    Args:
        l1: L1 factor, >= 0.
        l2: L2 factor, >= 0.
    """

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
                raise ConfigError(f"ActivityRegularization: {arg} must be a number >= 0, got {value!r}.")
        self.l1 = float(l1)
        self.l2 = float(l2)

    def penalty(self, x, row_weight=None):
        """``(l1 * sum|x| + l2 * sum x**2) / batch_size``, rows weighted by ``row_weight`` (1 = real row).
        Half-precision inputs (mixed precision) are summed in float32, as losses are."""
        x = jnp.asarray(x)
        if x.dtype in (jnp.float16, jnp.bfloat16):
            x = x.astype(jnp.float32)
        if x.ndim == 0:
            return self.l1 * jnp.abs(x) + self.l2 * jnp.square(x)
        w = jnp.ones((x.shape[0],), x.dtype) if row_weight is None else jnp.asarray(row_weight, x.dtype)
        wx = w.reshape(w.shape + (1,) * (x.ndim - 1))
        total = self.l1 * jnp.sum(wx * jnp.abs(x)) + self.l2 * jnp.sum(wx * jnp.square(x))
        return total / jnp.maximum(jnp.sum(w), 1.0)

    def call(self, inputs):
        if self.l1 == 0.0 and self.l2 == 0.0:
            return inputs
        x = jnp.asarray(inputs)
        scope = current_scope()
        if scope is None or x.ndim == 0:
            return inputs
        row_weight = scope.sample_mask
        if row_weight is None or jnp.shape(row_weight) != (x.shape[0],):
            row_weight = jnp.ones((x.shape[0],), x.dtype)
        row_weight = jnp.asarray(row_weight, x.dtype)
        scope.losses.append(self.penalty(x, row_weight))
        return inputs

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


# SELU's fixed point: the value a dropped unit takes is SELU's negative saturation, -scale * alpha.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class AlphaDropout(Layer):
    """Dropout that keeps a SELU network's mean and variance (Keras 3 ``AlphaDropout``), when training.

    A dropped unit is set to SELU's saturation value ``-scale * alpha``; then everything is mapped by
    ``a * x + b``, with ``a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5`` and ``b = -a * alpha_p * rate``,
    so that zero-mean unit-variance inputs stay so.

    Args:
        rate: fraction of the units to drop, in [0, 1).
        noise_shape: shape of the keep mask, broadcast over the input (``None`` entries take the input's).
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate("AlphaDropout", "rate", rate)
        if noise_shape is not None and (not isinstance(noise_shape, (list, tuple)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0) for d in noise_shape)):
            raise ConfigError(f"AlphaDropout: noise_shape must be None or a tuple of positive ints or None, "
                              f"got {noise_shape!r}.")
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = _seed("AlphaDropout", seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        x = jnp.asarray(inputs)
        shape = x.shape if self.noise_shape is None else tuple(
            x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        keep = (jax.random.uniform(self.random_key(x), shape) >= self.rate).astype(x.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (x * keep + alpha_p * (1 - keep)) + b

    def get_config(self):
        noise = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": noise}
