"""Accuracy metrics: exact match, binary, categorical, sparse categorical and top-k."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.losses import match_rank
from kerasish.metrics.base import _float
from kerasish.metrics.reduction import MeanMetricWrapper


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
