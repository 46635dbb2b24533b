"""Keras 3's own files: ``.keras`` models and ``.weights.h5`` weights, written and read by kerasish.

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (Keras's nested ``module`` /
``class_name`` / ``config`` / ``registered_name`` / ``build_config`` / ``compile_config`` entries,
see :mod:`kerasish.saving.serialization`) and ``model.weights.h5`` (Keras's layout, see
:mod:`kerasish.saving.keras_layout`, with the optimizer's variables when the state translates).
Keras 3 loads what kerasish writes and the reverse.

kerasish adds, inside ``metadata.json`` under ``"kerasish"`` (Keras ignores it): the sha256 and size
of the two other members, verified when present, and the run's dropout key and step, so that a model
saved mid-training by kerasish continues exactly as from a ``.kerasish`` file. A file Keras wrote has
neither: it loads with the zip's CRCs as its only integrity check.

Loading is safe by default: classes resolve only through kerasish's own, registered ones and
``custom_objects``; a Lambda's marshalled bytecode is refused (kerasish never runs code from a file);
member names, sizes and compression ratios are checked before anything is read, and kerasish's
recorded sha256 of ``config.json`` before anything is built from it; the model is built from its config
before its weights member is decompressed (each weight counted, before it is allocated, against the
memory limit of :mod:`kerasish.saving.limits` and against what the member's declared size can hold), and
that member must then fit what the model needs; weights are read only after their shapes matched, and
checked for NaN and inf.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os

from kerasish.engine import state as engine_state
from kerasish.errors import ConfigError, FileFormatError, KerasishError
from kerasish.saving import files, keras_h5, limits

KERAS_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"
KERAS_FORMAT_VERSION = "3.15.1"  # the Keras release whose format these files follow
_MEMBERS = {"metadata.json": files.MAX_JSON_BYTES, "config.json": files.MAX_JSON_BYTES,
            "model.weights.h5": files.MAX_TENSOR_BYTES}


def _sha(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _model_config(model) -> dict:
    from kerasish.saving.serialization import serialize_keras_object

    return serialize_keras_object(model)


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write ``model`` as a Keras 3 ``.keras`` file, atomically (see the module's docstring)."""
    import kerasish

    filepath = os.fspath(filepath)
    if not filepath.endswith(KERAS_SUFFIX):
        raise ConfigError(f"A Keras model file must end in {KERAS_SUFFIX!r}. Received: filepath={filepath}")
    if not overwrite and os.path.exists(filepath):
        raise ConfigError(f"{filepath} exists; pass overwrite=True to replace it.")
    try:
        config = json.dumps(_model_config(model)).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ConfigError(f"Cannot save model {model.name!r} as {KERAS_SUFFIX}: its config is not JSON ({e}).") from e
    weights = keras_h5.weights_bytes(model, include_optimizer=include_optimizer)
    extra = {"kerasish_version": kerasish.__version__,
             "members": {"config.json": _sha(config), "model.weights.h5": _sha(weights)}}
    rng, step = engine_state.seed_state(model)
    if rng is not None and include_optimizer:
        import jax
        import numpy as np

        if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
            rng = jax.random.key_data(rng)
        extra["rng"] = [int(x) for x in np.asarray(rng).ravel()]
        extra["step"] = int(np.asarray(step))
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"), "kerasish": extra}
    files.write_archive(filepath, {"metadata.json": json.dumps(metadata).encode("utf-8"), "config.json": config,
                                   "model.weights.h5": weights})


def _read(filepath: str, check_weights=None) -> tuple[dict, dict, bytes]:
    """``(metadata, config, weights bytes)`` of a ``.keras`` file, verified. ``check_weights(config,
    declared size of model.weights.h5)`` runs before that member is decompressed, and may refuse it."""

    def check_later(members, declared):
        # kerasish's recorded sha256s are verified before anything is built from config.json (an edited
        # config is refused as such, before it allocates), and the weights member's recorded size too.
        _verify_recorded(filepath, members, declared)
        if check_weights is not None and "config.json" in members and "model.weights.h5" in declared:
            check_weights(_json(members["config.json"], f"{filepath}: config.json"), declared["model.weights.h5"])

    members = files.read_archive(filepath, _MEMBERS, prefixes={"assets/": files.MAX_TENSOR_BYTES},
                                 later=("model.weights.h5",), check_later=check_later)
    assets = sorted(name for name in members if name.startswith("assets/"))
    if assets:
        raise FileFormatError(f"{filepath}: the file holds layer assets ({assets[:3]}...), such as the vocabulary "
                              "of an adapted lookup layer; kerasish does not read Keras assets yet.")
    for name in ("config.json", "model.weights.h5"):
        if name not in members:
            raise FileFormatError(f"{filepath}: member {name!r} is missing; not a Keras .keras model file.")
    metadata = _verify_recorded(filepath, members, None)
    config = _json(members["config.json"], f"{filepath}: config.json")
    return metadata, config, members["model.weights.h5"]


def _verify_recorded(filepath: str, members: dict, declared: dict | None) -> dict:
    """``metadata.json`` (``{}`` without one), after checking the members read so far against the sha256s
    kerasish recorded in it, if it did (and, given ``declared``, the sizes of those not read yet)."""
    metadata = {}
    if "metadata.json" in members:
        metadata = _json(members["metadata.json"], f"{filepath}: metadata.json")
        if not isinstance(metadata, dict):
            raise FileFormatError(f"{filepath}: metadata.json is not an object.")
    recorded = metadata.get("kerasish", {}).get("members") if isinstance(metadata.get("kerasish"), dict) else None
    if isinstance(recorded, dict):
        for name, entry in recorded.items():
            if name in members:
                matches = entry == _sha(members[name])
            elif declared is not None and name in declared:
                matches = isinstance(entry, dict) and entry.get("size") == declared[name]
            else:
                continue
            if not matches:
                raise FileFormatError(f"{filepath}: member {name!r} does not match the size and sha256 kerasish "
                                      "recorded when it saved the file (corrupted or modified).")
    return metadata


