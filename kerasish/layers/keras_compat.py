"""Keras 3 constructor arguments that kerasish reads from configs but cannot honour.

Keras writes some arguments into every config (``InputLayer``'s ``sparse``, ``Dense``'s
``quantization_config``, ...). kerasish accepts them at the value that means "off", so that Keras's
configs load, and refuses any other value with a :class:`~kerasish.errors.ConfigError` naming it.
"""

from __future__ import annotations

from kerasish.errors import ConfigError

_MISSING = object()


def accept_only_default(owner: str, given: dict, defaults: dict) -> None:
    """Raise ConfigError if any ``given[name]`` differs from ``defaults[name]``.

    Args:
        owner: the layer, for the message (``"InputLayer 'x'"``).
        given: ``{argument: value}`` as passed.
        defaults: ``{argument: the only value kerasish supports}``.
    """
    for arg, value in given.items():
        default = defaults[arg]
        same = value is default or (value == default and type(value) is type(default))
        if not same and not (default is None and value is None):
            raise ConfigError(f"{owner}: {arg}={value!r} is not supported by kerasish (only {arg}={default!r}).")


def pop_only_default(owner: str, kwargs: dict, defaults: dict) -> None:
    """Remove the ``defaults`` keys from ``kwargs``, checking each with :func:`accept_only_default`."""
    given = {k: kwargs.pop(k) for k in list(defaults) if k in kwargs}
    accept_only_default(owner, given, defaults)
