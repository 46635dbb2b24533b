"""Intersection-over-union metrics of semantic segmentation, from an accumulated confusion matrix.

``IoU`` averages ``TP / (TP + FP + FN)`` over chosen classes; ``MeanIoU`` over all of them;
``BinaryIoU`` thresholds probabilities into classes 0 and 1; the ``OneHot`` forms take one-hot
labels. As in Keras, the confusion matrix is kept in the metric's dtype, ``int32`` by default:
fractional sample weights are then truncated (pass ``dtype="float32"`` to keep them).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError
from kerasish.losses import EPSILON
from kerasish.metrics.base import Metric, State


def _warn_if_fractional(weights: jax.Array, name: str, dtype) -> None:
    """Warn that fractional weights are truncated (as Keras does). Only concrete weights can be checked:
    inside a jitted step (where the engine passes 0/1 row weights) nothing is said."""
    if isinstance(weights, jax.core.Tracer):
        return
    values = np.asarray(weights)
    if np.any(values != np.trunc(values)):
        warnings.warn(f"{name}: fractional sample weights are truncated to the metric's {dtype}; use integer "
                      "weights or dtype='float32'.", stacklevel=4)


@functools.partial(jax.jit, static_argnames=("num_classes", "ignore_class", "sparse_y_true", "sparse_y_pred",
                                             "axis", "threshold", "dtype"))
def _confusion_matrix(y_true, y_pred, sample_weight, *, num_classes, ignore_class, sparse_y_true, sparse_y_pred, axis,
                      threshold, dtype) -> jax.Array:
    """The weighted ``(num_classes, num_classes)`` confusion matrix of one batch (rows: labels).

    Entries whose label or prediction is outside ``[0, num_classes)``, or whose label is
    ``ignore_class``, are left out. One jitted program per configuration: used eagerly, the metric
    compiles once instead of op by op.
    """
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if threshold is not None:  # BinaryIoU
        y_true = y_true.astype(dtype)
        y_pred = y_pred.astype(jnp.float32) >= threshold
    if not sparse_y_true:
        y_true = jnp.argmax(y_true, axis=axis)
    if not sparse_y_pred:
        y_pred = jnp.argmax(y_pred, axis=axis)
    labels = y_true.astype(dtype).reshape(-1)
    preds = y_pred.astype(dtype).reshape(-1)
    if sample_weight is None:
        weights = jnp.ones(labels.shape, dtype)
    else:
        weights = jnp.asarray(sample_weight).astype(dtype)
        weights = jnp.broadcast_to(weights.reshape(-1) if weights.ndim > 1 else weights, labels.shape)
    valid = (labels >= 0) & (labels < num_classes) & (preds >= 0) & (preds < num_classes)
    if ignore_class is not None:
        valid = valid & (labels != ignore_class)
    weights = jnp.where(valid, weights, jnp.zeros((), dtype))
    cells = jnp.where(valid, labels * num_classes + preds, 0).astype(jnp.int32)
    return jax.ops.segment_sum(weights, cells, num_classes * num_classes).reshape(num_classes, num_classes)


class IoU(Metric):
    """Intersection over union ``TP / (TP + FP + FN)``, averaged over ``target_class_ids``.

    Every prediction and label is a class index (see ``sparse_y_true`` / ``sparse_y_pred``); the
    metric accumulates their ``(num_classes, num_classes)`` confusion matrix (rows: labels,
    columns: predictions). Classes that never occur (a zero denominator) are left out of the mean.

    Args:
        num_classes: the number of classes.
        target_class_ids: the class ids whose IoU is averaged.
        name: see :class:`Metric`.
        dtype: dtype of the confusion matrix; defaults to ``int32``.
        ignore_class: a label whose entries are left out (e.g. a "void" class).
        sparse_y_true: whether labels are class indices (else one-hot / scores: argmax over ``axis``).
        sparse_y_pred: whether predictions are class indices (else scores: argmax over ``axis``).
        axis: the class axis of non-sparse inputs.

    Example:

    >>> m = IoU(num_classes=2, target_class_ids=[0])
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> m.result()  # class 0: 1 / (1 + 1 + 1)
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype or "int32")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"{type(self).__name__}: num_classes must be a positive integer, got {num_classes!r}.")
        target_class_ids = list(target_class_ids)
        bad = [c for c in target_class_ids if not 0 <= c < num_classes]
        if not target_class_ids or bad:
            raise ConfigError(f"{type(self).__name__}: target_class_ids must be class ids in [0, {num_classes}), "
                              f"got {target_class_ids!r}.")
        self.num_classes = num_classes
        self.target_class_ids = target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis

    def _init(self, y_pred_shape=None) -> State:
        return {"total_confusion_matrix": self._zeros((self.num_classes, self.num_classes))}

    _threshold: float | None = None  # BinaryIoU: predictions at or above it are class 1

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        if sample_weight is not None:
            sample_weight = jnp.asarray(sample_weight)
            if jnp.issubdtype(sample_weight.dtype, jnp.floating) and jnp.issubdtype(self.dtype, jnp.integer):
                _warn_if_fractional(sample_weight, self.name, self.dtype)
        matrix = _confusion_matrix(y_true, y_pred, sample_weight, num_classes=self.num_classes,
                                   ignore_class=self.ignore_class, sparse_y_true=self.sparse_y_true,
                                   sparse_y_pred=self.sparse_y_pred, axis=self.axis, threshold=self._threshold,
                                   dtype=str(self.dtype))
        return {"total_confusion_matrix": state["total_confusion_matrix"] + matrix}

    def _result(self, state: State) -> jax.Array:
        cm = state["total_confusion_matrix"]
        tp = jnp.diagonal(cm).astype(jnp.float32)
        union = (jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1)).astype(jnp.float32) - tp
        ids = jnp.asarray(self.target_class_ids, jnp.int32)
        tp, union = tp[ids], union[ids]
        valid = union > 1e-9
        iou = jnp.where(valid, tp / (union + EPSILON), 0.0)
        return jnp.sum(iou, axis=self.axis) / (jnp.sum(valid.astype(jnp.float32)) + EPSILON)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of two classes, 0 and 1, with predictions ``y_pred >= threshold`` taken as class 1.

    Args:
        target_class_ids: which of the classes 0 and 1 are averaged (default both).
        threshold: predictions at or above it are class 1.
        name: see :class:`Metric`.
        dtype: dtype of the confusion matrix; defaults to ``int32`` (labels are cast to it too).
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold
        self._threshold = threshold

    def get_config(self) -> dict[str, Any]:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": str(self.dtype)}


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes (that occur).

    Args:
        num_classes: the number of classes.
        name: see :class:`Metric`.
        dtype: dtype of the confusion matrix; defaults to ``int32``.
        ignore_class: a label whose entries are left out.
        sparse_y_true: whether labels are class indices.
        sparse_y_pred: whether predictions are class indices.
        axis: the class axis of non-sparse inputs.
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=list(range(num_classes)), name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred,
                         axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """IoU of one-hot labels against class scores (argmax over ``axis``), averaged over ``target_class_ids``.

    Args:
        num_classes: the number of classes.
        target_class_ids: the class ids whose IoU is averaged.
        name: see :class:`Metric`.
        dtype: dtype of the confusion matrix; defaults to ``int32``.
        ignore_class: a class whose entries are left out.
        sparse_y_pred: whether predictions are class indices already.
        axis: the class axis.
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """IoU of one-hot labels against class scores, averaged over all classes.

    Args:
        num_classes: the number of classes.
        name: see :class:`Metric`.
        dtype: dtype of the confusion matrix; defaults to ``int32``.
        ignore_class: a class whose entries are left out.
        sparse_y_pred: whether predictions are class indices already.
        axis: the class axis.
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes=num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
