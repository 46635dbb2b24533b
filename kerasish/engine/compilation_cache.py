"""JAX's persistent compilation cache, on by default, so a second run of a script skips compiling.

The cache lives in ``$XDG_CACHE_HOME/kerasish/jax`` (``~/.cache/kerasish/jax``). Set the
environment variable ``KERASISH_COMPILATION_CACHE=0`` to turn it off, or to a directory to
move it; or call :func:`enable_compilation_cache` / :func:`disable_compilation_cache`. A
cache directory the user configured in JAX directly is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

ENV_VAR = "KERASISH_COMPILATION_CACHE"
_OFF = {"0", "false", "off", "no", ""}
_state = {"decided": False}


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kerasish" / "jax"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Turn on JAX's persistent compilation cache in ``path`` (default: the user cache directory).

    Every compiled step is cached, however quick its compilation was.
    """
    directory = Path(path) if path is not None else default_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _state["decided"] = True
    return directory


def disable_compilation_cache() -> None:
    """Turn the persistent compilation cache off for this process."""
    jax.config.update("jax_compilation_cache_dir", None)
    _state["decided"] = True


def ensure_default() -> None:
    """Apply the default (on, unless the env var says otherwise) once, before the first compile."""
    if _state["decided"]:
        return
    _state["decided"] = True
    setting = os.environ.get(ENV_VAR)
    if setting is not None and setting.strip().lower() in _OFF:
        return
    if jax.config.jax_compilation_cache_dir:  # the user configured JAX's cache directly
        return
    try:
        enable_compilation_cache(setting or None)
    except OSError:  # an unwritable home: run without the cache rather than fail
        jax.config.update("jax_compilation_cache_dir", None)
