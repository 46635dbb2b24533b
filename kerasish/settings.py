"""Keras's global settings (``keras.backend`` / ``keras.config``: floatx, epsilon, image data format, ...) and
dtype helpers. A leaf module: it imports nothing else from kerasish but its errors."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_FLOATX, _EPSILON, _IMAGE_DATA_FORMAT = "float32", 1e-7, "channels_last"
_INTERACTIVE_LOGGING = True  # keras.config's switch; kerasish.utils.Progbar reads it
# Set by kerasish.config, which can import the layers and policies (they import this module): the layers'
# name counter (get_uid counts with it, as Keras) and what set_floatx and clear_session also do.
_NAME_COUNTS: Any = None
_ON_SET_FLOATX: list = []  # fn(old, new)
_ON_CLEAR_SESSION: list = []  # fn()


def _error(message: str):
    from kerasish.errors import ConfigError
    return ConfigError(message)


def backend() -> str:
    """``"jax"``: kerasish runs on JAX only."""
    return "jax"


def floatx() -> str:
    """The default float dtype (``"float32"``); new layers' dtype policy follows it."""
    return _FLOATX


def set_floatx(value) -> None:
    """Set the default float dtype (see :mod:`kerasish.config`; "float64" needs ``jax_enable_x64``)."""
    global _FLOATX
    if value not in ("bfloat16", "float16", "float32", "float64"):
        raise _error(f"Unknown `floatx` value: {value!r}. Expected 'bfloat16', 'float16', 'float32' or 'float64'.")
    if value == "float64" and not jax.config.jax_enable_x64:  # else JAX would silently store float32
        raise _error("set_floatx('float64') needs jax.config.update('jax_enable_x64', True) first.")
    old, _FLOATX = _FLOATX, str(value)
    for hook in _ON_SET_FLOATX:
        hook(old, _FLOATX)


def epsilon() -> float:
    """The fuzz factor of numeric expressions (``1e-7``)."""
    return _EPSILON


def set_epsilon(value) -> None:
    """Set :func:`epsilon`'s value (kerasish's own losses and metrics keep 1e-7: a warning says so)."""
    global _EPSILON
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not value > 0:
        raise _error(f"set_epsilon: value must be a positive number, got {value!r}.")
    if float(value) != 1e-7:
        import warnings
        warnings.warn(f"set_epsilon({value!r}): kerasish's built-in losses, metrics, constraints and regularizers "
                      "keep 1e-7; only code that calls epsilon() sees the new value.", stacklevel=2)
    _EPSILON = value


def image_data_format() -> str:
    """The default image layout: ``"channels_last"``."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format) -> None:
    """Accepts ``"channels_last"`` only, the layers' default (channels-first data: give each layer
    ``data_format="channels_first"``)."""
    if str(data_format).lower() != "channels_last":
        raise _error(f"set_image_data_format: got {data_format!r}; kerasish's layers default to 'channels_last' "
                     "only (for channels-first data pass data_format='channels_first' to each layer).")


def _dtype_name(dtype) -> str:
    """Keras's ``standardize_dtype``: the dtype's canonical name (Python types mapped as JAX maps them)."""
    x64 = jax.config.jax_enable_x64
    python = {bool: "bool", int: "int64" if x64 else "int32", "int": "int64" if x64 else "int32", float: _FLOATX,
              complex: "complex128" if x64 else "complex64", str: "string", "string": "string", None: _FLOATX}
    if isinstance(dtype, (type, str)) or dtype is None:
        if dtype in python:
            return python[dtype]
    try:
        name = np.dtype(jnp.dtype(dtype)).name
    except TypeError:
        name = None
    if name is None or (isinstance(dtype, str) and name != dtype):  # canonical names only, not "float" or "f4"
        raise _error(f"Invalid dtype: {dtype!r}.")
    return name


def is_float_dtype(dtype) -> bool:
    """Whether ``dtype`` is a floating-point dtype."""
    return _dtype_name(dtype).startswith(("float", "bfloat"))


def is_int_dtype(dtype) -> bool:
    """Whether ``dtype`` is an integer dtype (bool is not)."""
    return _dtype_name(dtype).startswith(("int", "uint"))


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a functional-API symbolic tensor (checked by class name: the layers import this module)."""
    return any(c.__name__ == "KerasTensor" and c.__module__ == "kerasish.layers.symbolic" for c in type(x).__mro__)


def result_type(*dtypes) -> str:
    """The dtype an op on these dtypes gives (JAX's promotion; Python types weak; 64-bit results 32-bit
    while JAX's 64-bit mode is off; none given: floatx)."""
    import warnings
    if not dtypes:
        return _FLOATX
    given = [d if d in (int, float, bool, complex) else np.dtype(jnp.dtype(_dtype_name(d))) for d in dtypes]
    with warnings.catch_warnings():  # JAX warns that it truncates 64-bit results: that is the point here
        warnings.simplefilter("ignore", UserWarning)
        out = np.dtype(jax.dtypes.canonicalize_dtype(jnp.result_type(*given)))
    if out == np.float32 and float in given and all(d in (int, float, bool) for d in given):
        return _FLOATX
    return out.name


def get_uid(prefix: str = "") -> int:
    """1 the first time ``prefix`` is given, then 2, 3, ... (layer names count with the same counter)."""
    global _NAME_COUNTS
    if _NAME_COUNTS is None:
        import collections
        _NAME_COUNTS = collections.Counter()
    _NAME_COUNTS[prefix] += 1
    return _NAME_COUNTS[prefix]


def clear_session(free_memory: bool = True) -> None:
    """Reset layer names, the global dtype policy and ``kerasish.config``'s switches (floatx, epsilon and the
    image format stay, as in Keras); ``free_memory`` also runs the garbage collector."""
    global _INTERACTIVE_LOGGING
    if _NAME_COUNTS is not None:
        _NAME_COUNTS.clear()
    _INTERACTIVE_LOGGING = True
    for hook in _ON_CLEAR_SESSION:
        hook()
    if free_memory:
        import gc
        gc.collect()
