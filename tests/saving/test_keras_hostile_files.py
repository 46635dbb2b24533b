"""Hostile and damaged Keras files: every one is refused with kerasish's own error, before any code runs or
any memory the file merely declares is allocated; and a fuzzer that flips and cuts bytes of real files."""

import io
import json
import os
import zipfile

import h5py
import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kerasish
from kerasish.errors import FileFormatError, KerasishError

pytestmark = pytest.mark.faults  # the fault-injection suite: python -m pytest -m faults

FUZZ = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])


def _model():
    return kerasish.Sequential([kerasish.Input((4,)), kerasish.layers.Dense(3), kerasish.layers.Dense(2)])


@pytest.fixture
def weights_file(tmp_path):
    path = tmp_path / "w.weights.h5"
    _model().save_weights(path)
    return path


def _rewrite(path, edit):
    with h5py.File(path, "a") as f:
        edit(f)


@pytest.mark.parametrize("kind", ["soft", "external"])
def test_links_are_refused(tmp_path, weights_file, kind):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["kernel"] = np.zeros((4, 3), "float32")

    def edit(f):
        del f["layers/dense/vars/0"]
        if kind == "soft":
            f["elsewhere"] = np.zeros((4, 3), "float32")
            f["layers/dense/vars/0"] = h5py.SoftLink("/elsewhere")
        else:
            f["layers/dense/vars/0"] = h5py.ExternalLink(str(other), "kernel")
    _rewrite(weights_file, edit)
    with pytest.raises(FileFormatError, match="Link; kerasish follows only hard links"):
        _model().load_weights(weights_file)


def test_external_storage_is_refused(tmp_path, weights_file):
    raw = tmp_path / "secret.bin"
    raw.write_bytes(np.arange(12, dtype="float32").tobytes())

    def edit(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(4, 3), dtype="float32", external=[(str(raw), 0, 48)])
    _rewrite(weights_file, edit)
    with pytest.raises(FileFormatError, match="other files"):
        _model().load_weights(weights_file)


def test_virtual_datasets_are_refused(tmp_path, weights_file):
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as f:
        f["data"] = np.ones((4, 3), "float32")

    def edit(f):
        del f["layers/dense/vars/0"]
        layout = h5py.VirtualLayout(shape=(4, 3), dtype="float32")
        layout[:] = h5py.VirtualSource(str(source), "data", shape=(4, 3))
        f.create_virtual_dataset("layers/dense/vars/0", layout)
    _rewrite(weights_file, edit)
    with pytest.raises(FileFormatError, match="external and virtual"):
        _model().load_weights(weights_file)


def test_non_numeric_dtype_is_refused(weights_file):
    def edit(f):
        del f["layers/dense/vars/1"]
        f.create_dataset("layers/dense/vars/1", data=np.array([b"a", b"b", b"c"]))
    _rewrite(weights_file, edit)
    with pytest.raises(FileFormatError, match="not a number type"):
        _model().load_weights(weights_file)


def test_a_declared_huge_shape_is_refused_before_reading(weights_file):
    # 10^6 x 10^6 float32 (4 TB) declared, almost nothing stored: compared with the model's shape first.
    def edit(f):
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(10**6, 10**6), dtype="float32", chunks=(1, 1024),
                         compression="gzip", fillvalue=1.0)
    _rewrite(weights_file, edit)
    with pytest.raises(FileFormatError, match=r"\(1000000, 1000000\)"):
        _model().load_weights(weights_file)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
def test_truncated_h5_is_refused(weights_file, cut):
    data = weights_file.read_bytes()
    weights_file.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(FileFormatError, match=str(weights_file.name)):
        _model().load_weights(weights_file)


