"""CallbackList: dispatches the hooks to a fit's (or evaluate's, predict's) callbacks, as Keras's."""

from __future__ import annotations

import jax

from kerasish.callbacks.base import _HOOKS, Callback
from kerasish.callbacks.history import History
from kerasish.callbacks.progress import ProgbarLogger
from kerasish.errors import ConfigError

_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _overrides(cb: Callback, hook: str) -> bool:
    # on_batch_begin/end are what Keras's on_train_batch_begin/end call by default: overriding them counts
    return any(getattr(type(cb), h, None) is not getattr(Callback, h) for h in (hook, _ALIASES.get(hook, hook)))


def _flatten(callbacks) -> list:
    """``callbacks`` as a flat list, as Keras takes them: None, one Callback, or a (nested) list/tuple of them.
    Anything else is refused (ConfigError naming its place and type)."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise ConfigError(f"callbacks must be a Callback or a list of them, got {type(callbacks).__name__}.")
    flat, places = [], []

    def walk(items, where):
        for i, cb in enumerate(items):
            if isinstance(cb, (list, tuple)):
                walk(cb, f"{where}[{i}]")
            else:
                flat.append(cb)
                places.append(f"{where}[{i}]")

    walk(callbacks, "callbacks")
    for cb, place in zip(flat, places):
        if not isinstance(cb, Callback):
            raise ConfigError(f"callbacks must be kerasish.callbacks.Callback instances, but {place} is a "
                              f"{type(cb).__module__}.{type(cb).__qualname__}: {cb!r:.80}.")
    return flat


class CallbackList:
    """Calls every callback's hook in order; batch hooks only reach callbacks that define them.

    ``callbacks``: None, one Callback, or a (nested) list of them (flattened, as in Keras).

    As Keras's: ``add_history=True`` adds a :class:`History` (last) and ``add_progbar=True`` a
    progress bar (before it) unless the list has one; other keyword arguments (``epochs``,
    ``steps``, ``verbose``) become every callback's ``params``.
    """

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False, model=None,
                 params: dict | None = None, **kwargs):
        self.callbacks = _flatten(callbacks)
        if kwargs:
            params = {**(params or {}), **kwargs}
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger((params or {}).get("verbose", 1)))
        self.history = None
        if add_history:
            self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
            if self.history is None:
                self.history = History()
                self.callbacks.append(self.history)
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
