"""kerasish's own exception types.

Every error a user can cause with bad input is raised early, as one of these,
with a message naming the argument or layer and the values involved.
"""

from __future__ import annotations


class KerasishError(Exception):
    """Base class of every error kerasish raises on purpose."""


class ConfigError(KerasishError, ValueError):
    """An argument or identifier (optimizer, loss, metric, activation, ...) is invalid."""


class InputError(KerasishError, ValueError):
    """Data given to fit/evaluate/predict (or a layer) does not fit the model."""


class NotCompiledError(KerasishError, RuntimeError):
    """The model must be compiled before this call."""


class NotBuiltError(KerasishError, RuntimeError):
    """The model or layer has no weights yet: its input shape is not known."""


class FileFormatError(KerasishError, ValueError):
    """A checkpoint, backup, saved model or export is missing, truncated, corrupted, unsafe, or does
    not match the model it is loaded into. The message names the file and what is wrong."""


def unknown_identifier(kind: str, name: object, valid: list[str] | tuple[str, ...]) -> ConfigError:
    """A ConfigError for an unknown name, listing the valid ones."""
    return ConfigError(f"Unknown {kind} {name!r}. Valid {kind} names are: {', '.join(sorted(valid))}.")
