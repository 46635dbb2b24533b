"""Reuters newswire topic classification (46 topics), as sequences of word indices (Keras's ``reuters.npz``)."""

from __future__ import annotations

import json

import numpy as np

from kerasish.datasets import _sequences as seq
from kerasish.datasets._cache import fetch
from kerasish.datasets._formats import load_npz
from kerasish.errors import ConfigError

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
# Keras pins the word index by MD5 only.
WORD_INDEX_HASH = "md5:4d44cc38712099c9e383dc6e5f11a921"

_LABEL_NAMES = (
    "cocoa grain veg-oil earn acq wheat copper housing money-supply coffee sugar trade reserves ship cotton "
    "carcass crude nat-gas cpi money-fx interest gnp meal-feed alum oilseed gold tin strategic-metal livestock "
    "retail ipi iron-steel rubber heat jobs lei bop zinc orange pet-chem dlr gas silver wpi hog lead"
).split()


def load_data(
    path: str = "reuters.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
):
    """Loads the 11,228 Reuters newswires, each a list of word indices ranked by frequency.

    Args:
        path: file name of the cached copy, relative to the cache directory.
        num_words: keep only indices below this (after `index_from` shifting); others become `oov_char`.
            None keeps every word.
        skip_top: indices below this also become `oov_char` (drops the most frequent words).
        maxlen: drop (not truncate) every sequence of length `>= maxlen`. None keeps all.
        test_split: fraction of the (shuffled) newswires put in the test set.
        seed: seed of the shuffle (Keras's order for the same seed).
        start_char: index prepended to every sequence (None: nothing prepended).
        oov_char: index replacing cut-out words (None: cut-out words are removed).
        index_from: offset added to every raw word index.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` 1-D object arrays of lists of ints, `y` int topic
        labels indexing `get_label_names()`.
    """
    seq.check_args("reuters.load_data", num_words, skip_top, maxlen)
    if not 0.0 <= test_split <= 1.0:
        raise ConfigError(f"reuters.load_data: test_split must be in [0, 1], got {test_split!r}.")
    f = load_npz(fetch(path, BASE + "reuters.npz", SHA256))
    xs, labels = seq.shuffled(np.random.RandomState(seed), f["x"], f["y"])
    xs = seq.offset(xs, start_char, index_from)
    if maxlen:
        xs, labels = seq.drop_long(maxlen, xs, labels)
    xs = seq.limit_vocabulary(xs, num_words, skip_top, oov_char)
    n = int(len(xs) * (1 - test_split))
    labels = np.asarray(labels)
    return (seq.as_object_array(xs[:n]), labels[:n]), (seq.as_object_array(xs[n:]), labels[n:])


def get_word_index(path: str = "reuters_word_index.json") -> dict[str, int]:
    """The dict from word to its raw index (before `index_from` shifting) in the Reuters data."""
    with open(fetch(path, BASE + "reuters_word_index.json", WORD_INDEX_HASH)) as f:
        return json.load(f)


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names; label `i` is `get_label_names()[i]`."""
    return tuple(_LABEL_NAMES)
