"""Connectionist Temporal Classification (CTC) loss, on :func:`optax.ctc_loss`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import InputError
from kerasish.losses.base import LossFunctionWrapper, _as_float

BLANK = 0  # the label index reserved for "no label" (and for padding the targets), as in Keras


def ctc(y_true, y_pred) -> jax.Array:
    """CTC loss of integer label sequences against per-step logits.

    Args:
        y_true: ``(batch, max_label_length)`` integer labels; 0 is the blank and pads the end of
            shorter sequences. A sequence's length is its number of non-zero labels.
        y_pred: ``(batch, time, num_classes)`` logits (not softmaxed); every step counts.

    Returns:
        The negative log-likelihood of each sequence, shape ``(batch,)``.

    Raises:
        InputError: for inputs of another rank.
    """
    y_true, y_pred = jnp.asarray(y_true), _as_float(y_pred)
    if y_true.ndim != 2:
        raise InputError(f"ctc: y_true must be (batch_size, max_length) integer labels, got shape {y_true.shape}.")
    if y_pred.ndim != 3:
        raise InputError(f"ctc: y_pred must be (batch_size, max_length, num_classes) logits, got shape {y_pred.shape}.")
    labels = y_true.astype(jnp.int32)
    # The first `length` positions of a row are its label sequence (Keras's rule: length = non-blank count).
    lengths = jnp.sum(labels != BLANK, axis=-1)
    label_paddings = (jnp.arange(labels.shape[1])[None, :] >= lengths[:, None]).astype(y_pred.dtype)
    logit_paddings = jnp.zeros(y_pred.shape[:2], y_pred.dtype)
    return optax.ctc_loss(y_pred, logit_paddings, labels, label_paddings, blank_id=BLANK)


class CTC(LossFunctionWrapper):
    """CTC loss for sequence labelling without alignments (speech, handwriting); see :func:`ctc`.

    Args:
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.

    Example:

    >>> CTC()(jnp.array([[1, 2, 0]]), logits)  # logits of shape (1, time, num_classes)
    """

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)
