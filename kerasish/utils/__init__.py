"""Utilities: seeding, the compilation cache, PyDataset, pad_sequences, to_categorical and Keras's batch packing."""

from kerasish.engine.compilation_cache import disable_compilation_cache, enable_compilation_cache
from kerasish.utils.batches import pack_x_y_sample_weight, unpack_x_y_sample_weight
from kerasish.utils.py_dataset import PyDataset, Sequence
from kerasish.utils.random import set_random_seed
from kerasish.utils.sequences import pad_sequences, to_categorical

__all__ = ["PyDataset", "Sequence", "disable_compilation_cache", "enable_compilation_cache", "pack_x_y_sample_weight",
           "pad_sequences", "set_random_seed", "to_categorical", "unpack_x_y_sample_weight"]
