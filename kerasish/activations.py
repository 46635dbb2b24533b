"""Activation functions by their Keras names."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, unknown_identifier


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return jax.nn.relu(x)
    y = jnp.where(x >= threshold, x, negative_slope * (x - threshold))
    if max_value is not None:
        y = jnp.minimum(y, max_value)
    return y


def relu6(x):
    return jax.nn.relu6(x)


def sigmoid(x):
    return jax.nn.sigmoid(x)


def hard_sigmoid(x):
    return jax.nn.hard_sigmoid(x)


_HALF = (jnp.float16, jnp.bfloat16)


def softmax(x, axis=-1):
    """Softmax over ``axis``. Half-precision inputs (mixed precision) are exponentiated and summed in
    float32 and the result is cast back to the input's dtype: Keras 3 returns the compute dtype too,
    but computes it in that dtype, where the sum over many classes loses digits."""
    x = jnp.asarray(x)
    if x.dtype in _HALF:
        return jax.nn.softmax(x.astype(jnp.float32), axis=axis).astype(x.dtype)
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """Log-softmax over ``axis``; computed in float32 for half-precision inputs, as :func:`softmax`."""
    x = jnp.asarray(x)
    if x.dtype in _HALF:
        return jax.nn.log_softmax(x.astype(jnp.float32), axis=axis).astype(x.dtype)
    return jax.nn.log_softmax(x, axis=axis)


def tanh(x):
    return jnp.tanh(x)


def elu(x, alpha=1.0):
    return jax.nn.elu(x, alpha)


def selu(x):
    return jax.nn.selu(x)


def softplus(x):
    return jax.nn.softplus(x)


def softsign(x):
    return jax.nn.soft_sign(x)


def silu(x):
    return jax.nn.silu(x)


def gelu(x, approximate=False):
    # Keras's default is the exact (erf) form; jax.nn.gelu defaults to the tanh approximation.
    return jax.nn.gelu(x, approximate=approximate)


def exponential(x):
    return jnp.exp(x)


def leaky_relu(x, negative_slope=0.2):
    return jax.nn.leaky_relu(x, negative_slope)


def mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


_ACTIVATIONS: dict[str, Callable] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "tanh": tanh,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "silu": silu,
    "swish": silu,
    "gelu": gelu,
    "exponential": exponential,
    "leaky_relu": leaky_relu,
    "mish": mish,
}


def get(identifier) -> Callable:
    """Resolve an activation from a name, a callable or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _ACTIVATIONS.get(identifier.lower())
        if fn is None:
            raise unknown_identifier("activation", identifier, list(_ACTIVATIONS))
        return fn
    if callable(identifier):
        return identifier
    raise ConfigError(f"An activation must be a name or a callable, got {identifier!r}.")


def serialize(fn: Callable) -> str:
    for name, f in _ACTIVATIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))
