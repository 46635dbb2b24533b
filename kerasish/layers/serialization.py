"""``kerasish.layers.serialize`` / ``deserialize``: a layer to and from Keras 3's config dict."""

from __future__ import annotations

from kerasish.errors import ConfigError
from kerasish.layers.base import Layer


def serialize(layer) -> dict:
    """The layer's config dict in Keras's format (``module``, ``class_name``, ``config``, ``registered_name``,
    ``build_config`` when built), as ``keras.layers.serialize``."""
    from kerasish.saving.serialization import serialize_keras_object

    if not isinstance(layer, Layer):
        raise ConfigError(f"layers.serialize needs a kerasish Layer, got {type(layer).__name__}.")
    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """A new layer from its config dict, as ``keras.layers.deserialize``.

    Class names resolve among kerasish's layers, classes registered with
    ``kerasish.saving.register_serializable`` and ``custom_objects`` (never by importing a module a config
    names). A config of anything but a layer raises ConfigError.
    """
    from kerasish.saving.serialization import deserialize_keras_object

    if not isinstance(config, dict):
        raise ConfigError(f"layers.deserialize needs a layer's config dict, got {config!r}.")
    layer = deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(layer, Layer):
        raise ConfigError(f"layers.deserialize was given the config of a {type(layer).__name__}, not a layer: "
                          f"{config!r}.")
    return layer
