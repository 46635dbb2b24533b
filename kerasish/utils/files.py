"""``get_file``: download a file once into kerasish's dataset cache, verified, and return its path."""

from __future__ import annotations

import os
import shutil
import tarfile
import urllib.parse
import zipfile
from pathlib import Path

from kerasish.errors import ConfigError


def _algorithm(file_hash: str, hash_algorithm: str) -> str:
    if hash_algorithm in ("sha256", "md5"):
        return hash_algorithm
    if hash_algorithm != "auto":
        raise ConfigError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5', got {hash_algorithm!r}.")
    return "md5" if len(file_hash) == 32 else "sha256"


def _extract(archive: Path, target: Path, archive_format) -> None:
    formats = {"auto": ("tar", "zip"), "tar": ("tar",), "zip": ("zip",), None: ()}
    if archive_format not in formats:
        raise ConfigError(f"get_file: archive_format must be 'auto', 'tar', 'zip' or None, got {archive_format!r}.")
    for kind in formats[archive_format]:
        if kind == "tar" and tarfile.is_tarfile(archive):
            with tarfile.open(archive) as f:
                f.extractall(target, filter="data")  # refuses absolute paths and ".." members
            return
        if kind == "zip" and zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as f:
                for name in f.namelist():
                    if os.path.isabs(name) or ".." in Path(name).parts:
                        raise ConfigError(f"get_file: {archive} holds an unsafe member path {name!r}.")
                f.extractall(target)
            return
    raise ConfigError(f"get_file: {archive} is not a {archive_format!r} archive that can be extracted.")


def get_file(fname=None, origin=None, untar: bool = False, md5_hash=None, file_hash=None,
             cache_subdir: str = "datasets", hash_algorithm: str = "auto", extract: bool = False,
             archive_format="auto", cache_dir=None, force_download: bool = False) -> str:
    """Download ``origin`` into the cache (once) and return the local path (Keras's arguments).

    The download goes through kerasish's dataset cache (pooch: atomic, verified against ``file_hash``
    when one is given; ``kerasish.datasets.MIRROR`` / ``KERASISH_DATASETS_BASE_URL`` redirect it and
    ``kerasish.datasets.cache_only()`` forbids it). Where Keras uses ``~/.keras/<cache_subdir>``, kerasish
    uses the dataset cache directory (``KERASISH_DATA_DIR``, default ``~/.kerasish/datasets``) for the
    default ``cache_subdir="datasets"`` and ``<that directory>/<cache_subdir>`` otherwise, or
    ``<cache_dir>/<cache_subdir>`` when ``cache_dir`` is given.

    Args:
        fname: the file name in the cache (default: the last part of ``origin``'s path); not a path.
        origin: the URL.
        untar: deprecated alias of ``extract`` (tar archives).
        md5_hash: deprecated: an MD5 hash to verify against.
        file_hash: the expected SHA-256 (or MD5) hex digest; without one, the file is not verified.
        cache_subdir: the sub-folder of the cache (see above).
        hash_algorithm: ``"auto"`` (by the hash's length), ``"sha256"`` or ``"md5"``.
        extract: extract the archive (tar or zip) and return the extracted folder's path.
        archive_format: ``"auto"``, ``"tar"``, ``"zip"`` or None.
        cache_dir: the cache's root instead of the default.
        force_download: download again even if the file is cached.

    Returns:
        The path of the file, or of the extracted folder with ``extract=True``.

    Raises:
        ConfigError: bad arguments. ``kerasish.datasets.DatasetDownloadError`` /
        ``DatasetHashError`` when the download fails or does not match ``file_hash``.
    """
    from kerasish.datasets._cache import data_dir, fetch

    if origin is None:
        raise ConfigError("get_file: please give origin, the URL of the file to download.")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    fname = os.fspath(fname) if fname is not None else ""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ConfigError(f"get_file: cannot take a file name from origin={origin!r}; give fname.")
    elif os.sep in fname or "/" in fname:
        raise ConfigError(f"get_file: fname must be a file name, not a path (use cache_dir), got {fname!r}.")
    if cache_dir is not None:
        folder = Path(cache_dir).expanduser() / cache_subdir
    elif cache_subdir in (None, "", "datasets"):
        folder = data_dir()
    else:
        folder = data_dir() / cache_subdir
    extract = extract or untar
    if extract:
        stem = fname.split(".", 1)[0]
        extracted = folder / (f"{stem}_extracted" if "." in fname else stem)
        download_name = fname if "." in fname else f"{fname}_archive"
    else:
        download_name = fname
    target = folder / download_name
    if force_download and target.exists():
        target.unlink()
    if file_hash is None:
        path = _fetch_unverified(folder, download_name, origin)
    else:
        known = f"{_algorithm(file_hash, hash_algorithm)}:{file_hash}"
        path = fetch(download_name, origin, known, subdir=str(folder))  # an absolute subdir replaces the root
    if not extract:
        return str(path)
    if force_download or not extracted.exists():
        if extracted.exists():
            shutil.rmtree(extracted)
        partial = extracted.with_name(extracted.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _extract(Path(path), partial, archive_format)
        partial.rename(extracted)
    return str(extracted)


def _fetch_unverified(folder: Path, fname: str, origin: str) -> Path:
    """The cached file, or a download of ``origin`` (no hash to check it against)."""
    import pooch
    import requests

    from kerasish.datasets._cache import (
        _CACHE_ONLY,
        DatasetDownloadError,
        DatasetNotCachedError,
        _quiet_pooch,
        resolve_url,
    )

    target = folder / fname
    url = resolve_url(origin)
    if target.is_file():
        return target
    if getattr(_CACHE_ONLY, "on", False):
        raise DatasetNotCachedError(f"{target} is not in the cache (cache_only() is on, so {url} was not fetched).")
    try:
        with _quiet_pooch():
            return Path(pooch.retrieve(url, known_hash=None, fname=fname, path=folder, progressbar=False))
    except (requests.exceptions.RequestException, OSError) as exc:
        raise DatasetDownloadError(f"Could not download {url} ({type(exc).__name__}: {exc}). If this machine is "
                                   f"offline, put the file at {target}.") from exc
