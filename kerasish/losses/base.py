"""The Loss base class, the reductions, and the array helpers every loss and metric shares."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from kerasish.backend import get_mask
from kerasish.errors import ConfigError

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
        pred_mask = get_mask(y_pred)
        y_true = jnp.asarray(y_true).astype(self.dtype)
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        values = self.call(y_true, y_pred)
        out_mask = get_mask(values)  # a loss function may mask its own outputs (Circle leaves out zero losses)
        values = values.astype(self.dtype)
        mask = self.compute_mask(y_true, y_pred)
        if out_mask is not None and jnp.shape(out_mask) == values.shape:
            mask = out_mask if mask is None else jnp.logical_and(mask, out_mask)
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
            from kerasish.losses import _FUNCTIONS

            if fn not in _FUNCTIONS:
                raise ConfigError(
                    f"Cannot rebuild LossFunctionWrapper: {fn!r} is not a built-in loss "
                    "function; pass the function itself (kerasish never imports code "
                    "named in a config)."
                )
            fn = _FUNCTIONS[fn]
        return cls(fn, **config)
