"""Weights and optimizer state as safetensors: plain tensors, no pickle, checked before anything is assigned.

A weights file holds one tensor per variable, keyed ``"{index:04d}/{variable.path}"``
(``model.weights`` order, which is Keras's), in the variable's own dtype
(bfloat16 included). Its header metadata records the format, the count and a
sha256 over every tensor's key, dtype, shape and bytes, so a flipped byte
anywhere is an error instead of a silently different model. Loading matches
variables by position and checks every shape and dtype before assigning any.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct

import jax
import ml_dtypes
import numpy as np
import safetensors
import safetensors.numpy

from kerasish.distribution import to_host
from kerasish.engine import state as engine_state
from kerasish.errors import ConfigError, FileFormatError, NotBuiltError
from kerasish.saving import files, limits
from kerasish.saving.archive import read_model_archive

WEIGHTS_SUFFIX = ".weights.safetensors"
FORMAT_VERSION = "1"

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
}
_KEY = re.compile(r"^(\d{4,9})/(.*)$")
_MAX_HEADER_BYTES = 100 * 2**20  # safetensors' own limit


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        a = tensors[key]
        h.update(json.dumps([key, a.dtype.name, list(a.shape)]).encode())
        h.update(a.tobytes(order="C"))
    return h.hexdigest()


def encode_tensors(tensors: dict[str, np.ndarray], kind: str) -> bytes:
    """safetensors bytes with ``{"format": kind, "format_version", "count", "sha256"}`` as header metadata."""
    tensors = {k: np.asarray(v, order="C") for k, v in tensors.items()}  # (ascontiguousarray makes scalars 1-d)
    metadata = {"format": kind, "format_version": FORMAT_VERSION, "count": str(len(tensors)),
                "sha256": _digest(tensors)}
    try:
        return safetensors.numpy.save(tensors, metadata=metadata)
    except Exception as e:  # an unsupported dtype (e.g. object arrays): a bug of the caller's model
        raise ConfigError(f"Cannot write {kind} tensors as safetensors: {e}") from e


def decode_tensors(data: bytes, source: str, kind: str) -> dict[str, np.ndarray]:
    """The tensors of safetensors ``data``, after checking its header, format and checksum.

    Raises:
        FileFormatError: naming ``source`` and what is wrong.
    """
    if len(data) < 8:
        raise FileFormatError(f"{source}: truncated safetensors data ({len(data)} bytes).")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise FileFormatError(f"{source}: the safetensors header claims {header_len} bytes; the data is "
                              f"{len(data)} bytes (truncated or corrupted).")
    try:
        header = json.loads(data[8:8 + header_len])
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict):
            raise TypeError("__metadata__ is not an object")
        raw = safetensors.deserialize(data)
    except Exception as e:  # JSON, UTF-8, RecursionError or SafetensorError: all mean a damaged file
        raise FileFormatError(f"{source}: not valid safetensors data: {type(e).__name__}: {e}") from e
    if metadata.get("format") != kind:
        raise FileFormatError(f"{source}: expected {kind!r} tensors, found format {metadata.get('format')!r}.")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(f"{source}: unsupported {kind} format version {metadata.get('format_version')!r} "
                              f"(this kerasish reads version {FORMAT_VERSION}).")
    tensors = {}
    for key, view in raw:
        dtype = _DTYPES.get(view["dtype"])
        if dtype is None:
            raise FileFormatError(f"{source}: tensor {key!r} has unsupported dtype {view['dtype']!r}.")
        tensors[key] = np.frombuffer(view["data"], dtype=dtype).reshape(view["shape"])
    if metadata.get("count") != str(len(tensors)) or metadata.get("sha256") != _digest(tensors):
        raise FileFormatError(f"{source}: the tensors do not match the checksum in the header (corrupted).")
    return tensors


def _ordered(tensors: dict[str, np.ndarray], source: str) -> list[tuple[str, np.ndarray]]:
    """Tensors keyed ``"{index}/{path}"`` in index order; the indices must be exactly 0..n-1."""
    indexed = {}
    for key, value in tensors.items():
        match = _KEY.match(key)
        if match is None:
            raise FileFormatError(f"{source}: unexpected tensor key {key!r} (expected 'index/variable_path').")
        index = int(match.group(1))
        if index in indexed:
            raise FileFormatError(f"{source}: two tensors have the index {index} ({key!r}).")
        indexed[index] = (match.group(2), value)
    if sorted(indexed) != list(range(len(indexed))):
        raise FileFormatError(f"{source}: the tensor indices are not 0..{len(indexed) - 1}.")
    return [indexed[i] for i in range(len(indexed))]


def variables_to_bytes(variables: list) -> bytes:
    """A weights file's bytes for ``variables`` (``model.weights``)."""
    return encode_tensors({f"{i:04d}/{v.path}": to_host(v.value) for i, v in enumerate(variables)},
                          "kerasish.weights")


