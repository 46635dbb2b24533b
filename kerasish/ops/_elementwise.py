"""keras.ops elementwise math: unary and binary ops (most are their ``jax.numpy`` function)."""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import binary, floatx, install, tensor, unary

_UNARY = {
    "abs": jnp.abs, "absolute": jnp.absolute, "angle": jnp.angle, "bitwise_invert": jnp.bitwise_invert,
    "bitwise_not": jnp.bitwise_not, "conj": jnp.conj, "conjugate": jnp.conjugate, "fabs": jnp.fabs,
    "imag": jnp.imag, "isfinite": jnp.isfinite, "isinf": jnp.isinf, "isnan": jnp.isnan, "isneginf": jnp.isneginf,
    "isposinf": jnp.isposinf, "isreal": jnp.isreal, "logical_not": jnp.logical_not, "negative": jnp.negative,
    "real": jnp.real, "sign": jnp.sign, "signbit": jnp.signbit, "square": jnp.square,
}
_UNARY_FLOAT = {
    "arccos": jnp.arccos, "arccosh": jnp.arccosh, "arcsin": jnp.arcsin, "arcsinh": jnp.arcsinh,
    "arctan": jnp.arctan, "arctanh": jnp.arctanh, "cbrt": jnp.cbrt, "ceil": jnp.ceil, "cos": jnp.cos,
    "cosh": jnp.cosh, "deg2rad": jnp.deg2rad, "exp": jnp.exp, "exp2": jnp.exp2, "expm1": jnp.expm1,
    "floor": jnp.floor, "i0": jnp.i0, "log": jnp.log, "log10": jnp.log10, "log1p": jnp.log1p, "log2": jnp.log2,
    "rad2deg": jnp.rad2deg, "reciprocal": jnp.reciprocal, "sin": jnp.sin, "sinc": jnp.sinc, "sinh": jnp.sinh,
    "sqrt": jnp.sqrt, "tan": jnp.tan, "tanh": jnp.tanh,
}
_BINARY = {
    "add": jnp.add, "arctan2": jnp.arctan2, "bitwise_and": jnp.bitwise_and, "bitwise_or": jnp.bitwise_or,
    "bitwise_xor": jnp.bitwise_xor, "divide": jnp.divide, "equal": jnp.equal, "floor_divide": jnp.floor_divide,
    "fmax": jnp.fmax, "fmin": jnp.fmin, "fmod": jnp.fmod, "gcd": jnp.gcd, "greater": jnp.greater,
    "greater_equal": jnp.greater_equal, "heaviside": jnp.heaviside, "hypot": jnp.hypot, "kron": jnp.kron,
    "lcm": jnp.lcm, "ldexp": jnp.ldexp, "less": jnp.less, "less_equal": jnp.less_equal,
    "logaddexp": jnp.logaddexp, "logaddexp2": jnp.logaddexp2, "logical_and": jnp.logical_and,
    "logical_or": jnp.logical_or, "logical_xor": jnp.logical_xor, "maximum": jnp.maximum,
    "minimum": jnp.minimum, "mod": jnp.mod, "multiply": jnp.multiply, "nextafter": jnp.nextafter,
    "not_equal": jnp.not_equal, "outer": jnp.outer, "power": jnp.power, "subtract": jnp.subtract,
    "true_divide": jnp.true_divide,
}
__all__ = [
    *install(globals(), unary, _UNARY),
    *install(globals(), unary, _UNARY_FLOAT, to_float=True),
    *install(globals(), binary, _BINARY),
]


def _shift(name, jfn):
    def op(x, y):
        return jfn(tensor(x), y if isinstance(y, int) else tensor(y))
    return binary.__globals__["_named"](op, name, f"Keras's ``ops.{name}(x, y)`` on ``jax.numpy.{jfn.__name__}``.")


for _name, _fn in {"bitwise_left_shift": jnp.left_shift, "bitwise_right_shift": jnp.right_shift,
                   "left_shift": jnp.left_shift, "right_shift": jnp.right_shift}.items():
    globals()[_name] = _shift(_name, _fn)
    __all__.append(_name)


@keras_op
def trunc(x):
    """Rounds toward zero; ints keep their dtype (as Keras)."""
    x = tensor(x)
    return x if not jnp.issubdtype(x.dtype, jnp.inexact) else jnp.trunc(x)


@keras_op
def round(x, decimals=0):
    """Rounds half to even; ints with negative ``decimals`` round to tens, hundreds, ..."""
    x = tensor(x)
    if jnp.issubdtype(x.dtype, jnp.integer) and decimals < 0:
        factor = 10 ** (-decimals)
        return (jnp.round(x.astype(floatx()) / factor) * factor).astype(x.dtype)
    return jnp.round(x, decimals)


@keras_op
def divide_no_nan(x1, x2):
    """``x1 / x2``, and 0 where ``x2`` is 0."""
    x1, x2 = tensor(x1), tensor(x2)
    safe = jnp.where(x2 == 0, 1, x2)
    return jnp.where(x2 == 0, 0, jnp.divide(x1, safe))


@keras_op
def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]``; bools become int32 (as Keras)."""
    x = tensor(x)
    if x.dtype == jnp.bool_:
        x = x.astype("int32")
    return jnp.clip(x, x_min, x_max)


@keras_op
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return jnp.nan_to_num(tensor(x), nan=nan, posinf=posinf, neginf=neginf)


@keras_op
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return jnp.isclose(tensor(x1), tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


@keras_op
def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return jnp.allclose(tensor(x1), tensor(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)


__all__ += ["trunc", "round", "divide_no_nan", "clip", "nan_to_num", "isclose", "allclose"]
