"""keras.ops reductions, statistics, sorting and products."""

from __future__ import annotations

import builtins

import jax.numpy as jnp

from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import _axis, float_tensor, install, reduction, tensor

__all__ = install(globals(), reduction, {
    "all": jnp.all, "any": jnp.any, "amax": jnp.amax, "amin": jnp.amin, "sum": jnp.sum, "ptp": jnp.ptp,
    "nanmax": jnp.nanmax, "nanmin": jnp.nanmin, "nansum": jnp.nansum, "nanprod": jnp.nanprod,
})


def _float_reduction(name, jfn):
    """Reductions whose result is a float: ints and bools are averaged as the default float (as Keras);
    float16/bfloat16 are computed in float32 and returned in their own dtype."""
    def op(x, axis=None, keepdims=False):
        x = float_tensor(x)
        out = jfn(x.astype("float32") if x.dtype in (jnp.float16, jnp.bfloat16) else x, axis=_axis(axis),
                  keepdims=keepdims)
        return out.astype(x.dtype)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Keras's ``ops.{name}(x, axis=None, keepdims=False)`` (``jax.numpy.{jfn.__name__}``)."
    return keras_op(op)


__all__ += install(globals(), _float_reduction, {
    "mean": jnp.mean, "std": jnp.std, "var": jnp.var, "median": jnp.median, "nanmean": jnp.nanmean,
    "nanstd": jnp.nanstd, "nanvar": jnp.nanvar, "nanmedian": jnp.nanmedian,
})


@keras_op
def max(x, axis=None, keepdims=False, initial=None):
    return jnp.max(tensor(x), axis=_axis(axis), keepdims=keepdims, initial=initial)


@keras_op
def min(x, axis=None, keepdims=False, initial=None):
    return jnp.min(tensor(x), axis=_axis(axis), keepdims=keepdims, initial=initial)


@keras_op
def prod(x, axis=None, keepdims=False, dtype=None):
    return jnp.prod(tensor(x), axis=_axis(axis), keepdims=keepdims, dtype=dtype)


def _arg(name, jfn):
    def op(x, axis=None, keepdims=False):
        return jfn(tensor(x), axis=axis, keepdims=keepdims).astype("int32")
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Keras's ``ops.{name}(x, axis=None, keepdims=False)``: int32 indices."
    return keras_op(op)


__all__ += install(globals(), _arg, {"argmax": jnp.argmax, "argmin": jnp.argmin, "nanargmax": jnp.nanargmax,
                                     "nanargmin": jnp.nanargmin})


def _cumulative(name, jfn):
    def op(x, axis=None, dtype=None):
        return jfn(tensor(x), axis=axis, dtype=dtype)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Keras's ``ops.{name}(x, axis=None, dtype=None)`` (``jax.numpy.{jfn.__name__}``)."
    return keras_op(op)


__all__ += install(globals(), _cumulative, {"cumsum": jnp.cumsum, "cumprod": jnp.cumprod,
                                            "nancumsum": jnp.nancumsum, "nancumprod": jnp.nancumprod})


@keras_op
def average(x, axis=None, weights=None):
    x = float_tensor(x)
    return jnp.average(x, axis=axis, weights=None if weights is None else tensor(weights))


@keras_op
def count_nonzero(x, axis=None):
    return jnp.count_nonzero(tensor(x), axis=_axis(axis)).astype("int32")


def _quantile_like(name, jfn, scale):
    def op(x, q, axis=None, method="linear", keepdims=False):
        x = float_tensor(x)
        return jfn(x, jnp.asarray(q, dtype=x.dtype), axis=_axis(axis), method=method, keepdims=keepdims)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Keras's ``ops.{name}`` (``jax.numpy.{jfn.__name__}``; q in [0, {scale}])."
    return keras_op(op)


__all__ += install(globals(), lambda n, f: _quantile_like(n, f, 100 if "percentile" in n else 1), {
    "quantile": jnp.quantile, "nanquantile": jnp.nanquantile, "percentile": jnp.percentile,
    "nanpercentile": jnp.nanpercentile})


@keras_op
def sort(x, axis=-1):
    return jnp.sort(tensor(x), axis=axis)


@keras_op
def argsort(x, axis=-1):
    return jnp.argsort(tensor(x), axis=axis).astype("int32")


