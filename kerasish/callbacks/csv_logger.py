"""CSVLogger: one CSV row per epoch, as Keras writes it; a resumed run continues the same file."""

from __future__ import annotations

import collections.abc
import csv
import errno
import os

import numpy as np

from kerasish.callbacks.base import Callback
from kerasish.errors import ConfigError, storage_error


def _cell(value):
    """A log value as Keras writes it: 1-D values as a quoted ``[a, b]`` list, others as they are."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (isinstance(value, np.ndarray) and value.ndim == 0):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: a header ``epoch,<keys>``, then one row per epoch.

    The columns are the first epoch's log names, sorted; if that epoch has no ``val_`` names
    their ``val_`` twins are added (validation may start later); a value missing from an
    epoch's logs is written ``NA``. Each row is flushed as it is written.

    Args:
        filename: the CSV file's path.
        separator: the one-character column separator.
        append: True appends to an existing file (with no second header); False overwrites it.

    Resuming (``BackupAndRestore``): the file is not touched at ``on_train_begin`` but opened at
    the first epoch's end, so a resumed run, whose ``set_state`` comes after ``on_train_begin``,
    never truncates it. It keeps what the interrupted run wrote for the epochs before the one
    it resumes at, drops rows for that epoch and later (written after the backup was taken)
    and appends from there: the file ends as an uninterrupted run would have left it.

    As Keras, a missing directory is not created: ``fit`` refuses it at ``on_train_begin``, before
    training, with a StorageError naming the file (a parent that is a file too); any other failure
    to open or write the file (read-only, no permission, no space left) is a StorageError naming it.

    Example:
        >>> model.fit(x, y, epochs=10, callbacks=[CSVLogger("run/log.csv")])  # doctest: +SKIP
    """

    chief_only = True  # in a multi-process run, process 0 alone writes

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise ConfigError(f"CSVLogger: `filename` must be a path, got {filename!r}.")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ConfigError(f"CSVLogger: `separator` must be a one-character string, got {separator!r}.")
        if not isinstance(append, (bool, np.bool_)):
            raise ConfigError(f"CSVLogger: `append` must be True or False, got {append!r}.")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self._file = None
        self._writer = None
        self._start = 0          # where this run's output begins in the file (bytes)
        self._header = True      # whether this run writes a header there
        self._resuming = False   # set_state was called: repair the file before writing

    def _dialect(self):
        class Dialect(csv.excel):
            delimiter = self.sep

        return Dialect

    def on_train_begin(self, logs=None):
        self._close()
        self.keys = None
        self._resuming = False
        directory = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(directory):  # checked before training, though the file opens at an epoch's end
            missing = not os.path.exists(directory)
            reason = OSError(errno.ENOENT if missing else errno.ENOTDIR, f"{directory!r} is not a directory")
            raise storage_error(reason, self.filename, "write the CSV log")
        existing = os.path.getsize(self.filename) if self.append and os.path.exists(self.filename) else 0
        self._start = existing
        self._header = existing == 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self._open(epoch, logs)
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        try:
            self._writer.writerow(row)
            self._file.flush()
        except OSError as err:  # no space left, file-size limit
            raise storage_error(err, self.filename, "write the CSV log") from err

    def on_train_end(self, logs=None):
        if self._file is None and not self._resuming:
            # No epoch ran: still leave the file as Keras does (created; emptied unless appending).
            try:
                open(self.filename, "a" if self.append else "w").close()
            except OSError as err:
                raise storage_error(err, self.filename, "write the CSV log") from err
        self._close()

    def _open(self, epoch: int, logs: dict) -> None:
        try:
            self._open_file(epoch, logs)
        except OSError as err:  # a directory removed since, read-only, no permission, no space left
            self._close()
            raise storage_error(err, self.filename, "write the CSV log") from err

    def _open_file(self, epoch: int, logs: dict) -> None:
        header_present = False
        if self._resuming:
            header_present = self._repair(epoch)
            mode = "a"
        else:
            mode = "a" if self.append else "w"
        self._file = open(self.filename, mode, newline="", encoding="utf-8")
        if self.keys is None:
            keys = sorted(logs)
            if keys and not any(k.startswith("val_") for k in keys):
                keys += [f"val_{k}" for k in keys]
            self.keys = keys
        self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], dialect=self._dialect())
        if self._header and not header_present:
            self._writer.writeheader()

    def _repair(self, epoch: int) -> bool:
        """Cut the file back to this run's header and its rows for epochs before ``epoch``.

        Returns whether the header is there. Bytes before ``self._start`` belong to earlier runs
        (``append=True``) and stay. A header with no row kept after it goes too (it may be a
        stale file's that the interrupted run never got to overwrite): a fresh one is written.
        """
        try:
            with open(self.filename, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        start = min(self._start, len(data))
        keep, header, rows = start, None, 0
        dialect = self._dialect()
        for i, line in enumerate(data[start:].splitlines(keepends=True)):
            if not line.endswith(b"\n"):
                break  # a row cut short by the interruption
            fields = next(csv.reader([line.decode("utf-8", errors="replace")], dialect=dialect), [])
            if i == 0 and self._header and fields[:1] == ["epoch"]:
                header = fields[1:]
            else:
                try:
                    if int(fields[0]) >= epoch:
                        break
                except (IndexError, ValueError):
                    break
                rows += 1
            keep += len(line)
        if not rows:
            keep, header = start, None
        with open(self.filename, "r+b") as f:
            f.truncate(keep)
        if header is not None and self.keys is None:
            self.keys = header  # the backup was taken before this run's first row
        return header is not None

    def _close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._file = None
        self._writer = None

    def get_state(self) -> dict:
        return {"start": self._start, "header": self._header, "keys": self.keys}

    def set_state(self, state: dict) -> None:
        self._close()
        self._start = int(state["start"])
        self._header = bool(state["header"])
        self.keys = None if state.get("keys") is None else list(state["keys"])
        self._resuming = True
