"""Weight regularizers by their Keras names: a penalty added to the training loss."""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.errors import ConfigError, unknown_identifier


class Regularizer:
    """Base class: ``reg(weights) -> scalar penalty``."""

    def __call__(self, x):
        return jnp.zeros((), jnp.float32)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        out = jnp.zeros((), x.dtype)
        if self.l1:
            out = out + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            out = out + self.l2 * jnp.sum(jnp.square(x))
        return out

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


# "l1l2" is Keras's name (L1L2 with its zero defaults); "l1_l2" mirrors the l1_l2() helper's 0.01 defaults.
_BY_NAME = {"l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": l1_l2}
_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        f = _BY_NAME.get(identifier.lower())
        if f is None:
            raise unknown_identifier("regularizer", identifier, list(_BY_NAME))
        return f()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"])
        if cls is None:
            raise unknown_identifier("regularizer", identifier["class_name"], list(_CLASSES))
        return cls.from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ConfigError(f"Cannot interpret {identifier!r} as a regularizer.")


def serialize(reg):
    if reg is None:
        return None
    if isinstance(reg, Regularizer):
        return {"class_name": type(reg).__name__, "config": reg.get_config()}
    raise ConfigError(f"Cannot serialize regularizer {reg!r}.")
