"""Reduction metrics: the (weighted) mean of values, and of a per-sample function of ``(y_true, y_pred)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from kerasish import losses as losses_lib
from kerasish.backend import get_mask
from kerasish.errors import ConfigError
from kerasish.losses import divide_no_nan, match_rank
from kerasish.metrics.base import Metric, State


def _samplewise(values: jax.Array, sample_weight, dtype, reduce=jnp.mean) -> tuple[jax.Array, jax.Array | None]:
    """Per-sample values (and weights) as Keras's mean (``reduce=jnp.mean``) and sum metrics reduce them."""
    values = jnp.asarray(values).astype(dtype)
    if sample_weight is not None:
        weights = jnp.asarray(sample_weight).astype(dtype)
        values, weights = match_rank(values, weights)
        if values.ndim > weights.ndim:
            values = reduce(values, axis=tuple(range(weights.ndim, values.ndim)))
        weights = jnp.broadcast_to(weights, values.shape)
        values = values * weights
        if weights.ndim > 1:
            weights = reduce(weights, axis=tuple(range(1, weights.ndim)))
        sample_weight = weights
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight=None)``.

    Example:

    >>> m = Sum()
    >>> m.update_state([1.0, 3.0, 5.0], sample_weight=[1.0, 0.0, 2.0])
    >>> m.result()  # 11.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _init(self, y_pred_shape=None) -> State:
        return {"total": self._zeros()}

    def _update(self, state: State, values, sample_weight=None) -> State:
        values, _ = _samplewise(values, sample_weight, self.dtype, reduce=jnp.sum)
        return {"total": state["total"] + jnp.sum(values)}

    def _result(self, state: State) -> jax.Array:
        return state["total"]


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state``.

    Used for the loss tracker: ``update_state(values, sample_weight=None)``.
    Values of shape ``(batch, ...)`` are first averaged per sample; the result
    is ``sum(weight * value) / sum(weight)`` over all samples seen.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _init(self, y_pred_shape=None) -> State:
        return {"total": self._zeros(), "count": self._zeros()}

    def _update(self, state: State, values, sample_weight=None) -> State:
        return self._accumulate(state, values, sample_weight)

    def _accumulate(self, state: State, values, sample_weight) -> State:
        values, weights = _samplewise(values, sample_weight, self.dtype)
        if weights is not None:
            count = jnp.sum(weights)
        else:
            count = jnp.asarray(values.shape[0] if values.ndim >= 1 else 1, self.dtype)
        return {"total": state["total"] + jnp.sum(values), "count": state["count"] + count}

    def _result(self, state: State) -> jax.Array:
        return divide_no_nan(state["total"], state["count"])


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the per-sample function.
        name: defaults to ``fn.__name__``.
        dtype: see :class:`Metric`.
        **kwargs: passed on to ``fn``.
    """

    def __init__(self, fn: Callable, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean_metric_wrapper", dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        mask = get_mask(y_pred)  # masked steps of a sequence output do not count, as in Keras
        # Mixed precision: half-precision outputs (and float targets) are compared in the metric's dtype.
        y_true, y_pred = self._in_dtype(y_true), self._in_dtype(y_pred)
        values = self.fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None and jnp.shape(mask) == jnp.shape(values):
            mask = jnp.asarray(mask).astype(self.dtype)
            if sample_weight is None:
                sample_weight = mask
            else:
                mask, sample_weight = losses_lib._align_weights(mask, jnp.asarray(sample_weight, self.dtype))
                sample_weight = sample_weight * mask
        return self._accumulate(state, values, sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            config["fn"] = getattr(self.fn, "__name__", repr(self.fn))
            config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        if cls is not MeanMetricWrapper:
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            from kerasish.metrics import _FUNCTIONS

            if fn not in _FUNCTIONS:
                raise ConfigError(
                    f"Cannot rebuild MeanMetricWrapper: {fn!r} is not a built-in metric "
                    "function; pass the function itself."
                )
            fn = _FUNCTIONS[fn]
        return cls(fn, **config)

