"""Shared test setup: Keras 3 (the oracle) runs on the JAX backend; everything runs on the CPU."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def digits_split():
    from kerasish.demo import load_digits_split

    return load_digits_split(0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
