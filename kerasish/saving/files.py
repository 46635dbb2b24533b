"""Atomic file writes and a verifying reader for ``.kerasish`` zip archives.

Every file kerasish saves is written to a temporary file in the destination's
directory, flushed to disk, and renamed over the destination in one
``os.replace``: a crash (or an exception while serializing) never leaves a
half-written file under the final name, and an older file there survives
intact until the new one is complete.

Reading never extracts anything to disk: members are read into memory, each
bounded by a size limit checked against the archive's directory before any
byte is decompressed (a "zip bomb" is refused, not inflated).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import zipfile
from collections.abc import Callable
from typing import BinaryIO

from kerasish.errors import ConfigError, FileFormatError

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
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ConfigError(f"Cannot write {path!r}: the directory {directory!r} does not exist.")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide the final permissions, as for a plain open().
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
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


def read_archive(path: str, allowed: dict[str, int], prefixes: dict[str, int] | None = None) -> dict[str, bytes]:
    """Read the members of a zip archive into memory, after checking names and sizes.

    Args:
        path: the archive.
        allowed: each member name that may appear, mapped to its maximum uncompressed size.
        prefixes: ``{prefix: maximum size}`` for members whose names may vary under a prefix
            (``"assets/"``), allowed in any number up to :data:`MAX_MEMBERS`.

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
