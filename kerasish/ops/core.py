"""keras.ops core: control flow, casting, scatter/slice updates and conversion, on ``jax.lax``."""

from __future__ import annotations

import builtins

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import standardize, tensor


def _unwrap(tree):
    """Variables in a pytree become their values (for ``jax.lax`` control flow and ``custom_gradient``)."""
    return jax.tree.map(lambda x: x.value if hasattr(x, "value") and hasattr(x, "assign") else x, tree)


@keras_op
def map(f, xs):
    """``f`` applied to each slice of ``xs`` along its first axis (``jax.lax.map``)."""
    return jax.lax.map(f, _unwrap(xs))


@keras_op
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``jax.lax.scan``: ``f(carry, x) -> (carry, y)``; returns ``(last_carry, stacked_ys)``."""
    if not isinstance(unroll, bool) and not (isinstance(unroll, int) and unroll >= 1):
        from kerasish.errors import InputError

        raise InputError(f"ops.scan: unroll must be a positive int or a bool; got {unroll!r}.")
    return jax.lax.scan(f, _unwrap(init), _unwrap(xs), length=length, reverse=reverse, unroll=unroll)


@keras_op
def associative_scan(f, elems, reverse=False, axis=0):
    return jax.lax.associative_scan(f, _unwrap(elems), reverse=reverse, axis=axis)


@keras_op
def fori_loop(lower, upper, body_fun, init_val):
    return jax.lax.fori_loop(lower, upper, body_fun, _unwrap(init_val))


@keras_op
def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``jax.lax.while_loop``; a tuple or list of ``loop_vars`` is passed to ``cond`` and ``body`` as separate
    arguments, as Keras does; ``maximum_iterations`` bounds the number of iterations."""
    several = isinstance(loop_vars, (tuple, list))
    state = tuple(_unwrap(loop_vars)) if several else (_unwrap(loop_vars),)

    def cond_fn(carry):
        count, values = carry
        ok = cond(*values) if several else cond(values[0])
        if maximum_iterations is not None:
            ok = jnp.logical_and(ok, count < maximum_iterations)
        return ok

    def body_fn(carry):
        count, values = carry
        new = body(*values) if several else body(values[0])
        new = tuple(new) if several else (new,)
        return count + 1, new

    _, out = jax.lax.while_loop(cond_fn, body_fn, (jnp.asarray(0, "int32"), state))
    return type(loop_vars)(out) if several else out[0]


@keras_op
def cond(pred, true_fn, false_fn):
    return jax.lax.cond(pred, true_fn, false_fn)


@keras_op
def switch(index, branches, *operands):
    return jax.lax.switch(index, branches, *_unwrap(operands))


@keras_op
def vectorized_map(function, elements):
    return jax.vmap(function)(_unwrap(elements))


@keras_op
def stop_gradient(variable):
    return jax.lax.stop_gradient(tensor(variable))


def custom_gradient(f):
    """Keras's ``ops.custom_gradient``: ``f(*args)`` returns ``(y, grad_fn)``; ``grad_fn(*upstream)`` (or
    ``grad_fn(upstream=...)``) returns the gradients for ``args``. Variables are passed as their values."""
    with_gradient = jax.custom_gradient(fun=f)

    def wrapper(*args, **kwargs):
        return with_gradient(*_unwrap(args), **_unwrap(kwargs))

    wrapper.__name__ = getattr(f, "__name__", "custom_gradient")
    wrapper.__doc__ = f.__doc__
    return wrapper


@keras_op
def unstack(x, num=None, axis=0):
    x = tensor(x)
    return [jnp.take(x, i, axis=axis) for i in range(x.shape[axis])]


@keras_op
def shape(x):
    """The static shape, a tuple (of ints; ``None`` where a symbolic tensor's size is unknown)."""
    return tuple(x.shape)


@keras_op
def dtype(x):
    """The dtype's name, as Keras writes it (``"float32"``)."""
    return standardize(getattr(x, "dtype", None) or tensor(x).dtype)


