"""Crossentropies that reweight examples: binary and categorical focal, and generalized crossentropy.

Each comes as a per-sample function and as a Keras-named :class:`LossFunctionWrapper`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError
from kerasish.losses.base import EPSILON, LossFunctionWrapper, _as_float, _prepare


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> jax.Array:
    """Binary crossentropy scaled by the focal factor ``(1 - p_t) ** gamma``, averaged over ``axis``.

    ``p_t`` is the probability given to the true class (``y_pred`` for label 1, ``1 - y_pred`` for
    label 0), so well-classified examples weigh less (Lin et al., 2018). ``gamma=0`` gives plain
    binary crossentropy.

    Args:
        y_true: 0/1 labels.
        y_pred: probabilities, or logits with ``from_logits=True``.
        apply_class_balancing: also weigh label 1 by ``alpha`` and label 0 by ``1 - alpha``.
        alpha: the class-1 weight of ``apply_class_balancing``.
        gamma: the focusing exponent.
        from_logits: whether ``y_pred`` holds logits (a sigmoid is applied first).
        label_smoothing: in ``[0, 1]``; squeezes the labels toward 0.5.
        axis: the axis averaged over.

    Example:

    >>> binary_focal_crossentropy(jnp.array([[0.0, 1.0]]), jnp.array([[0.6, 0.4]]), gamma=2.0)  # [0.330]
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        # As Keras: the crossentropy of the (clipped) sigmoid, not the log-sigmoid form.
        y_pred = jax.nn.sigmoid(y_pred)
    p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
    bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = jnp.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return jnp.mean(focal, axis=axis)


def categorical_focal_crossentropy(
    y_true,
    y_pred,
    alpha=0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> jax.Array:
    """Categorical crossentropy with each class term scaled by ``alpha * (1 - p) ** gamma``, summed over ``axis``.

    Args:
        y_true: one-hot (or soft) labels.
        y_pred: probabilities (renormalized to sum to 1, then clipped), or logits with ``from_logits``.
        alpha: a float, or one weight per class.
        gamma: the focusing exponent; 0 gives ``alpha`` times the categorical crossentropy.
        from_logits: whether ``y_pred`` holds logits (a softmax is applied first).
        label_smoothing: in ``[0, 1]``; mixes the labels with the uniform distribution.
        axis: the class axis.
    """
    if isinstance(axis, bool):
        raise ConfigError(f"categorical_focal_crossentropy: `axis` must be an int, got {axis!r}.")
    y_pred = _as_float(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = jax.nn.softmax(y_pred, axis=axis)
    probs = jnp.clip(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True), EPSILON, 1.0 - EPSILON)
    weight = jnp.power(1.0 - probs, gamma) * jnp.asarray(alpha, y_pred.dtype)
    return jnp.sum(weight * (-y_true * jnp.log(probs)), axis=axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q) -> jax.Array:
    """Generalized crossentropy ``(1 - p ** q) / q`` of the probability ``p`` of the true class.

    Noise-robust (Zhang & Sabuncu, 2018): it tends to crossentropy as ``q -> 0`` and to the mean
    absolute error as ``q -> 1``.

    Args:
        y_true: integer class labels, shape ``(batch,)`` (or ``(batch, 1)``: kerasish drops the trailing
            axis, where Keras's function would broadcast it against the batch).
        y_pred: class probabilities, shape ``(batch, num_classes)``.
        q: in ``(0, 1)``.
    """
    y_pred = _as_float(y_pred)
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = jnp.squeeze(labels, -1)
    one_hot = jax.nn.one_hot(labels.astype(jnp.int32), y_pred.shape[-1], dtype=y_pred.dtype)
    p = jnp.sum(y_pred * one_hot, axis=-1)
    return (1.0 - jnp.power(p, q)) / q


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Focal binary crossentropy for 0/1 labels (see :func:`binary_focal_crossentropy`).

    Args:
        apply_class_balancing: weigh label 1 by ``alpha`` and label 0 by ``1 - alpha``.
        alpha: the class-1 weight of the balancing.
        gamma: the focusing exponent.
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in ``[0, 1]``; squeezes the labels toward 0.5.
        axis: the feature axis averaged over.
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.

    Example:

    >>> BinaryFocalCrossentropy(gamma=2.0, from_logits=True)(y_true, logits)
    """

    _config_keys = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Alpha-balanced focal crossentropy for one-hot labels (see :func:`categorical_focal_crossentropy`).

    Args:
        alpha: a float, or a list with one weight per class.
        gamma: the focusing exponent.
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in ``[0, 1]``; mixes the labels with the uniform distribution.
        axis: the class axis.
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.
    """

    _config_keys = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized crossentropy ``(1 - p ** q) / q`` for integer labels (see
    :func:`categorical_generalized_cross_entropy`).

    Args:
        q: the noise parameter, in ``(0, 1)``: near 0 it behaves like crossentropy, near 1 like
            the mean absolute error.
        reduction: see :class:`Loss`.
        name: name of the loss.
        dtype: see :class:`Loss`.

    Raises:
        ConfigError: for ``q`` outside ``(0, 1)``.
    """

    _config_keys = ("q",)

    def __init__(self, q=0.5, reduction="sum_over_batch_size", name="categorical_generalized_cross_entropy",
                 dtype=None):
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
            raise ConfigError(f"CategoricalGeneralizedCrossEntropy: q must be in the open interval (0, 1), got {q!r}.")
        super().__init__(categorical_generalized_cross_entropy, reduction=reduction, name=name, dtype=dtype, q=q)
        self.q = q
