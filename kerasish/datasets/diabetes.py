"""Diabetes progression regression (442 patients, 10 features); offline, shipped with scikit-learn."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._offline import load_sklearn, split


def load_data(test_split: float = 0.2, seed: int = 113):
    """Loads the diabetes set, shuffled by `seed` and split.

    Args:
        test_split: fraction of the samples put in the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` float32 `(n, 10)` (mean-centered, scaled features),
        `y` float32 `(n,)` disease progression one year later (25..346).
    """
    bunch = load_sklearn("diabetes.load_data", "diabetes", test_split, seed)
    return split(bunch.data.astype(np.float32), bunch.target.astype(np.float32), test_split, seed)