def read_weights(data: bytes, source: str) -> list[tuple[str, np.ndarray]]:
    """The ``(variable_path, array)`` pairs of a weights file, in order, after its checks."""
    return _ordered(decode_tensors(data, source, "kerasish.weights"), source)


def assign_weights(model, saved: list[tuple[str, np.ndarray]], source: str, skip_mismatch: bool = False) -> None:
    """Check every saved array against ``model.weights``, then assign them all (nothing on an error).

    Raises:
        FileFormatError: a different number of weights, or a weight of another shape or dtype
            (naming the variable, the file's key and both shapes).
    """
    variables = model.weights
    if len(saved) != len(variables):
        raise FileFormatError(f"{source}: the file holds {len(saved)} weights, but model {model.name!r} has "
                              f"{len(variables)}; the architectures differ.")
    chosen = []
    for i, (var, (path, value)) in enumerate(zip(variables, saved)):
        if tuple(value.shape) != tuple(var.shape) or value.dtype != np.dtype(var.dtype):
            if skip_mismatch:
                continue
            raise FileFormatError(
                f"{source}: weight {i} {var.path!r} of model {model.name!r} has shape {tuple(var.shape)} and dtype "
                f"{np.dtype(var.dtype).name}, but the file's {path!r} has shape {tuple(value.shape)} and dtype "
                f"{value.dtype.name}.")
        chosen.append((var, value))
    limits.check_finite(((var.path, value) for var, value in chosen), source)
    for var, value in chosen:
        var.assign(value)


def check_member_sizes(model, declared: dict[str, int], filepath: str, skip_mismatch: bool = False,
                       member: str = "member 'model.weights.safetensors'") -> None:
    """Bound a ``.kerasish`` file's tensor members by what ``model`` needs, before they are decompressed:
    the weights member holds exactly the variables' bytes plus a header (and 1 MiB of slack, so that a
    slightly different architecture gets the precise message of :func:`assign_weights`); the optimizer
    member at most :data:`~kerasish.saving.limits.OPTIMIZER_SLOTS` arrays per trainable weight."""
    size = limits.ModelSize.of(model)
    n = len(size.variables)
    header = 2**20 + sum(len(path) + 160 for path, *_ in size.variables)
    if "model.weights.safetensors" in declared:
        limits.weights_bound(filepath, member, declared["model.weights.safetensors"],
                             size.bytes, slack=header, floor=limits.floor(size.bytes), skip_mismatch=skip_mismatch)
    if "optimizer.safetensors" in declared:
        limits.weights_bound(filepath, "member 'optimizer.safetensors'", declared["optimizer.safetensors"],
                             size.optimizer_bound, slack=4096 + 160 * (limits.OPTIMIZER_SLOTS * n + 16), floor=0,
                             skip_mismatch=skip_mismatch)


def assign_from_bytes(model, data: bytes, source: str, skip_mismatch: bool = False) -> None:
    """:func:`read_weights` then :func:`assign_weights`."""
    assign_weights(model, read_weights(data, source), source, skip_mismatch)


