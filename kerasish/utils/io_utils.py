"""Interactive logging switches (Keras's ``keras.utils`` / ``keras.config`` names).

While interactive logging is on (the default) :class:`kerasish.utils.Progbar` draws on stdout; off, it
writes its final lines through Python's ``logging`` (logger ``"kerasish"``), for jobs without a terminal.
"""

from __future__ import annotations

from kerasish import settings


def enable_interactive_logging() -> None:
    """Progress bars and messages go to stdout (the default)."""
    settings._INTERACTIVE_LOGGING = True


def disable_interactive_logging() -> None:
    """:class:`kerasish.utils.Progbar` writes through Python's ``logging`` (logger ``"kerasish"``) instead
    of stdout."""
    settings._INTERACTIVE_LOGGING = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress and messages are written to stdout (True) or to Python's ``logging``."""
    return settings._INTERACTIVE_LOGGING
