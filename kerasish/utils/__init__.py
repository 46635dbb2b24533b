"""Utilities: seeding, the compilation cache, PyDataset, pad_sequences and to_categorical."""

from kerasish.engine.compilation_cache import disable_compilation_cache, enable_compilation_cache
from kerasish.utils.py_dataset import PyDataset, Sequence
from kerasish.utils.random import set_random_seed
from kerasish.utils.sequences import pad_sequences, to_categorical

__all__ = ["PyDataset", "Sequence", "disable_compilation_cache", "enable_compilation_cache", "pad_sequences",
           "set_random_seed", "to_categorical"]
