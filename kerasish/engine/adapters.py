"""Data adapters: NumPy/JAX arrays (and structures of them) or Python iterables of batches.

Everything is checked on the host before any compute: numeric dtypes, matching
sample counts, non-empty data, optionally finite values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import jax
import numpy as np

from kerasish.errors import InputError


def is_array(x) -> bool:
    return isinstance(x, (np.ndarray, jax.Array)) or (hasattr(x, "shape") and hasattr(x, "dtype"))


def is_array_struct(x) -> bool:
    """True for an array, or a (nested) list/tuple/dict whose leaves are all arrays."""
    if x is None:
        return True
    if is_array(x):
        return True
    if isinstance(x, dict):
        return all(is_array_struct(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(is_array_struct(v) for v in x)
    return False


def named_leaves(x, prefix: str) -> list[tuple[str, Any]]:
    """Leaves of a data structure with readable names (``x``, ``x[0]``, ``y['cls']``)."""
    if x is None:
        return []
    if isinstance(x, dict):
        return [item for k, v in x.items() for item in named_leaves(v, f"{prefix}[{k!r}]")]
    if isinstance(x, (list, tuple)):
        return [item for i, v in enumerate(x) for item in named_leaves(v, f"{prefix}[{i}]")]
    return [(prefix, x)]


def to_numpy_struct(x, prefix: str, check_finite: bool = False):
    """Convert every leaf to a NumPy array, raising InputError for non-numeric or non-finite data."""
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: to_numpy_struct(v, f"{prefix}[{k!r}]", check_finite) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_numpy_struct(v, f"{prefix}[{i}]", check_finite) for i, v in enumerate(x)]
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is bad input
        raise InputError(f"{prefix} cannot be converted to an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind in "USVOMm":
        raise InputError(
            f"{prefix} must be numeric, but it has dtype {arr.dtype} (e.g. {arr.reshape(-1)[:1].tolist()})."
        )
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.int64:
        arr = arr.astype(np.int32)
    if arr.ndim == 0:
        raise InputError(f"{prefix} must have a batch dimension, got a scalar.")
    if check_finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InputError(f"{prefix} contains {bad} NaN or infinite value(s) (check_finite=True).")
    return arr


def num_samples(named: list[tuple[str, np.ndarray]]) -> int:
    counts = {name: int(a.shape[0]) for name, a in named}
    if len(set(counts.values())) > 1:
        desc = ", ".join(f"{name} has {n}" for name, n in counts.items())
        raise InputError(f"All inputs must have the same number of samples: {desc}.")
    n = next(iter(counts.values()))
    if n == 0:
        raise InputError("The data is empty: 0 samples were given.")
    return n


def take(x, index):
    if x is None:
        return None
    return jax.tree.map(lambda a: a[index], x)


class ArrayData:
    """Batches over in-memory arrays, shuffled by index each epoch when asked."""

    def __init__(self, x, y=None, sample_weight=None, batch_size: int = 32, shuffle: bool = False,
                 check_finite: bool = False):
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.x = to_numpy_struct(x, "x", check_finite)
        self.y = to_numpy_struct(y, "y", check_finite)
        self.sample_weight = to_numpy_struct(sample_weight, "sample_weight", check_finite)
        named = named_leaves(self.x, "x") + named_leaves(self.y, "y") + named_leaves(self.sample_weight, "sample_weight")
        self.n = num_samples(named)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.max_steps: int | None = None

    @property
    def steps(self) -> int:
        full = math.ceil(self.n / self.batch_size)
        return full if self.max_steps is None else min(full, self.max_steps)

    def first_x(self):
        return self.x

    def batches(self, rng: np.random.Generator | None = None) -> Iterator[tuple]:
        order = rng.permutation(self.n) if (self.shuffle and rng is not None) else None
        for step, start in enumerate(range(0, self.n, self.batch_size)):
            if self.max_steps is not None and step >= self.max_steps:
                return
            stop = min(start + self.batch_size, self.n)
            index = order[start:stop] if order is not None else slice(start, stop)
            yield take(self.x, index), take(self.y, index), take(self.sample_weight, index)


def split_validation(x, y, sample_weight, fraction: float):
    """Keras's validation_split: the last ``fraction`` of the samples, taken before any shuffling."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"validation_split must be in (0, 1), got {fraction!r}.")
    named = named_leaves(x, "x") + named_leaves(y, "y") + named_leaves(sample_weight, "sample_weight")
    n = num_samples([(name, np.asarray(a)) for name, a in named])
    split = int(n * (1.0 - fraction))
    if split == 0 or split == n:
        raise InputError(f"validation_split={fraction} leaves an empty set with {n} samples.")
    head, tail = slice(0, split), slice(split, n)

    def part(s, idx):
        return None if s is None else jax.tree.map(lambda a: np.asarray(a)[idx], s)

    return (part(x, head), part(y, head), part(sample_weight, head)), (part(x, tail), part(y, tail),
                                                                       part(sample_weight, tail))


