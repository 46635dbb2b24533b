"""The compile arguments of a model as JSON (``compile.json``), and back, without code.

Optimizers, losses and metrics are stored by name or as ``{"class_name", "config"}``
of kerasish's own classes (tagged ``__loss__`` / ``__metric__`` so that a dict of
per-output losses is not mistaken for one loss). A user function cannot be
stored without code: such compile arguments are left out of the file, with a
warning, and the model loads uncompiled, as Keras does when it cannot compile.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from kerasish import losses, metrics, optimizers


def _encode(value, kind: str):
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_encode(v, kind) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v, kind) for k, v in value.items()}
    if kind == "loss":
        return {"__loss__": losses.serialize(losses.get(value))}
    return {"__metric__": metrics.serialize(metrics.get(value))}


def _decode(value, custom_objects: dict):
    if isinstance(value, list):
        return [_decode(v, custom_objects) for v in value]
    if isinstance(value, dict) and len(value) == 1 and ("__loss__" in value or "__metric__" in value):
        kind = "__loss__" if "__loss__" in value else "__metric__"
        entry = value[kind]
        cls = custom_objects.get(entry.get("class_name")) if isinstance(entry, dict) else None
        if cls is not None:
            return cls.from_config(dict(entry.get("config") or {}))
        return (losses if kind == "__loss__" else metrics).deserialize(entry)
    if isinstance(value, dict):
        return {k: _decode(v, custom_objects) for k, v in value.items()}
    return value


def compile_config(model) -> dict | None:
    """The compile arguments as JSON, or None (with a warning) when they cannot be saved without code."""
    args = model.get_compile_config()
    try:
        config = {"optimizer": optimizers.serialize(model.optimizer), "loss": _encode(args.get("loss"), "loss"),
                  "loss_weights": _encode(args.get("loss_weights"), "loss"),
                  "metrics": _encode(args.get("metrics"), "metric"),
                  "weighted_metrics": _encode(args.get("weighted_metrics"), "metric"),
                  "steps_per_execution": args["steps_per_execution"], "run_eagerly": args["run_eagerly"]}
        if args.get("gradient_accumulation_steps"):
            config["gradient_accumulation_steps"] = args["gradient_accumulation_steps"]
        augmentation = args.get("batch_augmentation")
        if augmentation:
            from kerasish.saving.registry import serialize_layer

            config["batch_augmentation"] = [serialize_layer(a) for a in augmentation]
        # Only what rebuilds from built-in names loads back; find out now rather than at load time.
        json.loads(json.dumps(config))
        compile_kwargs(config, {})
    except Exception as e:
        warnings.warn(f"Model {model.name!r}: its compile arguments cannot be saved as configs ({e}); the file "
                      "will hold the architecture and weights only and load uncompiled.", stacklevel=4)
        return None
    return config


def compile_kwargs(config: dict, custom_objects: dict) -> dict:
    """``model.compile`` keyword arguments from :func:`compile_config`'s output."""
    optimizer = config["optimizer"]
    cls = custom_objects.get(optimizer.get("class_name")) if isinstance(optimizer, dict) else None
    optimizer = cls.from_config(optimizer["config"]) if cls is not None else optimizers.deserialize(optimizer)
    return {"optimizer": optimizer, "loss": _decode(config.get("loss"), custom_objects),
            "loss_weights": config.get("loss_weights"), "metrics": _decode(config.get("metrics"), custom_objects),
            "weighted_metrics": _decode(config.get("weighted_metrics"), custom_objects),
            "steps_per_execution": config.get("steps_per_execution", "auto"),
            "run_eagerly": bool(config.get("run_eagerly", False)),
            "batch_augmentation": _augmentation(config.get("batch_augmentation"), custom_objects),
            "gradient_accumulation_steps": config.get("gradient_accumulation_steps")}


def _augmentation(entries, custom_objects: dict):
    if not entries:
        return None
    from kerasish.saving.registry import deserialize_layer

    return [deserialize_layer(entry, custom_objects) for entry in entries]
