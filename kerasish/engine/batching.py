"""Batches on the host: Keras's ``(x, y, sample_weight)`` tuples, class weights, padding and masks, gathers.

The engine's batch is ``(data, mask)``: ``data`` what Keras hands a step (``x`` alone, ``(x, y)``
or ``(x, y, sample_weight)``, the structures as the user gave them), ``mask`` a ``(batch,)``
array of ones with zeros for the padding of a short last batch (so that it reuses the step
compiled for full batches; the default loss and metrics leave the padding out), or None.
"""

from __future__ import annotations

import jax
import numpy as np

from kerasish import distribution as distribution_mod
from kerasish.errors import InputError
from kerasish.utils.batches import pack_x_y_sample_weight


def first_leaf(x):
    return jax.tree.leaves(x)[0]


def num_rows(x) -> int:
    return int(first_leaf(x).shape[0])


def pad_rows(tree, pad: int):
    """Append ``pad`` zero rows to every array in ``tree`` (None entries stay None)."""
    return jax.tree.map(lambda a: np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)]), tree)


def class_weights(class_weight: dict, y, outputs: int) -> np.ndarray:
    """Per-sample weights from ``class_weight`` (``{class: weight}``) and the targets (one output only).

    As Keras: a sample's class is the argmax of one-hot targets, else its label rounded to an int (soft binary
    targets 0.7 count as class 1); a class not in ``class_weight`` (a negative ``ignore_class`` label too) weighs 1.
    Keys are checked before training (:func:`kerasish.engine.checks.check_class_weight`); a negative one is
    refused here as well, since it would index the table from its end.
    """
    if outputs > 1 or isinstance(y, (list, tuple, dict)):
        raise InputError("class_weight is only supported for models with a single output.")
    y = np.asarray(y)
    labels = np.argmax(y, axis=-1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(y.shape[0], -1)[:, 0]
    labels = np.round(labels).astype(np.int64)
    keys = {int(k): float(v) for k, v in class_weight.items()}
    if any(k < 0 for k in keys):
        raise InputError(f"class_weight keys must be non-negative class indices, got {sorted(keys)}.")
    table = np.ones((max(max(keys, default=-1), int(labels.max(initial=0))) + 1,), np.float32)
    for k, v in keys.items():
        table[k] = v
    return np.where(labels >= 0, table[np.maximum(labels, 0)], np.float32(1.0)).astype(np.float32)


def weighted(y, sample_weight, class_weight, outputs: int):
    """The sample weights a batch carries: the user's, times the class weights if given (None if neither)."""
    if class_weight is None:
        return sample_weight
    if y is None:
        raise InputError("class_weight needs targets (y).")
    cw = class_weights(class_weight, y, outputs)
    if sample_weight is None:
        return cw
    if isinstance(sample_weight, (list, tuple, dict)):
        raise InputError("class_weight with per-output sample weights is not supported (one output only).")
    return np.asarray(sample_weight, np.float32) * cw


class BatchMaker:
    """Turns host ``(x, y, sample_weight)`` into the engine's ``(data, mask)`` batches.

    Args:
        pad: pad a short batch to ``pad_to`` rows and give every batch a mask (the default steps);
            False for a custom step, which gets its batches as they are (a short one recompiles it).
        class_weight: ``{class: weight}`` or None.
        outputs: the model's number of outputs (class weights need one).
    """

    def __init__(self, pad: bool, class_weight=None, outputs: int = 1):
        self.pad, self.class_weight, self.outputs = pad, class_weight, outputs

    def make(self, x, y, sample_weight, pad_to: int | None = None, class_weighted: bool = False):
        """One step's batch (``class_weighted``: the sample weights already include the class weights)."""
        n = num_rows(x)
        if not class_weighted:
            sample_weight = weighted(y, sample_weight, self.class_weight, self.outputs)
        if not self.pad:
            return pack_x_y_sample_weight(x, y, sample_weight), None
        mask = np.ones((n,), np.float32)
        if pad_to is not None and n < pad_to:
            x, y, sample_weight, mask = pad_rows((x, y, sample_weight), pad_to - n) + (
                np.concatenate([mask, np.zeros((pad_to - n,), np.float32)]),)
        dist = distribution_mod.distribution()
        if dist is not None:
            dist.check_batch_size(int(mask.shape[0]))
        return pack_x_y_sample_weight(x, y, sample_weight), mask


def take(x, index):
    if x is None:
        return None
    return jax.tree.map(lambda a: a[index], x)


def take_local(tree, index, local: np.ndarray, start: int, stop: int):
    """A call's host batch in a multi-process run: only the ``local`` rows (the ones this process's devices
    hold) are gathered from the data; the others stay zero, and no process reads them."""
    rows = np.arange(start, stop) if isinstance(index, slice) else index
    local = local[local < len(rows)]
    picked = rows[local]

    def one(a):
        out = np.zeros((len(rows),) + a.shape[1:], a.dtype)
        out[local] = a[picked]
        return out

    return jax.tree.map(one, tree)


def stack(batches: list):
    """Stack host batches of one structure and shape into one with a leading axis of ``len(batches)``."""
    return jax.tree.map(lambda *parts: np.stack(parts), *batches)


def split_steps(tree, k: int, size: int):
    """``k * size`` gathered rows as ``k`` stacked batches of ``size``."""
    return jax.tree.map(lambda a: a.reshape((k, size) + a.shape[1:]), tree)


def same_shapes(batches: list) -> bool:
    return len({(jax.tree.structure(b), tuple(np.shape(a) for a in jax.tree.leaves(b))) for b in batches}) == 1
