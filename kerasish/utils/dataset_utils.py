"""Datasets built from arrays: ``timeseries_dataset_from_array`` and ``split_dataset`` (Keras's names).

Keras returns ``tf.data.Dataset`` objects (or Grain datasets); kerasish needs no TensorFlow and returns a
:class:`~kerasish.utils.PyDataset` of NumPy batches instead, which ``fit``, ``evaluate`` and ``predict``
take as they are and which can be iterated (``for x, y in dataset``), indexed (``dataset[i]``) and
measured (``len(dataset)``, the number of batches). There is no ``.map``/``.prefetch``: what those do in a
tf.data pipeline goes into a ``PyDataset`` subclass or the model.
"""

from __future__ import annotations

import math

import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.utils.py_dataset import PyDataset


class BatchedDataset(PyDataset):
    """Batches of samples drawn from a function ``sample(indices) -> batch`` over ``count`` samples.

    With ``batch_size=None`` each item is one sample (no batch axis), as an unbatched tf.data dataset.
    """

    def __init__(self, count: int, sample, batch_size: int | None):
        super().__init__()
        self._count, self._sample, self.batch_size = int(count), sample, batch_size

    def __len__(self) -> int:
        if self.batch_size is None:
            return self._count
        return math.ceil(self._count / self.batch_size)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for a dataset of {len(self)} items.")
        index %= len(self)
        if self.batch_size is None:
            return self._sample(np.array([index]), single=True)
        return self._sample(np.arange(index * self.batch_size, min((index + 1) * self.batch_size, self._count)))

    @property
    def cardinality(self) -> int:
        """The number of items (batches), as tf.data's ``cardinality()``."""
        return len(self)


