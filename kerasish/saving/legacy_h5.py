"""Keras 2's legacy HDF5 files (``.h5`` / ``.hdf5``), read: whole models and weights.

The format of Keras's published ImageNet weights and of every ``model.save("m.h5")`` before Keras 3.
A weights group lists its layers in the attribute ``layer_names``; each layer's group lists its
variables in ``weight_names`` (``"dense/kernel:0"``, ...), in the legacy order: the layer's trainable
weights, then its non-trainable ones. A whole-model file adds the attributes ``model_config`` (JSON)
and ``training_config`` (the compile arguments) and keeps the weights under ``model_weights``.

Weights load as Keras loads them: by order (the file's layers that have weights, matched one to one
with the model's layers that have weights) or, with ``by_name=True``, by layer name (layers of other
names are left alone). Every count and shape is checked before anything is assigned; datasets are read
through :class:`kerasish.saving.keras_h5.H5Reader` (hard links only, shapes checked before reading).

kerasish does not write this format: ``.keras`` is Keras 3's successor, and Keras 3 reads it.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from kerasish.errors import ConfigError, FileFormatError, KerasishError
from kerasish.saving import files, keras_h5, limits

_MAX_NAMES = 1_000_000  # entries of a layer_names / weight_names attribute


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _attribute(reader: keras_h5.H5Reader, group_path: str, name: str) -> list[str]:
    """A list-of-strings attribute (Keras splits long ones into ``name0``, ``name1``, ...)."""
    group = reader.node(group_path) if group_path else reader.file
    if group is None:
        raise FileFormatError(f"{reader.source}: group {group_path!r} is missing.")
    try:
        attrs = group.attrs
        keys = [name] if name in attrs else []
        while not keys or keys[0] != name:  # the chunks name0, name1, ... of a long list
            if f"{name}{len(keys)}" not in attrs:
                break
            keys.append(f"{name}{len(keys)}")
        out = []
        for key in keys:
            shape = attrs.get_id(key).shape or ()
            if int(np.prod(shape)) > _MAX_NAMES:
                raise FileFormatError(f"{reader.source}: attribute {key!r} of {group_path or '/'!r} has "
                                      f"{int(np.prod(shape))} entries.")
            out.extend(_text(v) for v in np.atleast_1d(attrs[key]))
        return out
    except KerasishError:
        raise
    except Exception as e:
        raise FileFormatError(f"{reader.source}: cannot read attribute {name!r} of {group_path or '/'!r} "
                              f"(truncated or corrupted): {type(e).__name__}: {e}") from e


def _legacy_weights(layer) -> list:
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def _plan_layer(reader, base: str, file_name: str, layer, skip_mismatch: bool, label: str) -> list:
    """``(variable, dataset path)`` for one layer, after checking counts and shapes."""
    group = _join(base, file_name)
    names = _attribute(reader, group, "weight_names")
    variables = _legacy_weights(layer)
    if len(names) != len(variables):
        message = (f"{reader.source}: weight count mismatch for {label}: the layer has {len(variables)} weights "
                   f"({[v.path for v in variables]}), the file's {file_name!r} has {len(names)} ({names}).")
        if skip_mismatch:
            warnings.warn(message + " Skipped.", stacklevel=4)
            return []
        raise FileFormatError(message)
    out = []
    for var, name in zip(variables, names):
        path = _join(group, name)
        shape = reader.shape(path)
        if shape != tuple(var.shape):
            message = (f"{reader.source}: shape mismatch for {label}: weight {var.path!r} has shape "
                       f"{tuple(var.shape)}, the file's {path!r} has shape {shape}.")
            if skip_mismatch:
                warnings.warn(message + " Skipped.", stacklevel=4)
                continue
            raise FileFormatError(message)
        out.append((var, path))
    return out


def _load_group(model, reader, base: str, by_name: bool, skip_mismatch: bool) -> None:
    layer_names = _attribute(reader, base, "layer_names")
    plan = []
    if by_name:
        index: dict[str, list] = {}
        for layer in model.layers:
            index.setdefault(layer.name, []).append(layer)
        for k, name in enumerate(layer_names):
            for layer in index.get(name, []):
                plan += _plan_layer(reader, base, name, layer, skip_mismatch, f"layer #{k} (named {name!r})")
    else:
        layers = [layer for layer in model.layers if _legacy_weights(layer)]
        saved = [name for name in layer_names if _attribute(reader, _join(base, name), "weight_names")]
        if len(saved) != len(layers):
            raise FileFormatError(
                f"{reader.source}: layer count mismatch: model {model.name!r} has {len(layers)} layers with weights "
                f"({[layer.name for layer in layers][:8]}...), the file has {len(saved)} ({saved[:8]}...). "
                "Pass by_name=True to match layers by name.")
        for k, (name, layer) in enumerate(zip(saved, layers)):
            plan += _plan_layer(reader, base, name, layer, skip_mismatch,
                                f"layer #{k} (named {layer.name!r} in the model, {name!r} in the file)")
    values = [(var, reader.read(path, tuple(var.shape))) for var, path in plan]
    limits.check_finite(((var.path, value) for var, value in values), reader.source)
    for var, value in values:
        var.assign(np.asarray(value).astype(np.dtype(var.dtype), copy=False))


def _check_size(filepath: str) -> None:
    try:
        size = os.path.getsize(filepath)
    except OSError as e:
        raise FileFormatError(f"{filepath}: cannot read the file ({e.strerror or e}).") from e
    if size > files.MAX_TENSOR_BYTES:
        raise FileFormatError(f"{filepath}: {size} bytes, over the limit of {files.MAX_TENSOR_BYTES} bytes.")


def load_weights(model, filepath, by_name: bool = False, skip_mismatch: bool = False) -> None:
    """Load a legacy HDF5 weights (or whole-model) file into a built model, by order or by layer name."""
    filepath = os.fspath(filepath)
    _check_size(filepath)
    with keras_h5.open_h5(filepath, filepath) as reader:
        base = "model_weights" if reader.node("model_weights") is not None else ""
        _load_group(model, reader, base, by_name, skip_mismatch)


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True):
    """A model from a legacy HDF5 file saved whole (``model_config`` attribute and ``model_weights``)."""
    from kerasish.saving.compile_config import compile_kwargs
    from kerasish.saving.keras_file import build_from_config, check_h5_size

    filepath = os.fspath(filepath)
    _check_size(filepath)
    with keras_h5.open_h5(filepath, filepath) as reader:
        config = _json_attribute(reader, "model_config")
        if config is None:
            raise FileFormatError(f"{filepath}: no model config in the file (a weights-only file? load it with "
                                  "model.load_weights).")
        size = os.path.getsize(filepath)
        # Each weight counted against the memory limit and what the file's size can hold before it is allocated.
        with limits.budget(weights_declared=size, weights_member="the file"):
            model = build_from_config(config, dict(custom_objects or {}), False, safe_mode,
                                      f"{filepath}: model_config")
        check_h5_size(model, size, filepath, "the file")
        _load_group(model, reader, "model_weights", by_name=False, skip_mismatch=False)
        training = _json_attribute(reader, "training_config") if compile else None
    if isinstance(training, dict):
        try:
            model.compile(**compile_kwargs(_compile_arguments(training), custom_objects or {}))
        except Exception as e:
            raise FileFormatError(f"{filepath}: cannot compile the model from its training_config "
                                  f"({type(e).__name__}: {e}); load it with compile=False and compile it "
                                  "yourself.") from e
        warnings.warn(f"{filepath}: the legacy file's optimizer state is not restored (training continues with a "
                      "fresh optimizer state).", stacklevel=3)
    return model


def _json_attribute(reader, name: str):
    try:
        raw = reader.file.attrs.get(name)
    except Exception as e:
        raise FileFormatError(f"{reader.source}: cannot read attribute {name!r}: {type(e).__name__}: {e}") from e
    if raw is None:
        return None
    text = _text(raw.item() if isinstance(raw, np.ndarray) and raw.shape == () else raw)
    if len(text) > files.MAX_JSON_BYTES:
        raise FileFormatError(f"{reader.source}: attribute {name!r} is {len(text)} bytes, over the limit of "
                              f"{files.MAX_JSON_BYTES}.")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"{reader.source}: attribute {name!r} is not valid JSON: {e}") from e


def _compile_arguments(training: dict) -> dict:
    """A legacy ``training_config`` as the compile config kerasish reads (Keras 3's keys)."""
    return {"optimizer": training.get("optimizer_config"), "loss": training.get("loss"),
            "metrics": training.get("metrics"), "loss_weights": training.get("loss_weights"),
            "weighted_metrics": training.get("weighted_metrics")}


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    raise ConfigError(f"Saving to the legacy HDF5 format ({os.fspath(filepath)!r}) is not supported: save as "
                      "`.keras` (Keras 3's format, which Keras 3 and kerasish load), e.g. model.save('model.keras').")
