"""Callbacks that set the learning rate mid-fit: ReduceLROnPlateau and LearningRateScheduler.

Both write ``model.optimizer.learning_rate``, which changes the rate the jitted step uses
from its next update without recompiling (an optimizer built on a schedule cannot be set
and raises ``ConfigError``). Both add the epoch's rate to the epoch logs as
``"learning_rate"``, as Keras does, for the callbacks after them (a CSVLogger, say).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from kerasish.callbacks.base import Callback
from kerasish.callbacks.monitor import MonitorCallback, check_number, check_verbose, monitored_value
from kerasish.errors import ConfigError


def _current_rate(model) -> float:
    return float(np.asarray(model.optimizer.learning_rate))


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by ``factor`` when ``logs[monitor]`` stops improving.

    After ``patience`` epochs without an improvement (by more than ``min_delta``) the rate
    becomes ``max(rate * factor, min_lr)``; then ``cooldown`` epochs pass in which waiting
    does not count. A rate already at ``min_lr`` is left alone.

    Args:
        monitor: the logged value to watch (default ``"val_loss"``).
        factor: the multiplier, in [0, 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints a line at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name: see :mod:`kerasish.callbacks.monitor`).
        min_delta: the least change that counts as an improvement (its sign is ignored).
        cooldown: epochs after a reduction during which no patience is counted.
        min_lr: the rate never goes below this.

    Example:
        >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=1e-4)
        >>> model.fit(x, y, validation_split=0.2, epochs=50, callbacks=[reduce])  # doctest: +SKIP
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta)
        owner = type(self).__name__
        factor = check_number(owner, "factor", factor, minimum=0.0)
        if factor >= 1.0:
            raise ConfigError(f"{owner} does not support a `factor` >= 1.0 (it would not reduce); got {factor!r}.")
        if kwargs:
            # Keras accepts and ignores extra keyword arguments; say so rather than ignore silently.
            warnings.warn(f"{owner}: ignoring unknown arguments {sorted(kwargs)}.", stacklevel=2)
        self.factor = factor
        self.patience = check_number(owner, "patience", patience, minimum=0, integer=True)
        self.verbose = check_verbose(owner, verbose)
        self.cooldown = check_number(owner, "cooldown", cooldown, minimum=0, integer=True)
        self.min_lr = check_number(owner, "min_lr", min_lr, minimum=0.0)
        self._reset()

    def _reset(self) -> None:
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()
        self._settle_direction()

    def on_epoch_end(self, epoch, logs=None):
        if self._improves is None:
            self._settle_direction()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _current_rate(self.model)
        current = monitored_value(logs, self.monitor, "Learning rate reduction is")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, epoch: int) -> bool:
        old = _current_rate(self.model)
        if not old > np.float32(self.min_lr):  # already at the floor (as stored, in float32)
            return False
        new = max(old * self.factor, self.min_lr)
        self.model.optimizer.learning_rate = new
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
        return True

    def get_state(self) -> dict:
        # The rate itself lives in the optimizer state, which the backup restores.
        return {"wait": self.wait, "cooldown_counter": self.cooldown_counter, "best": self.best}

    def set_state(self, state: dict) -> None:
        self.wait = int(state["wait"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.best = None if state["best"] is None else float(state["best"])


def _takes_rate(schedule) -> bool:
    """Whether ``schedule`` accepts ``(epoch, lr)``; Keras also accepts the older ``schedule(epoch)``."""
    try:
        inspect.signature(schedule).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): try the two-argument form
        return True
    return True


def _check_rate(value) -> float:
    """A schedule's output as a float: any real scalar (Keras insists on a float type; ints and
    0-d arrays are fine here)."""
    if not isinstance(value, (bool, np.bool_, str, bytes)):
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.ndim == 0 and array.dtype.kind in "fiu":
            return float(array)
    raise ConfigError(f"The output of the `schedule` function should be a float. Got: {value!r}")


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of every epoch to ``schedule(epoch, lr)``.

    Args:
        schedule: a function of the epoch index (from 0) and the current rate (a float),
            returning the new rate. A one-argument ``schedule(epoch)`` works too.
        verbose: 1 prints the rate set at each epoch.

    Example:
        >>> def schedule(epoch, lr):
        ...     return lr if epoch < 10 else lr * 0.9
        >>> model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(schedule)])  # doctest: +SKIP
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ConfigError(f"LearningRateScheduler: `schedule` must be a function, got {schedule!r}.")
        self.schedule = schedule
        self.verbose = check_verbose("LearningRateScheduler", verbose)
        self._two_args = _takes_rate(schedule)

    def get_state(self) -> dict:
        return {"last_epoch": self._last_epoch}

    def set_state(self, state: dict) -> None:
        self._last_epoch = state["last_epoch"]

    def on_train_begin(self, logs=None):
        self._last_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        # A run resumed mid-epoch calls on_epoch_begin again for that epoch: its rate is
        # already set (and restored), and a schedule of the current rate must not apply twice.
        if epoch == getattr(self, "_last_epoch", None):
            return
        self._last_epoch = epoch
        if self._two_args:
            value = self.schedule(epoch, _current_rate(self.model))
        else:
            value = self.schedule(epoch)
        self.model.optimizer.learning_rate = _check_rate(value)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {value}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _current_rate(self.model)
