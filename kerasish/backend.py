"""Variables and the stateless scope that turns a stateful-looking model into a pure function.

A :class:`Variable` holds one weight. Outside any scope it reads its own value,
or, while a training loop owns the state, the entry of the loop's live state
pytree it is bound to (so a callback that reads or sets weights mid-fit sees the
real thing). Inside a :class:`StatelessScope` (entered by the jitted step
functions) it reads the value the scope maps it to, and ``assign`` records the
new value in the scope instead of mutating anything.

A Variable is also a pytree node whose one leaf is its value: handed to ``jax.jit``,
``jax.grad`` or ``jax.device_put`` it behaves as that array (Keras's custom training loops
pass ``model.trainable_variables`` straight into a jitted step).

While a training step is traced, a :class:`StepContext` holds what the engine keeps behind
Keras's stateless contract: the step's random key and counter (stochastic layers draw
``fold_in(fold_in(rng, step), n)``) and the mask of a padded last batch.
"""

from __future__ import annotations

import threading
import weakref
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
    """The state a training loop owns, which bound variables read and write.

    ``state`` is a NamedTuple (the engine's ``TrainState``); ``groups`` names the fields that
    hold lists of variable values (``{"trainable": [...], "optimizer": [...], ...}``), each in
    the order of its list of variables. Everything else in the state is the loop's.
    """

    def __init__(self, state, groups: dict[str, list[Variable]]):
        self.state = state
        self.slots: dict[int, tuple[str, int]] = {}
        for kind, variables in groups.items():
            for i, v in enumerate(variables):
                self.slots[id(v)] = (kind, i)

    def read(self, var: Variable):
        kind, i = self.slots[id(var)]
        return getattr(self.state, kind)[i]

    def write(self, var: Variable, value) -> None:
        kind, i = self.slots[id(var)]
        values = list(getattr(self.state, kind))
        values[i] = value
        self.state = self.state._replace(**{kind: values})


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


_VARIABLE_NAMES: dict[str, int] = {}


def _auto_name(prefix: str) -> str:
    count = _VARIABLE_NAMES.get(prefix, 0)
    _VARIABLE_NAMES[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _no_initializers(initializer, shape, dtype):
    from kerasish.errors import ConfigError

    raise ConfigError("kerasish.initializers is not loaded")


# (initializer, shape, dtype) -> array; kerasish.initializers installs it (this module does not import it)
_initializer_resolver = _no_initializers


def set_initializer_resolver(resolver) -> None:
    global _initializer_resolver
    _initializer_resolver = resolver


def _initial_value(initializer, shape, dtype, name):
    """A Variable's first value: the array given, or ``initializer(key, shape, dtype)``."""
    from kerasish.errors import ConfigError

    if initializer is None:
        raise ConfigError(f"Variable {name!r}: give an initial value or an initializer (and a shape).")
    if isinstance(initializer, str) or (callable(initializer) and not hasattr(initializer, "shape")):
        if shape is None:
            raise ConfigError(f"Variable {name!r}: an initializer ({initializer!r}) needs a shape.")
        return _initializer_resolver(initializer, tuple(shape), jnp.dtype(dtype or "float32"))
    value = to_array(initializer, dtype)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ConfigError(f"Variable {name!r}: the initial value has shape {tuple(value.shape)}, not the shape "
                          f"given, {tuple(shape)}.")
    return value


class Variable:
    """One weight of a layer (a JAX array plus its name and trainability).

    ``autocast`` (default True): inside an :class:`AutocastScope` (a mixed-precision layer's call), a
    floating variable reads as the scope's compute dtype; with False it always reads in its own dtype.
    """

    def __init__(self, initializer=None, shape=None, dtype=None, trainable: bool = True, autocast: bool = True,
                 aggregation: str = "none", synchronization: str = "auto", name: str | None = None, *,
                 regularizer=None, constraint=None):
        """Keras's signature: ``initializer`` is an array (or anything array-like), or an initializer (a name,
        a callable) used with ``shape`` and ``dtype``. ``Variable(value, "name")`` (a name in the shape's place)
        is kerasish's short form."""
        if isinstance(shape, str):
            name, shape = shape, None
        if name is None:
            name = _auto_name("variable")
        value = _initial_value(initializer, shape, dtype, name)
        self.aggregation = aggregation
        self.synchronization = synchronization
        self._value = value
        self.name = name
        self._trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint
        self.autocast = autocast
        self.path = name
        self._binding: LiveState | None = None

    # -- value access -------------------------------------------------------------
    def _current(self):
        """The value without autocast: the scope's, the live state's, or the variable's own."""
        scope = current_scope()
        if scope is not None and id(self) in scope.values:
            return scope.values[id(self)]
        if self._binding is not None:
            return self._binding.read(self)
        return self._value

    @property
    def value(self):
        value = self._current()
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
            return
        if isinstance(value, jax.core.Tracer):
            from kerasish.errors import KerasishError

            raise KerasishError(
                f"Variable {self.path!r} was assigned a traced value outside a StatelessScope that maps it: inside "
                "jax.jit or jax.grad, update variables statelessly (stateless_call, metric.stateless_update_state, "
                "optimizer.stateless_apply) or within a StatelessScope(state_mapping=[(variable, value), ...]).")
        if self._binding is not None:
            self._binding.write(self, value)
        else:
            self._value = value

    def assign_add(self, value) -> None:
        self.assign(self.value + value)

    def assign_sub(self, value) -> None:
        self.assign(self.value - value)

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value)

    @property
    def shape(self) -> tuple[int, ...]:
        v = self._value if self._value is not None else self._binding.read(self)
        return tuple(v.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self):
        v = self._value if self._value is not None else self._binding.read(self)
        return v.dtype

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)

    # -- binding to a training loop's state ------------------------------------------
    def _bind(self, live: LiveState) -> None:
        self._binding = live
        self._value = None  # the live state owns the buffer now (it may be donated)

    def _unbind(self) -> None:
        if self._binding is not None:
            self._value = self._binding.read(self)
            self._binding = None

    def __jax_array__(self):
        return self.value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype=dtype)

    def __float__(self) -> float:
        return float(self.value)

    # Arithmetic reads the value, as with Keras's variables (``self.total + x`` in a custom metric).
    def __add__(self, other):
        return self.value + other

    def __radd__(self, other):
        return other + self.value

    def __sub__(self, other):
        return self.value - other

    def __rsub__(self, other):
        return other - self.value

    def __mul__(self, other):
        return self.value * other

    def __rmul__(self, other):
        return other * self.value

    def __truediv__(self, other):
        return self.value / other

    def __rtruediv__(self, other):
        return other / self.value

    def __pow__(self, other):
        return self.value**other

    def __matmul__(self, other):
        return self.value @ other

    def __rmatmul__(self, other):
        return other @ self.value

    def __neg__(self):
        return -self.value

    def __getitem__(self, index):
        return self.value[index]

    def __int__(self) -> int:
        return int(self.value)

    def __repr__(self) -> str:
        return f"<Variable {self.path} shape={self.shape} dtype={self.dtype} trainable={self.trainable}>"


