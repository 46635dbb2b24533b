"""Saving and loading: ``.kerasish`` model files, safetensors weights, JSON configs, a registry of classes.

Nothing is pickled and no code is read from a file: class names resolve through
kerasish's layers, classes registered with :func:`register_serializable`, and
the ``custom_objects`` the caller passes.
"""

from kerasish.saving.registry import (
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    register_serializable,
)


def __getattr__(name: str):
    # Loaded on first use: the registry is imported by every layer class as it is defined, and must not
    # pull the file formats (and through them the engine) in with it.
    if name in ("load_model", "model_from_json", "save_model"):
        from kerasish.saving import model_file

        return getattr(model_file, name)
    raise AttributeError(f"module 'kerasish.saving' has no attribute {name!r}")


__all__ = [
    "get_registered_name", "get_registered_object", "load_model", "model_from_json", "register_keras_serializable",
    "register_serializable", "save_model",
]
