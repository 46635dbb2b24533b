"""Correlation metrics: Pearson's and Lin's concordance correlation of each sample's values, averaged."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.losses import EPSILON, match_rank
from kerasish.metrics.base import _float
from kerasish.metrics.reduction import MeanMetricWrapper


def _pair(y_true, y_pred) -> tuple[jax.Array, jax.Array]:
    y_pred = _float(y_pred)
    return match_rank(jnp.asarray(y_true).astype(y_pred.dtype), y_pred)


def pearson_correlation(y_true, y_pred, axis: int = -1) -> jax.Array:
    """Pearson correlation coefficient of ``y_true`` and ``y_pred`` along ``axis`` (one value per sample).

    Example:

    >>> pearson_correlation(jnp.array([[1.0, 2.0, 3.0]]), jnp.array([[2.0, 4.0, 7.0]]))  # [0.993]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    t = y_true - jnp.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - jnp.mean(y_pred, axis=axis, keepdims=True)
    t = t / jnp.std(t, axis=axis, keepdims=True)
    p = p / jnp.std(p, axis=axis, keepdims=True)
    return jnp.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis: int = -1) -> jax.Array:
    """Lin's concordance correlation ``2 cov / (var_t + var_p + (mean_t - mean_p)**2)`` along ``axis``.

    Unlike Pearson's, it also penalizes a shift or a scale between the two (1 only for ``y_pred == y_true``).
    """
    y_true, y_pred = _pair(y_true, y_pred)
    mean_t = jnp.mean(y_true, axis=axis, keepdims=True)
    mean_p = jnp.mean(y_pred, axis=axis, keepdims=True)
    var_t = jnp.var(y_true, axis=axis, keepdims=True)
    var_p = jnp.var(y_pred, axis=axis, keepdims=True)
    norm = var_t + var_p + jnp.square(mean_t - mean_p)
    return jnp.mean(2.0 * (y_true - mean_t) * (y_pred - mean_p) / (norm + EPSILON), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Mean over samples of the Pearson correlation of ``y_true`` and ``y_pred`` along ``axis``.

    Args:
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
        axis: the axis along which each correlation is computed.
    """

    _config_keys = ("axis",)

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean over samples of Lin's concordance correlation of ``y_true`` and ``y_pred`` along ``axis``.

    Args:
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
        axis: the axis along which each correlation is computed.
    """

    _config_keys = ("axis",)

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis
