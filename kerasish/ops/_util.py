"""Shared helpers of the ops modules: conversion, Keras's default dtypes, and op factories."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from kerasish import settings
from kerasish.ops._dispatch import keras_op


def floatx() -> str:
    """The default float dtype (``kerasish.config.floatx()``, float32 unless set)."""
    return settings.floatx()


def tensor(x, dtype=None):
    """``x`` as a JAX array (Variables give their value); ``dtype`` casts."""
    if hasattr(x, "value") and hasattr(x, "assign"):
        x = x.value
    return jnp.asarray(x, dtype=dtype)


def float_tensor(x):
    """``x`` as an array of a float dtype: ints and bools become the default float, as Keras does."""
    x = tensor(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(floatx())


def dtype_or_floatx(dtype):
    return jnp.dtype(floatx() if dtype is None else dtype)


def standardize(dtype) -> str | None:
    """A dtype's name as Keras writes it (``"float32"``, ``"int32"``, ...)."""
    if dtype is None:
        return None
    if hasattr(dtype, "name") and not isinstance(dtype, (np.dtype, type)):
        dtype = getattr(dtype, "dtype", dtype)
    return jnp.dtype(dtype).name


def _named(fn, name: str, doc: str):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return keras_op(fn)


def unary(name: str, jfn, *, to_float: bool = False):
    """``name(x)``: ``jfn`` elementwise (ints and bools to the default float first when ``to_float``)."""
    if to_float:
        def op(x):
            return jfn(float_tensor(x))
    else:
        def op(x):
            return jfn(tensor(x))
    return _named(op, name, f"Keras's ``ops.{name}(x)`` on ``jax.numpy.{jfn.__name__}``.")


def binary(name: str, jfn):
    def op(x1, x2):
        return jfn(*_operands(x1, x2))
    return _named(op, name, f"Keras's ``ops.{name}(x1, x2)`` on ``jax.numpy.{jfn.__name__}``.")


def _operands(x1, x2):
    # Python scalars stay weakly typed (they take the other operand's dtype, as in Keras and JAX)
    return tuple(x if isinstance(x, (int, float, complex, bool)) else tensor(x) for x in (x1, x2))


def reduction(name: str, jfn):
    def op(x, axis=None, keepdims=False):
        return jfn(tensor(x), axis=_axis(axis), keepdims=keepdims)
    return _named(op, name, f"Keras's ``ops.{name}(x, axis=None, keepdims=False)`` on ``jax.numpy.{jfn.__name__}``.")


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def like(name: str, jfn):
    def op(x, dtype=None):
        return jfn(tensor(x), dtype=dtype)
    return _named(op, name, f"Keras's ``ops.{name}(x, dtype=None)`` on ``jax.numpy.{jfn.__name__}``.")


def install(namespace: dict, factory, table: dict, **kwargs) -> list[str]:
    for name, jfn in table.items():
        namespace[name] = factory(name, jfn, **kwargs)
    return list(table)


def data_format_or_default(data_format, op: str = "") -> str:
    """``data_format`` (any case), or the global image data format (``kerasish.config.image_data_format()``)."""
    name = settings.image_data_format() if data_format is None else str(data_format).lower()
    if name not in ("channels_last", "channels_first"):
        from kerasish.errors import ConfigError

        raise ConfigError(f"{'ops.' + op + ': ' if op else ''}data_format must be 'channels_last' or "
                          f"'channels_first', got {data_format!r}.")
    return name


def epsilon_or_default(epsilon) -> float:
    """``epsilon``, or the global fuzz factor (``kerasish.backend.epsilon()``, 1e-7 by default)."""
    return settings.epsilon() if epsilon is None else epsilon
