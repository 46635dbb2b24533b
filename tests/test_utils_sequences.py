"""kerasish.utils.pad_sequences and to_categorical against Keras 3's."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kerasish.errors import ConfigError, InputError  # noqa: E402
from kerasish.utils import pad_sequences, to_categorical  # noqa: E402

SEQS = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9], [10, 11]]


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 3}, {"maxlen": 6}, {"padding": "post"}, {"truncating": "post", "maxlen": 2},
    {"padding": "post", "truncating": "post", "maxlen": 4, "value": -1}, {"dtype": "float32", "value": 0.5},
])
def test_pad_sequences_matches_keras(kwargs):
    ours = pad_sequences(SEQS, **kwargs)
    theirs = keras.utils.pad_sequences(SEQS, **kwargs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_of_vectors_and_text():
    seqs = [np.ones((2, 3)), np.zeros((4, 3))]
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=3, dtype="float32"),
                                  keras.utils.pad_sequences(seqs, maxlen=3, dtype="float32"))
    words = [["a", "b"], ["c"]]
    np.testing.assert_array_equal(pad_sequences(words, dtype=object, value="<pad>"),
                                  keras.utils.pad_sequences(words, dtype=object, value="<pad>"))


def test_pad_sequences_errors():
    with pytest.raises(ConfigError, match="padding must be 'pre' or 'post', got 'middle'"):
        pad_sequences(SEQS, padding="middle")
    with pytest.raises(ConfigError, match="maxlen must be None or an integer"):
        pad_sequences(SEQS, maxlen=-2)
    with pytest.raises(InputError, match=r"sequences\[1\] is not a sequence"):
        pad_sequences([[1], 2])
    with pytest.raises(InputError, match=r"sequences\[1\] has items of shape \(2,\)"):
        pad_sequences([np.ones((2, 3)), np.ones((2, 2))])


@pytest.mark.parametrize("labels, n", [([0, 2, 1, 2], None), ([[1], [0], [3]], 5), (np.array([2, 0]), 3)])
def test_to_categorical_matches_keras(labels, n):
    ours = to_categorical(labels, n)
    theirs = keras.utils.to_categorical(labels, n)
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_errors():
    with pytest.raises(InputError, match=r"labels must be in \[0, 2\)"):
        to_categorical([0, 2], 2)
    with pytest.raises(InputError, match="labels must be integers"):
        to_categorical([0.5, 1])
