"""CIFAR-10: 32x32 color images in 10 classes."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._cache import fetch
from kerasish.datasets._formats import read_cifar_tar

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_TRAIN = [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
_TEST = ["cifar-10-batches-py/test_batch"]


def load_data():
    """Loads CIFAR-10: 50,000 training and 10,000 test images; labels index `CLASS_NAMES`.

    The tarball is cached as downloaded and read in place (its pickles only ever rebuild NumPy arrays).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` uint8 channels-last `(n, 32, 32, 3)`,
        `y` uint8 `(n, 1)`.
    """
    batches = read_cifar_tar(fetch("cifar-10-python.tar.gz", ORIGIN, SHA256), _TRAIN + _TEST, "labels")
    (x_train, y_train), (x_test, y_test) = [
        (
            np.concatenate([x for x, _ in part]).transpose(0, 2, 3, 1),
            np.concatenate([np.asarray(y, np.uint8) for _, y in part]).reshape(-1, 1),
        )
        for part in (batches[:5], batches[5:])
    ]
    return (x_train, y_train), (x_test, y_test)