@FUZZ
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzzed_weights_h5_loads_or_raises_kerasish_errors(tmp_path_factory, flips):
    directory = tmp_path_factory.mktemp("fuzz_h5")
    path = directory / "w.weights.h5"
    model = _model()
    model.save_weights(path)
    data = bytearray(path.read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    path.write_bytes(bytes(data))
    try:
        _model().load_weights(path)
    except KerasishError as e:
        assert "w.weights.h5" in str(e)


# -- .keras archives ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keras_file") / "m.keras"
    model = _model()
    model.compile("adam", "mse")
    model.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0)
    model.save(path)
    return path.read_bytes()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def _zip(members, path):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_kerasish_keras_file_loads_and_is_verified(tmp_path, keras_file):
    path = tmp_path / "m.keras"
    path.write_bytes(keras_file)
    kerasish.models.load_model(path)
    members = _members(keras_file)
    config = json.loads(members["config.json"])
    config["config"]["name"] = "renamed"
    members["config.json"] = json.dumps(config).encode()
    _zip(members, path)
    with pytest.raises(FileFormatError, match="does not match the size and sha256"):
        kerasish.models.load_model(path)


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt", "assets/../../x"])
def test_unsafe_member_names_are_refused(tmp_path, keras_file, name):
    members = {**_members(keras_file), name: b"x"}
    _zip(members, tmp_path / "m.keras")
    with pytest.raises(FileFormatError, match="unsafe member name"):
        kerasish.models.load_model(tmp_path / "m.keras")


def test_unknown_members_are_refused(tmp_path, keras_file):
    _zip({**_members(keras_file), "payload.py": b"import os"}, tmp_path / "m.keras")
    with pytest.raises(FileFormatError, match="unexpected member 'payload.py'"):
        kerasish.models.load_model(tmp_path / "m.keras")


def test_a_decompression_bomb_is_refused_before_it_is_read(tmp_path, keras_file):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in _members(keras_file).items():
            if name != "model.weights.h5":
                z.writestr(name, data)
        with z.open("model.weights.h5", "w") as f:
            chunk = bytes(2**20)
            for _ in range(1100):  # 1.1 GB of zeros, about 1 MB stored
                f.write(chunk)
    assert os.path.getsize(path) < 3 * 2**20
    with pytest.raises(FileFormatError, match="decompression bomb"):
        kerasish.models.load_model(path)


@pytest.mark.parametrize("entry, message", [
    ({"module": "os", "class_name": "system", "config": {"command": "echo pwned"}}, "system"),
    ({"module": "builtins", "class_name": "eval", "config": {}}, "eval"),
    ({"module": "keras.layers", "class_name": "NoSuchLayer", "config": {}}, "NoSuchLayer"),
])
def test_unknown_classes_and_modules_are_refused_without_import(tmp_path, keras_file, entry, message):
    members = _members(keras_file)
    config = json.loads(members["config.json"])
    config["config"]["layers"][1] = {**entry, "registered_name": None}
    members["config.json"] = json.dumps(config).encode()
    metadata = json.loads(members["metadata.json"])
    metadata.pop("kerasish")  # as a file from elsewhere: no checksums to trip first
    members["metadata.json"] = json.dumps(metadata).encode()
    _zip(members, tmp_path / "m.keras")
    with pytest.raises(FileFormatError, match=message):
        kerasish.models.load_model(tmp_path / "m.keras")


def test_a_keras_lambda_bytecode_is_never_run(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs))
    model.save(tmp_path / "lambda.keras")
    for safe_mode in (True, False):
        with pytest.raises(FileFormatError, match="marshalled bytecode.*never runs code"):
            kerasish.models.load_model(tmp_path / "lambda.keras", safe_mode=safe_mode)


@FUZZ
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzzed_keras_file_loads_or_raises_kerasish_errors(tmp_path_factory, keras_file, flips):
    data = bytearray(keras_file)
    for where, value in flips:
        data[int(where * len(data))] = value
    path = tmp_path_factory.mktemp("fuzz_keras") / "m.keras"
    path.write_bytes(bytes(data))
    try:
        kerasish.models.load_model(path)
    except KerasishError as e:
        assert "m.keras" in str(e)
