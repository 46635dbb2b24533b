"""kerasish's own exception types.

Every error a user can cause with bad input is raised early, as one of these,
with a message naming the argument or layer and the values involved.
"""

from __future__ import annotations

import errno as _errno


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


class StorageError(KerasishError, OSError):
    """A file or directory could not be written: no space left, a file-size limit, a read-only or missing
    location, no permission. The message names the place; the previous file there, if any, is intact."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


# errno values that only a write can cause: no space, quota, file-size limit, read-only file system.
STORAGE_ERRNOS = (_errno.ENOSPC, _errno.EDQUOT, _errno.EFBIG, _errno.EROFS)


def storage_cause(exc: BaseException | None) -> OSError | None:
    """The OSError of a failing write (an errno in :data:`STORAGE_ERRNOS`) in ``exc``'s cause/context chain."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def storage_error(exc: BaseException, where: object, doing: str = "write") -> StorageError:
    """A StorageError for an OS error ``exc`` raised while trying to ``doing`` at ``where`` (a path).

    ``errno`` ENOSPC and EDQUOT read "no space left", EFBIG "file-size limit", EROFS "read-only file
    system", EACCES/EPERM "permission denied"; anything else keeps the OS's own words."""
    import errno as errno_mod

    code = getattr(exc, "errno", None)
    reason = {
        errno_mod.ENOSPC: "no space left on the device",
        errno_mod.EDQUOT: "no space left (disk quota exceeded)",
        errno_mod.EFBIG: "no space left under the file-size limit (file too large)",
        errno_mod.EROFS: "the file system is read-only",
        errno_mod.EACCES: "permission denied",
        errno_mod.EPERM: "permission denied",
        errno_mod.ENOENT: "the directory does not exist",
    }.get(code) or (getattr(exc, "strerror", None) or str(exc))
    err = StorageError(code, f"Cannot {doing} {str(where)!r}: {reason}.")
    err.__cause__ = exc
    return err
