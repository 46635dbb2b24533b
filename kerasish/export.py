"""Export a model's inference function for serving, and load it back without the model's code.

``model.export(path)`` traces ``model.predict_step`` (inference mode: Dropout off,
BatchNormalization on its moving statistics) with the current weights baked in
as constants, serializes it with ``jax.export`` for a symbolic batch size, and
writes a directory, atomically (built beside ``path`` and renamed into place)::

    path/
      model.jaxexport   the bytes of jax.export.Exported.serialize(): StableHLO plus calling convention
      signature.json    format and versions, input/output shapes and dtypes ("batch" for the batch),
                        platforms, and the artifact's sha256 and size

Serving needs only JAX: ``jax.export.deserialize(open("path/model.jaxexport", "rb").read()).call(x)``,
or :func:`load`, which also checks the checksum and casts NumPy inputs to the exported dtypes.
Weights are constants inside the artifact, so it is self-contained (and as large as the weights).

This module imports no layer or model code at import time: ``load`` works in a
process that has never seen the classes the model was built from.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil

import jax
import numpy as np

from kerasish.errors import ConfigError, FileFormatError, InputError
from kerasish.saving.files import fsync_directory

FORMAT = "kerasish.export"
FORMAT_VERSION = 1
ARTIFACT = "model.jaxexport"
SIGNATURE = "signature.json"
MAX_SIGNATURE_BYTES = 2**20
BATCH = "batch"


def _spec_of(entry, scope, counter):
    """A ShapeDtypeStruct with a symbolic batch (and other unknown) dimensions, from a spec-like entry."""
    if isinstance(entry, jax.ShapeDtypeStruct):
        shape, dtype = entry.shape, entry.dtype
    elif hasattr(entry, "shape") and hasattr(entry, "dtype"):  # a KerasTensor from kerasish.Input
        shape, dtype = entry.shape, entry.dtype
    elif isinstance(entry, (tuple, list)) and all(d is None or isinstance(d, int) for d in entry):
        shape, dtype = entry, np.float32
    else:
        raise ConfigError(f"export: cannot read an input spec from {entry!r}; give a kerasish.Input, a "
                          "jax.ShapeDtypeStruct or a shape tuple with None for the batch.")
    dims = []
    for i, d in enumerate(shape):
        if d is None:
            dims.append(BATCH if i == 0 else f"d{next(counter)}")
        else:
            dims.append(str(d))
    symbolic = jax.export.symbolic_shape(", ".join(dims), scope=scope) if dims else ()
    return jax.ShapeDtypeStruct(tuple(symbolic), np.dtype(dtype))


def _default_signature(model):
    inputs = getattr(model, "_inputs_struct", None)  # functional: the Input tensors, in their structure
    if inputs is not None:
        return inputs
    input_layer = getattr(model, "_input_layer", None)  # Sequential
    if input_layer is not None:
        return input_layer.output_tensor
    shape = getattr(model, "_build_input_shape", None)  # a subclassed model, built on data
    if shape is not None:
        return shape
    raise ConfigError(f"export: model {model.name!r} has no known input shape; build it first or pass "
                      "input_signature=kerasish.Input(shape=...) (or a jax.ShapeDtypeStruct).")


def _describe(spec) -> dict:
    shape = [d if isinstance(d, int) else str(d) for d in spec.shape]
    return {"shape": shape, "dtype": np.dtype(spec.dtype).name}


def _is_spec_leaf(x) -> bool:
    return (isinstance(x, jax.ShapeDtypeStruct) or (hasattr(x, "shape") and hasattr(x, "dtype"))
            or (isinstance(x, tuple) and all(d is None or isinstance(d, int) for d in x)))


def export_model(model, filepath, format: str = "jax_export", input_signature=None, platforms=None) -> None:
    """Export ``model``'s inference function to the directory ``filepath`` (see the module docstring).

    Args:
        model: a built kerasish model.
        filepath: the directory to create (an earlier export there is replaced; anything else is refused).
        format: ``"jax_export"`` (kerasish serves through ``jax.export``; there is no TF SavedModel).
        input_signature: the inputs' specs, in the structure ``model.predict`` takes; by default the
            model's ``Input`` shapes and dtypes. ``None`` dimensions become symbolic.
        platforms: platforms to lower for, e.g. ``("cpu", "cuda")``; by default the current backend.
    """
    if format not in ("jax_export", "jax"):
        raise ConfigError(f"export: unknown format {format!r}; kerasish exports with jax.export (format='jax_export').")
    if not model.built:
        raise ConfigError(f"export: model {model.name!r} is not built; call it on data first.")
    signature = input_signature if input_signature is not None else _default_signature(model)
    scope, counter = jax.export.SymbolicScope(), iter(range(1, 10**6))
    specs = jax.tree.map(lambda e: _spec_of(e, scope, counter), signature, is_leaf=_is_spec_leaf)
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])

    def serve(x):
        # The weights are closed over: jit bakes them into the program as constants.
        outputs, _ = model.predict_step(state, x)
        return outputs

    exported = jax.export.export(jax.jit(serve), platforms=platforms)(specs)
    artifact = bytes(exported.serialize())
    import kerasish

    description = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "model_name": model.name,
        "kerasish_version": kerasish.__version__, "jax_version": jax.__version__,
        "inputs": jax.tree.map(_describe, specs), "outputs": [_describe(a) for a in exported.out_avals],
        "platforms": list(exported.platforms), "weights": "constants in the artifact",
        "artifact": {"name": ARTIFACT, "sha256": hashlib.sha256(artifact).hexdigest(), "size": len(artifact)},
    }
    _write_directory(os.fspath(filepath), {ARTIFACT: artifact, SIGNATURE: json.dumps(description, indent=1).encode()})


def _write_file(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_directory(path: str, members: dict[str, bytes]) -> None:
    """Build the directory beside ``path`` and rename it into place: ``path`` never holds half an export."""
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isfile(os.path.join(path, SIGNATURE)):
        raise ConfigError(f"export: {path} exists and is not a kerasish export; refusing to replace it.")
    parent, base = os.path.dirname(path), os.path.basename(path)
    if not os.path.isdir(parent):
        raise ConfigError(f"export: cannot write {path}: the directory {parent} does not exist.")
    tmp = os.path.join(parent, f".{base}.{secrets.token_hex(6)}.tmp")
    os.mkdir(tmp, 0o777)  # the umask decides the final permissions
    old = None
    try:
        for name, data in members.items():
            _write_file(os.path.join(tmp, name), data)
        if os.path.exists(path):
            old = tmp + ".old"
            os.rename(path, old)  # a crash here leaves the previous export under .old, intact
        os.rename(tmp, path)
    except BaseException:
        if old is not None and os.path.exists(old) and not os.path.exists(path):
            os.rename(old, path)  # put the previous export back
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_directory(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class ExportedModel:
    """A loaded export: call it on inputs (NumPy or JAX, in the structure the model took) to get JAX outputs.

    Attributes:
        exported: the ``jax.export.Exported``.
        signature: the parsed ``signature.json``.
    """

    def __init__(self, exported, signature: dict, source: str):
        self.exported = exported
        self.signature = signature
        self._source = source

    def __call__(self, x):
        leaves, tree = jax.tree.flatten(((x,), {}))
        if tree != self.exported.in_tree or len(leaves) != len(self.exported.in_avals):
            raise InputError(f"{self._source}: expected inputs structured as {self.signature.get('inputs')}, "
                             f"got {jax.tree.structure(x)}.")
        args = []
        for i, (leaf, aval) in enumerate(zip(leaves, self.exported.in_avals)):
            if not isinstance(leaf, jax.Array):
                leaf = np.asarray(leaf, dtype=aval.dtype)  # NumPy float64 and friends: cast as predict does
            elif leaf.dtype != aval.dtype:
                leaf = leaf.astype(aval.dtype)
            if len(leaf.shape) != len(aval.shape) or any(
                    isinstance(d, int) and d != s for d, s in zip(aval.shape, leaf.shape)):
                raise InputError(f"{self._source}: input {i} should have shape {_describe(aval)['shape']}, "
                                 f"got {tuple(leaf.shape)}.")
            args.append(leaf)
        call_args, call_kwargs = jax.tree.unflatten(tree, args)
        return self.exported.call(*call_args, **call_kwargs)


def _read(path: str, limit: int) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > limit:
            raise FileFormatError(f"{path}: {size} bytes, over the limit of {limit} bytes.")
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FileFormatError(f"{path}: cannot read the file ({e.strerror or e}).") from e


def load(path) -> ExportedModel:
    """Load an export written by ``model.export(path)``; needs only JAX and NumPy, not the model's code.

    Raises:
        FileFormatError: a missing or damaged ``signature.json`` or artifact (checksum, size, format).
    """
    path = os.fspath(path)
    sig_path = os.path.join(path, SIGNATURE)
    try:
        signature = json.loads(_read(sig_path, MAX_SIGNATURE_BYTES))
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"{sig_path}: not valid JSON: {e}") from e
    if not isinstance(signature, dict) or signature.get("format") != FORMAT:
        raise FileFormatError(f"{sig_path}: not a kerasish export signature.")
    if signature.get("format_version") != FORMAT_VERSION:
        raise FileFormatError(f"{sig_path}: unsupported export format version {signature.get('format_version')!r}.")
    entry = signature.get("artifact")
    if not isinstance(entry, dict) or entry.get("name") != ARTIFACT or not isinstance(entry.get("size"), int):
        raise FileFormatError(f"{sig_path}: no valid 'artifact' entry.")
    artifact_path = os.path.join(path, ARTIFACT)
    data = _read(artifact_path, entry["size"])
    if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise FileFormatError(f"{artifact_path}: does not match the size and sha256 in {SIGNATURE} (corrupted).")
    try:
        exported = jax.export.deserialize(bytearray(data))
    except Exception as e:
        raise FileFormatError(f"{artifact_path}: jax.export cannot deserialize it ({type(e).__name__}: {e}).") from e
    return ExportedModel(exported, signature, artifact_path)
