"""The Metric base class: Keras 3's stateful and stateless contract over kerasish Variables.

A metric's running state lives in its :attr:`Metric.variables`. Used eagerly, a metric is
stateful, as in Keras::

    m = kerasish.metrics.SparseCategoricalAccuracy()
    m.update_state(y_true, y_pred)
    m.result()

Inside a jitted step the same object is used statelessly, on values the step carries::

    metric_variables = m.stateless_update_state(metric_variables, y_true, y_pred)
    value = m.stateless_result(metric_variables)

Custom metrics subclass :class:`Metric` as in Keras: create accumulators with
:meth:`Metric.add_variable` in ``__init__``, override ``update_state`` (``variable.assign``)
and ``result``. The stateless forms then work for them too: they run the stateful code with
the variables mapped to the given values (a ``StatelessScope``), so nothing is mutated.

kerasish's own metrics are written as pure functions of a small state dict (``_init`` /
``_update`` / ``_result``); the base class keeps that dict in variables, one per entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kerasish import initializers
from kerasish.backend import StatelessScope, Variable
from kerasish.errors import ConfigError, InputError

NEG_INF = -1e10  # Keras's stand-in for -inf when top_k masks predictions.

State = dict[str, jax.Array]


def _snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _float(x) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _y_pred_of(args: tuple, kwargs: dict):
    """The prediction argument of an ``update_state(y_true, y_pred, ...)`` call (the values of a Mean's)."""
    if "y_pred" in kwargs:
        return kwargs["y_pred"]
    if len(args) > 1:
        return args[1]
    return args[0] if args else kwargs.get("values")


class Metric:
    """Base class of metrics (Keras 3's ``keras.metrics.Metric``).

    Args:
        name: name under which the metric is logged; defaults to the class name
            in snake case.
        dtype: dtype of the accumulators; defaults to float32.

    Keras's methods: ``update_state(*args, **kwargs)``, ``result()``, ``reset_state()``,
    ``variables``, ``add_variable(shape, initializer, dtype=None, aggregation="sum", name=None)``,
    and the stateless forms ``stateless_update_state(metric_variables, *args, **kwargs)``,
    ``stateless_result(metric_variables)``, ``stateless_reset_state()``. Calling the metric
    (``m(y_true, y_pred)``) updates it and returns the result.
    """

    _config_keys: tuple[str, ...] = ()

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or _snake_case(type(self).__name__)
        self.dtype = jnp.dtype(dtype or "float32")
        self._variables: list[Variable] = []
        self._state_keys: list[str] | None = None  # the pure state's entries, once built
        self._build_shape = None

    # -- the pure core of kerasish's own metrics (override all three, or none) ---------------
    def _init(self, y_pred_shape: Sequence[int | None] | None = None) -> State | None:
        """The zeroed accumulators (a dict of arrays). Only metrics whose state size depends on
        the number of classes (``F1Score`` without ``average="micro"``, ``AUC(multi_label=True)``
        without ``num_labels``) need ``y_pred_shape``; they raise ConfigError without it."""
        return None

    def _update(self, state: State, *args, **kwargs) -> State:
        """The state after one batch. Pure and jittable."""
        raise NotImplementedError(f"{type(self).__name__}: override update_state() (or _init/_update/_result).")

    def _result(self, state: State) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__}: override result() (or _init/_update/_result).")

    @property
    def _pure(self) -> bool:
        return type(self)._init is not Metric._init

    # -- variables ---------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return not self._pure or self._state_keys is not None

    def build(self, y_pred_shape=None) -> None:
        """Create the accumulators for predictions of shape ``y_pred_shape`` (needed only by the
        metrics named in :meth:`_init`; the others build themselves when first used)."""
        if not self._pure or self._state_keys is not None:
            return
        with jax.ensure_compile_time_eval():  # built inside a trace too: the values must be concrete
            state = self._init(None if y_pred_shape is None else tuple(y_pred_shape))
            names = list(state)
            self._variables = [self._make_variable(state[n], n) for n in names]
        self._state_keys = names
        self._build_shape = None if y_pred_shape is None else tuple(y_pred_shape)

    def _make_variable(self, value, name: str) -> Variable:
        var = Variable(value, name=name, trainable=False, autocast=False)
        var.path = f"{self.name}/{name}"
        return var

    @property
    def variables(self) -> list[Variable]:
        """The accumulators, in a fixed order (empty for a metric that needs a shape and has none yet)."""
        if self._pure and self._state_keys is None:
            try:
                self.build(None)
            except ConfigError:
                return []
        return list(self._variables)

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation: str = "sum",
                     name: str | None = None) -> Variable:
        """A new accumulator (Keras's ``Metric.add_variable``), for custom metrics' ``__init__``.

        ``initializer`` is a name (``"zeros"``), an initializer object or a callable
        ``(shape, dtype)``; ``aggregation`` is accepted for Keras compatibility (kerasish sums
        replicas' batches inside one global step, so accumulators need no aggregation).
        """
        del aggregation
        dtype = jnp.dtype(dtype or self.dtype)
        init = initializers.get(initializer)
        value = init(jax.random.PRNGKey(0), tuple(shape), dtype) if isinstance(init, initializers.Initializer) \
            else init(tuple(shape), dtype)
        var = self._make_variable(jnp.asarray(value, dtype), name or f"variable_{len(self._variables)}")
        self._variables.append(var)
        return var

    add_weight = add_variable

    def _state(self) -> State:
        return {n: v.value for n, v in zip(self._state_keys, self._variables)}

    # -- Keras's stateful API ------------------------------------------------------------------
    def update_state(self, *args, **kwargs) -> None:
        """Accumulate one batch (``y_true, y_pred, sample_weight=None``; a Mean takes ``values``)."""
        if not self._pure:
            raise NotImplementedError(f"{type(self).__name__} must override update_state().")
        if self._state_keys is None:
            y_pred = _y_pred_of(args, kwargs)
            self.build(None if y_pred is None else np.shape(y_pred))
        new = self._update(self._state(), *args, **kwargs)
        for name, var in zip(self._state_keys, self._variables):
            var.assign(new[name])

    def result(self):
        """The metric's value for what it has accumulated."""
        if not self._pure:
            raise NotImplementedError(f"{type(self).__name__} must override result().")
        if not self.variables:
            raise ConfigError(f"Metric {self.name!r} has seen no data yet: its state size depends on the "
                              "predictions' shape (call update_state first, or build(y_pred_shape)).")
        return self._result(self._state())

    def reset_state(self) -> None:
        """Zero the accumulators (the initial state of kerasish's own metrics)."""
        if self._pure and self._state_keys is not None:
            with jax.ensure_compile_time_eval():
                initial = self._init(self._build_shape)
            for name, var in zip(self._state_keys, self._variables):
                var.assign(initial[name])
            return
        for var in self.variables:
            var.assign(jnp.zeros(var.shape, var.dtype))

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the result (as Keras's ``metric(y_true, y_pred)``)."""
        self.update_state(*args, **kwargs)
        return self.result()

    # -- Keras's stateless API -----------------------------------------------------------------
    def _mapping(self, metric_variables, where: str) -> dict[int, Any]:
        own = self.variables
        values = list(metric_variables)
        if len(values) != len(own):
            raise InputError(f"Metric {self.name!r}.{where} got {len(values)} values for its {len(own)} variables "
                             f"{[v.name for v in own]}.")
        return {id(v): value for v, value in zip(own, values)}

    def stateless_update_state(self, metric_variables, *args, **kwargs) -> list:
        """``update_state`` as a pure function: the new values of ``metric_variables``."""
        if self._pure and self._state_keys is None:
            y_pred = _y_pred_of(args, kwargs)
            self.build(None if y_pred is None else np.shape(y_pred))
        with StatelessScope(self._mapping(metric_variables, "stateless_update_state")) as scope:
            self.update_state(*args, **kwargs)
        return [scope.values[id(v)] for v in self.variables]

    def stateless_result(self, metric_variables):
        """``result`` computed from the given values of the variables."""
        with StatelessScope(self._mapping(metric_variables, "stateless_result")):
            return self.result()

    def stateless_reset_state(self) -> list:
        """The variables' values after ``reset_state``, without changing them."""
        if self._pure and self._state_keys is not None and type(self).reset_state is Metric.reset_state:
            initial = self._init(self._build_shape)  # inside a jitted program: constants XLA folds
            return [jnp.asarray(initial[n]) for n in self._state_keys]
        own = self.variables
        with StatelessScope({id(v): v.value for v in own}) as scope:
            self.reset_state()
        return [scope.values[id(v)] for v in own]

    # -- config ----------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "dtype": str(self.dtype)}
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def _zeros(self, shape=()) -> jax.Array:
        return jnp.zeros(shape, self.dtype)

    def _in_dtype(self, x):
        """A floating ``x`` in the metric's dtype (float32 by default); other arrays unchanged."""
        x = jnp.asarray(x)
        return x.astype(self.dtype) if jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != self.dtype else x