@keras_op
def argpartition(x, kth, axis=-1):
    return jnp.argpartition(tensor(x), kth, axis=axis).astype("int32")


@keras_op
def searchsorted(sorted_sequence, values, side="left"):
    return jnp.searchsorted(tensor(sorted_sequence), tensor(values), side=side).astype("int32")


@keras_op
def digitize(x, bins):
    return jnp.digitize(tensor(x), tensor(bins)).astype("int32")


@keras_op
def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts of each non-negative int in ``x`` (along the last axis of a 2-D ``x``); ``sparse`` is refused."""
    from kerasish.errors import InputError

    if sparse:
        raise InputError("ops.bincount: sparse=True needs sparse tensors, which kerasish does not have.")
    x = tensor(x)
    length = int(jnp.max(x)) + 1 if x.size else 0
    length = builtins.max(length, minlength)
    if x.ndim == 1:
        return jnp.bincount(x, weights=None if weights is None else tensor(weights), length=length)
    w = None if weights is None else tensor(weights)
    rows = [jnp.bincount(x[i], weights=None if w is None else w[i], length=length) for i in range(x.shape[0])]
    return jnp.stack(rows)


@keras_op
def histogram(x, bins=10, range=None):
    return jnp.histogram(tensor(x), bins=bins, range=range)


@keras_op
def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None, size=None,
           fill_value=None):
    return jnp.unique(tensor(x), return_index=return_index, return_inverse=return_inverse,
                      return_counts=return_counts, axis=axis, size=size, fill_value=fill_value)


@keras_op
def isin(x1, x2, assume_unique=False, invert=False):
    return jnp.isin(tensor(x1), tensor(x2), assume_unique=assume_unique, invert=invert)


@keras_op
def diff(a, n=1, axis=-1):
    return jnp.diff(tensor(a), n=n, axis=axis)


@keras_op
def trace(x, offset=0, axis1=0, axis2=1):
    return jnp.trace(tensor(x), offset=offset, axis1=axis1, axis2=axis2)


@keras_op
def trapezoid(y, x=None, dx=1.0, axis=-1):
    return jnp.trapezoid(float_tensor(y), None if x is None else tensor(x), dx=dx, axis=axis)


@keras_op
def corrcoef(x):
    return jnp.corrcoef(float_tensor(x))


@keras_op
def correlate(x1, x2, mode="valid"):
    return jnp.correlate(float_tensor(x1), float_tensor(x2), mode=mode)


@keras_op
def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return jnp.cross(tensor(x1), tensor(x2), axisa=axisa, axisb=axisb, axisc=axisc, axis=axis)


# -- products ----------------------------------------------------------------------------------------------------

def _int8_product(jfn, x1, x2, **kwargs):
    """int8 products accumulate and return int32 (as Keras); everything else is ``jfn`` itself."""
    x1, x2 = tensor(x1), tensor(x2)
    if x1.dtype == jnp.int8 and x2.dtype == jnp.int8:
        kwargs["preferred_element_type"] = jnp.int32
    return jfn(x1, x2, **kwargs)


@keras_op
def matmul(x1, x2):
    return _int8_product(jnp.matmul, x1, x2)


@keras_op
def dot(x1, x2):
    return jnp.dot(tensor(x1), tensor(x2))


@keras_op
def tensordot(x1, x2, axes=2):
    return jnp.tensordot(tensor(x1), tensor(x2), axes=axes)


@keras_op
def inner(x1, x2):
    return jnp.inner(tensor(x1), tensor(x2))


@keras_op
def vdot(x1, x2):
    return jnp.vdot(tensor(x1), tensor(x2))


@keras_op
def einsum(subscripts, *operands, **kwargs):
    operands = [tensor(o) for o in operands]
    if operands and builtins.all(o.dtype == jnp.int8 for o in operands):
        kwargs.setdefault("preferred_element_type", jnp.int32)
    return jnp.einsum(subscripts, *operands, **kwargs)


@keras_op
def slogdet(x):
    return tuple(jnp.linalg.slogdet(float_tensor(x)))


__all__ += [
    "max", "min", "prod", "average", "count_nonzero", "sort", "argsort", "argpartition", "searchsorted", "digitize",
    "bincount", "histogram", "unique", "isin", "diff", "trace", "trapezoid", "corrcoef", "correlate", "cross",
    "matmul", "dot", "tensordot", "inner", "vdot", "einsum", "slogdet",
]
