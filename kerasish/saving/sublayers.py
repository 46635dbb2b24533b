"""Nested layers in configs (a wrapper's layer, an RNN's cell, a model's layers) as Keras 3 writes them."""

from __future__ import annotations

from kerasish.errors import ConfigError


def serialize_sublayer(layer) -> dict:
    """A nested layer (a wrapper's layer, an RNN's cell) as Keras 3 writes it: ``module``, ``class_name``,
    ``config``, ``registered_name`` (and ``build_config`` once built)."""
    from kerasish.saving.serialization import serialize_keras_object

    entry = serialize_keras_object(layer)
    if "build_config" in entry and hasattr(layer, "get_build_config"):
        build = layer.get_build_config()  # Keras's form (MultiHeadAttention names its shapes)
        if build is None:
            entry.pop("build_config")
        else:
            entry["build_config"] = serialize_keras_object(build)
    return entry


def deserialize_sublayer(entry, custom_objects: dict | None = None):
    """The layer :func:`serialize_sublayer` (or Keras, or an older kerasish config) wrote."""
    from kerasish.saving import registry

    if not isinstance(entry, dict):
        raise ConfigError(f"A nested layer must be given as its config dict, got {entry!r}.")
    name = entry.get("class_name")
    registered = entry.get("registered_name")
    if isinstance(registered, str) and registered != name and (
            registry.get_registered_object(registered, custom_objects) is not None):
        name = registered
    layer = registry.deserialize_layer({"class_name": name, "config": entry.get("config", {})}, custom_objects)
    build = entry.get("build_config")
    if isinstance(build, dict) and build.get("input_shape") is not None and not layer.built:
        layer._maybe_build(_as_shape(build["input_shape"]))  # as Keras: a nested layer comes back built
    return layer


def _as_shape(value):
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, int) for v in value):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        return [_as_shape(v) for v in value]
    return value
