"""Datasets with Keras 3's loaders' interface: ``(x_train, y_train), (x_test, y_test) = <set>.load_data()``.

Downloaded (once, then read from the cache): `mnist`, `fashion_mnist`, `cifar10`, `cifar100`, `imdb`,
`reuters`, `boston_housing`, `california_housing`. Offline: `digits`, `iris`, `breast_cancer`, `diabetes`
(scikit-learn's shipped data) and the generators in `synthetic`.

Downloads go through pooch and are verified against pinned hashes before they enter the cache:

- ``KERASISH_DATA_DIR``: cache directory (default ``~/.kerasish/datasets``).
- ``KERASISH_DATASETS_BASE_URL`` or ``kerasish.datasets.MIRROR = "https://host/path"``: fetch every file as
  ``<mirror>/<file name>`` instead of from its origin (the attribute wins over the variable).
- ``with kerasish.datasets.cache_only(): ...``: read only what is cached; a missing file raises
  `DatasetNotCachedError` at once, without touching the network (recipes fall back to offline sets with it).
- Offline? Each loader's error names the URL, the expected hash and the exact path where to put the file.

Errors: `DatasetHashError` (a `kerasish.errors.FileFormatError`) when downloaded bytes do not match;
`DatasetDownloadError` when the server cannot be reached.
"""

from kerasish.datasets import (
    boston_housing,
    breast_cancer,
    california_housing,
    cifar10,
    cifar100,
    diabetes,
    digits,
    fashion_mnist,
    imdb,
    iris,
    mnist,
    reuters,
    synthetic,
)
from kerasish.datasets._cache import (
    DatasetDownloadError,
    DatasetError,
    DatasetHashError,
    DatasetNotCachedError,
    cache_only,
    data_dir,
)

MIRROR: str | None = None

__all__ = [
    "MIRROR",
    "DatasetDownloadError",
    "DatasetError",
    "DatasetHashError",
    "DatasetNotCachedError",
    "boston_housing",
    "breast_cancer",
    "cache_only",
    "california_housing",
    "cifar10",
    "cifar100",
    "data_dir",
    "diabetes",
    "digits",
    "fashion_mnist",
    "imdb",
    "iris",
    "mnist",
    "reuters",
    "synthetic",
]