def _require_weights(model, what: str) -> None:
    if not model.weights:
        raise NotBuiltError(f"Model {model.name!r} has no weights yet: build it (call it on data or give it an "
                            f"input shape) before {what}.")


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write ``model.weights`` to a ``.weights.safetensors`` file (atomically). See ``Model.save_weights``."""
    filepath = os.fspath(filepath)
    if not str(filepath).endswith(WEIGHTS_SUFFIX):
        raise ConfigError(f"The filename must end in `{WEIGHTS_SUFFIX}`. Received: filepath={filepath}")
    if not overwrite and os.path.exists(filepath):
        raise ConfigError(f"{filepath} exists; pass overwrite=True to replace it.")
    _require_weights(model, "save_weights()")
    files.atomic_write_bytes(filepath, variables_to_bytes(model.weights))


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights from a ``.weights.safetensors`` or ``.kerasish`` file. See ``Model.load_weights``."""
    filepath = os.fspath(filepath)
    _require_weights(model, "load_weights()")
    if filepath.endswith(".kerasish"):
        members = read_model_archive(filepath, lambda _, declared: check_member_sizes(model, declared, filepath,
                                                                                        skip_mismatch))
        assign_from_bytes(model, members["model.weights.safetensors"], f"{filepath}: model.weights.safetensors",
                          skip_mismatch)
        return
    if not filepath.endswith(WEIGHTS_SUFFIX):
        raise ConfigError(f"load_weights reads `{WEIGHTS_SUFFIX}` or `.kerasish` files. Received: filepath={filepath}")
    try:
        size = os.path.getsize(filepath)
        if size > files.MAX_TENSOR_BYTES:
            raise FileFormatError(f"{filepath}: {size} bytes, over the limit of {files.MAX_TENSOR_BYTES} bytes.")
        check_member_sizes(model, {"model.weights.safetensors": size}, filepath, skip_mismatch, "the file")
        with open(filepath, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FileFormatError(f"{filepath}: cannot read the file ({e.strerror or e}).") from e
    assign_from_bytes(model, data, filepath, skip_mismatch)


# -- optimizer state ---------------------------------------------------------------------------------
def optimizer_state_to_bytes(opt_state, rng, step) -> bytes:
    """The optimizer state's leaves (``jax.tree.leaves`` order), the dropout key and the step counter."""
    tensors = {f"{i:04d}/optimizer": to_host(leaf) for i, leaf in enumerate(jax.tree.leaves(opt_state))}
    if rng is not None:
        if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
            rng = jax.random.key_data(rng)  # typed keys: store the raw key bits
        tensors["rng"] = to_host(rng)
        tensors["step"] = to_host(step)
    return encode_tensors(tensors, "kerasish.optimizer")


def read_optimizer_state(data: bytes, source: str) -> dict:
    """An optimizer file's leaves, key and step, checked on their own (before there is a model to fit)."""
    tensors = decode_tensors(data, source, "kerasish.optimizer")
    rng, step = tensors.pop("rng", None), tensors.pop("step", None)
    if (rng is None) != (step is None) or (step is not None and (step.shape != () or step.dtype != np.int32)) \
            or (rng is not None and (rng.shape != (2,) or rng.dtype != np.uint32)):
        raise FileFormatError(f"{source}: the rng key must be uint32[2] and the step an int32 scalar.")
    return {"leaves": [value for _, value in _ordered(tensors, source)], "rng": rng, "step": step}


def restore_optimizer_state(model, state: dict, source: str) -> None:
    """Give a compiled model a saved optimizer state, dropout key and step, after checking the structure.

    The expected structure is the optimizer's variables built for the model's trainable weights, so
    a state saved for other weights or another optimizer is an error, not a misfit.
    """
    engine_state.build_optimizer(model)
    expected = model.optimizer.variables
    leaves = state["leaves"]
    if len(leaves) != len(expected):
        raise FileFormatError(f"{source}: the file holds {len(leaves)} optimizer state arrays, but "
                              f"{type(model.optimizer).__name__} over model {model.name!r}'s "
                              f"{len(model.trainable_variables)} trainable weights has {len(expected)}.")
    for i, (var, value) in enumerate(zip(expected, leaves)):
        if tuple(value.shape) != tuple(var.shape) or value.dtype != np.dtype(var.dtype):
            raise FileFormatError(f"{source}: optimizer state array {i} {var.name} should have shape "
                                  f"{tuple(var.shape)} and dtype {np.dtype(var.dtype).name}, but has "
                                  f"shape {tuple(value.shape)} and dtype {value.dtype.name}.")
    limits.check_finite(((f"optimizer state {i} ({var.name})", value) for i, (var, value)
                         in enumerate(zip(expected, leaves))), source, "optimizer state arrays")
    for var, value in zip(expected, leaves):
        var.assign(np.array(value))
    if state["rng"] is not None:
        engine_state.set_seed_state(model, state["rng"], state["step"])
