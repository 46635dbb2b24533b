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
    """A model file whose config declares another number of units for its Dense layer, as an attacker
    would make it: a ``.kerasish`` file's metadata fixed up, a ``.keras`` file without kerasish's sha256s
    (as Keras writes it)."""
    members = read_members(data)
    config = json.loads(members[member])
    (dense,) = [entry for entry in config["config"]["layers"] if entry["class_name"] == "Dense"]
    dense["config"]["units"] = units
    metadata = json.loads(members["metadata.json"])
    changes = {member: json.dumps(config).encode()}
    if metadata.pop("kerasish", None) is not None:  # a .keras file
        changes["metadata.json"] = json.dumps(metadata).encode()
    return replace_members(data, changes, fix_metadata="members" in metadata)


def traced_peak(load):
    """``load()``'s exception and the peak of the memory Python and NumPy allocated meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError) as err:
            load()
        return err.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- the model's size, counted as it is built -----------------------------------------------------------
@pytest.mark.parametrize("suffix", [".keras", ".kerasish"])
def test_a_config_over_max_bytes_is_refused_before_its_weight_is_allocated(tmp_path, suffix):
    good = tmp_path / f"good{suffix}"
    kerasish.Sequential([kerasish.Input(shape=(10,)), layers.Dense(100_000, name="d")]).save(good)  # 4.4 MB
    bad = tmp_path / f"bad{suffix}"
    bad.write_bytes(with_dense_units(good.read_bytes(), 200_000))  # 8.8 MB: what a 4.4 MB file may be for
    error, peak = traced_peak(lambda: load_model(bad, max_bytes=4 * 10**6))
    message = str(error)
    # The kernel's 8,000,000 bytes, and its float64 draw and cast: 24,000,000 more on the host.
    assert str(bad) in message and "over the limit of 4,000,000 bytes" in message
    assert "2,000,000 parameters" in message and "(10, 200000)" in message and "32,000,000 bytes" in message
    assert "max_bytes=" in message
    assert peak < 4 * 10**6  # the kernel was never allocated: memory stayed under the limit
    load_model(good, max_bytes=10**8)


def test_the_budget_counts_the_host_memory_of_drawing_a_weight():
    """The real peak of drawing a weight (NumPy's allocations, traced) never passes what the budget counts
    for it: the weight and the initializer's draw_bytes_per_value."""
    from kerasish import initializers

    key = np.array([0, 3], np.uint32)
    for init in (initializers.GlorotUniform(), initializers.HeNormal(), initializers.TruncatedNormal(0.1, 2.0),
                 initializers.RandomNormal(1.0, 3.0), initializers.Zeros(), initializers.Identity(2.0),
                 initializers.Orthogonal(), initializers.STFT()):
        shape = (128, 1, 257) if isinstance(init, initializers.STFT) else (400, 400)
        for dtype in ("float32", "float16", "int8"):
            init(key, (8, 1, 5) if isinstance(init, initializers.STFT) else (2, 2), dtype)  # warm up
            tracemalloc.start()
            try:
                init(key, shape, dtype)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            n = math.prod(shape)
            counted = n * np.dtype(dtype).itemsize + n * init.draw_bytes_per_value
            assert 8 * n <= peak <= counted, (type(init).__name__, dtype, peak / n)


def test_max_bytes_and_the_module_default(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    make_model(units=1000).save(path)  # 44,000 bytes of weights
    # Building peaks at the (10, 1000) kernel: its 40,000 bytes and the 12 bytes a value of drawing it.
    with pytest.raises(FileFormatError, match="40,000 bytes.*160,000 bytes, over the limit of 40,000"):
        load_model(path, max_bytes=40_000)
    with pytest.raises(FileFormatError, match="160,000 bytes, over the limit of 159,999"):
        load_model(path, max_bytes=159_999)
    assert load_model(path, max_bytes=160_000).count_params() == 11_000
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


@pytest.mark.parametrize("suffix", [".keras", ".kerasish", ".h5"])
def test_a_config_asking_more_than_its_weights_hold_is_refused_while_building(tmp_path, suffix):
    """Whatever the memory limit: the weights member's declared size is known before building, and a file's
    weights hold at least half the model's bytes less 1 MiB, so a 4 GB kernel over a ~1 KB member is
    refused before it is allocated (case: a Keras-made .keras declaring Dense(10**8))."""
    good = tmp_path / f"good{suffix}"
    bad = tmp_path / f"bad{suffix}"
    if suffix == ".h5":
        _save_legacy_model(make_model(), good)
        _save_legacy_model(make_model(), bad, units=10**8)
        member, declared = "the file", os.path.getsize(bad)
    else:
        make_model().save(good)
        bad.write_bytes(with_dense_units(good.read_bytes(), 10**8))
        member = "member 'model.weights.h5'" if suffix == ".keras" else "member 'model.weights.safetensors'"
        with zipfile.ZipFile(bad) as archive:
            declared = archive.getinfo(member.split("'")[1]).file_size
    error, peak = traced_peak(lambda: load_model(bad, max_bytes=math.inf))
    message = str(error)
    assert message.startswith(str(bad)) and f"{member} declares {declared:,} bytes, too few" in message
    assert "shape (10, 100000000) and dtype float32 taking 4,000,000,000 bytes" in message
    assert f"at most {limits.most_weights(declared):,} bytes of weights fit" in message
    assert peak < 50 * 2**20  # the 4 GB kernel (or its float64 draw) was never allocated
    assert load_model(good, max_bytes=math.inf).count_params() == 33


def test_the_bound_from_the_file_is_exactly_the_floor_the_loaded_weights_must_meet():
    from kerasish import initializers

    for declared in (0, 1, 12_492, 3 * 2**20 + 7):
        most = limits.most_weights(declared)
        assert limits.floor(most) <= declared < limits.floor(most + 1)
    declared = 1000
    most = limits.most_weights(declared)  # 2,099,153 bytes
    key = np.array([0, 1], np.uint32)
    with limits.budget(weights_declared=declared, weights_member="member 'w'"):
        initializers.Zeros()(key, (most,), "int8")  # exactly what 1000 declared bytes may be for
    with pytest.raises(FileFormatError, match=f"member 'w' declares 1,000 bytes, too few.*{most + 1:,} bytes so far"):
        with limits.budget(weights_declared=declared, weights_member="member 'w'"):
            initializers.Zeros()(key, (most + 1,), "int8")


def test_an_edited_config_of_a_kerasish_written_keras_file_is_refused_before_building(tmp_path, monkeypatch):
    from kerasish.saving import keras_file

    good = tmp_path / "good.keras"
    make_model().save(good)
    members = read_members(good.read_bytes())
    config = json.loads(members["config.json"])
    config["config"]["layers"][-1]["config"]["units"] = 2 * 10**8
    bad = tmp_path / "bad.keras"  # kerasish's sha256 of config.json left as it was
    bad.write_bytes(replace_members(good.read_bytes(), {"config.json": json.dumps(config).encode()},
                                    fix_metadata=False))
    built = []
    real = keras_file.build_from_config
    monkeypatch.setattr(keras_file, "build_from_config", lambda *a, **k: built.append(1) or real(*a, **k))
    error, peak = traced_peak(lambda: load_model(bad, max_bytes=math.inf))
    assert str(error).startswith(str(bad)) and "member 'config.json' does not match the size and sha256" in str(error)
    assert built == [] and peak < 50 * 2**20
    load_model(good)
    assert built == [1]


@pytest.mark.parametrize("kind", ["keras", "kerasish", "model_from_json"])
def test_running_out_of_memory_while_building_is_said_as_such(tmp_path, monkeypatch, kind):
    from kerasish import initializers

    model = make_model()
    path = tmp_path / f"m.{kind}"
    if kind != "model_from_json":
        model.save(path)

    def no_memory(self, rng, shape):
        raise MemoryError(f"Unable to allocate 5.96 GiB for an array with shape {shape} and data type float64")

    monkeypatch.setattr(initializers.VarianceScaling, "sample", no_memory)
    if kind == "model_from_json":
        with pytest.raises(ConfigError) as err:
            kerasish.models.model_from_json(model.to_json(), )
    else:
        with pytest.raises(FileFormatError) as err:
            load_model(path, max_bytes=10**9)
    message = str(err.value)
    assert "needs more memory than is available" in message and "MemoryError: Unable to allocate 5.96 GiB" in message
    assert "malformed" not in message and "max_bytes=N" in message
    if kind != "model_from_json":
        assert message.startswith(f"{path}: config.json:") and "The limit in force was 1,000,000,000 bytes" in message


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
    metadata = json.loads(read_members(good.read_bytes())["metadata.json"])
    del metadata["kerasish"]  # as Keras writes it: no sha256s recorded (with them, the size mismatch is refused)
    bad.write_bytes(_deflated(replace_members(good.read_bytes(), {"model.weights.h5": _inflating(8 * 2**20),
                                                                  "metadata.json": json.dumps(metadata).encode()},
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


def _save_legacy_model(model, path, units=None) -> None:
    """A Keras 2 whole-model HDF5 file (``model_config`` attribute, weights under ``model_weights``), by hand;
    with ``units`` its config declares that many units for the Dense layer."""
    from kerasish.saving.keras_file import _model_config

    config = _model_config(model)
    if units is not None:
        config["config"]["layers"][-1]["config"]["units"] = units
    _save_legacy(model, path)
    with h5py.File(path, "a") as f:
        group = f.create_group("model_weights")
        for name in list(f):
            if name != "model_weights":
                f.move(name, f"model_weights/{name}")
        group.attrs["layer_names"] = f.attrs["layer_names"]
        f.attrs["model_config"] = json.dumps(config)


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
    kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3, name="d")]).save(out + "/good.keras")
    data = open(out + "/good.keras", "rb").read()
    members = read_members(data)
    config, metadata = json.loads(members["config.json"]), json.loads(members["metadata.json"])
    config["config"]["layers"][-1]["config"]["units"] = 10**8  # a 1.6 GB kernel, 2.0 GB in all
    edited = json.dumps(config).encode()
    open(out + "/edited.keras", "wb").write(replace_members(data, {"config.json": edited}, fix_metadata=False))
    del metadata["kerasish"]  # as Keras writes the file: no sha256s
    open(out + "/made.keras", "wb").write(replace_members(
        data, {"config.json": edited, "metadata.json": json.dumps(metadata).encode()}, fix_metadata=False))
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    print("ok", kerasish.models.load_model(out + "/good.keras").count_params(), flush=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name in ("made", "edited"):
        try:
            kerasish.models.load_model(out + "/" + name + ".keras")
        except kerasish.FileFormatError as e:
            print("refused", e)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print("grown", grown // 1024)  # MiB
""")


@pytest.mark.faults
def test_a_hostile_config_under_a_memory_watchdog_is_a_clean_error(tmp_path):
    done = subprocess.run([sys.executable, "-c", WATCHDOG_CHILD, str(tmp_path), str(3 * 2**30)],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    ok, made, edited, grown = done.stdout.strip().splitlines()
    assert ok == "ok 15"
    # Keras-made: the config asks for more than its ~12 KB weights member can hold; refused while building.
    assert made.startswith("refused ") and "made.keras: config.json:" in made
    assert "member 'model.weights.h5' declares" in made and "shape (4, 100000000)" in made
    # kerasish-made: its recorded sha256 of config.json no longer matches; refused before building.
    assert edited.startswith("refused ") and "member 'config.json' does not match the size and sha256" in edited
    assert int(grown.split()[1]) < 100  # MiB of peak RSS grown by both loads (was +4.6 GB for the first)