class StatelessScope:
    """Maps variables to values for the duration of a pure call.

    Args:
        values: ``{id(variable): array}`` for every variable the call may read.
        state_mapping: the same as Keras gives it, ``[(variable, value), ...]``.
        rng: a PRNG key for stochastic layers (dropout); each request folds in a
            counter, so the order of layers (fixed at trace time) decides the keys.
            Without one, keys come from the current :class:`StepContext` (the step the
            engine is tracing), if any.
        rng_step: optional step number folded into ``rng`` first (so the key is derived
            only in models that draw one: a model without stochastic layers runs no
            random-number code at all).
        training: the default ``training`` flag for layers that were not given one.
        sample_mask: optional ``(batch,)`` array, 1 for real samples and 0 for padding (the
            engine pads a last partial batch); layers with batch statistics ignore padded rows.
            Without one, the current :class:`StepContext`'s mask.
    """

    def __init__(self, values: dict[int, Any] | None = None, rng=None, training: bool = False, sample_mask=None,
                 rng_step=None, *, state_mapping=None):
        self.values = dict(values or {})
        for var, value in state_mapping or ():  # Keras's form: [(variable, value), ...]
            self.values[id(var)] = value
        for key, value in self.values.items():  # a Variable given as a value stands for its current value
            if isinstance(value, Variable):
                self.values[key] = value._current()
        self.rng = rng
        self._rng_step = rng_step
        self.training = training
        self._sample_mask = sample_mask
        self._rng_counter = 0
        self.losses: list = []

    @property
    def sample_mask(self):
        if self._sample_mask is not None:
            return self._sample_mask
        context = current_step()
        return None if context is None else context.mask

    def has_rng(self) -> bool:
        context = current_step()
        return self.rng is not None or (context is not None and context.rng is not None)

    def next_rng(self):
        if self.rng is None:
            context = current_step()
            if context is not None:
                return context.next_rng()
            from kerasish.errors import KerasishError

            raise KerasishError("A stochastic layer needs a random key, but none was given to this call.")
        if self._rng_step is not None:  # derive this step's key once, on the first request
            self.rng = jax.random.fold_in(self.rng, self._rng_step)
            self._rng_step = None
        self._rng_counter += 1
        return jax.random.fold_in(self.rng, self._rng_counter)

    def get_current_value(self, variable):
        """The value ``variable`` has in this scope (Keras's ``StatelessScope.get_current_value``), or None."""
        return self.values.get(id(variable))

    def __enter__(self) -> StatelessScope:
        _scope_stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        _scope_stack().pop()


class _StepStack(threading.local):
    def __init__(self):
        self.stack: list[StepContext] = []


_steps = _StepStack()


