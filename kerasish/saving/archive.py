"""The ``.kerasish`` archive: its members, their JSON, and reading one back verified.

A model file is a zip of ``metadata.json`` (format, versions, every other member's size and
sha256), ``config.json``, ``model.weights.safetensors`` and, for a compiled model, ``compile.json``
and ``optimizer.safetensors``. :func:`read_model_archive` returns the members only once every one is
listed, present, within its size limit and matches its recorded sha256.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from kerasish.errors import ConfigError, FileFormatError
from kerasish.saving import files

MODEL_SUFFIX = ".kerasish"
FORMAT = "kerasish.model"
FORMAT_VERSION = 1
_JSON_MEMBERS = ("metadata.json", "config.json", "compile.json")
_TENSOR_MEMBERS = ("model.weights.safetensors", "optimizer.safetensors")


# -- JSON helpers ------------------------------------------------------------------------------------
def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} {obj!r} is not JSON-serializable")


def _dumps(obj, what: str) -> bytes:
    try:
        return json.dumps(obj, default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Cannot save {what}: {e}. Layer configs must hold plain JSON values.") from e


def _loads(data: bytes | str, source: str, error=FileFormatError):
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise error(f"{source}: not valid JSON: {e}") from e


def read_model_archive(filepath: str, check_tensors=None) -> dict[str, bytes]:
    """The verified members of a ``.kerasish`` file: names, sizes and sha256s as ``metadata.json`` lists them.

    ``check_tensors(members, declared_sizes)``, if given, is called once the JSON members are read and
    verified, before the tensor members are decompressed: it may refuse them by their declared sizes.
    """
    limits = {name: files.MAX_JSON_BYTES for name in _JSON_MEMBERS}
    limits.update({name: files.MAX_TENSOR_BYTES for name in _TENSOR_MEMBERS})

    def check_later(members, declared):
        _verify(filepath, members, declared)
        if check_tensors is not None:
            check_tensors(members, declared)

    members = files.read_archive(filepath, limits, later=_TENSOR_MEMBERS, check_later=check_later)
    _verify(filepath, members, None)
    return members


def _verify(filepath: str, members: dict[str, bytes], declared: dict | None) -> None:
    """Check metadata.json and the members read so far against it (``declared``: the JSON members are
    read, the tensor members not yet, but must be in the archive)."""
    if "metadata.json" not in members:
        raise FileFormatError(f"{filepath}: member 'metadata.json' is missing; not a .kerasish model file.")
    metadata = _loads(members["metadata.json"], f"{filepath}: metadata.json")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise FileFormatError(f"{filepath}: metadata.json does not describe a {FORMAT!r} file.")
    version = metadata.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise FileFormatError(f"{filepath}: format version {version!r} is not supported by this kerasish "
                              f"(it reads versions up to {FORMAT_VERSION}); was it saved by a newer kerasish?")
    listed = metadata.get("members")
    if not isinstance(listed, dict):
        raise FileFormatError(f"{filepath}: metadata.json has no 'members' table.")
    present = declared if declared is not None else members
    for name in present:
        if name != "metadata.json" and name not in listed:
            raise FileFormatError(f"{filepath}: member {name!r} is not listed in metadata.json.")
    for name, entry in listed.items():
        if name not in present:
            raise FileFormatError(f"{filepath}: member {name!r} listed in metadata.json is missing.")
        if not isinstance(entry, dict):
            raise FileFormatError(f"{filepath}: metadata.json's entry for {name!r} is not an object.")
        if name not in members:
            if entry.get("size") != present[name]:  # not read yet: its declared size at least
                raise FileFormatError(f"{filepath}: member {name!r} does not match the size recorded in "
                                      "metadata.json (corrupted or modified).")
            continue
        data = members[name]
        if entry.get("size") != len(data) or entry.get("sha256") != hashlib.sha256(data).hexdigest():
            raise FileFormatError(f"{filepath}: member {name!r} does not match the size and sha256 recorded in "
                                  "metadata.json (corrupted or modified).")
    for name in ("config.json", "model.weights.safetensors"):
        if name not in present:
            raise FileFormatError(f"{filepath}: member {name!r} is missing.")
