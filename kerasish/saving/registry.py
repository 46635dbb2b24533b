"""Layer (de)serialization through a registry of known classes (no pickling, no code in configs)."""

from __future__ import annotations

from kerasish.errors import ConfigError


def _registry() -> dict:
    from kerasish import layers
    from kerasish.models.functional import Functional
    from kerasish.models.sequential import Sequential

    classes = {name: getattr(layers, name) for name in layers.__all__
               if isinstance(getattr(layers, name), type)}
    classes.update(Functional=Functional, Sequential=Sequential, Model=Functional)
    return classes


def serialize_layer(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(entry: dict, custom_objects: dict | None = None):
    """A new layer from ``{"class_name": ..., "config": ...}``; classes come from the registry or custom_objects."""
    custom_objects = custom_objects or {}
    name = entry.get("class_name")
    cls = custom_objects.get(name) or _registry().get(name)
    if cls is None:
        raise ConfigError(f"Unknown layer class {name!r}: pass it in custom_objects={{'{name}': cls}}.")
    config = dict(entry.get("config", {}))
    if name == "Lambda":
        fn = custom_objects.get(config.get("function"))
        if fn is None:
            raise ConfigError(f"Lambda layer {config.get('name')!r} wraps function {config.get('function')!r}: "
                              "kerasish never deserializes code, so pass custom_objects={name: function}.")
        config["function"] = fn
    if name in ("Functional", "Sequential", "Model"):
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)
