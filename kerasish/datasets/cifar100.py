"""CIFAR-100: 32x32 color images in 100 fine classes grouped into 20 coarse ones."""

from __future__ import annotations

import numpy as np

from kerasish.datasets._cache import fetch
from kerasish.datasets._formats import read_cifar_tar
from kerasish.errors import ConfigError

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode: str = "fine"):
    """Loads CIFAR-100: 50,000 training and 10,000 test images.

    Args:
        label_mode: `"fine"` (100 classes) or `"coarse"` (20 superclasses).

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` uint8 channels-last `(n, 32, 32, 3)`,
        `y` int64 `(n, 1)` (as Keras 3 returns them, whatever its docstring says).
    """
    if label_mode not in ("fine", "coarse"):
        raise ConfigError(f'cifar100.load_data: label_mode must be "fine" or "coarse", got {label_mode!r}.')
    local = fetch("cifar-100-python.tar.gz", ORIGIN, SHA256)
    parts = read_cifar_tar(local, ["cifar-100-python/train", "cifar-100-python/test"], f"{label_mode}_labels")
    (x_train, y_train), (x_test, y_test) = [
        (x.transpose(0, 2, 3, 1), np.asarray(y, np.int64).reshape(-1, 1)) for x, y in parts
    ]
    return (x_train, y_train), (x_test, y_test)
