"""InputSpec (Keras 3): what a layer expects of each input — rank, dtype, shape, sizes of given axes."""

from __future__ import annotations

import jax
import numpy as np

from kerasish.errors import ConfigError, InputError


def _dtype_name(dtype) -> str:
    try:
        return np.dtype(dtype).name
    except TypeError:
        raise ConfigError(f"InputSpec: dtype must be a dtype such as 'float32', got {dtype!r}.") from None


class InputSpec:
    """The expectations a layer has of one input, checked by :func:`assert_input_compatibility`.

    Args:
        dtype: the input's dtype, or None for any.
        shape: the full shape, batch first (``None`` entries match any size); sets ``ndim``.
        ndim / max_ndim / min_ndim: the exact, largest or smallest rank.
        axes: ``{axis: size}`` sizes that given axes (negative counting from the end) must have.
        allow_last_axis_squeeze: a trailing axis of size 1 may be missing on either side of a shape check.
        name: the input's name, to match a dict of inputs by key.
        optional: the input may be None.

    Example: ``InputSpec(ndim=3, axes={-1: 16})`` accepts ``(batch, time, 16)`` inputs only.
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else _dtype_name(dtype)
        if shape is not None:
            if not isinstance(shape, (list, tuple)):
                raise ConfigError(f"InputSpec: shape must be a tuple of ints or None, got {shape!r}.")
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.shape = None
            self.ndim = ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.name = name
        self.optional = bool(optional)
        self.allow_last_axis_squeeze = bool(allow_last_axis_squeeze)
        try:
            self.axes = {int(k): v for k, v in (axes or {}).items()}
        except (AttributeError, TypeError, ValueError):
            raise ConfigError(f"InputSpec: axes must be a dict with integer keys, got {axes!r}.") from None
        limit = self.ndim if self.ndim is not None else self.max_ndim
        if self.axes and limit is not None and max(self.axes) > limit - 1:
            raise ConfigError(f"InputSpec: axis {max(self.axes)} is beyond the largest allowed axis {limit - 1}.")

    def __repr__(self) -> str:
        parts = [f"{k}={v}" for k, v in (("dtype", self.dtype), ("shape", self.shape), ("ndim", self.ndim),
                                           ("max_ndim", self.max_ndim), ("min_ndim", self.min_ndim),
                                           ("axes", self.axes)) if v]
        return f"InputSpec({', '.join(parts)})"

    def get_config(self) -> dict:
        return {"dtype": self.dtype, "shape": None if self.shape is None else list(self.shape), "ndim": self.ndim,
                "max_ndim": self.max_ndim, "min_ndim": self.min_ndim, "axes": self.axes, "optional": self.optional}

    @classmethod
    def from_config(cls, config: dict) -> InputSpec:
        return cls(**config)

    def check(self, x, layer_name: str, index: int = 0) -> None:
        """Raise InputError when the array (or KerasTensor) ``x`` does not meet this spec."""
        if x is None and self.optional:
            return
        if not hasattr(x, "shape"):
            raise InputError(f"Layer {layer_name!r}: input {index} must be an array, got {type(x).__name__}.")
        shape = tuple(x.shape)
        where = f"Input {index}{f' ({self.name!r})' if self.name else ''} of layer {layer_name!r}"
        n = len(shape)
        if self.ndim is not None and not self.allow_last_axis_squeeze and n != self.ndim:
            raise InputError(f"{where} must have rank {self.ndim}, got shape {shape}.")
        if self.max_ndim is not None and n > self.max_ndim:
            raise InputError(f"{where} must have rank <= {self.max_ndim}, got shape {shape}.")
        if self.min_ndim is not None and n < self.min_ndim:
            raise InputError(f"{where} must have rank >= {self.min_ndim}, got shape {shape}.")
        if self.dtype is not None and np.dtype(x.dtype).name != self.dtype:
            raise InputError(f"{where} must have dtype {self.dtype}, got {np.dtype(x.dtype).name}.")
        for axis, size in self.axes.items():
            if size is not None and -n <= axis < n and shape[axis] not in (size, None):
                raise InputError(f"{where} must have size {size} on axis {axis}, got shape {shape}.")
        if self.shape is not None:
            want, got = self.shape, shape
            if self.allow_last_axis_squeeze:
                got = got[:-1] if got and got[-1] == 1 else got
                want = want[:-1] if want and want[-1] == 1 else want
            if any(w is not None and g is not None and w != g for w, g in zip(want, got)):
                raise InputError(f"{where} must have shape {self.shape}, got shape {shape}.")


def assert_input_compatibility(input_spec, inputs, layer_name: str) -> None:
    """Check ``inputs`` (one array, a list, or a dict matched to the specs' names) against ``input_spec``
    (one InputSpec, a list of them, or None); raise InputError on the first mismatch."""
    if not input_spec:
        return
    specs = jax.tree.leaves(input_spec, is_leaf=lambda s: isinstance(s, InputSpec))
    if isinstance(inputs, dict) and all(s.name for s in specs):
        missing = [s.name for s in specs if s.name not in inputs]
        if missing:
            raise InputError(f"Layer {layer_name!r} expects inputs named {[s.name for s in specs]}, got keys "
                             f"{sorted(inputs)}.")
        inputs = [inputs[s.name] for s in specs]
    flat = jax.tree.leaves(inputs, is_leaf=lambda x: x is None or hasattr(x, "shape"))
    if len(flat) != len(specs):
        raise InputError(f"Layer {layer_name!r} expects {len(specs)} input(s), got {len(flat)}.")
    for i, (x, spec) in enumerate(zip(flat, specs)):
        spec.check(x, layer_name, i)
