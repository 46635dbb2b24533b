"""keras.ops array creation, shape manipulation and indexing."""

from __future__ import annotations

import builtins

import jax.numpy as jnp
import numpy as np

from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import _axis, dtype_or_floatx, floatx, install, like, tensor

__all__ = install(globals(), like, {"empty_like": jnp.empty_like, "ones_like": jnp.ones_like,
                                    "zeros_like": jnp.zeros_like})


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


@keras_op
def zeros(shape, dtype=None):
    return jnp.zeros(_shape(shape), dtype=dtype_or_floatx(dtype))


@keras_op
def ones(shape, dtype=None):
    return jnp.ones(_shape(shape), dtype=dtype_or_floatx(dtype))


@keras_op
def empty(shape, dtype=None):
    return jnp.empty(_shape(shape), dtype=dtype_or_floatx(dtype))


@keras_op
def full(shape, fill_value, dtype=None):
    return jnp.full(_shape(shape), fill_value, dtype=dtype_or_floatx(dtype))


@keras_op
def full_like(x, fill_value, dtype=None):
    return jnp.full_like(tensor(x), fill_value, dtype=dtype)


@keras_op
def identity(n, dtype=None):
    return jnp.identity(n, dtype=dtype_or_floatx(dtype))


@keras_op
def eye(N, M=None, k=0, dtype=None):
    return jnp.eye(N, M, k, dtype=dtype_or_floatx(dtype))


@keras_op
def tri(N, M=None, k=0, dtype=None):
    return jnp.tri(N, M, k, dtype=dtype_or_floatx(dtype))


@keras_op
def arange(start, stop=None, step=None, dtype=None):
    """Keras's dtype rule: float32 (the default float) when any bound is a float, else int32."""
    if dtype is None:
        bounds = [b for b in (start, stop, step) if b is not None]
        floats = builtins.any(isinstance(b, float) or (hasattr(b, "dtype") and jnp.issubdtype(b.dtype, jnp.floating))
                              for b in bounds)
        dtype = floatx() if floats else "int32"
    return jnp.arange(start, stop, 1 if step is None else step, dtype=dtype)


@keras_op
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return jnp.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, dtype=dtype_or_floatx(dtype),
                        axis=axis)


@keras_op
def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    return jnp.logspace(start, stop, num, endpoint=endpoint, base=base, dtype=dtype_or_floatx(dtype), axis=axis)


@keras_op
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return jnp.geomspace(start, stop, num, endpoint=endpoint, dtype=dtype_or_floatx(dtype), axis=axis)


@keras_op
def array(x, dtype=None):
    return jnp.array(tensor(x), dtype=dtype)


@keras_op
def copy(x):
    return jnp.array(tensor(x), copy=True)


@keras_op
def view(x, dtype=None):
    """The same bytes read as ``dtype`` (a bitcast)."""
    x = tensor(x)
    return x if dtype is None else x.view(dtype)


def _window(name, jfn):
    def op(x):
        return jfn(int(x)).astype(floatx())
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"The ``{name}`` window of ``x`` points (``jax.numpy.{name}``)."
    return keras_op(op)


for _name in ("bartlett", "blackman", "hamming", "hanning"):
    globals()[_name] = _window(_name, getattr(jnp, _name))
    __all__.append(_name)


@keras_op
def kaiser(x, beta):
    return jnp.kaiser(int(x), beta).astype(floatx())


# -- shape manipulation ------------------------------------------------------------------------------------------

@keras_op
def reshape(x, newshape):
    return jnp.reshape(tensor(x), newshape if isinstance(newshape, int) else tuple(newshape))


@keras_op
def ravel(x):
    return jnp.ravel(tensor(x))


@keras_op
def transpose(x, axes=None):
    return jnp.transpose(tensor(x), axes)


@keras_op
def swapaxes(x, axis1, axis2):
    return jnp.swapaxes(tensor(x), axis1, axis2)


@keras_op
def moveaxis(x, source, destination):
    return jnp.moveaxis(tensor(x), source, destination)


@keras_op
def expand_dims(x, axis):
    return jnp.expand_dims(tensor(x), _axis(axis))


@keras_op
def squeeze(x, axis=None):
    return jnp.squeeze(tensor(x), _axis(axis))


@keras_op
def broadcast_to(x, shape):
    return jnp.broadcast_to(tensor(x), tuple(shape))


@keras_op
def flip(x, axis=None):
    return jnp.flip(tensor(x), _axis(axis))


@keras_op
def fliplr(x):
    return jnp.fliplr(tensor(x))


@keras_op
def flipud(x):
    return jnp.flipud(tensor(x))


@keras_op
def rot90(array, k=1, axes=(0, 1)):
    return jnp.rot90(tensor(array), k, tuple(axes))


@keras_op
def roll(x, shift, axis=None):
    return jnp.roll(tensor(x), shift, _axis(axis))


@keras_op
def tile(x, repeats):
    return jnp.tile(tensor(x), repeats)


@keras_op
def repeat(x, repeats, axis=None):
    return jnp.repeat(tensor(x), repeats, axis=axis)


