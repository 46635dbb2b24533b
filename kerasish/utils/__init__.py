"""Utilities: seeding, the compilation cache and PyDataset."""

from kerasish.engine.compilation_cache import disable_compilation_cache, enable_compilation_cache
from kerasish.utils.py_dataset import PyDataset, Sequence
from kerasish.utils.random import set_random_seed

__all__ = ["PyDataset", "Sequence", "disable_compilation_cache", "enable_compilation_cache", "set_random_seed"]
