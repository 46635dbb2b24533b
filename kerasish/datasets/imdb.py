"""IMDB movie-review sentiment classification, as sequences of word indices (Keras's ``imdb.npz``)."""

from __future__ import annotations

import json

import numpy as np

from kerasish.datasets import _sequences as seq
from kerasish.datasets._cache import fetch
from kerasish.datasets._formats import load_npz
from kerasish.errors import ConfigError

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
# Keras pins the word index by MD5 only.
WORD_INDEX_HASH = "md5:bfafd718b763782e994055a2d397834f"


def load_data(
    path: str = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
):
    """Loads the IMDB reviews (25,000 train, 25,000 test), each a list of word indices ranked by frequency.

    Args:
        path: file name of the cached copy, relative to the cache directory.
        num_words: keep only indices below this (after `index_from` shifting); others become `oov_char`.
            None keeps every word.
        skip_top: indices below this also become `oov_char` (drops the most frequent words).
        maxlen: drop (not truncate) every sequence of length `>= maxlen`. None keeps all.
        seed: seed of the shuffle applied to train and test (Keras's order for the same seed).
        start_char: index prepended to every sequence (None: nothing prepended).
        oov_char: index replacing cut-out words (None: cut-out words are removed).
        index_from: offset added to every raw word index.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` 1-D object arrays of lists of ints, `y` arrays of 0/1.
    """
    seq.check_args("imdb.load_data", num_words, skip_top, maxlen)
    f = load_npz(fetch(path, BASE + "imdb.npz", SHA256))
    rng = np.random.RandomState(seed)  # one stream: the test shuffle continues after the train shuffle
    x_train, y_train = seq.shuffled(rng, f["x_train"], f["y_train"])
    x_test, y_test = seq.shuffled(rng, f["x_test"], f["y_test"])
    x_train = seq.offset(x_train, start_char, index_from)
    x_test = seq.offset(x_test, start_char, index_from)
    if maxlen:
        x_train, y_train = seq.drop_long(maxlen, x_train, y_train)
        x_test, y_test = seq.drop_long(maxlen, x_test, y_test)
        if not x_train or not x_test:
            raise ConfigError(f"imdb.load_data: no sequence is shorter than maxlen={maxlen}; increase maxlen.")
    xs = seq.limit_vocabulary(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([y_train, y_test])
    n = len(x_train)
    return (seq.as_object_array(xs[:n]), labels[:n]), (seq.as_object_array(xs[n:]), labels[n:])


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """The dict from word to its raw index (before `index_from` shifting) in the IMDB data."""
    with open(fetch(path, BASE + "imdb_word_index.json", WORD_INDEX_HASH)) as f:
        return json.load(f)

