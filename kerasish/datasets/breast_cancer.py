"""Wisconsin breast cancer diagnostics (569 samples, 30 features, 2 classes); offline, shipped with scikit-learn."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._offline import load_sklearn, split

CLASS_NAMES = ("malignant", "benign")


def load_data(test_split: float = 0.2, seed: int = 113):
    """Loads the breast cancer set, shuffled by `seed` and split.

    Args:
        test_split: fraction of the samples put in the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` float32 `(n, 30)` (unscaled), `y` int64 `(n,)`
        indexing `CLASS_NAMES` (1 = benign).
    """
    bunch = load_sklearn("breast_cancer.load_data", "breast_cancer", test_split, seed)
    return split(bunch.data.astype(np.float32), bunch.target.astype(np.int64), test_split, seed)
