"""ProgbarLogger: a Keras-like progress bar drawn with tqdm (terminal and Jupyter)."""

from __future__ import annotations

import sys
import time

from kerasish.callbacks.base import Callback


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {float(v):.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """Shows training progress.

    ``verbose=1``: a bar per epoch with ETA and running metrics, redrawn at most
    ~10 times a second (metrics are fetched from the device only when drawn).
    ``verbose=2``: one line per epoch. ``verbose=0``: nothing.
    """

    refresh_interval = 0.1

    chief_only = True  # in a multi-process run, process 0 alone writes

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self._bar = None
        self._last_draw = 0.0
        self._epoch_start = 0.0

    def _tqdm(self):
        from tqdm.auto import tqdm

        return tqdm

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        epochs = self.params.get("epochs", 1)
        if self.verbose == 1:
            print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout, flush=True)
            steps = self.params.get("steps")
            self._bar = self._tqdm()(total=steps, unit="step", file=sys.stdout, dynamic_ncols=True,
                                     mininterval=self.refresh_interval, leave=True,
                                     bar_format="{n_fmt}/{total_fmt} [{bar:30}] {elapsed}<{remaining}{postfix}")
            self._last_draw = 0.0

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.perf_counter()
        if logs and now - self._last_draw >= self.refresh_interval:
            self._last_draw = now
            self._bar.set_postfix_str(format_logs(logs), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            seconds = time.perf_counter() - self._epoch_start
            epochs = self.params.get("epochs", 1)
            print(f"Epoch {epoch + 1}/{epochs} - {seconds:.1f}s - {format_logs(logs)}", file=sys.stdout, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
