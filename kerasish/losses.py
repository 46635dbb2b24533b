"""Losses: Keras-named loss objects over pure `jax.numpy` functions.

Every loss comes in two forms, as in Keras:

* a *function* ``fn(y_true, y_pred, **options) -> per-sample losses``, reduced
  over the last (feature) axis, so a ``(batch, d)`` input gives ``(batch,)``
  and a ``(batch, T, d)`` input gives ``(batch, T)``;
* a :class:`Loss` object that calls that function, weights the per-sample
  values by ``sample_weight`` and reduces them to a scalar.

All of it is pure and jittable: a ``Loss`` object holds only static
configuration, so a jitted step can close over it.

Example:

>>> loss = get("sparse_categorical_crossentropy")
>>> loss(jnp.array([0, 2]), jnp.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError, unknown_identifier

EPSILON = 1e-7  # keras.backend.epsilon(): the clip/guard value Keras uses.

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# --------------------------------------------------------------------------- helpers


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _as_float(x, dtype=None) -> jax.Array:
    x = jnp.asarray(x)
    if dtype is not None:
        return x.astype(dtype)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _prepare(y_true, y_pred) -> tuple[jax.Array, jax.Array]:
    """Float ``y_pred``, ``y_true`` in its dtype, and ranks made to agree."""
    y_pred = _as_float(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    return match_rank(y_true, y_pred)


def match_rank(x1, x2, expand_rank_1: bool = True) -> tuple[jax.Array, jax.Array]:
    """Make two arrays whose ranks differ by one agree, Keras style.

    When one array has one more axis than the other and that axis has size 1,
    it is squeezed away, except that a rank-1 partner is expanded instead
    (when ``expand_rank_1``): ``(batch,)`` vs ``(batch, 1)`` becomes
    ``(batch, 1)`` twice.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = jnp.squeeze(x1, -1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def divide_no_nan(x, y) -> jax.Array:
    """``x / y``, and 0 where ``y == 0``."""
    safe = jnp.where(y == 0, jnp.ones_like(y), y)
    return jnp.where(y == 0, jnp.zeros_like(x / safe), x / safe)


def _align_weights(values: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Line ``weights`` up with ``values`` from the leading (batch) axis.

    Keras 3 only squeezes/expands a trailing size-1 axis, so weights of shape
    ``(batch,)`` against per-sample losses of shape ``(batch, T)`` fail there
    (or, when ``batch == T``, silently weight the wrong axis). We add the
    missing trailing axes instead, which gives Keras's numbers for
    ``(batch, 1)`` weights.
    """
    values, weights = match_rank(values, weights)
    if 0 < weights.ndim < values.ndim:
        weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
    return values, weights


def reduce_weighted_values(
    values: jax.Array,
    sample_weight=None,
    mask=None,
    reduction: str | None = "sum_over_batch_size",
) -> jax.Array:
    """Weight per-sample ``values`` and reduce them as Keras 3 does.

    Args:
        values: per-sample losses.
        sample_weight: optional weights, broadcastable from the batch axis.
        mask: optional boolean array (same shape as ``values``) of the entries
            that count; for ``"sum_over_batch_size"``/``"mean"`` the mean is then
            over the valid entries only.
        reduction: one of :data:`REDUCTIONS`.

    Returns:
        A scalar, or the weighted values for ``"none"``/``None``.
    """
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight, dtype)
    if mask is not None:
        mask = jnp.asarray(mask).astype(bool)
        if reduction in ("mean", "sum_over_batch_size"):
            # Valid entries weigh total/valid, so that summing and dividing by
            # the total size yields the mean over the valid entries.
            scale = divide_no_nan(jnp.asarray(mask.size, dtype), jnp.sum(mask.astype(dtype)))
            float_mask = jnp.where(mask, scale, jnp.zeros((), dtype))
        else:
            float_mask = mask.astype(dtype)
        if sample_weight is None:
            sample_weight = float_mask
        else:
            float_mask, sample_weight = _align_weights(float_mask, sample_weight)
            sample_weight = sample_weight * float_mask
    if sample_weight is not None:
        values, sample_weight = _align_weights(values, sample_weight)
        values = values * sample_weight
    if reduction in (None, "none") or values.ndim == 0 or values.shape == (0,):
        return values
    loss = jnp.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return divide_no_nan(loss, jnp.sum(sample_weight))
    return divide_no_nan(loss, jnp.asarray(values.size, dtype))


# --------------------------------------------------------------------------- functions


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
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    y_true = jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)
    return jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


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


# --------------------------------------------------------------------------- objects


class Loss:
    """Base class of loss objects: per-sample ``call`` plus weighted reduction.

    Subclasses implement ``call(y_true, y_pred) -> per-sample losses``.

    Args:
        name: name of the loss; defaults to the class name in snake case.
        reduction: ``"sum_over_batch_size"`` (default; weighted sum divided by
            the number of per-sample values), ``"mean"`` (the same),
            ``"sum"``, ``"mean_with_sample_weight"`` (divided by the sum of the
            weights), or ``"none"``/``None`` (no reduction).
        dtype: dtype of the computation; defaults to float32.
    """

    _config_keys: tuple[str, ...] = ()

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ConfigError(
                f"Invalid reduction {reduction!r} for loss {name or type(self).__name__}; "
                f"expected one of {list(REDUCTIONS)}."
            )
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = reduction
        self._dtype_arg = dtype
        self.dtype = jnp.dtype(dtype or "float32")

    def call(self, y_true, y_pred) -> jax.Array:
        """Per-sample losses (reduced over the feature axis only)."""
        raise NotImplementedError(f"{type(self).__name__}: Loss subclasses override call(y_true, y_pred).")

    def compute_mask(self, y_true, y_pred) -> jax.Array | None:
        """Boolean mask of the per-sample entries that count, or None for all."""
        return None

    def __call__(self, y_true, y_pred, sample_weight=None, *, row_mask=None) -> jax.Array:
        """The reduced loss. A mask that ``y_pred`` carries (a masked sequence output, see
        ``kerasish.layers.Masking``) leaves its masked steps out, as in Keras.

        ``row_mask`` (``(batch,)``, 1 for real rows) is how the engine passes a padded last batch: the
        padding rows are left out as if the batch were only its real rows, whatever the reduction
        and masks (a mean over masked entries counts real entries only)."""
        from kerasish.layers.masking import get_mask

        pred_mask = get_mask(y_pred)
        y_true = jnp.asarray(y_true).astype(self.dtype)
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        values = self.call(y_true, y_pred).astype(self.dtype)
        mask = self.compute_mask(y_true, y_pred)
        if pred_mask is not None and pred_mask.shape == values.shape:
            mask = pred_mask if mask is None else jnp.logical_and(mask, pred_mask)
        if row_mask is not None and values.ndim >= 1:
            rows = jnp.asarray(row_mask).astype(bool).reshape((-1,) + (1,) * (values.ndim - 1))
            rows = jnp.broadcast_to(rows, values.shape)
            mask = rows if mask is None else jnp.logical_and(mask, rows)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def get_config(self) -> dict[str, Any]:
        config = {"name": self.name, "reduction": self.reduction}
        if self._dtype_arg is not None:
            config["dtype"] = str(self.dtype)
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """Turns a per-sample function ``fn(y_true, y_pred, **kwargs)`` into a Loss.

    Args:
        fn: the per-sample loss function.
        reduction: see :class:`Loss`.
        name: defaults to ``fn.__name__``.
        dtype: see :class:`Loss`.
        **kwargs: keyword arguments passed on to ``fn``.
    """

    def __init__(self, fn: Callable, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred) -> jax.Array:
        y_true, y_pred = match_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        if type(self) is not LossFunctionWrapper:
            return super().get_config()
        config = super().get_config()
        config["fn"] = getattr(self.fn, "__name__", repr(self.fn))
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        if cls is not LossFunctionWrapper:
            return cls(**config)
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str):
            if fn not in _FUNCTIONS:
                raise ConfigError(
                    f"Cannot rebuild LossFunctionWrapper: {fn!r} is not a built-in loss "
                    "function; pass the function itself (kerasish never imports code "
                    "named in a config)."
                )
            fn = _FUNCTIONS[fn]
        return cls(fn, **config)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors: ``mean(square(y_true - y_pred))``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors: ``mean(abs(y_true - y_pred))``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """``100 * mean(abs((y_true - y_pred) / y_true))``, guarded against 0."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """``mean(square(log(y_true + 1) - log(y_pred + 1)))``."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for small errors, linear beyond ``delta``.

    Args:
        delta: where the loss turns from quadratic to linear.
    """

    _config_keys = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class LogCosh(LossFunctionWrapper):
    """``mean(log(cosh(y_pred - y_true)))``."""

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy for 0/1 labels (one or more independent outputs).

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in ``[0, 1]``; squeezes the labels toward 0.5.
        axis: the feature axis averaged over.
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy for one-hot labels.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        label_smoothing: in ``[0, 1]``; mixes the labels with the uniform
            distribution.
        axis: the class axis.
    """

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy for integer labels.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities.
        ignore_class: optional label whose entries are left out of the loss
            (and of the mean), e.g. a padding or "void" class.
        axis: the class axis.
    """

    _config_keys = ("from_logits", "ignore_class")

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.axis != -1:
            config["axis"] = self.axis
        return config

    def compute_mask(self, y_true, y_pred) -> jax.Array | None:
        if self.ignore_class is None:
            return None
        y_true = jnp.asarray(y_true)
        if y_true.ndim == jnp.ndim(y_pred) and y_true.shape[self.axis] == 1:
            y_true = jnp.squeeze(y_true, axis=self.axis)
        return y_true != self.ignore_class


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))``."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """Hinge loss ``mean(maximum(1 - y_true * y_pred, 0))`` for -1/1 (or 0/1) labels."""

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss ``mean(y_pred - y_true * log(y_pred))``."""

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity between labels and predictions.

    Args:
        axis: the axis along which the similarity is computed.
    """

    _config_keys = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)
        self.axis = axis


# --------------------------------------------------------------------------- lookup

_CLASSES: dict[str, type[Loss]] = {
    cls.__name__: cls
    for cls in (
        Loss,
        LossFunctionWrapper,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Huber,
        LogCosh,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        KLDivergence,
        Hinge,
        Poisson,
        CosineSimilarity,
    )
}

_FUNCTIONS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        huber,
        log_cosh,
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        kl_divergence,
        hinge,
        poisson,
        cosine_similarity,
    )
}

# String alias -> the class it builds. The object is named after the alias,
# as Keras's compile names a loss given by string.
_ALIASES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "hinge": Hinge,
    "poisson": Poisson,
    "cosine_similarity": CosineSimilarity,
}

ALL_LOSS_NAMES: tuple[str, ...] = tuple(_ALIASES)
"""Every string alias :func:`get` accepts (class names are accepted too)."""


def get(identifier) -> Loss:
    """Resolves a loss identifier to a :class:`Loss` object.

    Args:
        identifier: a ``Loss`` (returned as is); a string alias from
            :data:`ALL_LOSS_NAMES` (e.g. ``"mse"``) or a class name
            (``"MeanSquaredError"``); a config dict
            ``{"class_name": ..., "config": {...}}``; or a function
            ``fn(y_true, y_pred) -> per-sample losses``, wrapped in a
            :class:`LossFunctionWrapper` named ``fn.__name__``.

    Returns:
        A Loss object.

    Raises:
        ConfigError: for an unknown name or an identifier of another type.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _ALIASES:
            return _ALIASES[identifier](name=identifier)
        if identifier in _CLASSES and identifier not in ("Loss", "LossFunctionWrapper"):
            return _CLASSES[identifier]()
        raise unknown_identifier("loss", identifier, list(ALL_LOSS_NAMES))
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ConfigError(f"Could not interpret loss identifier {identifier!r}: expected a Loss, a name, a dict or a function.")


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a Loss (see :func:`deserialize`)."""
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Rebuilds a built-in Loss from :func:`serialize`'s output."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A loss config needs 'class_name' and 'config' keys, got {config!r}.")
    class_name = config["class_name"]
    cls = _CLASSES.get(class_name)
    if cls is None or cls is Loss:
        raise unknown_identifier("loss class", class_name, [n for n in _CLASSES if n != "Loss"])
    return cls.from_config(dict(config.get("config") or {}))


# --------------------------------------------------------------------------- kinds


def _loss_function(loss) -> Callable | None:
    if isinstance(loss, str):
        try:
            loss = get(loss)
        except ConfigError:
            return None
    if isinstance(loss, LossFunctionWrapper):
        return loss.fn
    return loss if callable(loss) else None


def is_binary(loss) -> bool:
    """Whether ``loss`` (object, function or name) is binary crossentropy."""
    return _loss_function(loss) is binary_crossentropy


def is_categorical(loss) -> bool:
    """Whether ``loss`` (object, function or name) is categorical crossentropy."""
    return _loss_function(loss) is categorical_crossentropy


def is_sparse_categorical(loss) -> bool:
    """Whether ``loss`` (object, function or name) is sparse categorical crossentropy."""
    return _loss_function(loss) is sparse_categorical_crossentropy
