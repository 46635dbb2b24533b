"""Host arrays the CPU device reads where they lie: no copy of the rows a call reads.

JAX's CPU client uses a NumPy array's memory as the device buffer when the data starts on a 64-byte boundary, and
copies any other array. A user's array seldom starts there (NumPy's large allocations start 16 bytes past one).
:func:`view` therefore hands JAX a one-dimensional view of the array's memory from the 64-byte boundary at or before
the first element it needs to the one at or after the last: an :class:`InPlace`, which knows how many elements
(``offset``) precede the rows it stands for, and gives those rows by slicing (:meth:`InPlace.block`) or gathering
(:meth:`InPlace.rows`) inside the jitted program.

The up to 63 bytes a view reads before its first element and after its last lie in the same 64-byte lines, so in
the same pages, as those elements: always readable. They are never part of a batch. The view keeps the array
alive, and is never written: JAX's buffers are immutable, and no program that takes a view donates it.

Two users (CPU, one process, no distribution):

* **Fused host calls over arrays read in order** (``evaluate``, ``predict``, validation, an unshuffled ``fit``):
  a call's k batches are one contiguous run of rows, so the call takes a view of them (:func:`windows`) instead
  of a copy into a staging buffer (:mod:`kerasish.engine.staging`). The view's length depends only on k, the
  batch size and where the run starts within a 64-byte line (two lengths at most), so a new number of samples
  compiles nothing. Measured on 2 cores, alternating in one process, against a loop over data kept on the device:
  the 784-512-512-10 MLP's evaluate went from 0.88-0.92x (staged) to 0.95-0.98x, its predict from 0.91-0.93x to
  0.95x (4-5 rounds each); in the recorded run (``benchmarks/RESULTS.md``), evaluate 0.99x and predict 0.94x.
* **Resident data** (:mod:`kerasish.engine.resident`, when asked for on the CPU): the whole arrays placed
  without a copy.

A caller may change an array between calls: a view lives no longer than the call (the resident arrays: the ``fit``,
``evaluate`` or ``predict`` call) that reads it. Changing an array from another thread while a call reads it is
a race, as it is on the host path.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.engine import staging

ALIGN = staging.ALIGN
ENABLED = True  # fused calls over arrays read in order take views (tests turn it off for the copying oracle)


@jax.tree_util.register_pytree_node_class
class InPlace:
    """Rows of shape ``row_shape``, laid out as ``lead`` (``(n,)`` for a whole array, ``(k, batch_size)`` for a
    call's batches), starting ``offset`` elements into ``flat`` (a device array over the host memory)."""

    def __init__(self, flat, offset, lead: tuple, row_shape: tuple):
        self.flat, self.offset, self.lead, self.row_shape = flat, offset, lead, row_shape

    @property
    def shape(self) -> tuple:
        return self.lead + self.row_shape

    def tree_flatten(self):
        return (self.flat, self.offset), (self.lead, self.row_shape)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, *aux)

    def block(self, start, count: int):
        """Rows ``start .. start + count`` (counted over the lead axes flattened): one slice of the view, through
        an optimization barrier, so that the step gets a whole array, as it gets a gather's, and XLA does not fuse
        the slice into the step's reductions (which could then sum in another order than the copying path)."""
        size = math.prod(self.row_shape)
        flat = jax.lax.dynamic_slice(self.flat, (self.offset + start * size,), (count * size,))
        return jax.lax.optimization_barrier(flat.reshape((count,) + self.row_shape))

    def rows(self, index):
        """The rows ``index`` (an int32 vector), gathered: one contiguous slice of the view per row."""
        size = math.prod(self.row_shape)
        starts = self.offset + index * size
        flat = jax.vmap(lambda start: jax.lax.dynamic_slice(self.flat, (start,), (size,)))(starts)
        return flat.reshape(index.shape + self.row_shape)


def is_in_place(a) -> bool:
    return isinstance(a, InPlace)


class _Interface:
    """A buffer described by NumPy's array interface, read-only, keeping its owner (the array it reads) alive."""

    def __init__(self, address: int, length: int, dtype: np.dtype, owner: np.ndarray):
        self.owner = owner
        self.__array_interface__ = {"data": (address, True), "shape": (length,), "typestr": dtype.str, "version": 3}


def view(a: np.ndarray, first: int = 0, stop: int | None = None, lead: tuple | None = None) -> InPlace | None:
    """Rows ``first .. stop`` of ``a`` as an :class:`InPlace` over ``a``'s memory (``lead``: their layout, by
    default one axis), or None where JAX could not use it in place: ``a`` not C-contiguous, its data at an
    address that is not a multiple of its item size, or a view too long for int32 positions."""
    stop = a.shape[0] if stop is None else stop
    itemsize = a.dtype.itemsize
    if not a.flags.c_contiguous or ALIGN % itemsize or a.ctypes.data % itemsize:
        return None
    row = itemsize * math.prod(a.shape[1:])
    start, end = a.ctypes.data + first * row, a.ctypes.data + stop * row
    low, high = start - start % ALIGN, end + (-end) % ALIGN
    length = (high - low) // itemsize
    if length >= 2**31:
        return None
    flat = np.asarray(_Interface(low, length, a.dtype, a))
    return InPlace(jax.device_put(flat), np.int32((start - low) // itemsize), lead or (stop - first,), a.shape[1:])


def whole(a) -> InPlace | jax.Array:
    """All of ``a`` read where it lies (copied first to an aligned buffer where :func:`view` cannot take it as it
    is; an array too long for int32 positions is copied to the device as usual)."""
    a = np.asarray(a)
    placed = view(a)
    if placed is None:
        copy = staging.aligned_empty(a.shape, a.dtype)
        np.copyto(copy, a)
        placed = view(copy)
    return placed if placed is not None else jax.device_put(a)


def windows(tree, first: int, stop: int, lead: tuple):
    """Rows ``first .. stop`` of every array of ``tree`` as views laid out as ``lead``, or None if any array
    cannot be viewed (the call then copies, as before)."""
    if not ENABLED:
        return None
    leaves, treedef = jax.tree.flatten(tree)
    views = [view(a, first, stop, lead) if isinstance(a, np.ndarray) else None for a in leaves]
    if any(v is None for v in views):
        return None
    return jax.tree.unflatten(treedef, views)


def batch(tree, i, size: int):
    """Batch ``i`` (of ``size`` rows) of a fused call's batches: views sliced, stacked arrays (``(k, size, ...)``)
    gathered."""
    rows = i * size + jnp.arange(size)
    return jax.tree.map(lambda a: a.block(i * size, size) if isinstance(a, InPlace)
                        else jnp.take(a.reshape((-1,) + a.shape[2:]), rows, axis=0, mode="clip"), tree, is_leaf=is_in_place)


def has_views(tree) -> bool:
    return any(isinstance(a, InPlace) for a in jax.tree.leaves(tree, is_leaf=is_in_place))
