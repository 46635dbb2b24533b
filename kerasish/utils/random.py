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


class HostRngs:
    """Stands in for ``flax.nnx.Rngs`` when a layer builds its nnx module.

    Every stream (``rngs.params()``, ...) returns a fresh key as two host ``uint32``
    values; kerasish initializers seed NumPy from it, so building a layer runs no JAX
    random-number code (each such eager call is a program to compile or load).
    """

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._next

    def _next(self) -> np.ndarray:
        return self._rng.integers(0, 2**32, size=2, dtype=np.uint32)


def next_host_key() -> np.ndarray:
    """A fresh initializer key (two host ``uint32``) from the global stream: no device work."""
    return HostRngs(next_seed())._next()


def host_rngs() -> HostRngs:
    """Initializer keys for one layer's nnx module, from the global stream."""
    return HostRngs(next_seed())


def numpy_rng() -> np.random.Generator:
    """A NumPy generator from the global stream (for shuffling and splits)."""
    return np.random.default_rng(next_seed())
