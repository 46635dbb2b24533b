"""The Callback hook interface (as Keras); ``callback_list.CallbackList`` dispatches to callbacks."""

from __future__ import annotations

from typing import Any

_HOOKS = [
    f"on_{phase}_{edge}"
    for phase in ("train", "epoch", "train_batch", "test", "test_batch", "predict", "predict_batch")
    for edge in ("begin", "end")
] + ["on_run_begin", "on_run_call_end", "on_run_epoch_end", "on_run_end"]


class Callback:
    """Base class of callbacks: override any ``on_*`` hook.

    ``self.model`` is the model being trained, ``self.params`` holds
    ``epochs``, ``steps`` and ``verbose``. Batch hooks receive logs whose values
    are device scalars (``float(logs["loss"])`` fetches one); a callback that
    does not override a batch hook costs nothing per batch.

    In a multi-process run every process runs the callbacks, with the same logs, except those with
    ``chief_only = True`` (progress, TensorBoard, CSV: output only), which run on process 0 alone.
    """

    chief_only = False

    def __init__(self):
        self.model = None
        self.params: dict[str, Any] = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def get_state(self) -> dict:
        """What this callback has learned so far, for ``BackupAndRestore`` (a kerasish addition).

        A dict of JSON-compatible values (numbers, strings, bools, None, lists, dicts) and
        NumPy arrays. A callback whose decisions depend on past epochs (a patience
        counter, a best value, best weights) returns it here, so that a resumed run
        decides exactly as an uninterrupted one would. Stateless callbacks keep the default.
        """
        return {}

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` returned (on resume, called after every ``on_train_begin``)."""

    # -- resume hooks (kerasish additions; see kerasish.engine.progress.TrainingRun) ----------------
    def on_run_begin(self, run) -> None:
        """After ``on_train_begin``: ``run`` is the fit in progress; ``run.resume(...)`` continues a backup."""

    def on_run_call_end(self, run, steps: int) -> None:
        """After each call of ``steps`` training steps and its batch hooks (``run.batch``: the next batch)."""

    def on_run_epoch_end(self, run) -> None:
        """After an epoch and every callback's ``on_epoch_end`` (``run.epoch``: the next epoch)."""

    def on_run_end(self, run) -> None:
        """When training ends, however it ends (an exception included)."""

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # as Keras: the older name is the default

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


def is_stateful(cb: Callback) -> bool:
    """A callback with a ``get_state`` of its own: what it learned so far decides what it does next."""
    return type(cb).get_state is not Callback.get_state
