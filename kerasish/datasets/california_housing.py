"""California housing prices: 20,640 census block groups, 8 features each, the median house value in
dollars as target (Keras's ``keras.datasets.california_housing``, the same file and split)."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._cache import fetch
from kerasish.errors import ConfigError

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz"
SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version: str = "large", path: str = "california_housing.npz", test_split: float = 0.2,
              seed: int = 113):
    """Loads the California housing samples, shuffled and split.

    Features: median income, house age, average rooms, average bedrooms, population, average occupancy,
    latitude, longitude (per block group, 1990 U.S. census).

    Args:
        version: ``"large"`` (all 20,640 samples) or ``"small"`` (the first 600, a stand-in for the
            deprecated Boston Housing set).
        path: file name of the cached copy, relative to the cache directory.
        test_split: fraction of the samples put in the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split (Keras's order for the same seed).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` `(n, 8)`, `y` `(n,)`, in the file's dtypes.
    """
    if version not in ("small", "large"):
        raise ConfigError(f"california_housing.load_data: version must be 'small' or 'large', got {version!r}.")
    if not 0.0 <= test_split < 1.0:
        raise ConfigError(f"california_housing.load_data: test_split must be in [0, 1), got {test_split!r}.")
    with np.load(fetch(path, ORIGIN, SHA256), allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    n = int(len(x) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])
