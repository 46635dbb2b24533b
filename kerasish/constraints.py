"""Weight constraints by their Keras names: a projection applied to a variable after each update.

A constraint is a stateless callable ``constraint(w) -> w`` written in pure ``jax.numpy`` so it runs
inside the jitted train step. The formulas, defaults and epsilon (``1e-7``) are Keras 3's.
"""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.errors import ConfigError, unknown_identifier

EPSILON = 1e-7  # keras.backend.epsilon()


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=_axis(axis), keepdims=True))


class Constraint:
    """Base class: ``constraint(w) -> projected w``; the base returns ``w`` unchanged."""

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Scales each slice along ``axis`` down to a norm of at most ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = jnp.asarray(w)
        norms = _norms(w, self.axis)
        desired = jnp.clip(norms, 0, self.max_value)
        return w * (desired / (EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Clips the weights to be non-negative."""

    def __call__(self, w):
        w = jnp.asarray(w)
        return jnp.maximum(w, jnp.zeros((), w.dtype))


class UnitNorm(Constraint):
    """Scales each slice along ``axis`` to unit norm (``w / (epsilon + norm)``)."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = jnp.asarray(w)
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's norm toward ``[min_value, max_value]`` at ``rate`` (1.0: strictly)."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = jnp.asarray(w)
        norms = _norms(w, self.axis)
        desired = self.rate * jnp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


# Keras's lowercase aliases are the classes themselves (keras.constraints.max_norm is MaxNorm).
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_BY_NAME = {
    **_CLASSES,
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": min_max_norm,
}


def serialize(constraint):
    """A constraint as ``{"class_name", "config"}`` (None stays None)."""
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        return {"class_name": type(constraint).__name__, "config": constraint.get_config()}
    raise ConfigError(f"Cannot serialize constraint {constraint!r}: only kerasish.constraints.Constraint objects.")


def deserialize(config):
    """The constraint a :func:`serialize` dict (or a name) describes."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"Cannot deserialize constraint from {config!r}.")
    cls = _BY_NAME.get(config["class_name"])
    if cls is None:
        raise unknown_identifier("constraint", config["class_name"], list(_BY_NAME))
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A constraint from a name (``"max_norm"``, ``"MaxNorm"``...), a config dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise unknown_identifier("constraint", identifier, list(_BY_NAME))
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise ConfigError(f"Cannot interpret {identifier!r} as a constraint.")


__all__ = [
    "Constraint", "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm",
    "max_norm", "non_neg", "unit_norm", "min_max_norm",
    "get", "serialize", "deserialize", "EPSILON",
]


def get_argument(owner: str, argument: str, identifier):
    """:func:`get` for a layer argument: an error names the layer and the argument."""
    try:
        return get(identifier)
    except ConfigError as err:
        raise ConfigError(f"{owner}: {argument}: {err}") from None
