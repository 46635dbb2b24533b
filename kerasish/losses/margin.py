"""Margin losses: squared and categorical hinge, and the Circle loss of metric learning.

Each comes as a per-sample function and as a Keras-named :class:`LossFunctionWrapper`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.backend import set_mask
from kerasish.losses.base import LossFunctionWrapper, _as_float, _prepare
from kerasish.losses.functions import _hinge_labels


def squared_hinge(y_true, y_pred) -> jax.Array:
    """``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``.

    Labels are expected in {-1, 1}; a batch whose labels are all 0 or 1 is mapped to -1/1 first.

    Example:

    >>> squared_hinge(jnp.array([[0.0, 1.0]]), jnp.array([[0.4, 0.2]]))  # [(1.4**2 + 0.8**2) / 2]
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return jnp.mean(jnp.square(jnp.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


def categorical_hinge(y_true, y_pred) -> jax.Array:
    """``maximum(1 + neg - pos, 0)`` with ``pos`` the score of the true class and ``neg`` the best other score.

    ``y_true`` is one-hot (0/1); ``pos = sum(y_true * y_pred)`` and ``neg = max((1 - y_true) * y_pred)``
    over the last axis.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, jnp.zeros((), y_pred.dtype))


def _logsumexp_where(x: jax.Array, where: jax.Array) -> jax.Array:
    """``log(sum(exp(x)))`` over axis 1 on the entries ``where`` holds: ``-inf`` for a row with none."""
    return jax.nn.logsumexp(jnp.where(where, x, -jnp.inf), axis=1)


def circle(
    y_true,
    y_pred,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal: bool = True,
    gamma: float = 80.0,
    margin: float = 0.4,
) -> jax.Array:
    """Circle loss (Sun et al., 2020) of L2-normalized embeddings with integer class labels.

    For each query embedding (a row of ``y_pred``, labelled by ``y_true``) the cosine distances to the
    reference embeddings (``ref_embeddings``, labelled ``ref_labels``; by default the batch itself) are
    split into positives (same label) and negatives; each is weighted by how far it is from its
    optimum (``margin`` for positives, ``1 + margin`` for negatives) and the two log-sum-exps are
    combined with a softplus.

    Args:
        y_true: integer labels, shape ``(batch,)``.
        y_pred: L2-normalized embeddings, shape ``(batch, dim)``.
        ref_labels: labels of the reference embeddings; defaults to ``y_true``.
        ref_embeddings: reference embeddings; defaults to ``y_pred``.
        remove_diagonal: whether a query is left out of its own positives.
        gamma: scale of the similarity scores.
        margin: the relaxation margin.

    Returns:
        One loss per query, shape ``(batch,)``. Queries with a loss of 0 are masked, so that the
        :class:`Circle` object averages over the others only (as Keras does).
    """
    y_pred = _as_float(y_pred)
    labels = jnp.asarray(y_true).astype(jnp.int32)
    refs = y_pred if ref_embeddings is None else jnp.asarray(ref_embeddings).astype(y_pred.dtype)
    ref_labels = labels if ref_labels is None else jnp.asarray(ref_labels).astype(jnp.int32)
    distances = jnp.maximum(1.0 - y_pred @ refs.T, 0.0)

    positive = labels.reshape(-1, 1) == ref_labels.reshape(1, -1)
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~jnp.eye(positive.shape[0], positive.shape[1], dtype=bool)
    pos_w = jnp.maximum((margin + distances) * positive, 0.0)
    neg_w = jnp.maximum((1.0 + margin - distances) * negative, 0.0)
    pos_terms = -gamma * pos_w * (margin - distances)
    neg_terms = gamma * neg_w * (1.0 - margin - distances)
    loss = jax.nn.softplus(_logsumexp_where(pos_terms, positive) + _logsumexp_where(neg_terms, negative))
    set_mask(loss, loss > 0)
    return loss


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss ``mean(square(maximum(1 - y_true * y_pred, 0)))`` for -1/1 (or 0/1) labels.

    Args:
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss ``maximum(1 + neg - pos, 0)`` for one-hot labels (see :func:`categorical_hinge`).

    Args:
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class Circle(LossFunctionWrapper):
    """Circle loss between integer labels and L2-normalized embeddings (see :func:`circle`).

    The model should end in a linear layer followed by ``UnitNormalization``. The reduced loss is
    the mean over the queries whose loss is not 0.

    Args:
        gamma: scale of the similarity scores.
        margin: the relaxation margin.
        remove_diagonal: whether a sample is left out of its own positives.
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.

    Example:

    >>> loss = Circle()
    >>> loss(jnp.array([0, 0, 1]), embeddings)  # embeddings of unit norm, shape (3, dim)
    """

    _config_keys = ("gamma", "margin", "remove_diagonal")

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction="sum_over_batch_size",
        name="circle",
        dtype=None,
    ):
        super().__init__(
            circle,
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )
        self.gamma = gamma
        self.margin = margin
        self.remove_diagonal = remove_diagonal
