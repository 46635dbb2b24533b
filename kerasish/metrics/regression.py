"""Regression metrics: mean squared / absolute / percentage / log errors and RMSE."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish import losses as losses_lib
from kerasish.losses import match_rank
from kerasish.metrics.base import State
from kerasish.metrics.reduction import Mean, MeanMetricWrapper


class MeanSquaredError(MeanMetricWrapper):
    """Mean of ``mean(square(y_true - y_pred), axis=-1)`` over samples."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses_lib.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of ``mean(abs(y_true - y_pred), axis=-1)`` over samples."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses_lib.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error over samples."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses_lib.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean squared logarithmic error over samples."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(losses_lib.mean_squared_logarithmic_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the (weighted) mean squared error over everything seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        y_true, y_pred = match_rank(jnp.asarray(y_true).astype(self.dtype), y_pred)
        return self._accumulate(state, jnp.square(y_pred - y_true), sample_weight)

    def _result(self, state: State) -> jax.Array:
        return jnp.sqrt(super()._result(state))
