"""Weight regularizers by their Keras names: a penalty added to the training loss.

Formulas and defaults are Keras 3's: ``L1(l1=0.01)``, ``L2(l2=0.01)``, ``L1L2(l1=0.0, l2=0.0)``,
``OrthogonalRegularizer(factor=0.01, mode="rows")``; all are pure ``jax.numpy``.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from kerasish.errors import ConfigError, unknown_identifier

EPSILON = 1e-7  # keras.backend.epsilon()


def _factor(value, name: str) -> float:
    """Keras's check: a finite, non-negative float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isinf(value) \
            or math.isnan(value) or value < 0:
        raise ConfigError(f"Invalid value for argument {name}: expected a non-negative float. Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``reg(weights) -> scalar penalty``."""

    def __call__(self, x):
        return jnp.zeros((), jnp.float32)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0 (Keras's ``L1L2``)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        out = jnp.zeros((), x.dtype)
        if self.l1:
            out = out + jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))
        if self.l2:
            out = out + jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(x**2)``."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Keras's penalty on non-orthogonal rows (or columns) of a rank-2 weight.

    ``factor * 0.5 * sum(|P - diag(P)|) / (n * (n - 1) / 2)`` where ``P`` is the Gram matrix of the
    L2-normalized rows (``mode="rows"``) or columns (``mode="columns"``) and ``n`` their count.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ConfigError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                              f"Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, x):
        if x.ndim != 2:
            raise ConfigError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={x.shape}")
        axis = 1 if self.mode == "rows" else 0
        # keras.ops.normalize: x * min(rsqrt(sum(x**2)), 1 / epsilon).
        inv_norm = jnp.minimum(jnp.reciprocal(jnp.sqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))),
                               1.0 / EPSILON)
        x = x * inv_norm
        product = x @ x.T if self.mode == "rows" else x.T @ x
        size = product.shape[0]
        off_diagonal = product * (1.0 - jnp.eye(size, dtype=x.dtype))
        num_pairs = size * (size - 1.0) / 2.0
        return jnp.asarray(self.factor, x.dtype) * 0.5 * jnp.sum(jnp.abs(off_diagonal)) / num_pairs

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    """Keras 2's helper: an ``L1L2`` with both factors 0.01 (the string ``"l1_l2"`` gives the same)."""
    return L1L2(l1, l2)


# Keras's lowercase aliases are the classes themselves (keras.regularizers.l1 is L1).
l1 = L1
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer

_CLASSES = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
# "l1l2" is Keras 3's name (L1L2 with its zero defaults); "l1_l2" mirrors the l1_l2() helper's 0.01 defaults.
_BY_NAME = {"regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": l1_l2,
            "orthogonal_regularizer": OrthogonalRegularizer}


def _lookup(name: str):
    return _CLASSES.get(name) or _BY_NAME.get(name) or _BY_NAME.get(name.lower())


def deserialize(config):
    """The regularizer a :func:`serialize` dict (or a name) describes."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"Cannot deserialize regularizer from {config!r}.")
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise unknown_identifier("regularizer", config["class_name"], list(_CLASSES))
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """A regularizer from a name (``"l2"``, ``"L1L2"``...), a config dict, an instance or a callable."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        f = _lookup(identifier)
        if f is None:
            raise unknown_identifier("regularizer", identifier, sorted(set(_BY_NAME) | set(_CLASSES)))
        return f()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ConfigError(f"Cannot interpret {identifier!r} as a regularizer.")


def get_argument(owner: str, argument: str, identifier):
    """:func:`get` for a layer argument: an error names the layer and the argument."""
    try:
        return get(identifier)
    except ConfigError as err:
        raise ConfigError(f"{owner}: {argument}: {err}") from None


def serialize(reg):
    if reg is None:
        return None
    if isinstance(reg, Regularizer):
        return {"class_name": type(reg).__name__, "config": reg.get_config()}
    raise ConfigError(f"Cannot serialize regularizer {reg!r}.")
