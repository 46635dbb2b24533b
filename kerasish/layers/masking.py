"""Masks that travel with arrays from layer to layer, as Keras's ``_keras_mask``.

A mask is a boolean array, ``(batch, steps)`` for sequences, that marks the real
(non-padding) entries of a layer's output. ``Embedding(mask_zero=True)`` and
``Masking`` make one; layers that declare a ``mask`` argument (LSTM, attention,
GlobalAveragePooling1D, ...) receive it; layers with ``supports_masking = True`` pass it
on, and ``compute_mask`` decides what a layer's output mask is.

The side table that holds them is ``kerasish.backend``'s (losses and metrics read it too);
this module is the layers' view of it.
"""

from __future__ import annotations

from kerasish.backend import get_mask, get_masks, merge_masks, set_mask, set_masks

__all__ = ["get_mask", "get_masks", "merge_masks", "set_mask", "set_masks"]
