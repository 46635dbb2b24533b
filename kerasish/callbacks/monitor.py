"""What the monitoring callbacks share: argument checks, which direction is better, and the comparison.

``EarlyStopping`` and ``ReduceLROnPlateau`` watch one value of the epoch logs. In ``"auto"``
mode the direction comes from the name (``val_`` stripped): losses and errors go down,
accuracies, AUC, precision, recall, F-scores, IoU, R² and similarities go up. A name that
says neither is looked up among the compiled metrics (``"score"`` logged by a
``BinaryAccuracy`` goes up); failing that the callback raises, as Keras does, asking for
``mode="min"`` or ``mode="max"``.

Values are compared in float32, as Keras compares them (its logs are float32 values).
"""

from __future__ import annotations

import numbers
import re
import warnings

import numpy as np

from kerasish.callbacks.base import Callback
from kerasish.errors import ConfigError

MODES = ("auto", "min", "max")

# Words (found anywhere in the name) and short tokens (between "_") that say which way is better.
_UP_WORDS = ("accuracy", "precision", "recall", "fbeta", "similarity", "specificity", "sensitivity",
             "pearson", "concordance")
_UP_TOKENS = {"acc", "auc", "f1", "iou", "r2"}
_DOWN_WORDS = ("error", "crossentropy", "hinge", "poisson", "divergence", "logcosh", "huber")
_DOWN_TOKENS = {"kld", "mse", "mae", "mape", "msle", "rmse"}


def check_number(owner: str, name: str, value, *, minimum: float | None = None, integer: bool = False,
                 allow_none: bool = False):
    """``value`` as a Python int/float, or a ConfigError naming ``owner``'s argument ``name``."""
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{owner}: `{name}` must be {what}, got {value!r}.")
    value = int(value) if integer else float(value)
    if minimum is not None and value < minimum:
        raise ConfigError(f"{owner}: `{name}` must be >= {minimum}, got {value!r}.")
    return value


def check_verbose(owner: str, verbose) -> int:
    """``verbose`` as an int (True/False are fine, as in Keras)."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return check_number(owner, "verbose", verbose, minimum=0, integer=True)


def check_monitor(owner: str, monitor, mode) -> None:
    if not isinstance(monitor, str) or not monitor:
        raise ConfigError(f"{owner}: `monitor` must be the name of a logged value, got {monitor!r}.")
    if mode not in MODES:
        raise ConfigError(f"{owner}: unknown `mode` {mode!r}; use one of 'auto', 'min', 'max'.")


def _direction_of_name(name: str) -> str | None:
    name = name.lower()
    tokens = set(re.split(r"[_\W]+", name))
    if "loss" in name:
        return "min"
    if tokens & _UP_TOKENS or any(word in name for word in _UP_WORDS):
        return "max"
    if tokens & _DOWN_TOKENS or any(word in name for word in _DOWN_WORDS):
        return "min"
    return None


def _snake(name: str) -> str:
    """``"BinaryAccuracy"`` -> ``"binary_accuracy"``, ``"AUC"`` -> ``"auc"``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _direction_of_metric(model, name: str) -> str | None:
    """The direction of the model's metric logged as ``name`` (``model.metrics``, the compiled ones
    inside ``compile_metrics``), from its class (or function) name."""
    pairs = []
    for metric in getattr(model, "metrics", None) or []:
        inner = getattr(metric, "entries", None)  # compile_metrics: (output, log name, metric, weighted)
        pairs += [(entry[1], entry[2]) for entry in inner] if inner is not None else [(metric.name, metric)]
    for log_name, metric in pairs:
        if log_name != name and getattr(metric, "name", None) != name:
            continue
        candidates = [_snake(type(metric).__name__)]
        fn = getattr(metric, "fn", None) or getattr(metric, "_fn", None)
        if fn is not None:
            candidates.append(getattr(fn, "__name__", ""))
        for candidate in candidates:
            direction = _direction_of_name(candidate)
            if direction is not None:
                return direction
    return None


def resolve_direction(monitor: str, mode: str, model=None) -> str | None:
    """``"min"`` or ``"max"`` for ``monitor``; None in "auto" mode when neither name nor model tells."""
    if mode in ("min", "max"):
        return mode
    name = monitor.removeprefix("val_")
    direction = _direction_of_name(name)
    if direction is None and model is not None:
        direction = _direction_of_metric(model, name)
    return direction


def unresolved_direction(owner: str, monitor: str) -> ConfigError:
    return ConfigError(
        f"{owner}: cannot tell whether `monitor={monitor!r}` should be minimized or maximized "
        "(mode='auto'); pass mode='min' or mode='max'."
    )


class Improvement:
    """Decides whether a value improves on a reference, by at least ``min_delta`` (its sign ignored)."""

    def __init__(self, direction: str, min_delta: float):
        self.direction = direction
        # In "min" mode an improvement is current + |min_delta| < best, in "max" current - |min_delta| > best.
        self.shift = -abs(min_delta) if direction == "min" else abs(min_delta)

    def __call__(self, current, reference) -> bool:
        if reference is None:
            return True
        shifted, reference = np.float32(current - self.shift), np.float32(reference)
        return bool(shifted < reference) if self.direction == "min" else bool(shifted > reference)


def monitored_value(logs, monitor: str, what: str):
    """``logs[monitor]`` as a float, or None with a warning listing the keys there are."""
    logs = logs or {}
    value = logs.get(monitor)
    if value is None:
        warnings.warn(
            f"{what} conditioned on metric `{monitor}` which is not available. "
            f"Available metrics are: {','.join(logs.keys())}",
            stacklevel=3,
        )
        return None
    return float(value)


class MonitorCallback(Callback):
    """Base of callbacks that watch ``logs[monitor]`` for improvements (EarlyStopping, ReduceLROnPlateau).

    The direction is settled at ``on_train_begin`` (the compiled metrics are known then), so a
    monitor whose direction cannot be told fails before the first epoch, not after it.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float):
        super().__init__()
        owner = type(self).__name__
        check_monitor(owner, monitor, mode)
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(check_number(owner, "min_delta", min_delta))
        self._improves: Improvement | None = None

    def _settle_direction(self) -> Improvement:
        direction = resolve_direction(self.monitor, self.mode, self.model)
        if direction is None:
            raise unresolved_direction(type(self).__name__, self.monitor)
        self._improves = Improvement(direction, self.min_delta)
        return self._improves

    def _is_improvement(self, current, reference) -> bool:
        improves = self._improves or self._settle_direction()
        return improves(current, reference)
