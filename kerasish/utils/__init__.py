"""Utilities: seeding, the compilation cache, PyDataset, datasets from arrays and folders, image files,
serialization, Progbar, and Keras's batch packing.

This package is imported while kerasish's layers are being defined (``kerasish.utils.random``), so the
names in ``_LAZY`` (which need layers, models, initializers or saving) are loaded on first use.
"""

from kerasish.backend import clear_session, is_keras_tensor
from kerasish.engine.compilation_cache import disable_compilation_cache, enable_compilation_cache
from kerasish.saving.registry import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from kerasish.utils.batches import pack_x_y_sample_weight, unpack_x_y_sample_weight
from kerasish.utils.config import Config
from kerasish.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from kerasish.utils.progbar import Progbar
from kerasish.utils.py_dataset import PyDataset, Sequence
from kerasish.utils.random import set_random_seed
from kerasish.utils.sequences import pad_sequences, to_categorical

_LAZY = {
    "kerasish.saving.serialization": ("deserialize_keras_object", "serialize_keras_object"),
    "kerasish.utils.dataset_utils": ("split_dataset", "timeseries_dataset_from_array"),
    "kerasish.utils.directory_datasets": ("image_dataset_from_directory", "text_dataset_from_directory"),
    "kerasish.utils.files": ("get_file",),
    "kerasish.utils.images": ("array_to_img", "img_to_array", "load_img", "save_img"),
    "kerasish.utils.misc": ("get_source_inputs", "model_to_dot", "normalize", "plot_model", "standardize_dtype"),
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'kerasish.utils' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_WHERE})


__all__ = [
    "Config", "CustomObjectScope", "Progbar", "PyDataset", "Sequence", "array_to_img", "clear_session",
    "custom_object_scope", "deserialize_keras_object", "disable_compilation_cache", "disable_interactive_logging",
    "enable_compilation_cache", "enable_interactive_logging", "get_custom_objects", "get_file", "get_registered_name",
    "get_registered_object", "get_source_inputs", "image_dataset_from_directory", "img_to_array",
    "is_interactive_logging_enabled", "is_keras_tensor", "load_img", "model_to_dot", "normalize",
    "pack_x_y_sample_weight", "pad_sequences", "plot_model", "register_keras_serializable", "save_img",
    "serialize_keras_object", "set_random_seed", "split_dataset", "standardize_dtype", "text_dataset_from_directory",
    "timeseries_dataset_from_array", "to_categorical", "unpack_x_y_sample_weight",
]
