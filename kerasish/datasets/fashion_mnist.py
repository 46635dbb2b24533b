"""Fashion-MNIST: 28x28 grayscale images of 10 kinds of clothing, a drop-in replacement for MNIST."""

from __future__ import annotations

from kerasish.datasets._cache import fetch
from kerasish.datasets._formats import read_idx_gz

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Keras pins no hash for these files; these are the SHA-256 of the upstream Zalando release, which Keras's
# copies reproduce byte for byte (same sizes).
SHA256 = {
    "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
}
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def load_data():
    """Loads Fashion-MNIST: 60,000 training and 10,000 test images; labels index `CLASS_NAMES`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` uint8 of shape `(n, 28, 28)`, `y` uint8 of shape `(n,)`.
        The four files are cached under `fashion-mnist/` in the cache directory.
    """
    arrays = [read_idx_gz(fetch(name, BASE + name, digest, subdir="fashion-mnist")) for name, digest in SHA256.items()]
    y_train, x_train, y_test, x_test = arrays
    return (x_train.reshape(len(y_train), 28, 28), y_train), (x_test.reshape(len(y_test), 28, 28), y_test)
