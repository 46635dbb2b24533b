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


@pytest.fixture(autouse=True)
def _no_persisted_steps_decisions(monkeypatch):
    """In-process tests neither read nor write the steps_per_execution="auto" decisions kept beside the
    user's compilation cache: one run's (or one test's) decision would change another's arithmetic.
    Tests of that store give it a file of their own (tests/engine/test_auto_decision_cache.py)."""
    from kerasish.engine import compilation_cache

    monkeypatch.setattr(compilation_cache, "decisions_path", lambda: None)