def _positive_int(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def timeseries_dataset_from_array(data, targets, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128, shuffle: bool = False,
                                  seed=None, start_index=None, end_index=None, format: str = "tf"):
    """Sliding windows over a time series, in batches (Keras's arguments and windows).

    Window ``i`` holds ``data[s], data[s + r], ..., data[s + (sequence_length - 1) * r]`` with
    ``s = start_index + i * sequence_stride`` and ``r = sampling_rate``; its target is ``targets[s]``.
    Windows stop where a whole one no longer fits before ``end_index`` (and, with targets, where
    ``targets`` end).

    Args:
        data: array-like; axis 0 is time.
        targets: ``targets[i]`` is the target of the window starting at ``i``, or None (batches are then
            the windows alone).
        sequence_length: timesteps per window.
        sequence_stride: steps between the starts of two windows.
        sampling_rate: steps between two timesteps of a window.
        batch_size: windows per batch; None gives single windows.
        shuffle: draw the windows in a random order (NumPy's ``RandomState(seed)``, as Keras's first shuffle).
            ``fit`` also reorders the batches every epoch unless given ``shuffle=False``.
        seed: seed of that shuffle.
        start_index, end_index: use only ``data[start_index:end_index]``.
        format: ``"tf"`` or ``"grain"`` (accepted for Keras's sake): kerasish returns its own dataset either way.

    Returns:
        A :class:`BatchedDataset` (a PyDataset) of ``(windows, targets)`` NumPy batches, or of ``windows``.
    """
    if format not in ("tf", "grain"):
        raise ConfigError(f"format must be 'tf' or 'grain', got {format!r}.")
    data = np.asarray(data)
    n = len(data)
    sequence_length = _positive_int("sequence_length", sequence_length)
    sequence_stride = _positive_int("sequence_stride", sequence_stride)
    sampling_rate = _positive_int("sampling_rate", sampling_rate)
    batch_size = _positive_int("batch_size", batch_size, allow_none=True)
    if start_index is not None and not 0 <= start_index < n:
        raise ConfigError(f"start_index must be in [0, {n}) (the data's length), got {start_index!r}.")
    if end_index is not None and not ((start_index or 0) < end_index < n):
        raise ConfigError(f"end_index must be in ({start_index or 0}, {n}), got {end_index!r}.")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value >= n:
            raise ConfigError(f"{name} must be lower than the length of the data ({n}), got {value}.")
    start = start_index or 0
    end = n if end_index is None else end_index
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num = min(num, len(targets))
    starts = np.arange(0, max(num, 0), sequence_stride)
    if shuffle:
        np.random.RandomState(np.random.randint(1e6) if seed is None else seed).shuffle(starts)
    offsets = np.arange(sequence_length) * sampling_rate
    window_data = data[start:end]
    target_data = None if targets is None else targets[start:]

    def sample(indices, single: bool = False):
        s = starts[indices]
        windows = window_data[s[:, None] + offsets]
        picked = None if target_data is None else target_data[s]
        if single:
            windows, picked = windows[0], None if picked is None else picked[0]
        return windows if picked is None else (windows, picked)

    return BatchedDataset(len(starts), sample, batch_size)


def _as_arrays(dataset):
    """A dataset as a list of same-length arrays (one per element of a sample), and how to rebuild it."""
    if isinstance(dataset, dict):
        arrays, rebuild = [np.asarray(dataset[k]) for k in dataset], lambda parts: dict(zip(dataset, parts))
    elif isinstance(dataset, tuple):
        arrays, rebuild = [np.asarray(a) for a in dataset], tuple
    elif isinstance(dataset, list) or hasattr(dataset, "__array__"):
        arrays, rebuild = [np.asarray(dataset)], lambda parts: parts[0]
    else:
        raise InputError(f"split_dataset takes an array, a tuple or dict of arrays, or a list of samples; got "
                         f"{type(dataset).__name__} (for a PyDataset, split its source arrays instead).")
    if not arrays or any(a.ndim == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
        raise InputError(f"split_dataset: the arrays must have the same length along axis 0, got shapes "
                         f"{[a.shape for a in arrays]}.")
    return arrays, rebuild


def _sizes(total: int, left_size, right_size) -> tuple[int, int]:
    def count(size, name):
        if size is None:
            return None
        if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) or size < 0:
            raise ConfigError(f"{name} must be a non-negative int or a float in (0, 1), got {size!r}.")
        if isinstance(size, (float, np.floating)):
            if not 0 < size < 1:
                raise ConfigError(f"{name} as a fraction must be in (0, 1), got {size!r}.")
            return round(size * total)
        if size > total:
            raise ConfigError(f"{name}={size} is larger than the dataset ({total} samples).")
        return int(size)

    left, right = count(left_size, "left_size"), count(right_size, "right_size")
    if left is None and right is None:
        raise ConfigError("split_dataset needs left_size or right_size (or both).")
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ConfigError(f"left_size and right_size add up to {left + right}, more than the {total} samples.")
    if left == 0 or right == 0:
        raise ConfigError(f"Both splits must hold samples; got {left} and {right} of {total}.")
    return left, right


def split_dataset(dataset, left_size=None, right_size=None, shuffle: bool = False, seed=None,
                  preferred_backend=None):
    """Split a dataset in two (Keras's arguments).

    Args:
        dataset: a NumPy array, a tuple of same-length arrays (``(x, y)``), a dict of them, or a list of
            samples.
        left_size, right_size: an int (a number of samples) or a float in (0, 1) (a fraction); one may be
            None (the rest). As in Keras, a fraction is rounded to the nearest count.
        shuffle: shuffle the samples before splitting (NumPy's generator seeded with ``seed``).
        seed: the shuffle's seed.
        preferred_backend: accepted for Keras's sake and ignored.

    Returns:
        ``(left, right)`` in the structure of ``dataset`` (arrays, tuples or dicts of arrays). Keras returns
        two ``tf.data.Dataset`` objects of single samples; batch these with ``fit(batch_size=...)``.
    """
    del preferred_backend
    arrays, rebuild = _as_arrays(dataset)
    total = len(arrays[0])
    left, right = _sizes(total, left_size, right_size)
    order = np.arange(total)
    if shuffle:
        np.random.default_rng(seed).shuffle(order)
    left_idx, right_idx = order[:left], order[left:left + right]
    return rebuild([a[left_idx] for a in arrays]), rebuild([a[right_idx] for a in arrays])
