"""JAX's persistent compilation cache, on by default, so a second run of a script skips compiling.

The cache lives in ``$XDG_CACHE_HOME/kerasish/jax`` (``~/.cache/kerasish/jax``). Set the
environment variable ``KERASISH_COMPILATION_CACHE=0`` to turn it off, or to a directory to
move it; or call :func:`enable_compilation_cache` / :func:`disable_compilation_cache`. A
cache directory the user configured in JAX directly is left alone.

The same directory keeps ``steps_per_execution="auto"`` decisions (:func:`load_decision`,
:func:`save_decision`) in one small JSON file, so that a later run of the same fit neither
probes nor compiles the program that lost; with the cache off nothing is kept.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jax

ENV_VAR = "KERASISH_COMPILATION_CACHE"
DECISIONS_FILE = "kerasish-steps-decisions.json"
DECISIONS_FORMAT = 1
MAX_DECISIONS = 1000            # the newest entries kept
MAX_DECISIONS_BYTES = 1 << 20   # a larger file is not read (1000 entries take about 200 kB)
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


def decisions_path() -> Path | None:
    """The file of remembered ``steps_per_execution="auto"`` decisions, in the persistent compilation cache's
    directory; None when that cache is off, is not a local directory, or in a multi-process run (whose
    processes must agree on every decision: each probes, and process 0's choice is taken)."""
    ensure_default()
    directory = jax.config.jax_compilation_cache_dir
    if not directory or not jax.config.jax_enable_compilation_cache or jax.process_count() > 1:
        return None
    if "://" in str(directory):  # a remote cache (gs://...): decisions stay in memory
        return None
    return Path(directory) / DECISIONS_FILE


def _read_decisions(path: Path) -> dict:
    """The file's entries; {} for a missing, unreadable, oversized or damaged file (it only saves time)."""
    try:
        if path.stat().st_size > MAX_DECISIONS_BYTES:
            return {}
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):  # missing, unreadable, not JSON (UnicodeDecodeError is a ValueError)
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("format") == DECISIONS_FORMAT else None
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict)}


def load_decision(key: str) -> dict | None:
    """The record saved under ``key`` (a dict, to be checked by its reader), or None."""
    path = decisions_path()
    return None if path is None else _read_decisions(path).get(key)


def save_decision(key: str, record: dict) -> None:
    """Save ``record`` under ``key``, keeping the newest :data:`MAX_DECISIONS` entries; the file is replaced
    atomically. Never fails: an unwritable directory keeps the decision in memory only. Two processes saving
    at once may each drop the other's newest entry (it is measured again)."""
    from kerasish.errors import ConfigError
    from kerasish.saving.files import atomic_write_bytes

    path = decisions_path()
    if path is None or not path.parent.is_dir():
        return
    entries = _read_decisions(path)
    entries.pop(key, None)
    entries[key] = {**record, "saved": time.time()}

    def saved(item) -> float:
        value = item[1].get("saved")
        return float(value) if isinstance(value, (int, float)) else 0.0

    newest = sorted(entries.items(), key=saved)[-MAX_DECISIONS:]
    data = json.dumps({"format": DECISIONS_FORMAT, "entries": dict(newest)}, separators=(",", ":"))
    try:
        atomic_write_bytes(path, data.encode())
    except (OSError, ConfigError):  # kerasish's StorageError included: a read-only or full disk, a vanished directory
        pass