def unpack_batch(item, allow_x_only: bool):
    """``(x, y[, sample_weight])`` from one item of an iterable."""
    if isinstance(item, tuple):
        if len(item) == 1:
            return item[0], None, None
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item
        raise InputError(f"A data batch must be (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(item)}.")
    if allow_x_only:
        return item, None, None
    raise InputError(f"A data batch must be a tuple (x, y[, sample_weight]), got {type(item).__name__}.")


class IterableData:
    """Batches from a Python generator or iterable of ``(x, y[, sample_weight])`` tuples.

    A re-iterable object (a list, a Sequence) starts again each epoch; a one-shot
    iterator (a generator) continues where the last epoch stopped.
    """

    def __init__(self, data: Iterable, steps: int | None = None, allow_x_only: bool = False,
                 check_finite: bool = False):
        self.data = data
        self._steps = steps
        self.allow_x_only = allow_x_only
        self.check_finite = check_finite
        self._iterator = iter(data) if isinstance(data, Iterator) else None
        self.exhausted = False
        self.batch_size = None
        self._peeked = None

    @property
    def steps(self) -> int | None:
        if self._steps is not None:
            return self._steps
        try:
            return len(self.data)  # type: ignore[arg-type]
        except TypeError:
            return None

    def _convert(self, item):
        x, y, sw = unpack_batch(item, self.allow_x_only)
        x = to_numpy_struct(x, "x", self.check_finite)
        y = to_numpy_struct(y, "y", self.check_finite)
        sw = to_numpy_struct(sw, "sample_weight", self.check_finite)
        n = num_samples(named_leaves(x, "x") + named_leaves(y, "y") + named_leaves(sw, "sample_weight"))
        if self.batch_size is None:
            self.batch_size = n  # later, shorter batches are padded to this size
        return x, y, sw

    def peek(self) -> tuple:
        """The first batch, kept so that the next epoch of a one-shot iterator still yields it."""
        if self._iterator is None:
            item = next(iter(self.data), None)
            if item is None:
                raise InputError("The data is empty: the iterable yielded no batch.")
            return self._convert(item)
        if self._peeked is None:
            item = next(self._iterator, None)
            if item is None:
                raise InputError("The data is empty: the generator yielded no batch.")
            self._peeked = self._convert(item)
        return self._peeked

    def batches(self, rng=None) -> Iterator[tuple]:
        it = self._iterator if self._iterator is not None else iter(self.data)
        count = 0
        while self._steps is None or count < self._steps:
            if self._peeked is not None:
                batch, self._peeked = self._peeked, None
            else:
                try:
                    item = next(it)
                except StopIteration:
                    if self._iterator is not None:
                        self.exhausted = True
                    return
                batch = self._convert(item)
            count += 1
            yield batch


def make_data(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None, allow_x_only=False,
              check_finite=False):
    """ArrayData for arrays, IterableData for generators/iterables; InputError for anything else."""
    if x is None:
        raise InputError("No data: x is None.")
    if is_array_struct(x):
        if y is not None and not is_array_struct(y):
            raise InputError(f"y must be an array or a list/dict of arrays when x is, got {type(y).__name__}.")
        data = ArrayData(x, y, sample_weight, 32 if batch_size is None else batch_size, shuffle, check_finite)
        if steps is not None:
            data.max_steps = int(steps)
        return data
    if isinstance(x, Iterable) and not isinstance(x, (str, bytes)):
        if y is not None:
            raise InputError("When x is a generator or iterable of batches, y must be None (the batches carry y).")
        return IterableData(x, steps, allow_x_only, check_finite)
    raise InputError(f"Unsupported type for x: {type(x).__name__}. Give NumPy/JAX arrays (or lists/dicts of them) "
                     "or a generator of (x, y[, sample_weight]) batches.")
