"""Masks that travel with arrays from layer to layer, as Keras's ``_keras_mask``.

A mask is a boolean array, ``(batch, steps)`` for sequences, that marks the real
(non-padding) entries of a layer's output. ``Embedding(mask_zero=True)`` and
``Masking`` make one; layers that declare a ``mask`` argument (LSTM, attention,
GlobalAveragePooling1D, ...) receive it; layers with ``supports_masking = True`` pass it
on, and ``compute_mask`` decides what a layer's output mask is.

JAX arrays that are tracers take no new attributes, so masks live in a side table keyed by
the array's ``id`` and cleared when the array dies, which works the same eagerly, under
``jit`` and under ``jax.eval_shape``. The table is read only by ``Layer.__call__``, at trace
time: it costs nothing in a compiled step.
"""

from __future__ import annotations

import weakref
from typing import Any

import jax
import jax.numpy as jnp

_MASKS: dict[int, tuple[Any, Any]] = {}  # id(array) -> (weak reference or the array, mask)


def _forget(key: int) -> None:
    _MASKS.pop(key, None)


def set_mask(x, mask) -> None:
    """Attach ``mask`` to the array ``x`` (``None`` removes it)."""
    key = id(x)
    if mask is None:
        _MASKS.pop(key, None)
        return
    try:
        ref = weakref.ref(x)
        weakref.finalize(x, _forget, key)
    except TypeError:  # an object without weak references: keep it alive with its mask
        ref = None
    _MASKS[key] = (ref if ref is not None else x, mask)


def get_mask(x):
    """The mask attached to ``x``, or ``None``."""
    entry = _MASKS.get(id(x))
    if entry is None:
        return None
    ref, mask = entry
    target = ref() if isinstance(ref, weakref.ref) else ref
    return mask if target is x else None


def get_masks(x):
    """The mask of ``x``, or a list of masks for a list/tuple input (``None`` when none is set)."""
    if isinstance(x, (list, tuple)):
        masks = [get_mask(t) for t in x]
        return masks if any(m is not None for m in masks) else None
    return get_mask(x)


def set_masks(outputs, mask) -> None:
    """Attach ``mask`` to a layer's outputs: one mask per output for a list of masks, else the same to all."""
    leaves = jax.tree.leaves(outputs)
    if isinstance(mask, (list, tuple)) and len(mask) == len(leaves):
        for out, m in zip(leaves, mask):
            set_mask(out, m)
        return
    if isinstance(mask, (list, tuple)):  # several input masks for one output: keep the timesteps all agree on
        mask = merge_masks(mask)
    for out in leaves:
        set_mask(out, mask)


def merge_masks(masks):
    """The logical AND of the masks that are set, or ``None``."""
    present = [jnp.asarray(m, bool) for m in masks if m is not None] if masks is not None else []
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = jnp.logical_and(out, m)
    return out
