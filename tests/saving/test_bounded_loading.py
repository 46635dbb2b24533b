"""Loading is bounded by what the caller allows, not by what the file declares: models over the memory
limit are refused as they are built (before the weight that passes it is allocated), weights members that
declare more (zip bombs) or much less than the model needs are refused before they are read, and NaN/inf
weights are reported (or refused with nonfinite="raise") in every format."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, FileFormatError
from kerasish.models import load_model
from kerasish.saving import files, limits
from tests.saving.archive_tools import read_members, replace_members

pytestmark = pytest.mark.faults  # the fault-injection suite: python -m pytest -m faults

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_model(units: int = 3):
    kerasish.utils.set_random_seed(0)
    return kerasish.Sequential([kerasish.Input(shape=(10,)), layers.Dense(units, name="d")])


def with_dense_units(data: bytes, units: int, member: str = "config.json") -> bytes:
    """A model file whose config declares another number of units for its Dense layer (metadata fixed up,
    as an attacker would)."""
    config = json.loads(read_members(data)[member])
    (dense,) = [entry for entry in config["config"]["layers"] if entry["class_name"] == "Dense"]
    dense["config"]["units"] = units
    return replace_members(data, {member: json.dumps(config).encode()})


# -- the model's size, counted as it is built -----------------------------------------------------------
@pytest.mark.parametrize("suffix", [".keras", ".kerasish"])
def test_a_config_over_max_bytes_is_refused_before_its_weight_is_allocated(tmp_path, suffix):
    good = tmp_path / f"good{suffix}"
    make_model().save(good)
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(with_dense_units(good.read_bytes(), 2 * 10**8))  # an 8 GB kernel
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError) as err:
            load_model(bad, max_bytes=10**8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert str(bad) in message and "over the limit of 100,000,000 bytes" in message
    assert "2,000,000,000 parameters" in message and "8,000,000,000 bytes" in message and "max_bytes=" in message
    assert peak < 50 * 2**20  # the 8 GB (or even a 100 MB) array was never allocated
    load_model(good, max_bytes=10**6)  # 132 bytes of weights: well within


def test_max_bytes_and_the_module_default(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    make_model(units=1000).save(path)  # 44,000 bytes of weights
    with pytest.raises(FileFormatError, match="44,000 bytes.*over the limit of 40,000"):
        load_model(path, max_bytes=40_000)
    assert load_model(path, max_bytes=44_000).count_params() == 11_000
    assert load_model(path, max_bytes=math.inf).count_params() == 11_000
    monkeypatch.setattr(limits, "MAX_MODEL_BYTES", 40_000)
    with pytest.raises(FileFormatError, match="over the limit of 40,000"):
        load_model(path)
    with pytest.raises(ConfigError, match="model_from_json.*over the limit of 40,000"):
        kerasish.models.model_from_json(make_model(units=1000).to_json())
    monkeypatch.setattr(limits, "MAX_MODEL_BYTES", None)
    assert limits.max_model_bytes() == limits.memory_available() // 2 > 2**28
    for bad in (0, -1, "1GB", True):
        with pytest.raises(ConfigError, match="max_bytes"):
            load_model(path, max_bytes=bad)


def test_weights_far_smaller_than_the_config_needs_are_refused_before_reading(tmp_path):
    for suffix, member in ((".keras", "member 'model.weights.h5'"),
                           (".kerasish", "member 'model.weights.safetensors'")):
        good = tmp_path / f"good{suffix}"
        make_model().save(good)
        bad = tmp_path / f"bad{suffix}"
        bad.write_bytes(with_dense_units(good.read_bytes(), 200_000))  # needs 8.8 MB, the file holds ~1 KB
        with pytest.raises(FileFormatError, match=f"{member} declares .* too few for the model's variables "
                                                  r"\(8,800,000 bytes\)") as err:
            load_model(bad)
        assert str(bad) in str(err.value)


# -- zip bombs: members bounded by what the model needs --------------------------------------------------
def _deflated(data: bytes) -> bytes:
    """The same archive with every member deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, member in read_members(data).items():
            archive.writestr(name, member, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _inflating(n: int) -> bytes:
    """``n`` bytes that deflate about 4x: under the 1000x ratio check, so only the model's bound stops them."""
    return np.random.default_rng(0).integers(0, 4, n, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("member", ["model.weights.safetensors", "optimizer.safetensors"])
def test_a_kerasish_member_larger_than_the_model_needs_is_refused_before_decompressing(tmp_path, monkeypatch,
                                                                                       member):
    model = make_model()
    model.compile("adam", "mse")
    model.fit(np.ones((2, 10), "float32"), np.ones((2, 3), "float32"), verbose=0)
    good = tmp_path / "good.kerasish"
    model.save(good)
    bad = tmp_path / "bad.kerasish"
    bad.write_bytes(_deflated(replace_members(good.read_bytes(), {member: _inflating(8 * 2**20)})))
    with zipfile.ZipFile(bad) as archive:
        info = archive.getinfo(member)
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.file_size < 1000 * info.compress_size
    read = []
    real = files._read_member
    monkeypatch.setattr(files, "_read_member", lambda p, a, i: read.append(i.filename) or real(p, a, i))
    for load in (load_model, lambda p: make_model().load_weights(p)):
        read.clear()
        with pytest.raises(FileFormatError, match=f"'{member}' declares 8,388,608 bytes, but the model's "
                                                  "variables take .* refused before reading it"):
            load(bad)
        assert member not in read and "config.json" in read


def test_keras_weights_member_larger_than_the_model_needs_is_refused(tmp_path):
    good = tmp_path / "good.keras"
    make_model().save(good)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(_deflated(replace_members(good.read_bytes(), {"model.weights.h5": _inflating(8 * 2**20)},
                                              fix_metadata=False)))
    for load in (load_model, lambda p: make_model().load_weights(p)):
        with pytest.raises(FileFormatError, match="'model.weights.h5' declares 8,388,608 bytes"):
            load(bad)
    # With skip_mismatch (larger layers may be skipped) the bound is the memory limit instead.
    with pytest.raises(FileFormatError, match="not a valid HDF5|does not match"):
        make_model().load_weights(bad, skip_mismatch=True)


def test_a_safetensors_weights_file_larger_than_the_model_needs_is_refused(tmp_path):
    big = kerasish.Sequential([kerasish.Input(shape=(10,)), layers.Dense(100_000, name="d")])
    big.save_weights(tmp_path / "w.weights.safetensors")  # 4.4 MB
    with pytest.raises(FileFormatError, match="the file declares 4,400,.* bytes, but the model's variables take "
                                              "132 bytes"):
        make_model().load_weights(tmp_path / "w.weights.safetensors")


# -- non-finite weights ---------------------------------------------------------------------------------
def _save_legacy(model, path) -> None:
    """Keras 2's legacy weights layout, written by hand."""
    with h5py.File(path, "w") as f:
        names = [layer.name for layer in model.layers if layer.weights]
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in model.layers:
            if not layer.weights:
                continue
            weight_names = [f"{layer.name}/{v.name}:0".encode() for v in layer.weights]
            f.require_group(layer.name).attrs["weight_names"] = np.array(weight_names)
            for name, v in zip(weight_names, layer.weights):
                f.create_dataset(f"{layer.name}/{name.decode()}", data=np.asarray(v.numpy()))


FORMATS = {
    "kerasish": ("m.kerasish", lambda m, p: m.save(p), load_model),
    "keras": ("m.keras", lambda m, p: m.save(p), load_model),
    "weights.h5": ("m.weights.h5", lambda m, p: m.save_weights(p), None),
    "safetensors": ("m.weights.safetensors", lambda m, p: m.save_weights(p), None),
    "sharded": ("m.weights.json", lambda m, p: m.save_weights(p, max_shard_size=1.2e-7), None),
    "legacy": ("m.h5", _save_legacy, None),
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_nonfinite_weights_warn_by_default_raise_when_strict_and_can_be_ignored(tmp_path, kind):
    name, save, load = FORMATS[kind]
    model = make_model()
    kernel = np.ones((10, 3), "float32")
    kernel[0, 0], kernel[1, 2], kernel[4, 1] = np.nan, np.inf, -np.inf
    model.get_layer("d").kernel.assign(kernel)
    path = tmp_path / name
    save(model, path)

    def load_it(**kwargs):
        if load is not None:
            return load(path, **kwargs)
        target = make_model()
        target.load_weights(path, **kwargs)
        return target

    with pytest.warns(UserWarning, match=r"non-finite values in 1 weights: 'd/kernel' \(3 of 30 values NaN or "
                                         r"inf\).*nonfinite='raise'") as caught:
        loaded = load_it()
    assert str(path) in str(caught[0].message)
    np.testing.assert_array_equal(loaded.get_layer("d").kernel.numpy(), kernel)  # loaded as it is
    with pytest.raises(FileFormatError, match=r"'d/kernel' \(3 of 30 values.*Refused") as err:
        load_it(nonfinite="raise")
    assert str(path) in str(err.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_it(nonfinite="ignore")
        model.get_layer("d").kernel.assign(np.ones((10, 3), "float32"))
        save(model, path)
        load_it(nonfinite="raise")  # finite weights: nothing to say
    with pytest.raises(ConfigError, match="nonfinite must be one of"):
        load_it(nonfinite="strict")


def test_nonfinite_optimizer_state_is_reported_too(tmp_path):
    model = make_model()
    model.compile("adam", "mse")
    model.fit(np.ones((2, 10), "float32"), np.ones((2, 3), "float32"), verbose=0)
    moment = next(v for v in model.optimizer.variables if tuple(v.shape) == (10, 3))
    moment.assign(np.full((10, 3), np.nan, "float32"))
    model.save(tmp_path / "m.kerasish")
    with pytest.raises(FileFormatError, match="non-finite values in .* optimizer state arrays"):
        load_model(tmp_path / "m.kerasish", nonfinite="raise")


# -- under a memory watchdog ----------------------------------------------------------------------------
WATCHDOG_CHILD = textwrap.dedent("""
    import json, resource, sys
    import kerasish
    from kerasish import layers
    from tests.saving.archive_tools import read_members, replace_members

    out = sys.argv[1]
    kerasish.Sequential([kerasish.Input(shape=(10,)), layers.Dense(3, name="d")]).save(out + "/good.keras")
    data = open(out + "/good.keras", "rb").read()
    config = json.loads(read_members(data)["config.json"])
    config["config"]["layers"][-1]["config"]["units"] = 2 * 10**8  # an 8 GB kernel
    open(out + "/bad.keras", "wb").write(replace_members(data, {"config.json": json.dumps(config).encode()}))
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    print("ok", kerasish.models.load_model(out + "/good.keras").count_params(), flush=True)
    try:
        kerasish.models.load_model(out + "/bad.keras")
    except kerasish.FileFormatError as e:
        print("refused", e)
""")


@pytest.mark.faults
def test_a_hostile_config_under_a_memory_watchdog_is_a_clean_error(tmp_path):
    done = subprocess.run([sys.executable, "-c", WATCHDOG_CHILD, str(tmp_path), str(3 * 2**30)],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    ok, refused = done.stdout.strip().splitlines()
    assert ok == "ok 33"
    assert refused.startswith("refused ") and "bad.keras" in refused and "2,000,000,000 parameters" in refused
    assert "over the limit of" in refused
