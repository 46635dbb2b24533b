"""The word-index sequence processing shared by imdb and reuters (Keras 3 semantics)."""

from __future__ import annotations

import numpy as np

from kerasish.errors import ConfigError


def check_args(loader: str, num_words, skip_top, maxlen) -> None:
    for name, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise ConfigError(f"{loader}: {name} must be None or a non-negative int, got {value!r}.")
    if not isinstance(skip_top, (int, np.integer)) or skip_top < 0:
        raise ConfigError(f"{loader}: skip_top must be a non-negative int, got {skip_top!r}.")


def shuffled(rng: np.random.RandomState, *arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays permuted together by ``rng.shuffle`` of their indices (the order Keras produces)."""
    order = np.arange(len(arrays[0]))
    rng.shuffle(order)
    return [a[order] for a in arrays]


def offset(xs, start_char, index_from) -> list[list[int]]:
    """Shift word indices by ``index_from`` and prepend ``start_char`` (when not None)."""
    head = [] if start_char is None else [start_char]
    return [head + [int(w) + index_from for w in x] for x in xs]


def drop_long(maxlen, xs, labels):
    """Keep only sequences strictly shorter than ``maxlen`` (Keras drops, it does not truncate)."""
    keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
    return [xs[i] for i in keep], np.asarray(labels)[keep]


def limit_vocabulary(xs, num_words, skip_top, oov_char):
    """Words outside ``[skip_top, num_words)`` become ``oov_char``, or are removed when it is None."""
    if not num_words:
        num_words = max(max(x) for x in xs if x)
    if oov_char is None:
        return [[w for w in x if skip_top <= w < num_words] for x in xs]
    return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]


def as_object_array(xs) -> np.ndarray:
    """A 1-D object array of lists, whatever the lengths (``np.array`` would make 2-D of equal-length lists)."""
    out = np.empty(len(xs), dtype=object)
    for i, x in enumerate(xs):
        out[i] = x
    return out
