"""The Callback hook interface (as Keras) and the list that dispatches to callbacks."""

from __future__ import annotations

from typing import Any

import jax

_HOOKS = [
    f"on_{phase}_{edge}"
    for phase in ("train", "epoch", "train_batch", "test", "test_batch", "predict", "predict_batch")
    for edge in ("begin", "end")
]


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

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


def _overrides(cb: Callback, hook: str) -> bool:
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)


class CallbackList:
    """Calls every callback's hook in order; batch hooks only reach callbacks that define them."""

    def __init__(self, callbacks, model=None, params: dict | None = None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if model is not None:
                cb.set_model(model)
            if params is not None:
                cb.set_params(params)
        # In a multi-process run, callbacks that only write output (chief_only) run on process 0 alone.
        skip = jax.process_index() != 0
        self._active = {hook: [cb for cb in self.callbacks if _overrides(cb, hook)
                               and not (skip and getattr(cb, "chief_only", False))] for hook in _HOOKS}

    def wants(self, hook: str) -> bool:
        return bool(self._active[hook])

    def call(self, hook: str, *args) -> None:
        for cb in self._active[hook]:
            getattr(cb, hook)(*args)

    def __iter__(self):
        return iter(self.callbacks)
