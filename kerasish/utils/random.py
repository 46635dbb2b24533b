"""One global seed for everything random in kerasish.

``set_random_seed(s)`` seeds Python's ``random``, NumPy's global generator and
kerasish's own key stream, which gives every new weight its initializer key,
every ``fit`` its shuffling generator, and every model its dropout key (drawn
once, when the model first trains, and then carried in its state, as Keras's
per-layer seed generators are). Two runs of the same script after the same
``set_random_seed`` are bitwise identical on CPU.
"""

from __future__ import annotations

import random

import jax
import numpy as np


class _SeedState:
    def __init__(self, seed: int):
        self.seed = int(seed)
        self.counter = 0

    def next_seed(self) -> int:
        self.counter += 1
        # A 31-bit integer derived from (seed, counter): cheap, deterministic, no device work.
        return int(np.random.SeedSequence([self.seed, self.counter]).generate_state(1)[0] & 0x7FFFFFFF)


_STATE = _SeedState(int(np.random.SeedSequence().entropy % (2**31)))


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and kerasish so that runs repeat bitwise.

    Args:
        seed: a non-negative integer.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        from kerasish.errors import ConfigError

        raise ConfigError(f"set_random_seed expects a non-negative integer, got {seed!r}.")
    global _STATE
    random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    _STATE = _SeedState(int(seed))


def next_seed() -> int:
    """A fresh integer seed from the global stream."""
    return _STATE.next_seed()


def next_key() -> jax.Array:
    """A fresh PRNG key from the global stream."""
    return jax.random.PRNGKey(next_seed())


def numpy_rng() -> np.random.Generator:
    """A NumPy generator from the global stream (for shuffling and splits)."""
    return np.random.default_rng(next_seed())
