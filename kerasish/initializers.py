"""Weight initializers by their Keras names and arguments.

Each initializer is a small config object whose ``__call__(key, shape, dtype)``
has the signature of ``jax.nn.initializers`` (so flax.nnx modules take it as
``kernel_init``); the math is ``jax.nn.initializers``'.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, unknown_identifier


class Initializer:
    """Base class: ``init(key, shape, dtype) -> array``."""

    def _fn(self):
        raise NotImplementedError("Initializer subclasses override _fn")

    def __call__(self, key, shape, dtype=jnp.float32):
        return self._fn()(key, tuple(shape), dtype)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class Zeros(Initializer):
    def _fn(self):
        return jax.nn.initializers.zeros


class Ones(Initializer):
    def _fn(self):
        return jax.nn.initializers.ones


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def _fn(self):
        return jax.nn.initializers.constant(self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _fn(self):
        base = jax.nn.initializers.normal(self.stddev)
        return lambda k, s, d: base(k, s, d) + jnp.asarray(self.mean, d)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def _fn(self):
        return lambda k, s, d: jax.random.uniform(k, s, d, self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _fn(self):
        return lambda k, s, d: self.mean + self.stddev * jax.random.truncated_normal(k, -2.0, 2.0, s, d)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigError(f"VarianceScaling mode must be fan_in, fan_out or fan_avg, got {mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ConfigError(f"Invalid VarianceScaling distribution {distribution!r}.")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def _fn(self):
        dist = {"normal": "truncated_normal"}.get(self.distribution, self.distribution)
        return jax.nn.initializers.variance_scaling(self.scale, self.mode, dist)

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

    def _fn(self):
        return jax.nn.initializers.orthogonal(self.gain)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def _fn(self):
        return lambda k, s, d: self.gain * jnp.eye(*s, dtype=d)

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
