"""The compile arguments of a model as JSON, in Keras 3's ``compile_config`` form, and back, without code.

Written as Keras 3 writes ``model.get_compile_config()``: the optimizer, and each loss or metric that is
an object, as ``serialize_keras_object`` entries (``{"module", "class_name", "config",
"registered_name"}``); names stay strings; lists and per-output dicts keep their shape. Keras's
``model.compile_from_config`` accepts it, and :func:`compile_kwargs` reads Keras's (and the
``{"__loss__": ...}`` / ``{"__metric__": ...}`` tags of older ``.kerasish`` files).

A user function cannot be stored without code: such compile arguments are left out of the file, with a
warning, and the model loads uncompiled, as Keras does when it cannot compile.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from kerasish import losses, metrics, optimizers


def _is_entry(value) -> bool:
    """A serialized object (rather than a per-output dict): it has ``class_name`` and ``config``."""
    return isinstance(value, dict) and "class_name" in value and "config" in value


def _encode(value, kind: str):
    from kerasish.saving.serialization import serialize_keras_object

    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v, kind) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, kind) for k, v in value.items()}
    obj = losses.get(value) if kind == "loss" else metrics.get(value)
    return serialize_keras_object(obj)


def _decode_entry(entry: dict, kind: str, custom_objects: dict):
    module = losses if kind == "loss" else metrics
    class_name = entry.get("class_name")
    if class_name == "function" and isinstance(entry.get("config"), str):
        name = entry["config"]  # Keras's form of a function: resolved by name
        return custom_objects.get(name, name)
    registered = entry.get("registered_name")
    cls = custom_objects.get(registered) or custom_objects.get(class_name)
    if cls is not None:
        return cls.from_config(dict(entry.get("config") or {}))
    return module.deserialize({"class_name": class_name, "config": entry.get("config") or {}})


def _decode(value, custom_objects: dict, kind: str):
    if isinstance(value, list):
        return [_decode(v, custom_objects, kind) for v in value]
    if isinstance(value, dict) and len(value) == 1 and ("__loss__" in value or "__metric__" in value):
        tag = "__loss__" if "__loss__" in value else "__metric__"  # an older .kerasish file's
        return _decode_entry(value[tag], "loss" if tag == "__loss__" else "metric", custom_objects)
    if _is_entry(value):
        return _decode_entry(value, kind, custom_objects)
    if isinstance(value, dict):
        return {k: _decode(v, custom_objects, kind) for k, v in value.items()}
    return value


def compile_config(model) -> dict | None:
    """The compile arguments as Keras 3's compile config, or None (with a warning) when they cannot be saved
    without code."""
    from kerasish.saving.serialization import serialize_keras_object

    args = model.get_compile_config()
    try:
        steps = args["steps_per_execution"]
        config = {"optimizer": serialize_keras_object(model.optimizer), "loss": _encode(args.get("loss"), "loss"),
                  "loss_weights": _encode(args.get("loss_weights"), "loss"),
                  "metrics": _encode(args.get("metrics"), "metric"),
                  "weighted_metrics": _encode(args.get("weighted_metrics"), "metric"),
                  "run_eagerly": bool(args["run_eagerly"]),
                  # Keras takes an int only: kerasish's "auto" (its own choice per data shape) is written as 1.
                  "steps_per_execution": 1 if steps == "auto" else steps,
                  "jit_compile": args.get("jit_compile", "auto")}
        if args.get("auto_scale_loss") is False:
            config["auto_scale_loss"] = False
        # kerasish's own compile arguments, written only when used (Keras's compile does not take them).
        if args.get("gradient_accumulation_steps"):
            config["gradient_accumulation_steps"] = args["gradient_accumulation_steps"]
        augmentation = args.get("batch_augmentation")
        if augmentation:
            from kerasish.saving.sublayers import serialize_sublayer

            config["batch_augmentation"] = [serialize_sublayer(a) for a in augmentation]
        # Only what rebuilds from built-in names loads back; find out now rather than at load time.
        config = json.loads(json.dumps(config))
        compile_kwargs(config, {})
    except Exception as e:
        warnings.warn(f"Model {model.name!r}: its compile arguments cannot be saved as configs ({e}); the file "
                      "will hold the architecture and weights only and load uncompiled.", stacklevel=4)
        return None
    return config


def compile_kwargs(config: dict, custom_objects: dict) -> dict:
    """``model.compile`` keyword arguments from a compile config: :func:`compile_config`'s, Keras 3's
    ``get_compile_config()``, or an older ``.kerasish`` file's."""
    optimizer = config.get("optimizer", "rmsprop")
    if isinstance(optimizer, dict):
        cls = custom_objects.get(optimizer.get("registered_name")) or custom_objects.get(optimizer.get("class_name"))
        optimizer = cls.from_config(optimizer["config"]) if cls is not None else optimizers.deserialize(
            {"class_name": optimizer.get("class_name"), "config": optimizer.get("config") or {}})
    kwargs = {"optimizer": optimizer, "loss": _decode(config.get("loss"), custom_objects, "loss"),
              "loss_weights": config.get("loss_weights"),
              "metrics": _decode(config.get("metrics"), custom_objects, "metric"),
              "weighted_metrics": _decode(config.get("weighted_metrics"), custom_objects, "metric"),
              "steps_per_execution": config.get("steps_per_execution", "auto"),
              "run_eagerly": bool(config.get("run_eagerly", False)),
              "batch_augmentation": _augmentation(config.get("batch_augmentation"), custom_objects),
              "gradient_accumulation_steps": config.get("gradient_accumulation_steps")}
    for key in ("jit_compile", "auto_scale_loss"):
        if key in config:
            kwargs[key] = config[key]
    return kwargs


def _augmentation(entries, custom_objects: dict):
    if not entries:
        return None
    from kerasish.saving.sublayers import deserialize_sublayer

    return [deserialize_sublayer(entry, custom_objects) for entry in entries]
