"""EarlyStopping: stop training when a monitored value has stopped improving (Keras 3's rules)."""

from __future__ import annotations

import numpy as np

from kerasish.callbacks.monitor import MonitorCallback, check_number, check_verbose, monitored_value
from kerasish.errors import ConfigError


class EarlyStopping(MonitorCallback):
    """Stops training when ``logs[monitor]`` has not improved for ``patience`` epochs.

    Each monitored epoch counts one more epoch of waiting; an improvement on the best value
    so far (by more than ``min_delta``) resets the count, provided it also improves on
    ``baseline`` when one is given. Once the count reaches ``patience`` (from the second
    epoch on) ``model.stop_training`` is set and ``fit`` ends after this epoch.

    Args:
        monitor: the logged value to watch (default ``"val_loss"``).
        min_delta: the least change that counts as an improvement (its sign is ignored).
        patience: epochs without improvement before stopping.
        verbose: 1 prints a line when stopping and when restoring weights.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name: see :mod:`kerasish.callbacks.monitor`).
        baseline: a value to beat: until an epoch improves on it, improvements on the best do
            not reset the patience count.
        restore_best_weights: at the end of training (whether stopped early or not) set the
            weights of the best monitored epoch.
        start_from_epoch: epochs before this one are not monitored (a warm-up).

    Example:
        >>> stop = EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
        >>> model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop])  # doctest: +SKIP
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        owner = type(self).__name__
        self.patience = check_number(owner, "patience", patience, minimum=0, integer=True)
        self.verbose = check_verbose(owner, verbose)
        self.baseline = check_number(owner, "baseline", baseline, allow_none=True)
        if not isinstance(restore_best_weights, (bool, np.bool_)):
            raise ConfigError(f"{owner}: `restore_best_weights` must be True or False, got {restore_best_weights!r}.")
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_number(owner, "start_from_epoch", start_from_epoch, minimum=0, integer=True)
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._reset()  # an instance may serve several fit() calls
        self._settle_direction()

    def on_epoch_end(self, epoch, logs=None):
        if self._improves is None:
            self._settle_direction()
        current = monitored_value(logs, self.monitor, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # The first monitored epoch is the best so far, whatever the baseline says.
            self.best_weights = self._weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _weights(self) -> list[np.ndarray]:
        return [np.array(w, copy=True) for w in self.model.get_weights()]

    def get_state(self) -> dict:
        return {
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": None if self.best_weights is None else [np.array(w) for w in self.best_weights],
        }

    def set_state(self, state: dict) -> None:
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best = None if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        weights = state.get("best_weights")
        self.best_weights = None if weights is None else [np.array(w, copy=True) for w in weights]
