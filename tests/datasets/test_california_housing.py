"""california_housing through the real pooch path against a loopback server, against Keras's own loader
reading the same file."""

from __future__ import annotations

import keras  # noqa: F401  (Keras's loader module below needs the package set up)
import numpy as np
import pytest

from kerasish.datasets import california_housing
from kerasish.errors import ConfigError

from .conftest import DatasetServer, file_hash


@pytest.fixture
def housing_server(tmp_path, monkeypatch, cache_dir):
    root = tmp_path / "served"
    root.mkdir()
    rng = np.random.default_rng(0)
    raw = {"x": rng.normal(size=(700, 8)).astype("float32"), "y": rng.uniform(2e4, 5e5, 700).astype("float32")}
    np.savez(root / "california_housing.npz", **raw)
    monkeypatch.setattr(california_housing, "SHA256", file_hash(root / "california_housing.npz"))
    server = DatasetServer(root, raw)
    monkeypatch.setenv("KERASISH_DATASETS_BASE_URL", server.url)
    yield server
    server.close()


@pytest.mark.parametrize("kwargs", [{}, dict(version="small", test_split=0.25, seed=5)])
def test_matches_keras_and_caches(kwargs, housing_server, cache_dir, monkeypatch):
    from keras.src.datasets import california_housing as theirs

    monkeypatch.setattr(theirs, "get_file", lambda fname, *a, **k: str(housing_server.root / fname))
    ours = california_housing.load_data(**kwargs)
    expected = theirs.load_data(**kwargs)
    for a, b in zip([*ours[0], *ours[1]], [*expected[0], *expected[1]]):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    california_housing.load_data(**kwargs)
    assert housing_server.hits["california_housing.npz"] == 1
    assert (cache_dir / "california_housing.npz").is_file()


def test_bad_arguments():
    with pytest.raises(ConfigError, match="version"):
        california_housing.load_data(version="medium")
    with pytest.raises(ConfigError, match="test_split"):
        california_housing.load_data(test_split=1.0)
