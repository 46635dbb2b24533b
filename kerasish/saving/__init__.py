"""Saving and loading: ``.kerasish`` model files, safetensors weights, JSON configs, a registry of classes.

Nothing is pickled and no code is read from a file: class names resolve through
kerasish's layers, classes registered with :func:`register_serializable`, the
``custom_object_scope`` blocks active, and the ``custom_objects`` the caller passes.
"""

from kerasish.saving.registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    register_serializable,
)

# Loaded on first use: the registry is imported by every layer class as it is defined, and must not
# pull the file formats (and through them the engine) in with it.
_LAZY = {
    "load_model": "api", "save_model": "api", "load_weights": "api", "save_weights": "api",
    "model_from_json": "model_file", "serialize_keras_object": "serialization",
    "deserialize_keras_object": "serialization",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kerasish.saving.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kerasish.saving' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CustomObjectScope", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
    "get_registered_name", "get_registered_object", "load_model", "load_weights", "model_from_json",
    "register_keras_serializable", "register_serializable", "save_model", "save_weights", "serialize_keras_object",
]
