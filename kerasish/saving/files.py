"""Atomic file writes and a verifying reader for ``.kerasish`` zip archives.

Every file kerasish saves is written to a temporary file in the destination's
directory, flushed to disk, and renamed over the destination in one
``os.replace``: a crash (or an exception while serializing) never leaves a
half-written file under the final name, and an older file there survives
intact until the new one is complete.

A temporary file is named ``.NAME.PID@HOST.HEX.tmp`` (the writer's process id and host). A process
killed mid-write leaves its temporary file behind; the next save to the same destination removes
the leftovers of earlier saves of that destination whose writer is gone: this host's temporaries
whose process no longer runs, the older ``.NAME.HEX.tmp`` names of earlier kerasish versions once
untouched for a minute, and any of them untouched for a day (another host's included). A temporary
file that a live writer is still writing is never removed.

Any OS error while writing (a full disk, a file-size limit, a read-only or missing place, no
permission) is one :class:`~kerasish.errors.StorageError` naming the destination ("no space left
on the device"); the older file is intact and no temporary file is left behind.

Reading never extracts anything to disk: members are read into memory, each
bounded by a size limit checked against the archive's directory before any
byte is decompressed (a "zip bomb" is refused, not inflated).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import threading
import time
import zipfile
from collections.abc import Callable
from typing import BinaryIO

from kerasish.errors import ConfigError, FileFormatError, KerasishError, storage_error

# Limits for reading archives; module attributes so a deployment (or a test) can change them.
MAX_MEMBERS = 16
MAX_JSON_BYTES = 8 * 2**20           # configs of very large models are a few hundred KB
MAX_TENSOR_BYTES = 64 * 2**30        # one weights or optimizer member
MAX_TOTAL_BYTES = 128 * 2**30        # all members together, uncompressed
# A member that inflates more than MAX_EXPANSION times (above BOMB_FLOOR_BYTES) is a decompression bomb:
# real weights hardly compress, and JSON compresses about 10x.
BOMB_FLOOR_BYTES = 2**20
MAX_EXPANSION = 1000


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Write a file with ``write(file_object)`` so that ``path`` is either the old file or the whole new one.

    Args:
        path: the destination.
        write: called once with a binary file object open for writing.

    In a multi-process run only process 0 writes (every process has computed the same content, which
    may have needed all of them); the others wait until the file is in place.
    """
    import jax

    if jax.process_count() > 1:
        if jax.process_index() == 0:
            _atomic_write(path, write)
        from kerasish.distribution import sync

        sync(f"kerasish-write-{os.fspath(path)}")
        return
    _atomic_write(path, write)


def _atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    _atomic_write_many([(path, write)])


def atomic_write_many(items: list[tuple[str | os.PathLike, Callable[[BinaryIO], None]]]) -> None:
    """:func:`atomic_write` of several files (the shards of a sharded save): every one is written to its
    temporary file first, and only when all are complete are they renamed in place, in order. A full disk
    or an exception while writing leaves every older file as it was."""
    import jax

    if jax.process_count() > 1:
        if jax.process_index() == 0:
            _atomic_write_many(items)
        from kerasish.distribution import sync

        sync(f"kerasish-write-{os.fspath(items[0][0])}")
        return
    _atomic_write_many(items)


# Temporary files this process is writing now (never removed as leftovers, even by another thread).
_ACTIVE: set[str] = set()
_ACTIVE_LOCK = threading.Lock()
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:24] or "host"
OLD_STYLE_GRACE_S = 60            # a temporary of an earlier kerasish version: no pid to ask
STALE_TEMP_S = 24 * 3600          # no writer leaves its temporary untouched this long


def _temp_name(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}@{_HOST}."
                                               f"{secrets.token_hex(4)}.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process's own temporaries in use are in _ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or cannot tell: keep
    return True


