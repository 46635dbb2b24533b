"""Activation functions by their Keras names."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError, unknown_identifier


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


def celu(x, alpha=1.0):
    """Continuously differentiable ELU: ``max(x, 0) + min(0, alpha·(exp(x/alpha) - 1))``."""
    return jax.nn.celu(x, alpha=alpha)


def glu(x, axis=-1):
    """Gated linear unit: ``x`` split in two halves ``a, b`` along ``axis``, then ``a · sigmoid(b)``.

    Raises:
        InputError: if ``x``'s size along ``axis`` is odd.
    """
    x = jnp.asarray(x)
    if x.shape[axis] % 2:
        raise InputError(f"glu: x's size along axis={axis} must be even, got shape {x.shape}.")
    return jax.nn.glu(x, axis=axis)


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    x = jnp.asarray(x)
    return jnp.where(jnp.abs(x) > threshold, x, jnp.zeros_like(x))


def soft_shrink(x, threshold=0.5):
    """``x`` moved ``threshold`` towards 0, and 0 where ``|x| <= threshold``."""
    x = jnp.asarray(x)
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - threshold, 0).astype(x.dtype)


def hard_silu(x):
    """Hard SiLU (hard swish): ``x · relu6(x + 3) / 6``."""
    return jax.nn.hard_silu(x)


def hard_tanh(x):
    """``x`` clipped to ``[-1, 1]``."""
    return jax.nn.hard_tanh(x)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``."""
    return jax.nn.log_sigmoid(x)


def sparse_plus(x):
    """0 below -1, ``(x + 1)² / 4`` on ``[-1, 1]``, ``x`` above 1: a piecewise softplus."""
    return jax.nn.sparse_plus(x)


def sparse_sigmoid(x):
    """0 below -1, ``(x + 1) / 2`` on ``[-1, 1]``, 1 above: the derivative of :func:`sparse_plus`."""
    return jax.nn.sparse_sigmoid(x)


def squareplus(x, b=4):
    """``(x + √(x² + b)) / 2``: a smooth ReLU made of square roots."""
    return jax.nn.squareplus(x, b=b)


def tanh_shrink(x):
    """``x - tanh(x)``."""
    return x - jnp.tanh(x)


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    x = jnp.asarray(x)
    return jnp.where(x > threshold, x, jnp.asarray(default_value, x.dtype))


def sparsemax(x, axis=-1):
    """Sparsemax: the Euclidean projection of ``x`` onto the probability simplex along ``axis``.

    Like softmax its outputs are non-negative and sum to 1, but most of them are exactly 0: with
    ``z`` sorted in decreasing order, ``k`` the largest index with ``1 + k·z_k > Σ_{j<=k} z_j`` and
    ``τ = (Σ_{j<=k} z_j - 1) / k``, the output is ``max(x - τ, 0)``.

    Differs from Keras 3.15 on purpose: Keras's backends sum the running sums ``Σ_{j<=k} Σ_{i<=j} z_i``
    in place of ``Σ_{j<=k} z_j`` when the support has two or more entries, so its outputs then do not
    sum to 1 (``[1, 0.9, 0]`` gives ``[0.05, 0, 0]`` there, ``[0.55, 0.45, 0]`` here).
    """
    x = jnp.asarray(x)
    z = jnp.flip(jnp.sort(x, axis=axis), axis=axis)
    cumsum = jnp.cumsum(z, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    k = jnp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    in_support = 1 + k * z > cumsum
    support_size = jnp.sum(in_support, axis=axis, keepdims=True)
    tau = (jnp.sum(jnp.where(in_support, z, 0), axis=axis, keepdims=True) - 1) / support_size.astype(x.dtype)
    return jnp.maximum(x - tau, 0)


swish = silu
hard_swish = hard_silu

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
    "celu": celu,
    "glu": glu,
    "hard_shrink": hard_shrink,
    "soft_shrink": soft_shrink,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "hard_tanh": hard_tanh,
    "log_sigmoid": log_sigmoid,
    "sparse_plus": sparse_plus,
    "sparse_sigmoid": sparse_sigmoid,
    "squareplus": squareplus,
    "tanh_shrink": tanh_shrink,
    "threshold": threshold,
    "sparsemax": sparsemax,
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
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ConfigError(f"An activation must be a name or a callable, got {identifier!r}.")


def serialize(fn: Callable) -> str:
    for name, f in _ACTIVATIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))


def deserialize(config, custom_objects: dict | None = None) -> Callable:
    """An activation from :func:`serialize`'s output: a name, or Keras's dict form
    (``{"class_name": "function", "config": "relu", ...}``); ``custom_objects`` maps further names."""
    custom = dict(custom_objects or {})
    if isinstance(config, dict):
        if config.get("class_name") == "function" or isinstance(config.get("config"), str):
            config = config.get("config")
        else:
            raise ConfigError(f"Cannot deserialize activation {config!r}: expected a name or Keras's "
                              "{'class_name': 'function', 'config': name} form.")
    if isinstance(config, str) and config in custom:
        return custom[config]
    if not isinstance(config, str):
        raise ConfigError(f"Cannot deserialize activation {config!r}: expected a name.")
    fn = _ACTIVATIONS.get(config)
    if fn is None:
        raise unknown_identifier("activation", config, sorted({*_ACTIVATIONS, *custom}))
    return fn
