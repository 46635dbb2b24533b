"""Fisher's iris flowers (150 samples, 4 features, 3 classes); offline, shipped with scikit-learn."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._offline import load_sklearn, split

CLASS_NAMES = ("setosa", "versicolor", "virginica")
FEATURE_NAMES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")


def load_data(test_split: float = 0.2, seed: int = 113):
    """Loads iris, shuffled by `seed` and split.

    Args:
        test_split: fraction of the samples put in the test set, in `[0, 1)`.
        seed: seed of the shuffle before the split.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` float32 `(n, 4)` (see `FEATURE_NAMES`), `y` int64 `(n,)`
        indexing `CLASS_NAMES`.
    """
    bunch = load_sklearn("iris.load_data", "iris", test_split, seed)
    return split(bunch.data.astype(np.float32), bunch.target.astype(np.int64), test_split, seed)