def remove_leftover_temps(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files that interrupted saves to ``path`` left behind (see the module's
    docstring for which ones); returns the removed paths. Best effort: errors are ignored."""
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.dirname(path), os.path.basename(path)
    prefix = f".{base}."
    removed = []
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        middle = name[len(prefix):-len(".tmp")]
        full = os.path.join(directory, name)
        with _ACTIVE_LOCK:
            if full in _ACTIVE:
                continue
        try:
            age = now - os.lstat(full).st_mtime
        except OSError:
            continue
        match = re.fullmatch(r"(\d+)@([A-Za-z0-9-]+)\.[0-9a-f]{8}", middle)
        if match is not None:
            stale = age > STALE_TEMP_S or (match.group(2) == _HOST and not _pid_alive(int(match.group(1))))
        elif re.fullmatch(r"[0-9a-f]{12}", middle):  # kerasish before the pid in the name
            stale = age > OLD_STYLE_GRACE_S
        else:
            continue  # not one of ours
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(full)
                removed.append(full)
    return removed


def _atomic_write_many(items) -> None:
    paths = [os.fspath(path) for path, _ in items]
    for path in paths:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise ConfigError(f"Cannot write {path!r}: the directory {directory!r} does not exist.")
        remove_leftover_temps(path)  # before writing: on a full disk, that space is back
    temps: list[str] = []
    current = paths[0]
    try:
        for path, (_, write) in zip(paths, items):
            current = path
            tmp = _temp_name(os.path.abspath(path))
            with _ACTIVE_LOCK:
                _ACTIVE.add(tmp)
            temps.append(tmp)
            # os.open with 0o666 lets the umask decide the final permissions, as for a plain open().
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
        for path, tmp in zip(paths, temps):
            current = path
            os.replace(tmp, path)
    except BaseException as e:
        for tmp in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, KerasishError) and e.errno is not None:
            raise storage_error(e, current, "save") from e
        raise
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.difference_update(temps)
    for directory in dict.fromkeys(os.path.dirname(os.path.abspath(p)) for p in paths):
        fsync_directory(directory)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """:func:`atomic_write` of a bytes object."""
    atomic_write(path, lambda f: f.write(data))


def fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), hence best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_member_name(path: str, name: str) -> None:
    """Refuse member names that could address anything outside the archive if someone extracted it."""
    if (not name or "\\" in name or name.startswith("/") or "\x00" in name
            or any(part in ("..", ".") for part in name.split("/")) or (len(name) > 1 and name[1] == ":")):
        raise FileFormatError(f"{path}: the archive has an unsafe member name {name!r} "
                              "(absolute, with '..', a drive letter or a backslash).")


def read_archive(path: str, allowed: dict[str, int], prefixes: dict[str, int] | None = None,
                 later: tuple[str, ...] = (), check_later: Callable[[dict, dict], None] | None = None
                 ) -> dict[str, bytes]:
    """Read the members of a zip archive into memory, after checking names and sizes.

    Args:
        path: the archive.
        allowed: each member name that may appear, mapped to its maximum uncompressed size.
        prefixes: ``{prefix: maximum size}`` for members whose names may vary under a prefix
            (``"assets/"``), allowed in any number up to :data:`MAX_MEMBERS`.
        later: members read last, only after ``check_later(members read so far, {name: declared
            uncompressed size} of every member)`` returned (it may refuse them by raising, before
            anything of them is decompressed: the weights, bounded by the model the config builds).

    Returns:
        ``{name: bytes}`` for every member.

    Raises:
        FileFormatError: the file is missing, not a zip archive, truncated or corrupted (bad CRC), has an
            unsafe, unknown or repeated member name, too many members, or a member over its size limit.
    """
    try:
        handle = open(path, "rb")
    except OSError as e:
        raise FileFormatError(f"{path}: cannot open the file ({e.strerror or e}).") from e
    with handle:
        try:
            archive = zipfile.ZipFile(handle)
        except Exception as e:  # BadZipFile, but also struct/overflow errors on crafted directories
            raise FileFormatError(f"{path}: not a valid .kerasish zip archive (truncated or corrupted): {e}") from e
        with archive:
            infos = archive.infolist()
            _check_directory(path, infos, allowed, prefixes or {})
            members = {}
            for info in infos:
                if info.filename not in later:
                    members[info.filename] = _read_member(path, archive, info)
            if check_later is not None:
                check_later(members, {info.filename: info.file_size for info in infos})
            for info in infos:
                if info.filename in later:
                    members[info.filename] = _read_member(path, archive, info)
            return members


def _limit(name: str, allowed: dict[str, int], prefixes: dict[str, int]) -> int | None:
    if name in allowed:
        return allowed[name]
    return next((size for prefix, size in prefixes.items() if name.startswith(prefix)), None)


def _check_directory(path: str, infos: list[zipfile.ZipInfo], allowed: dict[str, int],
                     prefixes: dict[str, int] | None = None) -> None:
    prefixes = prefixes or {}
    if len(infos) > MAX_MEMBERS:
        raise FileFormatError(f"{path}: the archive has {len(infos)} members; at most {MAX_MEMBERS} are allowed.")
    seen, total = set(), 0
    for info in infos:
        name = info.filename
        check_member_name(path, name)
        if name in seen:
            raise FileFormatError(f"{path}: member {name!r} appears more than once in the archive.")
        seen.add(name)
        limit = _limit(name, allowed, prefixes)
        if limit is None:
            raise FileFormatError(f"{path}: unexpected member {name!r}; this kind of archive holds only "
                                  f"{sorted(allowed) + [p + '...' for p in prefixes]}.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileFormatError(f"{path}: member {name!r} uses an unsupported compression method "
                                  f"({info.compress_type}).")
        if info.file_size > limit:
            raise FileFormatError(f"{path}: member {name!r} is {info.file_size} bytes uncompressed, over the "
                                  f"limit of {limit} bytes.")
        if info.file_size > BOMB_FLOOR_BYTES and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
            raise FileFormatError(f"{path}: member {name!r} declares {info.file_size} bytes uncompressed from "
                                  f"{info.compress_size} stored, more than {MAX_EXPANSION}x: refused as a possible "
                                  "decompression bomb.")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise FileFormatError(f"{path}: the members add up to {total} bytes uncompressed, over the limit of "
                              f"{MAX_TOTAL_BYTES} bytes.")


def _read_member(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as f:
            # zipfile stops at the size the directory declares (checked above) and checks the CRC at the end.
            data = f.read(info.file_size + 1)
    except Exception as e:  # zipfile raises many kinds (BadZipFile, zlib.error, EOFError, struct.error, ...)
        raise FileFormatError(f"{path}: member {info.filename!r} is corrupted or truncated: "
                              f"{type(e).__name__}: {e}") from e
    if len(data) != info.file_size:
        raise FileFormatError(f"{path}: member {info.filename!r} holds {len(data)} bytes, but the archive "
                              f"declares {info.file_size}.")
    return data


def write_archive(path: str | os.PathLike, members: dict[str, bytes]) -> None:
    """Atomically write ``members`` as a zip archive (JSON deflated, tensors stored: floats do not compress)."""

    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w") as archive:
            for name, data in members.items():
                method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                archive.writestr(name, data, compress_type=method)

    atomic_write(path, write)
