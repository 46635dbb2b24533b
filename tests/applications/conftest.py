"""Fixtures shared by the application tests (Keras 3 is the oracle; see ``_parity.py``)."""

import json

import pytest


@pytest.fixture
def fake_class_index(monkeypatch, tmp_path):
    """A made-up ImageNet class index (``{"i": ["n<i>", "class_<i>"]}``) served to both Keras and kerasish.

    kerasish reads it through ``kerasish.utils.get_file`` (patched to return the fake file and record its
    arguments, so no network is used); Keras gets the parsed index directly. Yields the list of recorded
    ``get_file`` calls, each a dict of its arguments.
    """
    import keras.src.applications.imagenet_utils as keras_utils

    import kerasish.utils
    from kerasish.applications import imagenet_utils

    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    path = tmp_path / "imagenet_class_index.json"
    path.write_text(json.dumps(index))
    calls = []

    def fake_get_file(fname=None, origin=None, **kwargs):
        calls.append({"fname": fname, "origin": origin, **kwargs})
        return str(path)

    monkeypatch.setattr(kerasish.utils, "get_file", fake_get_file)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(keras_utils, "CLASS_INDEX", index)
    yield calls
