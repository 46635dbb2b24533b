"""Shuffle-and-split shared by the offline datasets (scikit-learn's shipped data and the synthetic sets)."""

from __future__ import annotations

import numpy as np

from kerasish.errors import ConfigError


def check_split(loader: str, test_split) -> None:
    if not isinstance(test_split, (float, int)) or not 0.0 <= test_split < 1.0:
        raise ConfigError(f"{loader}: test_split must be a float in [0, 1), got {test_split!r}.")


def split(x: np.ndarray, y: np.ndarray, test_split: float, seed: int):
    """``(x_train, y_train), (x_test, y_test)`` after a shuffle by ``RandomState(seed)``: deterministic, disjoint."""
    order = np.random.RandomState(seed).permutation(len(x))
    x, y = x[order], y[order]
    n = int(len(x) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])


def load_sklearn(loader: str, name: str, test_split: float, seed: int):
    """``sklearn.datasets.load_<name>()``: data files shipped with scikit-learn, no network."""
    check_split(loader, test_split)
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")()
