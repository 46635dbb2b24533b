"""F-beta and F1 scores of thresholded predictions."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.losses import EPSILON
from kerasish.metrics.base import Metric, State


class FBetaScore(Metric):
    """F-beta score of thresholded predictions, per class or averaged.

    Args:
        average: ``None`` (one score per class), ``"micro"`` (from global
            counts), ``"macro"`` (unweighted mean of class scores) or
            ``"weighted"`` (mean weighted by class support).
        beta: weight of recall relative to precision (a float > 0).
        threshold: predictions above it are positive; ``None`` means the
            argmax of each row is the (only) positive.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.

    Inputs are 2-D: ``(batch, num_classes)``. Except with ``average="micro"``
    the state has one entry per class: it is created from the first
    predictions (or ``build(y_pred_shape)``).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ConfigError(
                f"Invalid F-score average {average!r}; expected one of None, 'micro', 'macro', 'weighted'."
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ConfigError(f"F-score beta must be a Python float > 0, got {beta!r}.")
        if threshold is not None and (not isinstance(threshold, float) or not 0.0 < threshold <= 1.0):
            raise ConfigError(f"F-score threshold must be a Python float in (0, 1], got {threshold!r}.")
        self.average = average
        self.beta = beta
        self.threshold = threshold

    def _init(self, y_pred_shape=None) -> State:
        if self.average == "micro":
            shape: tuple[int, ...] = ()
        else:
            if y_pred_shape is None or len(y_pred_shape) != 2 or y_pred_shape[-1] is None:
                raise ConfigError(
                    f"{self.name}: with average={self.average!r} the state has one entry per class; "
                    f"it is built from the first predictions, of shape (batch, num_classes) (got {y_pred_shape})."
                )
            shape = (int(y_pred_shape[-1]),)
        names = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")
        return {n: self._zeros(shape) for n in names}

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        y_true = jnp.asarray(y_true).astype(self.dtype)
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise InputError(
                f"{self.name} expects 2-D inputs (batch, num_classes); got y_true {y_true.shape}, y_pred {y_pred.shape}."
            )
        if self.threshold is None:
            # The row maximum is positive, unless the whole row is zero.
            row_max = jnp.max(y_pred, axis=-1, keepdims=True)
            positive = (y_pred >= row_max) & (jnp.abs(y_pred) > 1e-9)
        else:
            positive = y_pred > self.threshold
        y_pred = positive.astype(self.dtype)
        axis = None if self.average == "micro" else 0
        sw = None if sample_weight is None else jnp.asarray(sample_weight).astype(self.dtype)

        def weighted_sum(v):
            if sw is not None:
                v = v * sw[:, None]
            return jnp.sum(v, axis=axis)

        return {
            "true_positives": state["true_positives"] + weighted_sum(y_pred * y_true),
            "false_positives": state["false_positives"] + weighted_sum(y_pred * (1 - y_true)),
            "false_negatives": state["false_negatives"] + weighted_sum((1 - y_pred) * y_true),
            "intermediate_weights": state["intermediate_weights"] + weighted_sum(y_true),
        }

    def _result(self, state: State) -> jax.Array:
        tp = state["true_positives"]
        precision = tp / (tp + state["false_positives"] + EPSILON)
        recall = tp / (tp + state["false_negatives"] + EPSILON)
        b2 = self.beta**2
        score = (1 + b2) * (precision * recall / (b2 * precision + recall + EPSILON))
        if self.average == "weighted":
            support = state["intermediate_weights"]
            return jnp.sum(score * support / (jnp.sum(support) + EPSILON))
        if self.average is not None:
            return jnp.mean(score)
        return score

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(average=self.average, beta=self.beta, threshold=self.threshold)
        return config


class F1Score(FBetaScore):
    """F1 score: the harmonic mean of precision and recall (``FBetaScore`` with beta 1).

    Args:
        average: as in :class:`FBetaScore`.
        threshold: as in :class:`FBetaScore`.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config
