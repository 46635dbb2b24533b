"""Overlap losses of segmentation: Dice and Tversky, over the axes one chooses (all of them by default).

Each comes as a function and as a Keras-named :class:`LossFunctionWrapper`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.losses.base import EPSILON, LossFunctionWrapper, _as_float


def _axes(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def dice(y_true, y_pred, axis=None) -> jax.Array:
    """``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred))`` over ``axis``.

    Args:
        y_true: targets (0/1 masks, or soft ones).
        y_pred: predictions of the same shape.
        axis: the axes summed over: ``None`` (default) sums everything and gives a scalar;
            e.g. ``(1, 2, 3)`` gives one loss per image of a ``(batch, h, w, c)`` batch.

    Example:

    >>> dice(jnp.ones((2, 4, 4, 1)), masks, axis=(1, 2, 3))  # shape (2,)
    """
    y_pred = _as_float(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    axis = _axes(axis)
    overlap = jnp.sum(y_true * y_pred, axis=axis)
    return 1.0 - 2.0 * overlap / (jnp.sum(y_true, axis=axis) + jnp.sum(y_pred, axis=axis) + EPSILON)


def tversky(y_true, y_pred, alpha: float = 0.5, beta: float = 0.5, axis=None) -> jax.Array:
    """``1 - TP / (TP + alpha * FP + beta * FN)`` of soft counts over ``axis`` (Salehi et al., 2017).

    The counts follow Keras: ``TP = sum(y_true * y_pred)``, the ``alpha`` term is
    ``sum(y_true * (1 - y_pred))`` and the ``beta`` term ``sum((1 - y_true) * y_pred)``.
    ``alpha = beta = 0.5`` gives the Dice loss.

    Args:
        y_true: targets.
        y_pred: predictions of the same shape.
        alpha: weight of the first mismatch term.
        beta: weight of the second mismatch term.
        axis: the axes summed over (``None``: all, giving a scalar).
    """
    y_pred = _as_float(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    axis = _axes(axis)
    tp = jnp.sum(y_true * y_pred, axis=axis)
    missed = jnp.sum(y_true * (1.0 - y_pred), axis=axis)
    spurious = jnp.sum((1.0 - y_true) * y_pred, axis=axis)
    return 1.0 - tp / (tp + alpha * missed + beta * spurious + EPSILON)


class Dice(LossFunctionWrapper):
    """Dice loss ``1 - 2 * |y_true * y_pred| / (|y_true| + |y_pred|)`` (see :func:`dice`).

    Args:
        reduction: see :class:`Loss`.
        name: name of the loss.
        axis: the axes the overlap is summed over; ``None`` sums everything.
        dtype: see :class:`Loss`.
    """

    _config_keys = ("axis",)

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None, dtype=None):
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class Tversky(LossFunctionWrapper):
    """Tversky loss, a Dice loss with separate weights on the two kinds of mismatch (see :func:`tversky`).

    Args:
        alpha: weight of the first mismatch term (Keras calls it false positives).
        beta: weight of the second (false negatives).
        reduction: see :class:`Loss`.
        name: name of the loss.
        axis: the axes the counts are summed over; ``None`` sums everything.
        dtype: see :class:`Loss`.
    """

    _config_keys = ("alpha", "beta", "axis")

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None, dtype=None):
        super().__init__(tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis)
        self.alpha = alpha
        self.beta = beta
        self.axis = axis
