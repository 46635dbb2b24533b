"""The download cache behind every downloadable dataset.

Files are fetched once with pooch into the cache directory and verified against a pinned hash
(SHA-256 unless the pin says otherwise, e.g. ``"md5:..."``). pooch streams each download into a
temporary file inside the cache directory and moves it into place only after the hash matched, so a
corrupted or interrupted download never leaves a file behind.

Environment:
    KERASISH_DATA_DIR: cache directory (default ``~/.kerasish/datasets``).
    KERASISH_DATASETS_BASE_URL: a mirror; when set, every file is fetched from ``<mirror>/<file name>``
        instead of its origin. Setting the module attribute ``kerasish.datasets.MIRROR`` does the same
        and wins over the variable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from kerasish.errors import FileFormatError, KerasishError

DATA_DIR_ENV = "KERASISH_DATA_DIR"
BASE_URL_ENV = "KERASISH_DATASETS_BASE_URL"
DEFAULT_DATA_DIR = Path("~/.kerasish/datasets")

_TIMEOUT_S = 60


class DatasetError(KerasishError):
    """A dataset file could not be obtained (no network, server error, bad arguments to a loader)."""


class DatasetDownloadError(DatasetError, OSError):
    """A dataset file could not be downloaded. The message names the URL, the expected hash and the
    path where the file can be placed by hand."""


class DatasetNotCachedError(DatasetDownloadError):
    """Inside ``cache_only()``: the file is not in the cache (nothing was downloaded)."""


class DatasetHashError(DatasetError, FileFormatError):
    """A downloaded file's hash does not match the pinned one; nothing was written to the cache."""


def data_dir() -> Path:
    """The cache directory: ``$KERASISH_DATA_DIR`` or ``~/.kerasish/datasets``."""
    root = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(root).expanduser()


def base_url() -> str | None:
    """The mirror every file is fetched from, or None to use each file's origin."""
    import kerasish.datasets as package

    mirror = getattr(package, "MIRROR", None) or os.environ.get(BASE_URL_ENV)
    return mirror.rstrip("/") if mirror else None


def resolve_url(origin: str) -> str:
    """``origin`` itself, or the same file name under the configured mirror."""
    mirror = base_url()
    return f"{mirror}/{origin.rsplit('/', 1)[-1]}" if mirror else origin


@contextlib.contextmanager
def _quiet_pooch():
    """pooch logs every download at INFO level; keep it quiet unless the user turned it up themselves."""
    import pooch

    logger = pooch.get_logger()
    previous = logger.level
    if previous <= logging.INFO:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(previous)


class _HashingDownloader:
    """pooch's HTTP downloader that remembers the hash of what it wrote, for the error message."""

    def __init__(self, algorithm: str):
        import pooch

        self._http = pooch.HTTPDownloader(progressbar=False, timeout=_TIMEOUT_S)
        self._algorithm = algorithm
        self.actual_hash: str | None = None

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        import pooch

        result = self._http(url, output_file, pooch_obj, check_only=check_only)
        if not check_only:
            self.actual_hash = pooch.file_hash(output_file, alg=self._algorithm)
        return result


_CACHE_ONLY = threading.local()


@contextlib.contextmanager
def cache_only():
    """Inside this context, loaders read only what is already in the cache: a missing file raises
    :class:`DatasetNotCachedError` at once, with no network access (recipes use it to fall back to
    an offline set)."""
    previous = getattr(_CACHE_ONLY, "on", False)
    _CACHE_ONLY.on = True
    try:
        yield
    finally:
        _CACHE_ONLY.on = previous


def fetch(fname: str, origin: str, known_hash: str, subdir: str | None = None) -> Path:
    """The local path of a verified copy of ``origin``, downloading it into the cache if needed.

    Args:
        fname: file name inside the cache directory (may include sub-folders).
        origin: the URL the file comes from (replaced by the mirror's when one is set).
        known_hash: pinned hash, SHA-256 hex, or ``"md5:<hex>"``.
        subdir: optional sub-folder of the cache directory.

    Raises:
        DatasetHashError: the downloaded bytes do not match ``known_hash`` (nothing is kept).
        DatasetDownloadError: the server could not be reached or refused the file.
    """
    import pooch
    import requests

    folder = data_dir() / subdir if subdir else data_dir()
    target = folder / fname
    url = resolve_url(origin)
    if getattr(_CACHE_ONLY, "on", False) and not target.is_file():
        raise DatasetNotCachedError(f"{target} is not in the cache (cache_only() is on, so {url} was not fetched).")
    algorithm = known_hash.split(":", 1)[0] if ":" in known_hash else "sha256"
    downloader = _HashingDownloader(algorithm)
    try:
        with _quiet_pooch():
            path = pooch.retrieve(
                url, known_hash=known_hash, fname=fname, path=folder, downloader=downloader, progressbar=False
            )
    except ValueError as exc:
        if "does not match the known hash" not in str(exc):
            raise
        raise DatasetHashError(
            f"The file downloaded from {url} is corrupted: its {algorithm.upper()} hash is "
            f"{downloader.actual_hash} but {known_hash.split(':')[-1]} was expected. It was deleted; "
            f"nothing was written to {target}."
        ) from None
    except (requests.exceptions.RequestException, OSError) as exc:
        raise DatasetDownloadError(
            f"Could not download {url} ({type(exc).__name__}: {exc}). If this machine is offline, download "
            f"the file elsewhere, check that its {algorithm.upper()} hash is {known_hash.split(':')[-1]}, and "
            f"put it at {target} (set {DATA_DIR_ENV} to use another cache directory, or "
            f"{BASE_URL_ENV} to fetch from a mirror)."
        ) from exc
    return Path(path)
