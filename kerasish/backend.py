"""Variables and the stateless scope that turns a stateful-looking model into a pure function.

A :class:`Variable` holds one weight. Outside any scope it reads its own value,
or, while a training loop owns the state, the entry of the loop's live state
pytree it is bound to (so a callback that reads or sets weights mid-fit sees the
real thing). Inside a :class:`StatelessScope` (entered by the jitted step
functions) it reads the value the scope maps it to, and ``assign`` records the
new value in the scope instead of mutating anything.
"""

from __future__ import annotations

import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_local = threading.local()


def _scope_stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


def current_scope() -> StatelessScope | None:
    stack = _scope_stack()
    return stack[-1] if stack else None


class _Autocast(threading.local):
    dtype = None  # the compute dtype floating variables are read in, inside a mixed-precision layer's call


_autocast = _Autocast()


def autocast_dtype():
    """The dtype variables are read in right now (``None``: their own), see :class:`AutocastScope`."""
    return _autocast.dtype


class AutocastScope:
    """While active, reading a floating variable gives its value cast to ``dtype`` (Keras's AutocastScope).

    ``Layer.__call__`` enters one around the call of a layer whose compute dtype differs from its
    variable dtype (``"mixed_bfloat16"``: the float32 weights are read as bfloat16), and one with
    ``dtype=None`` around a layer that computes in float32 on purpose (``autocast = False``, such as
    BatchNormalization). The cast is an ordinary JAX op: gradients flow back to the float32 variable.
    Variables created with ``autocast=False`` are never cast.
    """

    __slots__ = ("dtype", "_saved")

    def __init__(self, dtype):
        self.dtype = None if dtype is None else np.dtype(jnp.dtype(dtype))

    def __enter__(self) -> AutocastScope:
        self._saved = _autocast.dtype
        _autocast.dtype = self.dtype
        return self

    def __exit__(self, *exc) -> None:
        _autocast.dtype = self._saved


class LiveState:
    """The state pytree a training loop owns, which bound variables read and write.

    ``state["trainable"]`` and ``state["non_trainable"]`` are lists of arrays in
    the order of ``slots``; everything else in the pytree is the loop's.
    """

    def __init__(self, state: dict, trainable: list[Variable], non_trainable: list[Variable]):
        self.state = state
        self.slots: dict[int, tuple[str, int]] = {}
        for i, v in enumerate(trainable):
            self.slots[id(v)] = ("trainable", i)
        for i, v in enumerate(non_trainable):
            self.slots[id(v)] = ("non_trainable", i)

    def read(self, var: Variable):
        kind, i = self.slots[id(var)]
        return self.state[kind][i]

    def write(self, var: Variable, value) -> None:
        kind, i = self.slots[id(var)]
        values = list(self.state[kind])
        values[i] = value
        self.state = {**self.state, kind: values}


def to_array(value, dtype=None):
    """``jnp.asarray(value, dtype)`` that moves host data with ``jax.device_put``.

    Host values are cast with NumPy and transferred: ``jnp.asarray`` of a NumPy array
    compiles a small program per shape (tens of milliseconds each on a warm start).
    JAX arrays and tracers go through ``jnp.asarray`` unchanged.
    """
    if isinstance(value, (jax.Array, jax.core.Tracer)):
        return jnp.asarray(value, dtype=dtype)
    host = np.asarray(value, dtype=None if dtype is None else jnp.dtype(dtype))
    if dtype is None:
        host = host.astype(jax.dtypes.canonicalize_dtype(host.dtype), copy=False)
    return jax.device_put(host)


class Variable:
    """One weight of a layer (a JAX array plus its name and trainability).

    ``autocast`` (default True): inside an :class:`AutocastScope` (a mixed-precision layer's call), a
    floating variable reads as the scope's compute dtype; with False it always reads in its own dtype.
    """

    def __init__(self, value, name: str, trainable: bool = True, regularizer=None, constraint=None,
                 autocast: bool = True):
        self._value = to_array(value)
        self.name = name
        self._trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint
        self.autocast = autocast
        self.path = name
        self._live: LiveState | None = None

    # -- value access -------------------------------------------------------------
    @property
    def value(self):
        scope = current_scope()
        if scope is not None and id(self) in scope.values:
            value = scope.values[id(self)]
        elif self._live is not None:
            value = self._live.read(self)
        else:
            value = self._value
        cast = _autocast.dtype
        if cast is not None and self.autocast and value.dtype != cast and jnp.issubdtype(value.dtype, jnp.floating):
            return value.astype(cast)
        return value

    def assign(self, value) -> None:
        value = to_array(value, dtype=self.dtype)
        if value.shape != self.shape:
            from kerasish.errors import InputError

            raise InputError(
                f"Cannot assign a value of shape {value.shape} to variable {self.path!r} of shape {self.shape}."
            )
        scope = current_scope()
        if scope is not None and id(self) in scope.values:
            scope.values[id(self)] = value
        elif self._live is not None:
            self._live.write(self, value)
        else:
            self._value = value

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value)

    @property
    def shape(self) -> tuple[int, ...]:
        v = self._value if self._value is not None else self._live.read(self)
        return tuple(v.shape)

    @property
    def dtype(self):
        v = self._value if self._value is not None else self._live.read(self)
        return v.dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)

    # -- binding to a training loop's state ------------------------------------------
    def _bind(self, live: LiveState) -> None:
        self._live = live
        self._value = None  # the live state owns the buffer now (it may be donated)

    def _unbind(self) -> None:
        if self._live is not None:
            self._value = self._live.read(self)
            self._live = None

    def __jax_array__(self):
        return self.value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def __repr__(self) -> str:
        return f"<Variable {self.path} shape={self.shape} dtype={self.dtype} trainable={self.trainable}>"


class StatelessScope:
    """Maps variables to values for the duration of a pure call.

    Args:
        values: ``{id(variable): array}`` for every variable the call may read.
        rng: a PRNG key for stochastic layers (dropout); each request folds in a
            counter, so the order of layers (fixed at trace time) decides the keys.
        rng_step: optional step number folded into ``rng`` first (the default train step
            passes its step counter, so the key is derived only in models that draw one:
            a model without stochastic layers runs no random-number code at all).
        training: the default ``training`` flag for layers that were not given one.
        sample_mask: optional ``(batch,)`` array, 1 for real samples and 0 for padding (the
            engine pads a last partial batch); layers with batch statistics ignore padded rows.
    """

    def __init__(self, values: dict[int, Any], rng=None, training: bool = False, sample_mask=None,
                 rng_step=None):
        self.values = dict(values)
        self.rng = rng
        self._rng_step = rng_step
        self.training = training
        self.sample_mask = sample_mask
        self._rng_counter = 0
        self.losses: list = []

    def next_rng(self):
        if self.rng is None:
            from kerasish.errors import KerasishError

            raise KerasishError("A stochastic layer needs a random key, but none was given to this call.")
        if self._rng_step is not None:  # derive this step's key once, on the first request
            self.rng = jax.random.fold_in(self.rng, self._rng_step)
            self._rng_step = None
        self._rng_counter += 1
        return jax.random.fold_in(self.rng, self._rng_counter)

    def __enter__(self) -> StatelessScope:
        _scope_stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        _scope_stack().pop()


def standardize_dtype(dtype) -> Any:
    return jnp.dtype(dtype or "float32")