@keras_op
def cast(x, dtype):
    return tensor(x).astype(jnp.dtype(standardize(dtype)))


def _bounds(name: str):
    if name == "bool":
        return 0, 1
    info = ml_dtypes.iinfo(name) if "int" in name else ml_dtypes.finfo(name)
    return info.min, info.max


@keras_op
def saturate_cast(x, dtype):
    """A cast that clips to the target dtype's range first (so 300.0 to uint8 is 255, not 44)."""
    x = tensor(x)
    target, source = standardize(dtype), standardize(x.dtype)
    lo_in, hi_in = _bounds(source)
    lo_out, hi_out = _bounds(target)
    # a bound of the target may not be representable in the source dtype: nudge it inside the target's range
    lo = np.asarray(builtins.max(lo_in, lo_out)).astype(source)
    if lo < lo_out:
        lo = np.nextafter(lo, 0, dtype=source)
    hi = np.asarray(builtins.min(hi_in, hi_out)).astype(source)
    if hi > hi_out:
        hi = np.nextafter(hi, 0, dtype=source)
    return jnp.clip(x, lo, hi).astype(target)


@keras_op
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """A JAX array; ``sparse=True`` and ``ragged=True`` are refused (kerasish has neither)."""
    if sparse or ragged:
        from kerasish.errors import InputError

        raise InputError("ops.convert_to_tensor: kerasish has no sparse or ragged tensors.")
    if dtype is not None:
        dtype = standardize(dtype)
    return tensor(x, dtype=dtype)


def convert_to_numpy(x):
    """A NumPy array of ``x`` (outside jit)."""
    return np.asarray(tensor(x))


def is_tensor(x):
    """True for JAX arrays and tracers (the backend's native tensors)."""
    return isinstance(x, (jax.Array, jax.core.Tracer))


@keras_op
def scatter(indices, values, shape):
    """Zeros of ``shape`` with ``values`` added at ``indices`` (an ``(n, k)`` index array)."""
    indices, values = tensor(indices), tensor(values)
    return jnp.zeros(tuple(shape), values.dtype).at[tuple(jnp.moveaxis(indices, -1, 0))].add(values)


@keras_op
def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with ``updates`` written at ``indices``; ``reduction`` ``"add"``, ``"max"``, ``"min"``,
    ``"mul"`` combine instead of replacing."""
    from kerasish.errors import InputError

    ops = {None: "set", "add": "add", "max": "max", "min": "min", "mul": "multiply"}
    key = reduction.lower() if isinstance(reduction, str) else reduction
    if key not in ops:
        raise InputError(f"ops.scatter_update: reduction must be None, 'add', 'max', 'min' or 'mul'; "
                         f"got {reduction!r}.")
    inputs, indices, updates = tensor(inputs), tensor(indices), tensor(updates)
    at = inputs.at[tuple(jnp.moveaxis(indices, -1, 0))]
    return getattr(at, ops[key])(updates.astype(inputs.dtype))


@keras_op
def slice(inputs, start_indices, shape):
    return jax.lax.dynamic_slice(tensor(inputs), tuple(start_indices), tuple(shape))


@keras_op
def slice_update(inputs, start_indices, updates):
    inputs = tensor(inputs)
    return jax.lax.dynamic_update_slice(inputs, tensor(updates).astype(inputs.dtype), tuple(start_indices))


@keras_op
def rearrange(tensor, pattern, **axes_lengths):
    """einops's ``rearrange`` (the library made for it): ``rearrange(x, "b h w c -> b (h w) c")``."""
    import einops

    return einops.rearrange(_tensor(tensor), pattern, **axes_lengths)


_tensor = tensor

__all__ = [
    "map", "scan", "associative_scan", "fori_loop", "while_loop", "cond", "switch", "vectorized_map",
    "stop_gradient", "custom_gradient", "unstack", "shape", "dtype", "cast", "saturate_cast", "convert_to_tensor",
    "convert_to_numpy", "is_tensor", "scatter", "scatter_update", "slice", "slice_update", "rearrange",
]
