"""Fuzzing load_model and model_from_json: any input either loads or raises a KerasishError, nothing else.

One small model is built and saved once; hypothesis then flips, cuts and inserts
bytes, and rewrites archive members with mutated JSON values and keys (with the
metadata hashes recomputed, as an attacker would, so the mutation reaches the
parsers behind them). Mutated integers stay small or absurdly large: a config may
legitimately ask for any layer size, and building mid-sized ones would only
measure memory (see the README's note on load-time memory).
"""

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kerasish
from kerasish import layers
from kerasish.models import load_model, model_from_json
from tests.saving.archive_tools import read_members, replace_members

FUZZ = settings(max_examples=200, deadline=None, database=None, derandomize=True,  # the same cases every CI run
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def make_model():
    return kerasish.Sequential([kerasish.Input(shape=(4, 4, 1)), layers.Conv2D(2, 3, padding="same"),
                                layers.BatchNormalization(), layers.Flatten(), layers.Dropout(0.25),
                                layers.Dense(3, activation="softmax")])


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """(file bytes, weights, config, work file) of a trained, compiled model saved once for every example."""
    kerasish.utils.set_random_seed(0)
    model = make_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=1)
    model.fit(np.ones((8, 4, 4, 1), "float32"), np.zeros(8, "int32"), batch_size=4, verbose=0)
    directory = tmp_path_factory.mktemp("fuzz")
    model.save(directory / "original.kerasish")
    return ((directory / "original.kerasish").read_bytes(), model.get_weights(), model.get_config(),
            directory / "case.kerasish")


@pytest.fixture(scope="module")
def json_text():
    return make_model().to_json()


def load_or_refuse(path, data: bytes):
    """The loaded model, or None when load_model raised a KerasishError; any other exception fails the test."""
    path.write_bytes(data)
    try:
        return load_model(path)
    except kerasish.KerasishError as e:
        assert str(path) in str(e), f"the message does not name the file: {e}"
        return None


def assert_unchanged(model, original):
    """Byte-level damage is caught by the checksums: a model that loads is the saved one, bit for bit."""
    if model is None:
        return
    _, weights, config, _ = original
    assert model.get_config() == config
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


@FUZZ
@given(st.data())
def test_byte_flips(original, data):
    saved, _, _, path = original
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(saved) - 1), st.integers(1, 255)), min_size=1,
                               max_size=6))
    damaged = bytearray(saved)
    for at, mask in flips:
        damaged[at] ^= mask
    assert_unchanged(load_or_refuse(path, bytes(damaged)), original)


@FUZZ
@given(st.data())
def test_truncations(original, data):
    saved, _, _, path = original
    keep = data.draw(st.integers(0, len(saved) - 1))
    assert load_or_refuse(path, saved[:keep]) is None


@FUZZ
@given(st.data())
def test_inserted_garbage(original, data):
    saved, _, _, path = original
    at = data.draw(st.integers(0, len(saved)))
    garbage = data.draw(st.binary(min_size=1, max_size=64))
    assert_unchanged(load_or_refuse(path, saved[:at] + garbage + saved[at:]), original)


# -- structured mutations of JSON ------------------------------------------------------------------
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 40), st.sampled_from([2**40, -(2**31), 10**30]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    st.sampled_from(["os.system", "builtins.eval", "Dense", "Lambda", "Sequential", "Functional", "float64",
                     "bfloat16", "relu", "same", "../x", "", "Custom>Nope", "__tensor__"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))


def paths(node, prefix=()):
    """Every position in a JSON tree, as a tuple of keys and indices (the root is ())."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def mutate_json(data, tree):
    """One random change at a random place: a new value, a deleted or renamed key, an extra key or item."""
    path = data.draw(st.sampled_from(list(paths(tree))))
    action = data.draw(st.sampled_from(["replace", "delete", "rename", "add"]))
    if not path:
        return data.draw(VALUES) if action == "replace" else tree
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "replace":
        parent[last] = data.draw(VALUES)
    elif action == "delete":
        del parent[last]
    elif action == "rename" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8))] = parent.pop(last)
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8))] = data.draw(VALUES)
    else:
        parent.insert(last, data.draw(VALUES))
    return tree


@FUZZ
@given(st.data())
def test_json_members_rewritten(original, data):
    saved, _, _, path = original
    members = read_members(saved)
    name = data.draw(st.sampled_from(["config.json", "config.json", "compile.json", "metadata.json"]))
    mutated = json.dumps(mutate_json(data, json.loads(members[name]))).encode()
    # metadata.json's own table is the target there: recomputing it would undo the mutation.
    load_or_refuse(path, replace_members(saved, {name: mutated}, fix_metadata=name != "metadata.json"))


def _split_safetensors(blob: bytes):
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


@FUZZ
@given(st.data())
def test_safetensors_headers_rewritten(original, data):
    saved, _, _, path = original
    name = data.draw(st.sampled_from(["model.weights.safetensors", "optimizer.safetensors"]))
    header, body = _split_safetensors(read_members(saved)[name])
    encoded = json.dumps(mutate_json(data, header)).encode()
    load_or_refuse(path, replace_members(saved, {name: struct.pack("<Q", len(encoded)) + encoded + body}))


@FUZZ
@given(st.data())
def test_model_from_json_with_mutated_configs(json_text, data):
    mutated = json.dumps(mutate_json(data, json.loads(json_text)))
    try:
        model_from_json(mutated)
    except kerasish.KerasishError:
        pass


@FUZZ
@given(st.data())
def test_model_from_json_with_mutated_text(json_text, data):
    text = json_text
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 8))
    insert = data.draw(st.text(max_size=8))
    try:
        model_from_json(text[:at] + insert + text[at + cut:])
    except kerasish.KerasishError:
        pass


def test_lambda_model_refuses_safe_mode(tmp_path):
    def halve(x):
        return x / 2

    inp = kerasish.Input(shape=(2,))
    kerasish.Model(inp, layers.Lambda(halve)(inp)).save(tmp_path / "l.kerasish")
    with pytest.raises(kerasish.FileFormatError, match="safe_mode=False"):
        load_model(tmp_path / "l.kerasish", custom_objects={"halve": halve})
    loaded = load_model(tmp_path / "l.kerasish", custom_objects={"halve": halve}, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2)), verbose=0), [[0.5, 0.5]])
