"""Every test here may set a global dtype policy (kerasish's and Keras's): each starts and ends with float32."""

import sys

import pytest

import kerasish


def _reset() -> None:
    kerasish.mixed_precision.set_global_policy("float32")
    if "keras" in sys.modules:  # the oracle, if a test imported it
        sys.modules["keras"].mixed_precision.set_global_policy("float32")


@pytest.fixture(autouse=True)
def float32_policy():
    _reset()
    try:
        yield
    finally:
        _reset()
