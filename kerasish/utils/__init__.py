"""Utilities: seeding and the compilation cache."""

from kerasish.engine.compilation_cache import disable_compilation_cache, enable_compilation_cache
from kerasish.utils.random import set_random_seed

__all__ = ["disable_compilation_cache", "enable_compilation_cache", "set_random_seed"]
