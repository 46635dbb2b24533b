"""MNIST handwritten digits (Keras's copy, ``mnist.npz``)."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._cache import fetch

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path: str = "mnist.npz"):
    """Loads MNIST: 60,000 training and 10,000 test 28x28 grayscale digit images.

    Args:
        path: file name of the cached copy, relative to the cache directory (see `kerasish.datasets`).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` uint8 of shape `(n, 28, 28)` with values in 0..255,
        `y` uint8 of shape `(n,)` with labels 0..9.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = kerasish.datasets.mnist.load_data()
        >>> x_train.shape, y_test.shape
        ((60000, 28, 28), (10000,))
    """
    local = fetch(path, ORIGIN, SHA256)
    with np.load(local, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
