"""Utilities: seeding and small helpers."""

from kerasish.utils.random import set_random_seed

__all__ = ["set_random_seed"]