def current_step() -> StepContext | None:
    """The step the engine is tracing right now (None outside one)."""
    return _steps.stack[-1] if _steps.stack else None


class StepContext:
    """What a traced step knows besides Keras's ``(state, data)``: its random key and its batch mask.

    The engine enters one around every ``train_step``/``test_step``/``predict_step`` it traces;
    ``stateless_call`` and stochastic layers read it, so a custom step written to Keras's
    contract gets kerasish's per-step keys and padded-batch handling without passing them.

    Args:
        rng: the run's PRNG key (fixed for the run).
        step: the step counter; the step's key is ``fold_in(rng, step)``, derived only when a
            layer first asks for a key (a model without stochastic layers runs no random code).
        mask: ``(batch,)`` array, 1 for real rows and 0 for the padding of a last partial batch,
            or None when every row is real.
    """

    def __init__(self, rng=None, step=None, mask=None):
        self.rng = rng
        self.step = step
        self.mask = mask
        self._key = None
        self._counter = 0

    def step_key(self):
        """``fold_in(rng, step)``: the key of this step (for draws outside layers, e.g. batch augmentation)."""
        if self.rng is None:
            from kerasish.errors import KerasishError

            raise KerasishError("This step has no random key.")
        if self._key is None:
            self._key = self.rng if self.step is None else jax.random.fold_in(self.rng, self.step)
        return self._key

    def next_rng(self):
        self._counter += 1
        return jax.random.fold_in(self.step_key(), self._counter)

    def __enter__(self) -> StepContext:
        _steps.stack.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _steps.stack.pop()


def _flatten_variable(v: Variable):
    return (v._current(),), None


def _unflatten_variable(_, children):
    return children[0]


# A Variable is a pytree whose one leaf is its value: jax.jit(step)(model.trainable_variables, ...)
# traces the step on the values, as Keras's own custom training loops expect.
jax.tree_util.register_pytree_node(Variable, _flatten_variable, _unflatten_variable)


def standardize_dtype(dtype) -> Any:
    return jnp.dtype(dtype or "float32")


# -- masks ------------------------------------------------------------------------------------------
# Masks travel with arrays from layer to layer, as Keras's ``_keras_mask`` (see kerasish.layers.masking).
# JAX arrays that are tracers take no new attributes, so masks live in a side table keyed by the
# array's ``id`` and cleared when the array dies, which works the same eagerly, under ``jit`` and
# under ``jax.eval_shape``. The table is read at trace time only: it costs nothing in a compiled step.
_MASKS: dict[int, tuple[Any, Any]] = {}  # id(array) -> (weak reference or the array, mask)


def _forget(key: int) -> None:
    _MASKS.pop(key, None)


def set_mask(x, mask) -> None:
    """Attach ``mask`` to the array ``x`` (``None`` removes it)."""
    key = id(x)
    if mask is None:
        _MASKS.pop(key, None)
        return
    try:
        ref = weakref.ref(x)
        weakref.finalize(x, _forget, key)
    except TypeError:  # an object without weak references: keep it alive with its mask
        ref = None
    _MASKS[key] = (ref if ref is not None else x, mask)
    if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and not isinstance(mask, jax.core.Tracer):
        try:  # an eager output also shows its mask as Keras's attribute (``output._keras_mask``)
            x._keras_mask = mask
        except AttributeError:
            pass


def get_mask(x):
    """The mask attached to ``x``, or ``None``."""
    entry = _MASKS.get(id(x))
    if entry is None:
        return None
    ref, mask = entry
    target = ref() if isinstance(ref, weakref.ref) else ref
    return mask if target is x else None


def get_masks(x):
    """The mask of ``x``, or a list of masks for a list/tuple input (``None`` when none is set)."""
    if isinstance(x, (list, tuple)):
        masks = [get_mask(t) for t in x]
        return masks if any(m is not None for m in masks) else None
    return get_mask(x)


def set_masks(outputs, mask) -> None:
    """Attach ``mask`` to a layer's outputs: one mask per output for a list of masks, else the same to all."""
    leaves = jax.tree.leaves(outputs)
    if isinstance(mask, (list, tuple)) and len(mask) == len(leaves):
        for out, m in zip(leaves, mask):
            set_mask(out, m)
        return
    if isinstance(mask, (list, tuple)):  # several input masks for one output: keep the timesteps all agree on
        mask = merge_masks(mask)
    for out in leaves:
        set_mask(out, mask)


def merge_masks(masks):
    """The logical AND of the masks that are set, or ``None``."""
    present = [jnp.asarray(m, bool) for m in masks if m is not None] if masks is not None else []
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = jnp.logical_and(out, m)
    return out

# keras.backend's settings and dtype helpers live in kerasish.settings (a leaf module); the same names here.
from kerasish.settings import (  # noqa: E402,F401
    backend,
    clear_session,
    epsilon,
    floatx,
    get_uid,
    image_data_format,
    is_float_dtype,
    is_int_dtype,
    is_keras_tensor,
    result_type,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
