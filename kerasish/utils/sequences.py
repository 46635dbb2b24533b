"""``pad_sequences`` and ``to_categorical``, with Keras's arguments and results."""

from __future__ import annotations

import numpy as np

from kerasish.errors import ConfigError, InputError


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Lists of sequences to one ``(n, maxlen, ...)`` array, as ``keras.utils.pad_sequences``.

    Args:
        sequences: a list (or object array) of sequences; each element a list or array whose items may
            themselves be arrays (all of one shape).
        maxlen: the length of the result; None: the longest sequence's.
        dtype: the result's dtype (a string dtype such as ``"str"`` or ``object`` for text).
        padding: ``"pre"`` (default, as Keras) or ``"post"``: where the padding goes.
        truncating: ``"pre"`` (drop from the start, as Keras) or ``"post"``: which end of a long sequence
            is cut.
        value: the padding value.

    Returns:
        A NumPy array of shape ``(len(sequences), maxlen) + item_shape``.
    """
    if padding not in ("pre", "post"):
        raise ConfigError(f"pad_sequences: padding must be 'pre' or 'post', got {padding!r}.")
    if truncating not in ("pre", "post"):
        raise ConfigError(f"pad_sequences: truncating must be 'pre' or 'post', got {truncating!r}.")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise ConfigError(f"pad_sequences: maxlen must be None or an integer >= 0, got {maxlen!r}.")
    if not hasattr(sequences, "__len__"):
        raise InputError(f"pad_sequences: sequences must be a list of sequences, got {type(sequences).__name__}.")
    lengths, item_shape = [], None
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise InputError(f"pad_sequences: sequences[{i}] is not a sequence: {s!r}.")
        lengths.append(len(s))
        if item_shape is None and len(s):
            item_shape = np.asarray(s).shape[1:]
    item_shape = item_shape or ()
    n = len(lengths)
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_text = np.issubdtype(np.dtype(dtype), np.str_) or np.dtype(dtype) == object
    if isinstance(value, str) and not is_text:
        raise ConfigError(f"pad_sequences: value {value!r} is a string but dtype {dtype!r} is not text.")
    out = np.full((n, maxlen) + item_shape, value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or maxlen == 0:
            continue
        s = np.asarray(s, dtype=dtype if is_text else None)
        if s.shape[1:] != item_shape:
            raise InputError(f"pad_sequences: sequences[{i}] has items of shape {s.shape[1:]}, but earlier "
                             f"sequences have {item_shape}.")
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, maxlen - len(trunc):] = trunc
    return out


def to_categorical(x, num_classes=None):
    """Integer class labels to one-hot float32 rows, as ``keras.utils.to_categorical``.

    A trailing axis of size 1 is dropped first (labels shaped ``(n, 1)`` give ``(n, num_classes)``).
    """
    x = np.asarray(x)
    if x.size and not np.issubdtype(x.dtype, np.integer) and not np.all(np.equal(np.mod(x, 1), 0)):
        raise InputError("to_categorical: labels must be integers.")
    x = x.astype("int64")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x[..., 0]
    if num_classes is None:
        num_classes = int(x.max(initial=-1)) + 1
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise InputError(f"to_categorical: labels must be in [0, {num_classes}), got values from {x.min()} to "
                         f"{x.max()}.")
    return np.eye(num_classes, dtype="float32")[x]
