"""LambdaCallback (hooks from plain functions) and TerminateOnNaN."""

from __future__ import annotations

import math

from kerasish.callbacks.base import Callback
from kerasish.errors import ConfigError

_HOOK_NAMES = tuple(name for name in vars(Callback) if name.startswith("on_"))
# Keras 3's Callback routes these older names to the training-batch hooks.
_ALIASES = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}


class LambdaCallback(Callback):
    """A callback made of functions, one per hook, each called with the hook's arguments.

    ``on_epoch_begin``/``on_epoch_end`` get ``(epoch, logs)``, ``on_train_begin``/``on_train_end``
    get ``(logs)``, batch hooks get ``(batch, logs)``; any other hook of :class:`Callback` may be
    given by name (``on_test_end=...``). Only the hooks given are installed, so a LambdaCallback
    without batch hooks costs nothing per batch.

    Example:
        >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        >>> model.fit(x, y, epochs=3, callbacks=[log])  # doctest: +SKIP
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin,
                 "on_train_end": on_train_end, "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end}
        for name, fn in kwargs.items():
            target = _ALIASES.get(name, name)
            if target not in _HOOK_NAMES:
                raise ConfigError(f"LambdaCallback: unknown hook {name!r}. Hooks are: {', '.join(_HOOK_NAMES)}.")
            if hooks.get(target) is not None and fn is not None:
                raise ConfigError(f"LambdaCallback: {name!r} and {target!r} name the same hook; give one.")
            if fn is not None or target not in hooks:
                hooks[target] = fn
        given = {name: fn for name, fn in hooks.items() if fn is not None}
        for name, fn in given.items():
            if not callable(fn):
                raise ConfigError(f"LambdaCallback: `{name}` must be a function, got {fn!r}.")
        # The engine dispatches a hook only to callbacks whose class defines it (batch hooks cost
        # a device fetch each): give this instance a class of its own with just these hooks.
        cls = type(self)
        self.__class__ = type(cls.__name__, (cls,), {name: staticmethod(fn) for name, fn in given.items()})


class TerminateOnNaN(Callback):
    """Stops training at the first training batch whose loss is NaN or infinite.

    It reads each batch's loss (one device-to-host copy per batch, as in Keras). By default it
    sets ``model.stop_training``: the epoch ends after this batch (when several steps are fused
    into one call, after that call) and ``on_train_end`` hooks run.

    Args:
        raise_error: raise ``RuntimeError`` at once instead (no further hook runs).
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        if not isinstance(raise_error, bool):
            raise ConfigError(f"TerminateOnNaN: `raise_error` must be True or False, got {raise_error!r}.")
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(loss)
        if math.isnan(value) or math.isinf(value):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {value}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
