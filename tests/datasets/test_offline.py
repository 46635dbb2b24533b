"""Offline datasets (scikit-learn's shipped data) and the synthetic generators: no network involved."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.datasets

from kerasish.datasets import breast_cancer, diabetes, digits, iris, synthetic
from kerasish.errors import ConfigError


def _sorted_rows(a):
    flat = a.reshape(len(a), -1)
    return flat[np.lexsort(flat.T[::-1])]


SKLEARN = [
    (digits, "digits", (8, 8), np.uint8, np.uint8),
    (iris, "iris", (4,), np.float32, np.int64),
    (breast_cancer, "breast_cancer", (30,), np.float32, np.int64),
    (diabetes, "diabetes", (10,), np.float32, np.float32),
]


@pytest.mark.parametrize("module,name,shape,x_dtype,y_dtype", SKLEARN, ids=[s[1] for s in SKLEARN])
def test_sklearn_sets(module, name, shape, x_dtype, y_dtype):
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    source = bunch.images if name == "digits" else bunch.data
    n = len(source)
    (x, y), (xt, yt) = module.load_data()
    assert x.shape == (int(n * 0.8),) + shape and xt.shape == (n - int(n * 0.8),) + shape
    assert x.dtype == xt.dtype == x_dtype and y.dtype == yt.dtype == y_dtype
    # train + test is exactly the data set, each sample once (a disjoint partition), labels kept with samples
    joined = np.concatenate([np.concatenate([x, xt]).reshape(n, -1), np.concatenate([y, yt])[:, None]], axis=1)
    original = np.concatenate([source.reshape(n, -1), bunch.target[:, None]], axis=1)
    joined, original = joined.astype(x_dtype), original.astype(x_dtype)
    np.testing.assert_array_equal(_sorted_rows(joined), _sorted_rows(original))
    # deterministic under seed, different under another seed, test_split honoured
    (x2, _), _ = module.load_data()
    np.testing.assert_array_equal(x, x2)
    (x3, _), (xt3, _) = module.load_data(test_split=0.5, seed=1)
    assert len(x3) == n // 2 and not np.array_equal(x3, x[: len(x3)])
    with pytest.raises(ConfigError, match="test_split"):
        module.load_data(test_split=1.5)


def test_spirals():
    (x, y), (xt, yt) = synthetic.spirals(n_samples=300, n_classes=3, noise=0.1, seed=4)
    assert x.shape == (240, 2) and xt.shape == (60, 2) and x.dtype == np.float32 and y.dtype == np.int32
    assert np.bincount(np.concatenate([y, yt])).tolist() == [100, 100, 100]
    assert np.abs(x).max() < 1.01
    # points of one class wind around the origin: the angle minus 4*pi*radius is the arm's offset
    noiseless = synthetic.spirals(n_samples=90, n_classes=3, noise=0.0, seed=0)[0]
    r = np.hypot(*noiseless[0].T)
    offset = np.mod(np.arctan2(noiseless[0][:, 1], noiseless[0][:, 0]) - 4 * np.pi * r, 2 * np.pi)
    np.testing.assert_allclose(np.sin(offset), np.sin(2 * np.pi * noiseless[1] / 3), atol=1e-4)
    np.testing.assert_array_equal(synthetic.spirals(50, seed=2)[0][0], synthetic.spirals(50, seed=2)[0][0])
    assert not np.array_equal(synthetic.spirals(50, seed=2)[0][0], synthetic.spirals(50, seed=3)[0][0])
    with pytest.raises(ConfigError, match="n_classes"):
        synthetic.spirals(n_classes=1)


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_sequences(padding):
    (x, y), (xt, yt) = synthetic.sequences(n_samples=200, max_length=12, min_length=4, vocab_size=9, padding=padding)
    assert x.shape == (160, 12) and xt.shape == (40, 12) and x.dtype == np.int32 and y.dtype == np.int32
    allx, ally = np.concatenate([x, xt]), np.concatenate([y, yt])
    assert allx.max() < 9
    for row, label in zip(allx, ally):
        tokens = row[row != 0]
        assert 4 <= len(tokens) <= 12 and (tokens == 1).sum() == 1 and (tokens == 2).sum() == 1
        assert label == int(np.argmax(tokens == 1) < np.argmax(tokens == 2))
        n = len(tokens)
        np.testing.assert_array_equal(row[:n] if padding == "post" else row[12 - n :], tokens)
    assert 0.3 < ally.mean() < 0.7
    np.testing.assert_array_equal(synthetic.sequences(50, seed=5)[1][0], synthetic.sequences(50, seed=5)[1][0])
    with pytest.raises(ConfigError, match="padding"):
        synthetic.sequences(padding="middle")
    with pytest.raises(ConfigError, match="max_length"):
        synthetic.sequences(max_length=3, min_length=5)


def test_translation_pairs():
    import datetime

    (x, y), (xt, yt), vocab = synthetic.translation_pairs(n_samples=100, seed=3)
    assert x.shape == (80, 10) and y.shape == (80, 19) and xt.shape == (20, 10) and x.dtype == y.dtype == np.int32
    assert vocab[:3] == ("<pad>", "<start>", "<end>") and len(set(vocab)) == len(vocab)
    months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December"]
    sources = []
    for src, tgt in zip(np.concatenate([x, xt]), np.concatenate([y, yt])):
        text = "".join(vocab[i] for i in src)
        date = datetime.date.fromisoformat(text)
        assert 1950 <= date.year <= 2049
        expected = ["<start>", *f"{date.day:02d} {months[date.month - 1]} {date.year}", "<end>"]
        tokens = [vocab[i] for i in tgt]
        assert tokens[: len(expected)] == expected and set(tokens[len(expected) :]) <= {"<pad>"}
        assert synthetic.decode(tgt, vocab) == "".join(expected[1:-1])
        sources.append(text)
    assert len(set(sources)) == 100  # distinct dates: train and test are disjoint
    again = synthetic.translation_pairs(n_samples=100, seed=3)
    np.testing.assert_array_equal(again[0][1], y)
    assert synthetic.encode("2024-03-05", vocab) == [vocab.index(c) for c in "2024-03-05"]
    with pytest.raises(ConfigError, match="n_samples"):
        synthetic.translation_pairs(n_samples=400, first_year=2000, last_year=2000)
