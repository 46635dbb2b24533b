"""Data adapters: every kind of input that fit/evaluate/predict take.

* NumPy/JAX arrays, torch tensors, pandas ``DataFrame``/``Series`` (and lists/dicts of
  them): :class:`ArrayData`, batched and shuffled by index. A DataFrame becomes one
  ``(N, C)`` array (all its columns, in order; never split by column name: for a model
  with named inputs pass a dict such as ``{"a": df[["a"]], "b": df[["b", "c"]]}``); a
  Series becomes an ``(N,)`` array. ``validation_split`` takes the last rows.
* :class:`kerasish.utils.PyDataset`: :class:`PyDatasetData`, batches by index, fetched
  by ``workers`` threads when asked, ``on_epoch_begin``/``on_epoch_end`` called per pass.
* ``grain.MapDataset`` / ``grain.IterDataset`` / ``grain.DataLoader``, torch ``DataLoader``, and any Python
  generator or iterable: :class:`IterableData`. Every element must already be a batch:
  ``(x, y[, sample_weight])`` (``x`` alone for predict), as in Keras; a re-iterable
  dataset starts again each epoch, a one-shot generator continues. Streams are made into
  batches on a background thread, ahead of the loop, when prefetching is on (by default on
  accelerators: :mod:`kerasish.engine.prefetch`).

Everything is checked on the host before any compute: numeric dtypes, matching
sample counts, non-empty data, optionally finite values. grain, pandas and torch are
never imported here: an object can only be one of theirs if its module is loaded.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import numpy as np

from kerasish import distribution as distribution_mod
from kerasish.engine import batching, checks, in_place, prefetch, resident, staging
from kerasish.engine.prefetch import Call
from kerasish.errors import InputError
from kerasish.utils.py_dataset import PyDataset


def _loaded_isinstance(x, module: str, *names: str) -> bool:
    """isinstance against ``module.name`` classes, only if that module is already imported."""
    mod = sys.modules.get(module)
    if mod is None:
        return False
    classes = tuple(c for c in (getattr(mod, n, None) for n in names) if isinstance(c, type))
    return bool(classes) and isinstance(x, classes)


def is_pandas(x) -> bool:
    return _loaded_isinstance(x, "pandas", "DataFrame", "Series")


def is_grain_dataset(x) -> bool:
    return _loaded_isinstance(x, "grain", "MapDataset", "IterDataset", "DataLoader")


def is_torch_dataloader(x) -> bool:
    return _loaded_isinstance(x, "torch.utils.data", "DataLoader")


def is_array(x) -> bool:
    return isinstance(x, (np.ndarray, jax.Array)) or is_pandas(x) or (hasattr(x, "shape") and hasattr(x, "dtype"))


def describe(x) -> str:
    """A readable name for the kind of data ``x`` is (for error messages)."""
    if isinstance(x, PyDataset):
        return f"a PyDataset ({type(x).__name__})"
    if is_grain_dataset(x):
        return f"a grain dataset ({type(x).__name__})"
    if is_torch_dataloader(x):
        return "a torch DataLoader"
    if isinstance(x, Iterator):
        return f"a generator/iterator ({type(x).__name__})"
    return f"a {type(x).__name__}"


def _pandas_to_numpy(x, prefix: str) -> np.ndarray:
    pd = sys.modules["pandas"]
    if isinstance(x, pd.DataFrame):
        bad = [f"{c!r} ({t})" for c, t in x.dtypes.items() if getattr(t, "kind", "O") not in "biuf"]
        if bad:
            raise InputError(f"{prefix} is a DataFrame with non-numeric column(s) {', '.join(bad)}; "
                             "encode or drop them first.")
        return x.to_numpy()
    if getattr(x.dtype, "kind", "O") not in "biuf":
        raise InputError(f"{prefix} is a Series {x.name!r} of non-numeric dtype {x.dtype}.")
    return x.to_numpy()


def is_array_struct(x) -> bool:
    """True for an array or a nested list of numbers, or a (nested) list/tuple/dict whose leaves are all arrays."""
    if x is None:
        return True
    if is_array(x) or checks.is_number_list(x):
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
    if isinstance(x, (list, tuple)) and not checks.is_number_list(x):
        return [item for i, v in enumerate(x) for item in named_leaves(v, f"{prefix}[{i}]")]
    return [(prefix, x)]


def to_numpy_struct(x, prefix: str, check_finite: bool = False, where: str = ""):
    """Convert every leaf to a NumPy array, raising InputError for non-numeric, ragged or (``check_finite``)
    non-finite data (``where`` follows the leaf's name in that message: the batch a stream's leaf came from)."""
    if x is None:
        return None
    if isinstance(x, dict):
        return {k: to_numpy_struct(v, f"{prefix}[{k!r}]", check_finite, where) for k, v in x.items()}
    if checks.is_number_list(x):
        try:
            x = np.asarray(x)
        except ValueError:
            raise checks.ragged_error(x, prefix) from None
    elif isinstance(x, (list, tuple)):
        return [to_numpy_struct(v, f"{prefix}[{i}]", check_finite, where) for i, v in enumerate(x)]
    if is_pandas(x):
        x = _pandas_to_numpy(x, prefix)
    elif _loaded_isinstance(x, "torch", "Tensor"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is bad input
        raise InputError(f"{prefix} cannot be converted to an array: {exc}") from None
    arr = checks.numeric_array(prefix, arr)
    if arr.ndim == 0:
        raise InputError(f"{prefix} must have a batch dimension, got a scalar.")
    if check_finite:
        checks.check_finite(prefix, arr, where)
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


take = batching.take
is_number_list = checks.is_number_list  # (the trainer tells validation tuples from lists of numbers)


class ArrayData:
    """Batches over in-memory arrays, shuffled by index each epoch when asked.

    ``batch_size`` is at most the number of samples (under a distribution: that number rounded up to a
    multiple of its devices), so a huge one on small data is one batch of all samples.

    ``check_finite`` (the default): every float array is checked for NaN/inf once, here, in one chunked pass;
    ``label`` prefixes the arrays' names in messages (``"validation "``).
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size: int = 32, shuffle: bool = False,
                 check_finite: bool = True, label: str = ""):
        if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.x = to_numpy_struct(x, f"{label}x", check_finite)
        self.y = to_numpy_struct(y, f"{label}y", check_finite)
        self.sample_weight = to_numpy_struct(sample_weight, f"{label}sample_weight", check_finite)
        named = named_leaves(self.x, "x") + named_leaves(self.y, "y") + named_leaves(self.sample_weight, "sample_weight")
        self.n = num_samples(named)
        # never more rows than the data has (Keras's batches hold at most every sample): 10**9 on 8 samples is one
        # batch of 8, not 10**9 padded rows; under a distribution, the samples rounded up to its device count
        dist = distribution_mod.distribution()
        shards = dist.batch_shards if dist is not None else 1
        self.batch_size = min(int(batch_size), -(-self.n // shards) * shards)
        self.shuffle = shuffle
        self.max_steps: int | None = None
        self._residable: bool | None = None
        self._placed = None  # (folded, device arrays): the arrays placed on the device by this adapter
        self._staging: staging.Staging | None = None  # fused host calls' buffers (CPU), kept across epochs

    @property
    def steps(self) -> int:
        full = math.ceil(self.n / self.batch_size)
        return full if self.max_steps is None else min(full, self.max_steps)

    one_shot = False  # arrays start each epoch from the first batch
    in_memory = True  # gathered by index: any number of steps per call
    exhausted = False

    def peek(self) -> tuple:
        """``(x, y, sample_weight)`` to build the model from and check (for arrays: all of them)."""
        return self.x, self.y, self.sample_weight

    @property
    def residable(self) -> bool:
        """Whether these arrays may live on the device (:mod:`kerasish.engine.resident`)."""
        if self._residable is None:
            self._residable = resident.eligible((self.x, self.y, self.sample_weight))
        return self._residable

    def decision_key(self) -> tuple:
        """What the ``steps_per_execution="auto"`` decision depends on: batch size, sample shapes, and whether
        the arrays can live on the device."""
        shapes = tuple(tuple(np.shape(a)[1:]) for a in jax.tree.leaves(self.x))
        return (self.batch_size, shapes, jax.default_backend()) + (("resident",) if self.residable else ())

    def _on_device(self, source, maker: batching.BatchMaker):
        """The packed arrays on the device, placed by this adapter's first call that gathers there (a fit's first
        epoch; its validation data's first pass) and kept while the class weights folded in stay the same."""
        folded = (maker.class_weight, maker.outputs)
        if self._placed is None or self._placed[0][0] is not folded[0] or self._placed[0][1] != folded[1]:
            self._placed = (folded, resident.place(batching.pack_x_y_sample_weight(*source)))
        return self._placed[1]

    def on_epoch_end(self) -> None:
        """Called by the loops after each pass over the data."""

    def calls(self, policy, maker: batching.BatchMaker, rng: np.random.Generator | None = None, start: int = 0,
              check=None, offset: int = 0, on_device: bool = False) -> Iterator[Call]:
        """The epoch's calls from batch ``start``: one gather per call.

        ``on_device`` (a program that can run resident calls): when the arrays are
        :attr:`residable`, fused calls of full batches gather on the device instead
        (:mod:`kerasish.engine.resident`; the same rows in the same order); only a short last batch
        and single steps are made on the host.

        ``offset``: the epoch's first sample (in its data order), when it lies inside batch ``start``
        (a resume whose backup used another batch size): the first call is that batch's rest alone, a
        short batch, and the later batches are as usual.

        Sample and class weights are combined once per epoch; a call of k steps gathers
        k·batch_size rows at once and reshapes them to (k, batch_size, ...). Full super-batches
        go to the fused program; the few steps left at the end of the epoch run one by one (a
        padded super-batch would cost every fused step a select).
        """
        del check  # checked as a whole before the first call
        n, size = self.n, self.batch_size
        source = (self.x, self.y, batching.weighted(self.y, self.sample_weight, maker.class_weight, maker.outputs))
        order = rng.permutation(n) if (self.shuffle and rng is not None) else None
        dist = distribution_mod.distribution()
        total, step = self.steps, start
        full = min(total, n // size)  # the epoch's full batches: a resident call runs only those
        placed = None  # (device arrays, device order), made when the first fused call is (the probe may fuse later)
        on_device = on_device and self.residable
        while step < total:
            k = policy.k if total - step >= policy.k else 1
            first, stop = step * size, min((step + k) * size, n)
            if step == start and offset > first:  # the rest of the batch the resumed position lies in
                k, first, stop = 1, offset, min((step + 1) * size, n)
            elif on_device and policy.k > 1 and full - step >= policy.k:
                # whole k-step calls of full batches, as the host path makes them (its later calls the same)
                count = min(full - step, policy.call_steps) // policy.k * policy.k
                if placed is None:
                    placed = (self._on_device(source, maker), resident.order_on_device(order, n))
                yield Call(resident.Placed(*placed, first, count, size, full), count, True, count * size, True)
                step += count
                continue
            short = stop - first < k * size  # holds the epoch's partial last batch
            if k > 1 and short and not maker.pad:
                k, stop = 1, min((step + 1) * size, n)  # a custom step's batches are never padded
                short = stop - first < size
            index = order[first:stop] if order is not None else slice(first, stop)
            local = dist.local_rows(k, size) if dist is not None else None
            if k > 1 and stop - first == k * size and local is None and staging.enabled():
                views = None if order is not None else in_place.windows(
                    batching.pack_x_y_sample_weight(*source), first, stop, (k, size))
                if views is not None:  # rows in order: the call reads them where they lie (no copy)
                    yield Call((views, None), k, True, stop - first)
                    step += k
                    continue
                if self._staging is None:
                    self._staging = staging.Staging()
                data, slot = self._staging.gather(batching.pack_x_y_sample_weight(*source), index)
                yield Call((batching.split_steps(data, k, size), None), k, True, stop - first,
                           staged=(self._staging, slot))
                step += k
                continue
            x, y, sw = take(source, index) if local is None else batching.take_local(source, index, local, first, stop)
            if k == 1:
                yield Call(maker.make(x, y, sw, pad_to=size, class_weighted=True), 1, False, stop - first)
            elif short:  # the padded super-batch of a short epoch's end: its mask marks the real rows
                data, mask = maker.make(x, y, sw, pad_to=k * size, class_weighted=True)
                yield Call(batching.split_steps((data, mask), k, size), k, True, stop - first)
            else:
                data = batching.split_steps(batching.pack_x_y_sample_weight(x, y, sw), k, size)
                yield Call((data, None), k, True, stop - first)
            step += k


def split_validation(x, y, sample_weight, fraction: float, check_finite: bool = False):
    """Keras's validation_split: the last ``fraction`` of the samples, taken before any shuffling
    (``check_finite``: the whole arrays checked first, so that a message gives the user's sample index)."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"validation_split must be in (0, 1), got {fraction!r}.")
    if not is_array_struct(x):
        raise InputError(f"validation_split is only supported for array inputs, but x is {describe(x)}; "
                         "give validation_data instead.")
    x, y = to_numpy_struct(x, "x", check_finite), to_numpy_struct(y, "y", check_finite)
    sample_weight = to_numpy_struct(sample_weight, "sample_weight", check_finite)
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


def unpack_batch(item, allow_x_only: bool, where: str = "A data batch", lists: bool = False):
    """``(x, y[, sample_weight])`` from one item of an iterable.

    ``lists``: a list is a batch tuple too (PyDataset, grain and torch batches, as Keras).
    """
    kind = type(item).__name__
    if lists and isinstance(item, list):
        item = tuple(item)
    if isinstance(item, tuple):
        if len(item) == 1:
            return item[0], None, None
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item
        raise InputError(f"{where} must be (x,), (x, y) or (x, y, sample_weight); got a {kind} of {len(item)} items.")
    if allow_x_only:
        return item, None, None
    raise InputError(f"{where} must be a tuple (x, y[, sample_weight]), got {type(item).__name__}.")


class IterableData:
    """Batches from a Python generator or iterable of ``(x, y[, sample_weight])`` tuples.

    A re-iterable object (a list, a Sequence) starts again each epoch; a one-shot
    iterator (a generator) continues where the last epoch stopped.
    """

    def __init__(self, data: Iterable, steps: int | None = None, allow_x_only: bool = False,
                 check_finite: bool = False, source: str = "A data batch", lists: bool = False):
        self.data = data
        self.source = source
        self.lists = lists
        self._steps = steps
        self.allow_x_only = allow_x_only
        self.check_finite = check_finite
        self._iterator = iter(data) if isinstance(data, Iterator) else None
        self.exhausted = False
        self.batch_size = None
        self._peeked = None
        self._lock = threading.Lock()  # held while the user's iterator is advanced (see prefetch)

    @property
    def steps(self) -> int | None:
        if self._steps is not None:
            return self._steps
        try:
            n = len(self.data)  # type: ignore[arg-type]
        except TypeError:
            return None
        return None if n >= sys.maxsize else n  # a repeated grain dataset reports sys.maxsize

    def on_epoch_end(self) -> None:
        """Called by the loops after each pass over the data."""

    in_memory = False

    @property
    def one_shot(self) -> bool:
        """A one-shot iterator continues across epochs (and a rerun starts it afresh)."""
        return self._iterator is not None

    def decision_key(self) -> tuple:
        return ("stream", self.batch_size, jax.default_backend())

    def calls(self, policy, maker: batching.BatchMaker, rng=None, start: int = 0, check=None) -> Iterator[Call]:
        """``Call``s over the stream (the first ``start`` batches skipped): k batches stacked into one
        fused call when they share a shape, else one call each. ``check(x, y)`` runs on every batch
        but the first (checked before training). Made on a background thread and placed on the device, up
        to :meth:`prefetch_depth` batches ahead, when that is not 0 (:mod:`kerasish.engine.prefetch`)."""
        calls = prefetch.stream_calls(self.batches(rng), policy, maker, lambda: self.batch_size, start, check)
        return prefetch.prefetched(calls, self.prefetch_depth(),
                                   lambda: policy.k, lambda: not policy.probing, self._lock)

    def prefetch_depth(self) -> int:
        """Batches made ahead of the loop (``kerasish.config.set_prefetch``; 0: none, the default on the CPU)."""
        return prefetch.depth()

    def _convert(self, item):
        x, y, sw = unpack_batch(item, self.allow_x_only, self.source, self.lists)
        where = " of " + (self.source[0].lower() + self.source[1:] if self.source.startswith("A ") else self.source)
        x = to_numpy_struct(x, "x", self.check_finite, where)
        y = to_numpy_struct(y, "y", self.check_finite, where)
        sw = to_numpy_struct(sw, "sample_weight", self.check_finite, where)
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


class PyDatasetData(IterableData):
    """Batches from a :class:`kerasish.utils.PyDataset`, by index.

    ``shuffle`` (fit's) visits a finite dataset's batches in a new order each epoch, drawn
    from the generator passed to :meth:`batches`. With ``workers > 1`` a thread pool
    fetches up to ``max_queue_size`` batches ahead, delivered in order. An infinite
    dataset (``num_batches`` None) needs ``steps``; its indices continue across epochs.
    """

    def __init__(self, dataset: PyDataset, steps: int | None = None, allow_x_only: bool = False,
                 check_finite: bool = False, shuffle: bool = False):
        name = type(dataset).__name__
        super().__init__(dataset, steps, allow_x_only, check_finite, source=f"{name}[0]", lists=True)
        try:
            n = dataset.num_batches
        except NotImplementedError as exc:
            raise InputError(str(exc)) from None
        if n is not None and (not isinstance(n, (int, np.integer)) or n < 0):
            raise InputError(f"{name}.num_batches (len) must be a non-negative integer or None, got {n!r}.")
        if n == 0:
            raise InputError(f"The data is empty: {name} has 0 batches.")
        if n is None and steps is None:
            raise InputError(f"{name} is infinite (num_batches is None): give steps_per_epoch (fit) or steps.")
        self.num_batches = None if n is None else int(n)
        self.shuffle = shuffle and n is not None
        self._next_index = 0  # where an infinite dataset continues
        self._in_epoch = False

    @property
    def steps(self) -> int:
        if self.num_batches is None:
            return int(self._steps)
        return self.num_batches if self._steps is None else min(self.num_batches, int(self._steps))

    def _get(self, index: int):
        try:
            return self.data[index]
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised with the index named
            raise InputError(f"{type(self.data).__name__}.__getitem__({index}) raised "
                             f"{type(exc).__name__}: {exc}") from exc

    def _convert_at(self, index: int, item):
        self.source = f"{type(self.data).__name__}[{index}]"
        return self._convert(item)

    def peek(self) -> tuple:
        return self._convert_at(0, self._get(0))

    def _indices(self, rng) -> list[int]:
        if self.num_batches is None:
            start, self._next_index = self._next_index, self._next_index + self.steps
            return list(range(start, start + self.steps))
        order = rng.permutation(self.num_batches) if (self.shuffle and rng is not None) else range(self.num_batches)
        return [int(i) for i in order[:self.steps]]

    def batches(self, rng=None) -> Iterator[tuple]:
        indices = self._indices(rng)
        if not self._in_epoch:
            self._in_epoch = True
            self.data.on_epoch_begin()
        workers = self.data.workers
        if workers <= 1:
            for i in indices:
                yield self._convert_at(i, self._get(i))
            return
        pool = ThreadPoolExecutor(workers, thread_name_prefix=f"{type(self.data).__name__}-worker")
        pending: list = []
        try:
            ahead = max(1, self.data.max_queue_size)
            feed = iter(indices)
            for i in itertools.islice(feed, ahead):
                pending.append((i, pool.submit(self._get, i)))
            while pending:
                i, future = pending.pop(0)
                item = future.result()
                nxt = next(feed, None)
                if nxt is not None:
                    pending.append((nxt, pool.submit(self._get, nxt)))
                yield self._convert_at(i, item)
        finally:
            for _, future in pending:
                future.cancel()
            pool.shutdown(wait=True)  # no fetch runs on while on_epoch_end changes the dataset

    def prefetch_depth(self) -> int:
        """The dataset's ``max_queue_size`` batches made ahead, when prefetching is on (see ``IterableData``)."""
        return self.data.max_queue_size if prefetch.depth() > 0 else 0

    def on_epoch_end(self) -> None:
        self._in_epoch = False
        self.data.on_epoch_end()


def make_data(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None, allow_x_only=False,
              check_finite=None, label: str = ""):
    """ArrayData for arrays, nested lists of numbers (and pandas), PyDatasetData for a PyDataset, IterableData for
    grain datasets, torch DataLoaders and other iterables of batches; InputError for anything else.

    ``check_finite``: None (the default) checks arrays for NaN/inf once, before training, and streams not at all;
    True checks streams too, every batch as it arrives; False checks nothing.
    """
    stream_finite = check_finite is True
    check_finite = check_finite is not False
    if x is None:
        raise InputError("No data: x is None.")
    for arg, value in (("x", x), ("y", y), ("sample_weight", sample_weight)):
        bad = checks.first_non_number(value)
        if bad is not None:
            raise InputError(f"{arg} is a nested list holding a non-number at {arg}{bad}; data given as lists must "
                             "hold numbers only (or give a NumPy array).")
    if isinstance(x, PyDataset) or is_grain_dataset(x) or is_torch_dataloader(x):
        for arg, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise InputError(f"x is {describe(x)}, so {arg} must be None: its batches carry {arg}.")
        if isinstance(x, PyDataset):
            return PyDatasetData(x, steps, allow_x_only, stream_finite, shuffle)
        return IterableData(x, steps, allow_x_only, stream_finite, source=f"A batch of {describe(x)}", lists=True)
    if is_array_struct(x):
        if y is not None and not is_array_struct(y):
            raise InputError(f"y must be an array or a list/dict of arrays when x is, got {type(y).__name__}.")
        data = ArrayData(x, y, sample_weight, 32 if batch_size is None else batch_size, shuffle, check_finite, label)
        if steps is not None:
            data.max_steps = int(steps)
        return data
    if isinstance(x, Iterable) and not isinstance(x, (str, bytes)):
        for arg, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise InputError(f"When x is a generator or iterable of batches, {arg} must be None "
                                 f"(the batches carry {arg}).")
        return IterableData(x, steps, allow_x_only, stream_finite)
    raise InputError(f"Unsupported type for x: {type(x).__name__}. Give NumPy/JAX arrays (or lists/dicts of them) "
                     "or a generator of (x, y[, sample_weight]) batches.")
