"""Regression metrics: mean squared / absolute / percentage / log errors, RMSE, log-cosh, cosine similarity, R²."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from kerasish import losses as losses_lib
from kerasish.errors import ConfigError, InputError
from kerasish.losses import match_rank
from kerasish.metrics.base import Metric, State
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


def _cosine_similarity(y_true, y_pred, axis: int = -1) -> jax.Array:
    """Cosine similarity along ``axis`` (1 for the same direction): the loss's value with its sign flipped."""
    return -losses_lib.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(MeanMetricWrapper):
    """Mean over samples of the cosine similarity of ``y_true`` and ``y_pred`` along ``axis``.

    Args:
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
        axis: the axis along which the similarity is computed. (Keras leaves ``axis`` out of its
            config; kerasish keeps it, so that a non-default axis survives a round trip.)
    """

    _config_keys = ("axis",)

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(_cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class LogCoshError(MeanMetricWrapper):
    """Mean over samples of ``log(cosh(y_pred - y_true))`` (see ``losses.log_cosh``)."""

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(losses_lib.log_cosh, name=name, dtype=dtype)


class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` of each output column, then aggregated.

    Inputs are 2-D, ``(batch, num_outputs)``; the state (sums per output) is built from the first
    predictions.

    Args:
        class_aggregation: ``"uniform_average"`` (mean over outputs), ``"variance_weighted_average"``
            (weighted by each output's variance) or ``None`` (one score per output).
        num_regressors: the number of independent variables, for the adjusted R²; 0 gives the plain R².
            When there are too few samples for the adjustment (``num_regressors >= samples - 1``) the
            plain R² is returned (Keras also warns then; kerasish cannot inside a jitted step).
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.

    Example:

    >>> m = R2Score()
    >>> m.update_state([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])
    >>> m.result()  # 0.571...
    """

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        valid = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in valid:
            raise ConfigError(f"R2Score: class_aggregation must be one of {list(valid)}, got {class_aggregation!r}.")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, int) or num_regressors < 0:
            raise ConfigError(f"R2Score: num_regressors must be an integer >= 0, got {num_regressors!r}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors

    def _init(self, y_pred_shape=None) -> State:
        if y_pred_shape is None or len(y_pred_shape) not in (1, 2) or y_pred_shape[-1] is None:
            raise ConfigError(f"{self.name}: R2Score expects 2-D inputs (batch_size, output_dim) with output_dim "
                              f"known; got predictions of shape {y_pred_shape}.")
        outputs = 1 if len(y_pred_shape) == 1 else int(y_pred_shape[-1])  # (batch,) meets (batch, 1) labels
        state = {"num_samples": self._zeros()}
        state.update({n: self._zeros((outputs,)) for n in ("squared_sum", "sum", "residual", "count")})
        return state

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        y_true, y_pred = match_rank(jnp.asarray(y_true).astype(self.dtype), jnp.asarray(y_pred).astype(self.dtype))
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise InputError(f"{self.name}: R2Score expects 2-D inputs (batch_size, output_dim); got y_true "
                             f"{y_true.shape} and y_pred {y_pred.shape}.")
        weights = jnp.ones((), self.dtype) if sample_weight is None else jnp.asarray(sample_weight, self.dtype)
        if weights.ndim == 1:
            weights = weights[:, None]
        weights = jnp.broadcast_to(weights, y_true.shape)
        weighted = y_true * weights
        return {
            "num_samples": state["num_samples"] + y_true.size,
            "squared_sum": state["squared_sum"] + jnp.sum(y_true * weighted, axis=0),
            "sum": state["sum"] + jnp.sum(weighted, axis=0),
            "residual": state["residual"] + jnp.sum(jnp.square(y_true - y_pred) * weights, axis=0),
            "count": state["count"] + jnp.sum(weights, axis=0),
        }

    def _result(self, state: State) -> jax.Array:
        mean = state["sum"] / state["count"]
        total = state["squared_sum"] - state["sum"] * mean
        scores = 1.0 - state["residual"] / total
        scores = jnp.where(jnp.isinf(scores), 0.0, scores)
        if self.class_aggregation == "uniform_average":
            score = jnp.mean(scores)
        elif self.class_aggregation == "variance_weighted_average":
            score = jnp.sum(total * scores) / jnp.sum(total)
        else:
            score = scores
        if self.num_regressors:
            n, p = state["num_samples"].astype(jnp.float32), float(self.num_regressors)
            adjusted = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
            score = jnp.where(p < n - 1.0, adjusted, score)
        return score

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
