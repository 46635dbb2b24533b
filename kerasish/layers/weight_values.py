"""Checks of the values given to ``Layer.set_weights``, before any weight is assigned."""

from __future__ import annotations

import numpy as np

from kerasish.errors import InputError


def checked_weight_values(layer, own: list, weights) -> list:
    """``weights`` as arrays (lists converted by NumPy), one per variable of ``own`` (``layer``'s weights), each of its variable's
    shape and of a numeric dtype (bool, integer or floating; complex only for a complex variable).

    Raises InputError naming the layer and the weight for another count, a value that is not an array of numbers
    (strings, ``None``, ragged nested lists) or another shape."""
    try:
        weights = list(weights)
    except TypeError:
        raise InputError(f"Layer {layer.name!r}: set_weights takes a list of arrays, got "
                         f"{type(weights).__name__}.") from None
    if len(weights) != len(own):
        raise InputError(
            f"Layer {layer.name!r} expects {len(own)} weight arrays "
            f"({[v.name for v in own]}), but set_weights got {len(weights)}."
        )
    out = []
    for var, w in zip(own, weights):
        arr = w if hasattr(w, "shape") and hasattr(w, "dtype") else None  # an array: kept (not copied to host)
        if arr is None:
            try:
                arr = np.asarray(w)
            except (ValueError, TypeError) as e:
                raise InputError(f"Layer {layer.name!r}: the value given to set_weights for weight {var.path!r} is "
                                 f"not an array ({type(e).__name__}: {str(e).splitlines()[0]}).") from None
        kinds = "biufc" if np.dtype(var.dtype).kind == "c" else "biuf"
        if np.dtype(arr.dtype).kind not in kinds:
            shown = repr(np.asarray(arr).ravel()[:3].tolist()) if np.size(arr) else "[]"
            raise InputError(f"Layer {layer.name!r}: weight {var.path!r} ({np.dtype(var.dtype).name}) needs numbers, "
                             f"but the value given to set_weights has dtype {arr.dtype} (e.g. {shown}).")
        if tuple(arr.shape) != tuple(var.shape):
            raise InputError(
                f"Layer {layer.name!r}: weight {var.path!r} has shape {var.shape}, "
                f"but the value given to set_weights has shape {tuple(arr.shape)}."
            )
        out.append(arr)
    return out
