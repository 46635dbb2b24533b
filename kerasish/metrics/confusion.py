"""Confusion-matrix metrics: Precision, Recall and AUC, from thresholded counts."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.losses import EPSILON, divide_no_nan, match_rank
from kerasish.metrics.base import NEG_INF, Metric, State, _float


def _parse_thresholds(thresholds, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad:
        raise ConfigError(f"Threshold values must be in [0, 1], got {bad}.")
    return [float(t) for t in values]


def _evenly_spaced(thresholds: Sequence[float]) -> bool:
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON))


def _filter_top_k(x: jax.Array, k: int) -> jax.Array:
    _, idx = jax.lax.top_k(x, k)
    keep = jnp.sum(jax.nn.one_hot(idx, x.shape[-1], dtype=x.dtype), axis=-2)
    return x * keep + NEG_INF * (1 - keep)


def _reverse_cumsum(x: jax.Array) -> jax.Array:
    """``out[i] = sum(x[i:])`` along axis 0.

    Written as a masked sum rather than ``cumsum``: for a few hundred
    thresholds it costs nothing at run time, and XLA compiles it several times
    faster than a cumulative sum (the metric is part of every train step).
    """
    n = x.shape[0]
    upper = jnp.arange(n)[None, :] >= jnp.arange(n)[:, None]  # upper[i, j] = j >= i
    upper = upper.reshape(upper.shape + (1,) * (x.ndim - 1))
    return jnp.sum(jnp.where(upper, x[None], jnp.zeros((), x.dtype)), axis=1)


def confusion_counts(
    y_true,
    y_pred,
    thresholds: Sequence[float],
    *,
    evenly_spaced: bool = False,
    sample_weight=None,
    top_k: int | None = None,
    class_id: int | None = None,
    multi_label: bool = False,
    label_weights: Sequence[float] | None = None,
) -> State:
    """Weighted TP/FP/TN/FN counts of ``y_pred > threshold`` for each threshold.

    Mirrors Keras's ``update_confusion_matrix_variables``: with evenly spaced
    thresholds predictions are clipped to [0, 1] and bucketed (O(n) instead of
    O(n * thresholds)); the bucket rule is Keras's, so edge cases agree too.

    The work is one jitted function of the configuration, so that calling a
    metric outside jit compiles one program instead of dozens of small ones
    (inside an enclosing jit it is simply inlined).

    Returns:
        ``{"tp", "fp", "tn", "fn"}``, each of shape ``(len(thresholds),)``, or
        ``(len(thresholds), num_labels)`` when ``multi_label``.
    """
    return _confusion_counts(
        y_true,
        y_pred,
        sample_weight,
        thresholds=tuple(float(t) for t in thresholds),
        evenly_spaced=bool(evenly_spaced),
        top_k=top_k,
        class_id=class_id,
        multi_label=bool(multi_label),
        label_weights=None if label_weights is None else tuple(float(w) for w in np.ravel(label_weights)),
    )


@functools.partial(
    jax.jit,
    static_argnames=("thresholds", "evenly_spaced", "top_k", "class_id", "multi_label", "label_weights"),
)
def _confusion_counts(
    y_true, y_pred, sample_weight, *, thresholds, evenly_spaced, top_k, class_id, multi_label, label_weights
) -> State:
    f32 = jnp.float32
    y_true = jnp.asarray(y_true).astype(f32)
    y_pred = jnp.asarray(y_pred).astype(f32)
    y_pred, y_true = match_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight).astype(f32)[..., None]
        _, sample_weight = match_rank(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise InputError(
                "With class_id, y_pred must have shape (num_samples, num_classes); "
                f"got shape {y_pred.shape}."
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]

    weights = None
    if sample_weight is not None:
        weights = jnp.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = jnp.broadcast_to(jnp.asarray(label_weights, f32)[None], y_pred.shape)
        weights = lw if weights is None else weights * lw
    num_thresholds = len(thresholds)

    if evenly_spaced:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        labels = (y_true != 0).astype(f32)
        preds = jnp.clip(y_pred, 0.0, 1.0)
        if weights is None:
            weights = jnp.ones((), f32)
        if not multi_label:
            labels, preds = labels.reshape(-1), preds.reshape(-1)
            weights = jnp.broadcast_to(weights, y_pred.shape).reshape(-1)
        true_w = labels * weights
        false_w = (1.0 - labels) * weights
        # A prediction p counts for every threshold index i with i < ceil(p * (T - 1)).
        bucket = jnp.ceil(preds * (num_thresholds - 1)) - 1
        if with_epsilon:  # the first threshold is below 0: everything passes it
            bucket = jnp.maximum(bucket, 0)
        bucket = bucket.astype(jnp.int32)

        def bucket_sum(data, ids):
            return jax.ops.segment_sum(data, ids, num_thresholds)

        if multi_label:
            tp = _reverse_cumsum(jax.vmap(bucket_sum, in_axes=1, out_axes=1)(true_w, bucket))
            fp = _reverse_cumsum(jax.vmap(bucket_sum, in_axes=1, out_axes=1)(false_w, bucket))
            total_true, total_false = jnp.sum(true_w, axis=0), jnp.sum(false_w, axis=0)
        else:
            tp = _reverse_cumsum(bucket_sum(true_w, bucket))
            fp = _reverse_cumsum(bucket_sum(false_w, bucket))
            total_true, total_false = jnp.sum(true_w), jnp.sum(false_w)
        return {"tp": tp, "fp": fp, "tn": total_false - fp, "fn": total_true - tp}

    thr = jnp.asarray(np.asarray(thresholds, np.float32))
    label_pos = y_true.astype(bool)
    if multi_label:
        pred_pos = y_pred[None] > thr[:, None, None]  # (T, batch, labels)
        label_pos = label_pos[None]
        w = None if weights is None else weights[None]
    else:
        pred_pos = y_pred.reshape(1, -1) > thr[:, None]  # (T, n)
        label_pos = label_pos.reshape(1, -1)
        w = None if weights is None else weights.reshape(1, -1)

    def count(cond):
        if w is None:
            return jnp.sum(cond.astype(f32), axis=1)
        return jnp.sum(jnp.where(cond, w, 0.0), axis=1)

    pred_neg, label_neg = ~pred_pos, ~label_pos
    return {
        "tp": count(label_pos & pred_pos),
        "fp": count(label_neg & pred_pos),
        "tn": count(label_neg & pred_neg),
        "fn": count(label_pos & pred_neg),
    }


class _ThresholdMetric(Metric):
    """Shared machinery of Precision and Recall."""

    _counts: tuple[str, str] = ("tp", "fp")
    _state_names = {"tp": "true_positives", "fp": "false_positives", "fn": "false_negatives"}

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = _evenly_spaced(self.thresholds)

    def _init(self, y_pred_shape=None) -> State:
        return {self._state_names[c]: self._zeros((len(self.thresholds),)) for c in self._counts}

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        counts = confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            evenly_spaced=self._evenly,
            sample_weight=sample_weight,
            top_k=self.top_k,
            class_id=self.class_id,
        )
        return {self._state_names[c]: state[self._state_names[c]] + counts[c] for c in self._counts}

    def _ratio(self, state: State) -> jax.Array:
        tp = state["true_positives"]
        other = state[self._state_names[self._counts[1]]]
        value = divide_no_nan(tp, tp + other)
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(thresholds=self.init_thresholds, top_k=self.top_k, class_id=self.class_id)
        return config


class Precision(_ThresholdMetric):
    """``TP / (TP + FP)`` of ``y_pred > threshold`` against 0/1 labels.

    Args:
        thresholds: a float or a list of floats in [0, 1]; defaults to 0.5
            (or, with ``top_k``, to "in the top k"). With a list, ``result``
            is a vector with one precision per threshold.
        top_k: only the ``top_k`` highest predictions of each sample count
            as positive.
        class_id: compute the metric for this class (last axis) only.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
    """

    _counts = ("tp", "fp")

    def _result(self, state: State) -> jax.Array:
        return self._ratio(state)


class Recall(_ThresholdMetric):
    """``TP / (TP + FN)`` of ``y_pred > threshold`` against 0/1 labels.

    Args:
        thresholds: as in :class:`Precision`.
        top_k: as in :class:`Precision`.
        class_id: as in :class:`Precision`.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
    """

    _counts = ("tp", "fn")

    def _result(self, state: State) -> jax.Array:
        return self._ratio(state)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from confusion counts.

    Predictions are compared against ``num_thresholds`` evenly spaced
    thresholds in [0, 1]; the curve through the resulting points is integrated
    with a Riemann sum (Keras's method, so the numbers match Keras's AUC).

    Args:
        num_thresholds: number of thresholds (> 1).
        curve: ``"ROC"`` or ``"PR"`` (or ``"PRGAIN"``).
        summation_method: ``"interpolation"`` (trapezoids; for PR, the
            Davis & Goadrich interpolation), ``"minoring"`` or ``"majoring"``.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
        thresholds: optional explicit thresholds in [0, 1], overriding
            ``num_thresholds``.
        multi_label: whether each column of ``y_pred`` is a separate label whose
            AUC is computed separately and then averaged.
        num_labels: number of labels when ``multi_label``; otherwise taken from
            the shape of the first predictions (or ``build(y_pred_shape)``).
        label_weights: optional per-label weights (multi-label: of the average;
            otherwise: of the counts).
        from_logits: apply a sigmoid to ``y_pred`` first.
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        super().__init__(name=name, dtype=dtype)
        curves = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
        if str(curve).lower() not in curves:
            raise ConfigError(f"Invalid AUC curve {curve!r}; expected one of ['ROC', 'PR', 'PRGAIN'].")
        methods = ("interpolation", "majoring", "minoring")
        if str(summation_method).lower() not in methods:
            raise ConfigError(f"Invalid AUC summation_method {summation_method!r}; expected one of {list(methods)}.")
        self.curve = curves[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_parse_thresholds(thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly_spaced([0.0, *inner, 1.0])
        else:
            if num_thresholds <= 1:
                raise ConfigError(f"AUC num_thresholds must be an integer > 1, got {num_thresholds}.")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        # End points just outside [0, 1] so that 0 and 1 predictions land inside.
        self._thresholds = [0.0 - EPSILON, *inner, 1.0 + EPSILON]
        self.multi_label = multi_label
        if num_labels and not multi_label:
            raise ConfigError("AUC num_labels is only used with multi_label=True.")
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else [float(w) for w in np.ravel(label_weights)]
        self.from_logits = from_logits

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, end points included."""
        return list(self._thresholds)

    def _init(self, y_pred_shape=None) -> State:
        shape: tuple[int, ...] = (self.num_thresholds,)
        if self.multi_label:
            labels = self.num_labels
            if labels is None and y_pred_shape is not None:
                if len(y_pred_shape) != 2:
                    raise InputError(f"AUC(multi_label=True) needs rank-2 predictions, got shape {tuple(y_pred_shape)}.")
                labels = y_pred_shape[-1]
            if labels is None:
                raise ConfigError(
                    f"{self.name}: AUC(multi_label=True) needs num_labels, or predictions to take the number of labels from."
                )
            shape = (self.num_thresholds, int(labels))
        names = ("true_positives", "false_positives", "true_negatives", "false_negatives")
        return {n: self._zeros(shape) for n in names}

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        y_pred = self._in_dtype(_float(y_pred))
        if self.from_logits:
            y_pred = jax.nn.sigmoid(y_pred)
        counts = confusion_counts(
            y_true,
            y_pred,
            self._thresholds,
            evenly_spaced=self._evenly,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
        )
        return {
            "true_positives": state["true_positives"] + counts["tp"],
            "false_positives": state["false_positives"] + counts["fp"],
            "true_negatives": state["true_negatives"] + counts["tn"],
            "false_negatives": state["false_negatives"] + counts["fn"],
        }

    def _average(self, terms: jax.Array) -> jax.Array:
        if not self.multi_label:
            return jnp.sum(terms)
        by_label = jnp.sum(terms, axis=0)
        if self.label_weights is None:
            return jnp.mean(by_label)
        weights = jnp.asarray(self.label_weights, by_label.dtype)
        return divide_no_nan(jnp.sum(by_label * weights), jnp.sum(weights))

    def _interpolate_pr_auc(self, state: State) -> jax.Array:
        tp, fp, fn = state["true_positives"], state["false_positives"], state["false_negatives"]
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, jnp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        safe_ratio = jnp.where(
            (p[:-1] > 0) & (p[1:] > 0), divide_no_nan(p[:-1], jnp.maximum(p[1:], 0)), jnp.ones_like(p[1:])
        )
        terms = divide_no_nan(slope * (dtp + intercept * jnp.log(safe_ratio)), jnp.maximum(tp[1:] + fn[1:], 0))
        return self._average(terms)

    def _result(self, state: State) -> jax.Array:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(state)
        tp, fp = state["true_positives"], state["false_positives"]
        tn, fn = state["true_negatives"], state["false_negatives"]
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            x = jnp.maximum(jnp.where(tp == 0, 0.0, recall_gain), 0.0)
            y = jnp.where(tp == 0, 1.0, precision_gain)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:-1], y[1:])
        else:
            heights = jnp.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_thresholds=self.num_thresholds,
            curve=self.curve,
            summation_method=self.summation_method,
            multi_label=self.multi_label,
            num_labels=self.num_labels,
            label_weights=self.label_weights,
            from_logits=self.from_logits,
        )
        if self._init_from_thresholds:
            config["thresholds"] = self._thresholds[1:-1]
        return config
