"""Readers for the on-disk formats of the downloadable datasets, none of which can run code from a file.

- ``.npz`` archives whose ragged members are object arrays (imdb, reuters) are read with an unpickler
  that only rebuilds NumPy arrays.
- The CIFAR python tarballs are read member by member from the ``.tar.gz`` (never extracted to disk),
  with the same restricted unpickler.
- Fashion-MNIST's gzipped IDX files are parsed from their header.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from kerasish.errors import FileFormatError

# Everything a pickled NumPy array (object arrays of lists included) needs, and nothing else.
_SAFE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }
)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays are allowed")
        return super().find_class(module, name)


def _unpickle(stream, source: str, encoding: str = "ASCII"):
    try:
        return _ArraysOnlyUnpickler(stream, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise FileFormatError(f"Cannot read dataset file {source}: {exc}") from exc


def _read_npy(raw: bytes, source: str) -> np.ndarray:
    stream = io.BytesIO(raw)
    try:
        return np.lib.format.read_array(stream, allow_pickle=False)
    except ValueError:
        pass  # an object array: its payload is a pickle behind the .npy header
    stream.seek(0)
    major, _ = np.lib.format.read_magic(stream)
    if major == 1:
        np.lib.format.read_array_header_1_0(stream)
    else:
        np.lib.format.read_array_header_2_0(stream)
    return _unpickle(stream, source)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every ``.npy`` member of an ``.npz`` archive, object arrays included, without arbitrary unpickling."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    arrays[member[: -len(".npy")]] = _read_npy(archive.read(member), f"{path}:{member}")
    except zipfile.BadZipFile as exc:
        raise FileFormatError(f"Cannot read dataset file {path}: {exc}") from exc
    return arrays


def read_cifar_tar(path: Path, members: list[str], label_key: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(images (n, 3, 32, 32) uint8, labels (n,))`` for each named pickle inside a CIFAR ``.tar.gz``."""
    wanted = set(members)
    found = {}
    with tarfile.open(path, "r:gz") as archive:
        for info in archive:
            if info.name in wanted and info.isfile():
                batch = _unpickle(archive.extractfile(info), f"{path}:{info.name}", encoding="bytes")
                batch = {key.decode("utf8") if isinstance(key, bytes) else key: value for key, value in batch.items()}
                data = np.asarray(batch["data"], dtype=np.uint8)
                found[info.name] = (data.reshape(len(data), 3, 32, 32), np.asarray(batch[label_key]))
    missing = [name for name in members if name not in found]
    if missing:
        raise FileFormatError(f"Dataset archive {path} lacks the members {missing}.")
    return [found[name] for name in members]


def read_idx_gz(path: Path) -> np.ndarray:
    """A gzipped IDX file of unsigned bytes (the MNIST family's format) as a uint8 array of its shape."""
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise FileFormatError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise FileFormatError(f"{path} holds {data.size} values, its header says {shape}.")
    return data.reshape(shape)
