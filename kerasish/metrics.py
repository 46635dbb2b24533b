"""Metrics as pure state machines that accumulate inside a jitted step.

A metric object holds only static configuration. Its running state is a small
dict of float32 arrays that lives in the training state pytree:

>>> m = SparseCategoricalAccuracy()
>>> state = m.init_state()
>>> state = m.update_state(state, y_true, y_pred)        # pure, jittable
>>> m.result(state)

``update_state`` never mutates the metric; calling it twice on the same state
gives the same new state. The numbers (sample weights included) follow
Keras 3.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kerasish import losses as losses_lib
from kerasish.errors import ConfigError, InputError, unknown_identifier
from kerasish.losses import EPSILON, divide_no_nan, match_rank

NEG_INF = -1e10  # Keras's stand-in for -inf when top_k masks predictions.

State = dict[str, jax.Array]


def _snake_case(name: str) -> str:
    return losses_lib._snake_case(name)


def _float(x) -> jax.Array:
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


# --------------------------------------------------------------------------- base


class Metric:
    """Base class: ``init_state`` / ``update_state`` / ``result`` over a state dict.

    Args:
        name: name under which the metric is logged; defaults to the class name
            in snake case.
        dtype: dtype of the accumulators; defaults to float32.
    """

    _config_keys: tuple[str, ...] = ()

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or _snake_case(type(self).__name__)
        self.dtype = jnp.dtype(dtype or "float32")

    def init_state(self, y_pred_shape: Sequence[int | None] | None = None) -> State:
        """The zeroed accumulators.

        Args:
            y_pred_shape: shape of a prediction batch. Only metrics whose state
                size depends on the number of classes (``F1Score`` without
                ``average="micro"``, ``AUC(multi_label=True)`` without
                ``num_labels``) need it.
        """
        raise NotImplementedError(f"{type(self).__name__}: Metric subclasses override init_state().")

    def update_state(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        """Returns the state after seeing one batch. Pure and jittable."""
        raise NotImplementedError(f"{type(self).__name__}: Metric subclasses override update_state().")

    def result(self, state: State) -> jax.Array:
        """The metric value for the accumulated state."""
        raise NotImplementedError(f"{type(self).__name__}: Metric subclasses override result().")

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


# --------------------------------------------------------------------------- means


def _samplewise(values: jax.Array, sample_weight, dtype) -> tuple[jax.Array, jax.Array | None]:
    """Per-sample values (and weights) as Keras's mean metrics reduce them."""
    values = jnp.asarray(values).astype(dtype)
    if sample_weight is not None:
        weights = jnp.asarray(sample_weight).astype(dtype)
        values, weights = match_rank(values, weights)
        if values.ndim > weights.ndim:
            values = jnp.mean(values, axis=tuple(range(weights.ndim, values.ndim)))
        weights = jnp.broadcast_to(weights, values.shape)
        values = values * weights
        if weights.ndim > 1:
            weights = jnp.mean(weights, axis=tuple(range(1, weights.ndim)))
        sample_weight = weights
    if values.ndim > 1:
        values = jnp.mean(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state``.

    Used for the loss tracker: ``update_state(state, values, sample_weight)``.
    Values of shape ``(batch, ...)`` are first averaged per sample; the result
    is ``sum(weight * value) / sum(weight)`` over all samples seen.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def init_state(self, y_pred_shape=None) -> State:
        return {"total": self._zeros(), "count": self._zeros()}

    def update_state(self, state: State, values, sample_weight=None) -> State:
        return self._accumulate(state, values, sample_weight)

    def _accumulate(self, state: State, values, sample_weight) -> State:
        values, weights = _samplewise(values, sample_weight, self.dtype)
        if weights is not None:
            count = jnp.sum(weights)
        else:
            count = jnp.asarray(values.shape[0] if values.ndim >= 1 else 1, self.dtype)
        return {"total": state["total"] + jnp.sum(values), "count": state["count"] + count}

    def result(self, state: State) -> jax.Array:
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

    def update_state(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        from kerasish.layers.masking import get_mask

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
            if fn not in _FUNCTIONS:
                raise ConfigError(
                    f"Cannot rebuild MeanMetricWrapper: {fn!r} is not a built-in metric "
                    "function; pass the function itself."
                )
            fn = _FUNCTIONS[fn]
        return cls(fn, **config)


# --------------------------------------------------------------------------- accuracy


def accuracy(y_true, y_pred) -> jax.Array:
    """1.0 where ``y_true == y_pred`` exactly, else 0.0."""
    y_pred = _float(y_pred)
    y_true, y_pred = match_rank(jnp.asarray(y_true).astype(y_pred.dtype), y_pred)
    return (y_true == y_pred).astype(jnp.float32)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> jax.Array:
    """1.0 where ``(y_pred > threshold) == y_true``."""
    y_true, y_pred = match_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
    return (y_true == (y_pred > threshold).astype(y_true.dtype)).astype(jnp.float32)


def categorical_accuracy(y_true, y_pred) -> jax.Array:
    """1.0 where the argmax of one-hot ``y_true`` equals the argmax of ``y_pred``."""
    y_pred = _float(y_pred)
    labels = jnp.argmax(jnp.asarray(y_true), axis=-1)
    shape = labels.shape
    squeezed = labels.ndim == y_pred.ndim  # y_true carried an extra size-1 axis
    if squeezed:
        labels = jnp.squeeze(labels, -1)
    matches = (labels == jnp.argmax(y_pred, axis=-1)).astype(jnp.float32)
    return matches.reshape(shape) if squeezed else matches


def sparse_categorical_accuracy(y_true, y_pred) -> jax.Array:
    """1.0 where the integer label equals the argmax of ``y_pred``."""
    y_pred = _float(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    shape = y_true.shape
    squeezed = y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
    if squeezed:
        y_true = jnp.squeeze(y_true, -1)
    matches = (y_true == jnp.argmax(y_pred, axis=-1).astype(y_true.dtype)).astype(jnp.float32)
    if squeezed:
        matches = matches.reshape(shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = jnp.squeeze(matches, -1)
    return matches


def _in_top_k(targets: jax.Array, predictions: jax.Array, k: int) -> jax.Array:
    # The rank of the target's score; ties count in the target's favour, and a
    # NaN score is never in the top k.
    at_label = jnp.take_along_axis(predictions, targets[..., None], axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(predictions > at_label, axis=-1)
    return rank <= k


def _top_k_matches(labels: jax.Array, y_pred: jax.Array, k: int) -> jax.Array:
    shape = labels.shape
    if y_pred.ndim > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    if labels.ndim > 1:
        labels = labels.reshape(-1)
    matches = _in_top_k(labels.astype(jnp.int32), y_pred, k).astype(jnp.float32)
    return matches.reshape(shape)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> jax.Array:
    """1.0 where the one-hot label is among the ``k`` highest predictions."""
    return _top_k_matches(jnp.argmax(jnp.asarray(y_true), axis=-1), _float(y_pred), k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> jax.Array:
    """1.0 where the integer label is among the ``k`` highest predictions."""
    return _top_k_matches(jnp.asarray(y_true).astype(jnp.int32), _float(y_pred), k)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches 0/1 labels.

    Args:
        threshold: the decision threshold on ``y_pred``.
    """

    _config_keys = ("threshold",)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` matches one-hot labels."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` matches integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often one-hot labels are in the top ``k`` predictions.

    Args:
        k: how many of the highest predictions count.
    """

    _config_keys = ("k",)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often integer labels are in the top ``k`` predictions.

    Args:
        k: how many of the highest predictions count.
    """

    _config_keys = ("k",)

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


# --------------------------------------------------------------------------- regression and losses


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

    def update_state(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        y_true, y_pred = match_rank(jnp.asarray(y_true).astype(self.dtype), y_pred)
        return self._accumulate(state, jnp.square(y_pred - y_true), sample_weight)

    def result(self, state: State) -> jax.Array:
        return jnp.sqrt(super().result(state))


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary crossentropy over samples (see ``losses.binary_crossentropy``)."""

    _config_keys = ("from_logits", "label_smoothing")

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(
            losses_lib.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical crossentropy over samples."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(
            losses_lib.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical crossentropy over samples."""

    _config_keys = ("from_logits", "axis")

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(
            losses_lib.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            axis=axis,
        )
        self.from_logits = from_logits
        self.axis = axis


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence over samples."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(losses_lib.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss over samples."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(losses_lib.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss over samples."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses_lib.hinge, name=name, dtype=dtype)


# --------------------------------------------------------------------------- confusion matrices


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

    def init_state(self, y_pred_shape=None) -> State:
        return {self._state_names[c]: self._zeros((len(self.thresholds),)) for c in self._counts}

    def update_state(self, state: State, y_true, y_pred, sample_weight=None) -> State:
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

    def result(self, state: State) -> jax.Array:
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

    def result(self, state: State) -> jax.Array:
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
            the ``y_pred_shape`` given to ``init_state``.
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

    def init_state(self, y_pred_shape=None) -> State:
        shape: tuple[int, ...] = (self.num_thresholds,)
        if self.multi_label:
            labels = self.num_labels
            if labels is None and y_pred_shape is not None:
                if len(y_pred_shape) != 2:
                    raise InputError(f"AUC(multi_label=True) needs rank-2 predictions, got shape {tuple(y_pred_shape)}.")
                labels = y_pred_shape[-1]
            if labels is None:
                raise ConfigError(
                    f"{self.name}: AUC(multi_label=True) needs num_labels, or y_pred_shape in init_state."
                )
            shape = (self.num_thresholds, int(labels))
        names = ("true_positives", "false_positives", "true_negatives", "false_negatives")
        return {n: self._zeros(shape) for n in names}

    def update_state(self, state: State, y_true, y_pred, sample_weight=None) -> State:
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

    def result(self, state: State) -> jax.Array:
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


# --------------------------------------------------------------------------- F-scores


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
    the state has one entry per class, so ``init_state`` needs
    ``y_pred_shape``.
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

    def init_state(self, y_pred_shape=None) -> State:
        if self.average == "micro":
            shape: tuple[int, ...] = ()
        else:
            if y_pred_shape is None or len(y_pred_shape) != 2 or y_pred_shape[-1] is None:
                raise ConfigError(
                    f"{self.name}: with average={self.average!r} the state has one entry per class; "
                    f"pass y_pred_shape=(batch, num_classes) to init_state (got {y_pred_shape})."
                )
            shape = (int(y_pred_shape[-1]),)
        names = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")
        return {n: self._zeros(shape) for n in names}

    def update_state(self, state: State, y_true, y_pred, sample_weight=None) -> State:
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

    def result(self, state: State) -> jax.Array:
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


# --------------------------------------------------------------------------- lookup

_CLASSES: dict[str, type[Metric]] = {
    cls.__name__: cls
    for cls in (
        Mean,
        MeanMetricWrapper,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        Precision,
        Recall,
        AUC,
        FBetaScore,
        F1Score,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        RootMeanSquaredError,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        KLDivergence,
        Poisson,
        Hinge,
    )
}

_FUNCTIONS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
    )
} | losses_lib._FUNCTIONS

_ALIASES: dict[str, type[Metric]] = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "f_beta_score": FBetaScore,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "rmse": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge,
}

ALL_METRIC_NAMES: tuple[str, ...] = ("accuracy", "acc", *_ALIASES)
"""Every string alias :func:`get` accepts (class names such as ``"AUC"`` are accepted too)."""


def resolve_accuracy(
    loss=None,
    output_shape: Sequence[int | None] | None = None,
    target_shape: Sequence[int | None] | None = None,
) -> type[Metric]:
    """The accuracy class that ``"accuracy"``/``"acc"`` stands for.

    Keras 3 decides from the shapes alone (``trainers/compile_utils.py``):
    a last prediction axis of size 1 means binary; labels of lower rank than
    the predictions, or with a last axis of size 1 against several classes,
    mean sparse categorical; anything else is categorical. The loss is *not*
    consulted there, so binary crossentropy on a ``(batch, 3)`` multi-label
    output gets ``CategoricalAccuracy``, as in Keras 3.

    Here the loss fills in what the shapes leave open: with ``output_shape``
    but no ``target_shape`` a sparse-categorical loss means sparse labels, and
    with no shapes at all the crossentropy kind of the loss decides.

    Args:
        loss: a kerasish Loss, loss function or name, or None.
        output_shape: shape of the model output (``y_pred``), batch axis included.
        target_shape: shape of the labels (``y_true``), batch axis included.

    Raises:
        ConfigError: when neither the shapes nor the loss settle it.
    """
    if output_shape is not None:
        out = tuple(output_shape)
        classes = out[-1] if out else None
        if classes == 1:
            return BinaryAccuracy
        if target_shape is not None:
            tgt = tuple(target_shape)
            sparse = len(tgt) < len(out) or (len(tgt) > 0 and tgt[-1] == 1 and (classes is None or classes > 1))
            return SparseCategoricalAccuracy if sparse else CategoricalAccuracy
        return SparseCategoricalAccuracy if losses_lib.is_sparse_categorical(loss) else CategoricalAccuracy
    if loss is not None:
        if losses_lib.is_binary(loss):
            return BinaryAccuracy
        if losses_lib.is_categorical(loss):
            return CategoricalAccuracy
        if losses_lib.is_sparse_categorical(loss):
            return SparseCategoricalAccuracy
    raise ConfigError(
        "Cannot tell which accuracy 'accuracy' means: give the output shape (and ideally the "
        "label shape), or use a crossentropy loss, or name the metric explicitly "
        "('binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy')."
    )


def get(
    identifier,
    *,
    loss=None,
    output_shape: Sequence[int | None] | None = None,
    target_shape: Sequence[int | None] | None = None,
) -> Metric:
    """Resolves a metric identifier to a :class:`Metric`, as ``compile`` does.

    Args:
        identifier: a ``Metric`` (returned as is); a string alias from
            :data:`ALL_METRIC_NAMES` or a class name (``"AUC"``), the metric
            then being named by that string as Keras logs it; a config dict
            ``{"class_name": ..., "config": {...}}``; or a function
            ``fn(y_true, y_pred) -> per-sample values`` (or a Loss object),
            wrapped in a :class:`MeanMetricWrapper` named after it.
        loss: the loss of the same output, used to resolve ``"accuracy"``.
        output_shape: the model output's shape, used to resolve ``"accuracy"``.
        target_shape: the labels' shape, used to resolve ``"accuracy"``.

    Returns:
        A Metric object.

    Raises:
        ConfigError: for an unknown name, or an ``"accuracy"`` that cannot be
            resolved (see :func:`resolve_accuracy`).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return resolve_accuracy(loss, output_shape, target_shape)(name=identifier)
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None or cls in (Mean, MeanMetricWrapper):
            valid = [*ALL_METRIC_NAMES, *(n for n in _CLASSES if n not in ("Mean", "MeanMetricWrapper"))]
            raise unknown_identifier("metric", identifier, valid)
        return cls(name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "name", None) or getattr(identifier, "__name__", None)
        return MeanMetricWrapper(identifier, name=name)
    raise ConfigError(
        f"Could not interpret metric identifier {identifier!r}: expected a Metric, a name, a dict or a function."
    )


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a Metric (see :func:`deserialize`)."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Rebuilds a built-in Metric from :func:`serialize`'s output."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A metric config needs 'class_name' and 'config' keys, got {config!r}.")
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise unknown_identifier("metric class", config["class_name"], list(_CLASSES))
    return cls.from_config(dict(config.get("config") or {}))

