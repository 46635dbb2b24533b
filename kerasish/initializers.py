"""Weight initializers by their Keras names and arguments.

Each initializer is a small config object whose ``__call__(key, shape, dtype)``
has the signature of ``jax.nn.initializers`` (so flax.nnx modules take it as
``kernel_init``). Random values are drawn with NumPy from a generator seeded by
the key: the same key gives the same weights, and building a model compiles
nothing (an eager ``jax.random`` draw costs an XLA compilation per new weight
shape, about a second for a convolution kernel on a CPU).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, unknown_identifier


def _host_rng(key) -> np.random.Generator:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key).astype(np.uint64).ravel())


def _truncated_normal(rng: np.random.Generator, shape, lower=-2.0, upper=2.0) -> np.ndarray:
    """Standard normal values redrawn until they fall in [lower, upper]."""
    out = rng.standard_normal(shape)
    bad = (out < lower) | (out > upper)
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = (out < lower) | (out > upper)
    return out


def _fans(shape) -> tuple[int, int]:
    """Keras's fans: a kernel ``(..., in, out)`` has a receptive field of the leading dims."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(key, shape, dtype) -> array``; subclasses implement ``sample``."""

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError("Initializer subclasses override sample()")

    def __call__(self, key, shape, dtype=jnp.float32):
        shape = tuple(int(d) for d in shape)
        # Cast and transfer from the host: jnp.asarray would compile a program per shape.
        return jax.device_put(np.asarray(self.sample(_host_rng(key), shape), dtype=jnp.dtype(dtype)))

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class Zeros(Initializer):
    def sample(self, rng, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, rng, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def sample(self, rng, shape):
        return np.full(shape, self.value, dtype=np.float64)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, rng, shape):
        return self.mean + self.stddev * rng.standard_normal(shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def sample(self, rng, shape):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, rng, shape):
        return self.mean + self.stddev * _truncated_normal(rng, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigError(f"VarianceScaling mode must be fan_in, fan_out or fan_avg, got {mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ConfigError(f"VarianceScaling distribution must be truncated_normal, untruncated_normal or "
                              f"uniform, got {distribution!r}.")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def sample(self, rng, shape):
        fan_in, fan_out = _fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * rng.standard_normal(shape)
        # Truncated at two standard deviations, rescaled so the variance is `variance` (as Keras).
        return math.sqrt(variance) / 0.87962566103423978 * _truncated_normal(rng, shape)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _vs(scale, mode, distribution):
    class _Named(VarianceScaling):
        def __init__(self, seed=None):
            super().__init__(scale, mode, distribution, seed)

        def get_config(self):
            return {"seed": self.seed}

    return _Named


class GlorotUniform(_vs(1.0, "fan_avg", "uniform")):
    pass


class GlorotNormal(_vs(1.0, "fan_avg", "truncated_normal")):
    pass


class HeNormal(_vs(2.0, "fan_in", "truncated_normal")):
    pass


class HeUniform(_vs(2.0, "fan_in", "uniform")):
    pass


class LecunNormal(_vs(1.0, "fan_in", "truncated_normal")):
    pass


class LecunUniform(_vs(1.0, "fan_in", "uniform")):
    pass


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def sample(self, rng, shape):
        if len(shape) < 2:
            raise ConfigError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q[:rows, :cols].reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def sample(self, rng, shape):
        if len(shape) != 2:
            raise ConfigError(f"Identity initializer needs a 2D shape, got {shape}.")
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "uniform": RandomUniform,
    "normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal,
    "identity": Identity,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def get(identifier) -> Initializer:
    """Resolve an initializer from a Keras name, a config dict, an instance or a callable."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise unknown_identifier("initializer", identifier, list(_BY_NAME))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"]) or _BY_NAME.get(identifier["class_name"])
        if cls is None:
            raise unknown_identifier("initializer", identifier["class_name"], list(_CLASSES))
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ConfigError(f"Cannot interpret {identifier!r} as an initializer.")


def serialize(init) -> dict | str:
    if isinstance(init, Initializer):
        return {"class_name": type(init).__name__, "config": init.get_config()}
    raise ConfigError(f"Cannot serialize initializer {init!r}: only kerasish initializers are serializable.")
