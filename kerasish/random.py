"""Random numbers with Keras 3's ``keras.random`` names and arguments, over ``jax.random``.

Every function takes ``seed``: an int (the same numbers every time), a :class:`SeedGenerator`
(new numbers at every draw), a JAX key, or None (a new draw from the global seed stream,
``kerasish.utils.set_random_seed``).

Inside a training or evaluation step (``fit``, a custom ``train_step``) a SeedGenerator, or no
seed, draws from the step's key, ``fold_in(rng, step)``: new numbers at every step, the same
in a rerun with the same seed, and nothing to thread through Keras's ``state`` tuple. (Keras
keeps a SeedGenerator's state in the model's non-trainable variables instead; a custom step
written for Keras runs unchanged either way.) Outside a step, a SeedGenerator advances its own
counter on the host.

Example:
    >>> gen = kerasish.random.SeedGenerator(42)
    >>> z = kerasish.random.normal((4, 16), seed=gen)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.backend import current_scope, current_step
from kerasish.errors import ConfigError, KerasishError
from kerasish.utils.random import next_seed

__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint", "shuffle",
           "truncated_normal", "uniform"]


class SeedGenerator:
    """A stream of random keys (Keras's ``keras.random.SeedGenerator``).

    Args:
        seed: an int; by default one drawn from the global seed stream.
        name: accepted for Keras compatibility.
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigError(f"SeedGenerator: seed must be an int or None, got {seed!r}.")
        self.seed = int(next_seed() if seed is None else seed)
        self.name = name or "seed_generator"
        self._counter = 0

    def next(self, ordered: bool = True):
        """The next key: the current step's stream inside a step, this generator's own outside."""
        context = current_step()
        if context is not None and context.rng is not None:
            return context.next_rng()
        scope = current_scope()
        if scope is not None and scope.has_rng():
            return scope.next_rng()
        self._counter += 1
        key = jax.random.fold_in(jax.random.PRNGKey(self.seed), self._counter)
        if isinstance(key, jax.core.Tracer):
            raise KerasishError("kerasish.random: a SeedGenerator used inside jax.jit outside a training step "
                                "has no key that changes from call to call; pass a JAX key as seed, or draw "
                                "inside fit's steps.")
        return key

    def get_config(self) -> dict:
        return {"seed": self.seed, "name": self.name}


def draw_seed(seed):
    """A JAX key from a ``seed`` argument (see the module docstring)."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if seed is None:
        context = current_step()
        if context is not None and context.rng is not None:
            return context.next_rng()
        return jax.random.PRNGKey(next_seed())
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return jax.random.PRNGKey(int(seed))
    if isinstance(seed, (jax.Array, np.ndarray, jax.core.Tracer)):
        return seed
    raise ConfigError(f"seed must be an int, a SeedGenerator, a JAX key or None, got {seed!r}.")


def _float_dtype(dtype):
    dtype = jnp.dtype(dtype or "float32")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ConfigError(f"kerasish.random: a floating dtype is needed, got {dtype}.")
    return dtype


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of a normal distribution."""
    dtype = _float_dtype(dtype)
    return jax.random.normal(draw_seed(seed), tuple(shape), dtype) * stddev + mean


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples of a uniform distribution on ``[minval, maxval)``."""
    dtype = _float_dtype(dtype)
    return jax.random.uniform(draw_seed(seed), tuple(shape), dtype, minval=minval, maxval=maxval)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of a normal distribution truncated to two standard deviations around the mean."""
    dtype = _float_dtype(dtype)
    return jax.random.truncated_normal(draw_seed(seed), -2.0, 2.0, tuple(shape), dtype) * stddev + mean


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform on ``[minval, maxval)``."""
    return jax.random.randint(draw_seed(seed), tuple(shape), minval, maxval, jnp.dtype(dtype))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each entry zeroed with probability ``rate`` and the rest scaled by ``1 / (1 - rate)``."""
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"dropout: rate must be in [0, 1), got {rate!r}.")
    inputs = jnp.asarray(inputs)
    shape = inputs.shape if noise_shape is None else tuple(noise_shape)
    keep = jax.random.bernoulli(draw_seed(seed), 1.0 - rate, shape)
    return jnp.where(keep, inputs / (1.0 - rate), jnp.zeros((), inputs.dtype)).astype(inputs.dtype)


def shuffle(x, axis=0, seed=None):
    """``x`` with its entries along ``axis`` in a random order."""
    return jax.random.permutation(draw_seed(seed), jnp.asarray(x), axis=axis, independent=False)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (unnormalized log-probabilities)."""
    logits = jnp.asarray(logits)
    out = jax.random.categorical(draw_seed(seed), logits[:, None, :], axis=-1,
                                 shape=(logits.shape[0], int(num_samples)))
    return out.astype(jnp.dtype(dtype))


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples of a gamma distribution of shape ``alpha`` (scale 1)."""
    dtype = _float_dtype(dtype)
    return jax.random.gamma(draw_seed(seed), jnp.asarray(alpha, dtype), tuple(shape), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples of a binomial distribution (``counts`` trials of success probability ``probabilities``)."""
    dtype = _float_dtype(dtype)
    return jax.random.binomial(draw_seed(seed), jnp.asarray(counts, dtype), jnp.asarray(probabilities, dtype),
                               tuple(shape), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples of a beta distribution."""
    dtype = _float_dtype(dtype)
    return jax.random.beta(draw_seed(seed), jnp.asarray(alpha, dtype), jnp.asarray(beta, dtype), tuple(shape), dtype)
