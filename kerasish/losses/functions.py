"""The loss functions: ``fn(y_true, y_pred, **options) -> per-sample losses`` (reduced over the feature axis)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.losses.base import EPSILON, _as_float, _prepare


def mean_squared_error(y_true, y_pred) -> jax.Array:
    """``mean(square(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred) -> jax.Array:
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred) -> jax.Array:
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), eps)), axis=-1)``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), EPSILON))
    return 100.0 * jnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred) -> jax.Array:
    """``mean(square(log1p(max(y_pred, eps)) - log1p(max(y_true, eps))), -1)``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    first = jnp.log(jnp.maximum(y_pred, EPSILON) + 1.0)
    second = jnp.log(jnp.maximum(y_true, EPSILON) + 1.0)
    return jnp.mean(jnp.square(first - second), axis=-1)


def huber(y_true, y_pred, delta: float = 1.0) -> jax.Array:
    """Quadratic for ``|error| <= delta``, linear beyond; mean over the last axis."""
    y_true, y_pred = _prepare(y_true, y_pred)
    delta = jnp.asarray(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    quadratic = 0.5 * jnp.square(error)
    linear = delta * abs_error - 0.5 * jnp.square(delta)
    return jnp.mean(jnp.where(abs_error <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true, y_pred) -> jax.Array:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow."""
    y_true, y_pred = _prepare(y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + log(1 + exp(-2x)) - log(2), stable for large |x|.
    return jnp.mean(x + jax.nn.softplus(-2.0 * x) - jnp.log(2.0).astype(x.dtype), axis=-1)


def binary_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> jax.Array:
    """Binary crossentropy, averaged over ``axis``.

    Probabilities are clipped to ``[1e-7, 1 - 1e-7]`` before the log; with
    ``label_smoothing`` the labels move toward 0.5.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = -y_true * jax.nn.log_sigmoid(y_pred) - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred)
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(bce, axis=axis)


def _log_probs(y_pred: jax.Array, from_logits: bool, axis: int) -> jax.Array:
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    # Keras renormalizes the probabilities, then clips them, then takes the log.
    p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> jax.Array:
    """Crossentropy against one-hot (or soft) labels, summed over ``axis``.

    With ``label_smoothing`` the labels become
    ``y * (1 - label_smoothing) + label_smoothing / num_classes``.
    """
    if isinstance(axis, bool):
        raise ConfigError(f"`axis` must be an int, got {axis!r}.")
    y_pred = _as_float(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise InputError(
            "categorical_crossentropy needs y_true and y_pred of the same shape "
            f"(one-hot labels), got {y_true.shape} and {y_pred.shape}; "
            "use sparse_categorical_crossentropy for integer labels."
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, ignore_class: int | None = None, axis: int = -1
) -> jax.Array:
    """Crossentropy against integer labels.

    ``y_true`` has the shape of ``y_pred`` without the class axis (or with it
    of size 1). Entries labelled ``ignore_class`` get a loss of 0 (and the
    :class:`SparseCategoricalCrossentropy` object leaves them out of the mean).
    Labels outside ``[0, num_classes)`` also give 0, as in Keras.
    """
    y_pred = _as_float(y_pred)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis=axis)
    labels = y_true.astype(jnp.int32)
    log_probs = _log_probs(y_pred, from_logits, axis)
    num_classes = y_pred.shape[axis]
    log_probs = jnp.moveaxis(log_probs, axis, -1)
    valid = (labels >= 0) & (labels < num_classes)
    if ignore_class is not None:
        valid = valid & (y_true != ignore_class)
    safe = jnp.where(valid, labels, 0)
    picked = jnp.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0]
    return jnp.where(valid, -picked, jnp.zeros((), y_pred.dtype))


def kl_divergence(y_true, y_pred) -> jax.Array:
    """``sum(y_true * log(y_true / y_pred), axis=-1)``, both clipped to ``[1e-7, 1]``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true = jnp.clip(y_true, EPSILON, 1.0)
    y_pred = jnp.clip(y_pred, EPSILON, 1.0)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


def hinge(y_true, y_pred) -> jax.Array:
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``.

    Labels are expected in {-1, 1}; when every label of the batch is 0 or 1
    they are mapped to -1/1 first, as Keras does.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


def _hinge_labels(y_true: jax.Array) -> jax.Array:
    """-1/1 labels: a batch whose labels are all 0 or 1 is mapped to -1/1, any other is left as it is."""
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


def poisson(y_true, y_pred) -> jax.Array:
    """``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)``."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + EPSILON), axis=-1)


def _l2_normalize(x: jax.Array, axis: int) -> jax.Array:
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jnp.minimum(jax.lax.rsqrt(square_sum), 1.0 / EPSILON)


def cosine_similarity(y_true, y_pred, axis: int = -1) -> jax.Array:
    """Negative cosine similarity along ``axis`` (-1 means same direction)."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return -jnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)
