"""Boston Housing prices (13 features per suburb, target in k$). Note: its "B" feature encodes a racist
assumption; use it only to discuss such problems, as Keras's documentation warns."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._cache import fetch
from kerasish.errors import ConfigError

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Loads the 506 Boston Housing samples, shuffled and split.

    Args:
        path: file name of the cached copy, relative to the cache directory.
        test_split: fraction of the samples put in the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split (Keras's order for the same seed).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` float64 `(n, 13)`, `y` float64 `(n,)`.
    """
    if not 0.0 <= test_split < 1.0:
        raise ConfigError(f"boston_housing.load_data: test_split must be in [0, 1), got {test_split!r}.")
    with np.load(fetch(path, ORIGIN, SHA256), allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    n = int(len(x) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])
