"""Confusion-count metrics: the raw TP/FP/TN/FN counts, and one rate at a constraint on another.

Both families count ``y_pred > threshold`` against 0/1 labels with :func:`confusion_counts`, the
machinery behind ``Precision``, ``Recall`` and ``AUC``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError
from kerasish.losses import divide_no_nan
from kerasish.metrics.base import Metric, State
from kerasish.metrics.confusion import _evenly_spaced, _parse_thresholds, confusion_counts


class _ConditionCount(Metric):
    """The weighted number of one kind of confusion-matrix entry, for each threshold."""

    _count: str = "tp"

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self._evenly = _evenly_spaced(self.thresholds)

    def _init(self, y_pred_shape=None) -> State:
        return {"accumulator": self._zeros((len(self.thresholds),))}

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        counts = confusion_counts(y_true, y_pred, self.thresholds, evenly_spaced=self._evenly,
                                  sample_weight=sample_weight)
        return {"accumulator": state["accumulator"] + counts[self._count].astype(self.dtype)}

    def _result(self, state: State) -> jax.Array:
        counts = state["accumulator"]
        return counts[0] if len(self.thresholds) == 1 else counts

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds}


_COUNT_ARGS = """
    Args:
        thresholds: a float or a list of floats in [0, 1]; a prediction above a threshold is
            positive. Defaults to 0.5. With a list, ``result`` has one count per threshold.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
"""


class TruePositives(_ConditionCount):
    __doc__ = "The (weighted) number of true positives: ``y_pred > threshold`` where the label is 1.\n" + _COUNT_ARGS
    _count = "tp"


class FalsePositives(_ConditionCount):
    __doc__ = "The (weighted) number of false positives: ``y_pred > threshold`` where the label is 0.\n" + _COUNT_ARGS
    _count = "fp"


class TrueNegatives(_ConditionCount):
    __doc__ = "The (weighted) number of true negatives: ``y_pred <= threshold`` where the label is 0.\n" + _COUNT_ARGS
    _count = "tn"


class FalseNegatives(_ConditionCount):
    __doc__ = "The (weighted) number of false negatives: ``y_pred <= threshold`` where the label is 1.\n" + _COUNT_ARGS
    _count = "fn"


def _rates(state: State) -> dict[str, jax.Array]:
    tp, fp = state["true_positives"], state["false_positives"]
    tn, fn = state["true_negatives"], state["false_negatives"]
    return {
        "sensitivity": divide_no_nan(tp, tp + fn),  # = recall
        "specificity": divide_no_nan(tn, tn + fp),
        "precision": divide_no_nan(tp, tp + fp),
    }


class _RateAtRate(Metric):
    """The best ``_target`` rate over the thresholds whose ``_constraint`` rate is at least ``value``.

    The thresholds are ``num_thresholds`` evenly spaced points of [0, 1] (0 and 1 included; just 0.5
    for ``num_thresholds=1``). With no threshold meeting the constraint the result is 0.
    """

    _constraint_arg: str = ""  # the constructor argument holding the constraint's value ("specificity", ...)
    _constraint: str = ""  # the rate constrained, a key of _rates
    _target: str = ""  # the rate maximized

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        kind = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"{kind}: {self._constraint_arg} must be a number in [0, 1], got {value!r}.")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 0:
            raise ConfigError(f"{kind}: num_thresholds must be an integer > 0, got {num_thresholds!r}.")
        self.value = value
        setattr(self, self._constraint_arg, value)
        self.num_thresholds = num_thresholds
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds = [0.5]
        else:
            self.thresholds = [0.0, *((i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)), 1.0]

    def _init(self, y_pred_shape=None) -> State:
        names = ("true_positives", "false_positives", "true_negatives", "false_negatives")
        return {n: self._zeros((len(self.thresholds),)) for n in names}

    def _update(self, state: State, y_true, y_pred, sample_weight=None) -> State:
        counts = confusion_counts(y_true, y_pred, self.thresholds, evenly_spaced=len(self.thresholds) > 1,
                                  sample_weight=sample_weight, class_id=self.class_id)
        keys = {"true_positives": "tp", "false_positives": "fp", "true_negatives": "tn", "false_negatives": "fn"}
        return {name: state[name] + counts[key].astype(self.dtype) for name, key in keys.items()}

    def _result(self, state: State) -> jax.Array:
        rates = _rates(state)
        feasible = rates[self._constraint] >= self.value
        return jnp.max(jnp.where(feasible, rates[self._target], 0.0), initial=0.0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._constraint_arg: self.value}


_AT_ARGS = """
    Args:
        {arg}: the least {arg} a threshold must reach, in [0, 1].
        num_thresholds: how many evenly spaced thresholds of [0, 1] are tried (default 200).
        class_id: compute the metric for this class (last axis) only.
        name: see :class:`Metric`.
        dtype: see :class:`Metric`.
"""


class SensitivityAtSpecificity(_RateAtRate):
    __doc__ = ("The best sensitivity (recall) among the thresholds whose specificity is at least ``specificity``.\n"
               + _AT_ARGS.format(arg="specificity"))
    _constraint_arg, _constraint, _target = "specificity", "specificity", "sensitivity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)


class SpecificityAtSensitivity(_RateAtRate):
    __doc__ = ("The best specificity among the thresholds whose sensitivity (recall) is at least ``sensitivity``.\n"
               + _AT_ARGS.format(arg="sensitivity"))
    _constraint_arg, _constraint, _target = "sensitivity", "sensitivity", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)


class PrecisionAtRecall(_RateAtRate):
    __doc__ = ("The best precision among the thresholds whose recall is at least ``recall``.\n"
               + _AT_ARGS.format(arg="recall"))
    _constraint_arg, _constraint, _target = "recall", "sensitivity", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)


class RecallAtPrecision(_RateAtRate):
    __doc__ = ("The best recall among the thresholds whose precision is at least ``precision``.\n"
               + _AT_ARGS.format(arg="precision"))
    _constraint_arg, _constraint, _target = "precision", "precision", "sensitivity"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds=num_thresholds, class_id=class_id, name=name, dtype=dtype)
