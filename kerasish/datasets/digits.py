"""scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes); offline, shipped with scikit-learn."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._offline import load_sklearn, split


def load_data(test_split: float = 0.2, seed: int = 113):
    """Loads the digits, shuffled by `seed` and split.

    Args:
        test_split: fraction of the samples put in the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` uint8 `(n, 8, 8)` with values 0..16 (divide by 16 to
        scale to [0, 1]), `y` uint8 `(n,)` with labels 0..9.
    """
    bunch = load_sklearn("digits.load_data", "digits", test_split, seed)
    return split(bunch.images.astype(np.uint8), bunch.target.astype(np.uint8), test_split, seed)