@keras_op
def pad(x, pad_width, mode="constant", constant_values=None):
    """``jax.numpy.pad``; ``constant_values`` only with ``mode="constant"`` (as Keras)."""
    from kerasish.errors import InputError

    if constant_values is not None and mode != "constant":
        raise InputError(f"ops.pad: constant_values is only for mode='constant' (got mode={mode!r}).")
    kwargs = {"constant_values": 0 if constant_values is None else constant_values} if mode == "constant" else {}
    return jnp.pad(tensor(x), pad_width, mode=mode, **kwargs)


@keras_op
def concatenate(xs, axis=0):
    return jnp.concatenate([tensor(x) for x in xs], axis=axis)


@keras_op
def append(x1, x2, axis=None):
    return jnp.append(tensor(x1), tensor(x2), axis=axis)


@keras_op
def stack(x, axis=0):
    return jnp.stack([tensor(t) for t in x], axis=axis)


@keras_op
def hstack(xs):
    return jnp.hstack([tensor(x) for x in xs])


@keras_op
def vstack(xs):
    return jnp.vstack([tensor(x) for x in xs])


@keras_op
def dstack(xs):
    return jnp.dstack([tensor(x) for x in xs])


def _sections(s):
    return s if isinstance(s, int) else list(s)


@keras_op
def split(x, indices_or_sections, axis=0):
    return jnp.split(tensor(x), _sections(indices_or_sections), axis=axis)


@keras_op
def array_split(x, indices_or_sections, axis=0):
    return jnp.array_split(tensor(x), _sections(indices_or_sections), axis=axis)


@keras_op
def hsplit(x, indices_or_sections):
    return jnp.hsplit(tensor(x), _sections(indices_or_sections))


@keras_op
def vsplit(x, indices_or_sections):
    return jnp.vsplit(tensor(x), _sections(indices_or_sections))


@keras_op
def dsplit(x, indices_or_sections):
    return jnp.dsplit(tensor(x), _sections(indices_or_sections))


@keras_op
def meshgrid(*x, indexing="xy"):
    return jnp.meshgrid(*[tensor(t) for t in x], indexing=indexing)


@keras_op
def diag(x, k=0):
    return jnp.diag(tensor(x), k)


@keras_op
def diagflat(x, k=0):
    return jnp.diagflat(tensor(x), k)


@keras_op
def diagonal(x, offset=0, axis1=0, axis2=1):
    return jnp.diagonal(tensor(x), offset, axis1, axis2)


@keras_op
def tril(x, k=0):
    return jnp.tril(tensor(x), k)


@keras_op
def triu(x, k=0):
    return jnp.triu(tensor(x), k)


@keras_op
def vander(x, N=None, increasing=False):
    return jnp.vander(tensor(x), N, increasing=increasing)


# -- indexing ----------------------------------------------------------------------------------------------------

@keras_op
def get_item(x, key):
    return tensor(x)[key]


@keras_op
def take(x, indices, axis=None):
    return jnp.take(tensor(x), tensor(indices), axis=axis)


@keras_op
def take_along_axis(x, indices, axis=None):
    return jnp.take_along_axis(tensor(x), tensor(indices), axis=axis)


@keras_op
def where(condition, x1=None, x2=None):
    """With only ``condition``: the indices where it holds (``nonzero``); else ``x1`` where it holds, ``x2``
    elsewhere."""
    if x1 is None and x2 is None:
        return nonzero(condition)
    from kerasish.errors import InputError

    if x1 is None or x2 is None:
        raise InputError("ops.where: give both x1 and x2, or neither.")
    x1 = x1 if isinstance(x1, (int, float, bool)) else tensor(x1)
    x2 = x2 if isinstance(x2, (int, float, bool)) else tensor(x2)
    return jnp.where(tensor(condition), x1, x2)


@keras_op
def nonzero(x):
    return jnp.nonzero(tensor(x))


@keras_op
def select(condlist, choicelist, default=0):
    return jnp.select([tensor(c) for c in condlist], [tensor(c) for c in choicelist], default)


@keras_op
def unravel_index(indices, shape):
    return jnp.unravel_index(tensor(indices), tuple(shape))


@keras_op
def ndim(x):
    return jnp.ndim(tensor(x))


@keras_op
def size(x):
    return jnp.size(tensor(x))


@keras_op
def vectorize(pyfunc, *, excluded=None, signature=None):
    """``jax.numpy.vectorize``."""
    return jnp.vectorize(pyfunc, excluded=excluded or set(), signature=signature)


__all__ += [
    "zeros", "ones", "empty", "full", "full_like", "identity", "eye", "tri", "arange", "linspace", "logspace",
    "geomspace", "array", "copy", "view", "kaiser", "reshape", "ravel", "transpose", "swapaxes", "moveaxis",
    "expand_dims", "squeeze", "broadcast_to", "flip", "fliplr", "flipud", "rot90", "roll", "tile", "repeat", "pad",
    "concatenate", "append", "stack", "hstack", "vstack", "dstack", "split", "array_split", "hsplit", "vsplit",
    "dsplit", "meshgrid", "diag", "diagflat", "diagonal", "tril", "triu", "vander", "get_item", "take",
    "take_along_axis", "where", "nonzero", "select", "unravel_index", "ndim", "size", "vectorize",
]

