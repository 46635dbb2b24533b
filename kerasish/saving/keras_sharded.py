"""Keras 3's sharded weights: a ``NAME.weights.json`` index and shards ``NAME_00000.weights.h5``, ...

The index is ``{"metadata": {"total_size": bytes}, "weight_map": {"/layers/dense/vars": "NAME_00000.weights.h5"
or [several shards], ...}}``; each shard is an HDF5 file in Keras's layout holding some of the groups
(see :mod:`kerasish.saving.keras_h5`). Shards are found only next to the index, by plain file names.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re

import numpy as np

from kerasish.distribution import to_host
from kerasish.errors import ConfigError, FileFormatError
from kerasish.saving import files, keras_h5, keras_layout

_SHARD_NAME = re.compile(r"^[^/\\]+\.weights\.h5$")


def _stem(filepath: str) -> str:
    name = os.path.basename(filepath)
    return name[: -len(".weights.json")] if name.endswith(".weights.json") else name.rsplit(".", 1)[0]


def save_weights(model, filepath, max_shard_size, overwrite: bool = True) -> None:
    """Write the model's weights as an index and shards of at most ``max_shard_size`` GB each."""
    filepath = os.fspath(filepath)
    try:
        limit = float(max_shard_size) * 1024**3
    except (TypeError, ValueError):
        raise ConfigError(f"save_weights: max_shard_size must be a number of GB, got {max_shard_size!r}.") from None
    if limit <= 0:
        raise ConfigError(f"save_weights: max_shard_size must be positive, got {max_shard_size!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ConfigError(f"{filepath} exists; pass overwrite=True to replace it.")
    directory, stem = os.path.dirname(filepath), _stem(filepath)
    shards: list[list[tuple[str, np.ndarray]]] = [[]]
    size = 0
    for path, var in keras_layout.weight_paths(model):
        value = to_host(var.value)
        if value.nbytes > limit:
            raise ConfigError(f"save_weights: weight {var.path!r} is {value.nbytes} bytes, more than "
                              f"max_shard_size={max_shard_size} GB; raise max_shard_size.")
        if size + value.nbytes > limit and shards[-1]:
            shards.append([])
            size = 0
        shards[-1].append((path, value))
        size += value.nbytes
    weight_map: dict[str, object] = {}
    total = 0
    writes = []
    for index, entries in enumerate(shards):
        name = f"{stem}_{index:05d}.weights.h5"
        writes.append((os.path.join(directory, name), _shard_writer(entries)))
        for path, value in entries:
            group = "/" + path.rsplit("/", 1)[0]
            total += value.nbytes
            present = weight_map.get(group)
            if present is None:
                weight_map[group] = name
            elif present != name and (not isinstance(present, list) or name not in present):
                weight_map[group] = (present if isinstance(present, list) else [present]) + [name]
    index = {"metadata": {"total_size": float(total)}, "weight_map": weight_map}
    data = json.dumps(index, indent=4).encode("utf-8")
    # Every shard and the index go to temporary files first; only when all are complete are they renamed
    # in place, so a full disk (or any failure) leaves the older index and shards as they were.
    files.atomic_write_many([*writes, (filepath, lambda f: f.write(data))])


def _shard_writer(entries):
    """Writes one shard: h5py builds it in memory, then one plain write to the file (so a disk error is
    the OS's own, never one h5py rephrased)."""
    import h5py

    def write(f):
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5:
            for path, value in entries:
                keras_h5._write_dataset(h5, path, value)
        f.write(buffer.getbuffer())

    return write


class ShardedReader:
    """The :class:`~kerasish.saving.keras_h5.H5Reader` interface over an index and its shards."""

    def __init__(self, filepath: str, weight_map: dict, stack: contextlib.ExitStack):
        self.source = filepath
        self.directory = os.path.dirname(filepath)
        self.weight_map = weight_map
        self.stack = stack
        self.readers: dict[str, keras_h5.H5Reader] = {}

    def _reader(self, name: str) -> keras_h5.H5Reader:
        if name not in self.readers:
            path = os.path.join(self.directory, name)
            try:
                size = os.path.getsize(path)
            except OSError as e:
                raise FileFormatError(f"{self.source}: shard {name!r} cannot be read ({e.strerror or e}).") from e
            if size > files.MAX_TENSOR_BYTES:
                raise FileFormatError(f"{self.source}: shard {name!r} is over {files.MAX_TENSOR_BYTES} bytes.")
            self.readers[name] = self.stack.enter_context(keras_h5.open_h5(path, f"{self.source}: {name}"))
        return self.readers[name]

    def _shards(self, group: str) -> list[str]:
        entry = self.weight_map.get("/" + group)
        return [] if entry is None else entry if isinstance(entry, list) else [entry]

    def names(self, group: str) -> list[str]:
        out: list[str] = []
        for shard in self._shards(group):
            out += [n for n in self._reader(shard).names(group) if n not in out]
        return out

    def read(self, path: str, expected_shape=None):
        group, name = path.rsplit("/", 1)
        for shard in self._shards(group):
            reader = self._reader(shard)
            if name in reader.names(group):
                return reader.read(path, expected_shape)
        raise FileFormatError(f"{self.source}: dataset {path!r} is in none of its shards.")


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load sharded Keras weights (the ``.weights.json`` index given) into a built model."""
    filepath = os.fspath(filepath)
    try:
        if os.path.getsize(filepath) > files.MAX_JSON_BYTES:
            raise FileFormatError(f"{filepath}: the shard index is over {files.MAX_JSON_BYTES} bytes.")
        with open(filepath, "rb") as f:
            index = json.loads(f.read())
    except OSError as e:
        raise FileFormatError(f"{filepath}: cannot read the file ({e.strerror or e}).") from e
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"{filepath}: not a valid JSON shard index: {e}") from e
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise FileFormatError(f"{filepath}: the shard index has no 'weight_map' object.")
    for group, entry in weight_map.items():
        names = entry if isinstance(entry, list) else [entry]
        if not all(isinstance(n, str) and _SHARD_NAME.match(n) and n not in (".", "..") for n in names):
            raise FileFormatError(f"{filepath}: the index names {entry!r} for {group!r}; shards must be plain "
                                  "'*.weights.h5' file names next to the index.")
    with contextlib.ExitStack() as stack:
        keras_h5.load_weights(model, ShardedReader(filepath, weight_map, stack), skip_mismatch=skip_mismatch)