def _json(data: bytes, source: str):
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"{source}: not valid JSON: {e}") from e


def build_from_config(config, custom_objects, compile: bool, safe_mode: bool, source: str):
    """A model from a Keras ``config.json`` dict; every failure is a FileFormatError naming ``source``."""
    from kerasish.saving.serialization import deserialize_keras_object

    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise FileFormatError(f"{source}: a model config must be an object with 'class_name' and 'config'.")
    if not compile:
        config = {k: v for k, v in config.items() if k != "compile_config"}
    try:
        model = deserialize_keras_object(config, custom_objects=custom_objects, safe_mode=safe_mode)
    except KerasishError as e:
        raise FileFormatError(f"{source}: {e}") from e
    except Exception as e:  # TypeError, KeyError, ... from a malformed config
        if limits.out_of_memory(e):
            raise FileFormatError(limits.memory_message(source, e)) from e
        raise FileFormatError(f"{source}: the model config is malformed ({type(e).__name__}: {e}).") from e
    if not getattr(model, "is_model", False):
        raise FileFormatError(f"{source}: the config describes a {type(model).__name__}, not a model.")
    return model


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True):
    """A model from a ``.keras`` file written by Keras 3 or kerasish.

    With ``compile=True`` a model saved compiled is compiled as it was, and gets its optimizer state back
    when the file holds one that fits (and, from a kerasish file, its dropout key and step).

    Raises:
        FileFormatError: anything wrong with the file, naming it and the member, layer or class.
    """
    filepath = os.fspath(filepath)
    source = f"{filepath}: model.weights.h5"
    built = {}

    def build_then_bound(config, declared: int) -> None:
        # Built before the weights member is decompressed (each weight counted against the memory limit and
        # what the member's declared size can hold before it is allocated), which is then bounded by what
        # the model's variables take.
        with limits.budget(weights_declared=declared, weights_member="member 'model.weights.h5'"):
            model = build_from_config(config, dict(custom_objects or {}), compile, safe_mode,
                                      f"{filepath}: config.json")
        if not model.built:
            raise FileFormatError(f"{source}: model {model.name!r} could not be built from its config (no "
                                  "build_config or input shape), so its weights have nowhere to go.")
        check_h5_size(model, declared, filepath, "member 'model.weights.h5'")
        built["model"] = model

    metadata, _, weights = _read(filepath, build_then_bound)
    model = built["model"]
    with keras_h5.open_h5(weights, source) as reader:
        keras_h5.load_weights(model, reader)
        if compile and getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
            keras_h5.load_optimizer(model, reader)
    extra = metadata.get("kerasish") if isinstance(metadata.get("kerasish"), dict) else {}
    if compile and isinstance(extra.get("rng"), list) and isinstance(extra.get("step"), int):
        try:
            engine_state.set_seed_state(model, extra["rng"], extra["step"])
        except Exception as e:
            raise FileFormatError(f"{filepath}: metadata.json's rng key and step are malformed ({e}).") from e
    return model


def check_h5_size(model, declared: int, filepath: str, member: str, skip_mismatch: bool = False) -> None:
    """Bound Keras HDF5 weights (a ``.keras`` file's member, or a legacy file) by what ``model`` needs: its
    variables, an optimizer's state and HDF5's own structures at most; at least half the variables' bytes
    less 1 MiB (see :func:`kerasish.saving.limits.floor`)."""
    size = limits.ModelSize.of(model)
    slack = 2**20 + 8 * 2**10 * len(size.variables) * (1 + limits.OPTIMIZER_SLOTS)
    limits.weights_bound(filepath, member, declared, size.bytes, slack=size.optimizer_bound + slack,
                         floor=limits.floor(size.bytes), skip_mismatch=skip_mismatch)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write the model's weights (and optimizer state) as a Keras 3 ``.weights.h5`` file, atomically."""
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise ConfigError(f"{filepath} exists; pass overwrite=True to replace it.")
    if not model.weights:
        from kerasish.errors import NotBuiltError

        raise NotBuiltError(f"Model {model.name!r} has no weights yet: build it before save_weights().")
    files.atomic_write_bytes(filepath, keras_h5.weights_bytes(model, include_optimizer=True))


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load a Keras 3 ``.weights.h5`` file (or a ``.keras`` file's weights) into a built model."""
    filepath = os.fspath(filepath)
    if filepath.endswith(KERAS_SUFFIX):
        _, _, data = _read(filepath, lambda _, declared: check_h5_size(
            model, declared, filepath, "member 'model.weights.h5'", skip_mismatch))
        source, target = f"{filepath}: model.weights.h5", data
    else:
        source, target = filepath, filepath
        try:
            size = os.path.getsize(filepath)
        except OSError as e:
            raise FileFormatError(f"{filepath}: cannot read the file ({e.strerror or e}).") from e
        if size > files.MAX_TENSOR_BYTES:
            raise FileFormatError(f"{filepath}: {size} bytes, over the limit of {files.MAX_TENSOR_BYTES} bytes.")
    with keras_h5.open_h5(target, source) as reader:
        keras_h5.load_weights(model, reader, skip_mismatch=skip_mismatch)
        if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
            keras_h5.load_optimizer(model, reader)
