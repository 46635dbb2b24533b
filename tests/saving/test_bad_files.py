"""Damaged, tampered and hostile .kerasish files: each is a FileFormatError naming the file, never a raw traceback."""

import io
import json
import zipfile

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.models import load_model
from kerasish.saving import files
from tests.saving.archive_tools import build_archive, read_members, replace_members


def make_model(units=16):
    return kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(units, activation="relu"),
                                layers.Dropout(0.2), layers.BatchNormalization(), layers.Dense(3)])


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> bytes:
    """The bytes of a trained, compiled model's file (with optimizer state)."""
    kerasish.utils.set_random_seed(0)
    model = make_model()
    model.compile(optimizer="adam", loss="mse", steps_per_execution=1)
    model.fit(np.ones((8, 6), "float32"), np.zeros((8, 3), "float32"), batch_size=4, verbose=0)
    path = tmp_path_factory.mktemp("saved") / "good.kerasish"
    model.save(path)
    return path.read_bytes()


def refused(tmp_path, data: bytes, match: str):
    path = tmp_path / "bad.kerasish"
    path.write_bytes(data)
    with pytest.raises(kerasish.FileFormatError, match=match) as err:
        load_model(path)
    assert str(path) in str(err.value)
    return err.value


def test_the_fixture_loads(tmp_path, saved):
    (tmp_path / "good.kerasish").write_bytes(saved)
    assert load_model(tmp_path / "good.kerasish").compiled


@pytest.mark.parametrize("keep", [0, 1, 22, 300, "half", -1])
def test_truncated(tmp_path, saved, keep):
    n = {"half": len(saved) // 2, -1: len(saved) - 1}.get(keep, keep)
    refused(tmp_path, saved[:n], "truncated|corrupted|not a valid")


def test_not_a_zip_and_missing(tmp_path):
    refused(tmp_path, b"this is not a zip archive", "not a valid .kerasish zip")
    with pytest.raises(kerasish.FileFormatError, match="cannot open") as err:
        load_model(tmp_path / "missing.kerasish")
    assert "missing.kerasish" in str(err.value)
    (tmp_path / "dir.kerasish").mkdir()
    with pytest.raises(kerasish.FileFormatError, match="dir.kerasish"):
        load_model(tmp_path / "dir.kerasish")


def test_flipped_byte_in_a_stored_member(tmp_path, saved):
    weights = read_members(saved)["model.weights.safetensors"]
    at = saved.index(weights[-64:]) + 10  # inside the last tensor's bytes, as stored in the archive
    data = bytearray(saved)
    data[at] ^= 0x01
    refused(tmp_path, bytes(data), "member 'model.weights.safetensors' is corrupted")


def test_member_changed_but_metadata_not(tmp_path, saved):
    weights = bytearray(read_members(saved)["model.weights.safetensors"])
    weights[-3] ^= 0x10  # the zip's CRC is recomputed, the sha256 in metadata.json is not
    data = replace_members(saved, {"model.weights.safetensors": bytes(weights)}, fix_metadata=False)
    refused(tmp_path, data, "'model.weights.safetensors' does not match the size and sha256")


def test_metadata_hash_mismatch(tmp_path, saved):
    members = read_members(saved)
    metadata = json.loads(members["metadata.json"])
    metadata["members"]["config.json"]["sha256"] = "0" * 64
    data = replace_members(saved, {"metadata.json": json.dumps(metadata).encode()}, fix_metadata=False)
    refused(tmp_path, data, "'config.json' does not match")


def test_recomputed_hashes_still_catch_tensor_corruption(tmp_path, saved):
    weights = bytearray(read_members(saved)["model.weights.safetensors"])
    weights[-3] ^= 0x10  # metadata.json recomputed too: the safetensors checksum remains
    refused(tmp_path, replace_members(saved, {"model.weights.safetensors": bytes(weights)}), "checksum")


@pytest.mark.parametrize("name,fix,match", [
    ("model.weights.safetensors", False, "'model.weights.safetensors' listed in metadata.json is missing"),
    ("model.weights.safetensors", True, "'model.weights.safetensors' is missing"),
    ("config.json", True, "'config.json' is missing"),
    ("metadata.json", False, "'metadata.json' is missing"),
])
def test_member_missing(tmp_path, saved, name, fix, match):
    refused(tmp_path, replace_members(saved, {name: None}, fix_metadata=fix), match)


def test_unlisted_and_unexpected_members(tmp_path, saved):
    members = list(read_members(saved).items())
    refused(tmp_path, build_archive(members + [("run_me.py", b"import os")], fix_metadata=False),
            "unexpected member 'run_me.py'")
    metadata = json.loads(dict(members)["metadata.json"])
    del metadata["members"]["compile.json"]
    data = replace_members(saved, {"metadata.json": json.dumps(metadata).encode()}, fix_metadata=False)
    refused(tmp_path, data, "'compile.json' is not listed in metadata.json")


@pytest.mark.parametrize("name", ["../config.json", "/etc/passwd", "a\\..\\config.json", "C:/config.json",
                                  "./config.json", "dir/../../x.json"])
def test_zip_slip_member_names(tmp_path, saved, name):
    members = list(read_members(saved).items()) + [(name, b"{}")]
    refused(tmp_path, build_archive(members, fix_metadata=False), "unsafe member name")


def test_duplicate_member(tmp_path, saved):
    members = list(read_members(saved).items())
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = build_archive(members + [("config.json", b"{}")], fix_metadata=False)
    refused(tmp_path, data, "'config.json' appears more than once")


def test_too_many_members(tmp_path, saved):
    members = list(read_members(saved).items()) + [(f"x{i}.json", b"{}") for i in range(files.MAX_MEMBERS)]
    refused(tmp_path, build_archive(members, fix_metadata=False), "at most 16")


def test_oversized_json_member_is_refused_before_inflating(tmp_path, saved):
    config = json.loads(read_members(saved)["config.json"])
    config["padding"] = " " * (files.MAX_JSON_BYTES + 1)  # deflates to a few KB: a small zip bomb
    data = replace_members(saved, {"config.json": json.dumps(config).encode()})
    assert len(data) < 100_000
    refused(tmp_path, data, "'config.json' is .* bytes uncompressed, over the limit")


def test_oversized_tensor_member_and_total(tmp_path, saved, monkeypatch):
    monkeypatch.setattr(files, "MAX_TENSOR_BYTES", 1000)
    refused(tmp_path, saved, "'model.weights.safetensors' is .* over the limit of 1000")
    monkeypatch.setattr(files, "MAX_TENSOR_BYTES", 2**30)
    monkeypatch.setattr(files, "MAX_TOTAL_BYTES", 3000)
    refused(tmp_path, saved, "add up to .* over the limit of 3000")


def test_lying_uncompressed_size(tmp_path, saved):
    # A directory entry that declares fewer bytes than the member inflates to.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in read_members(saved).items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(out.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("config.json")
    central = data.rindex(b"config.json") - 46  # the central directory entry's header
    size_at = central + 24
    assert int.from_bytes(data[size_at:size_at + 4], "little") == info.file_size
    data[size_at:size_at + 4] = (info.file_size // 2).to_bytes(4, "little")
    refused(tmp_path, bytes(data), "'config.json'")


def test_wrong_architecture_weights(tmp_path, saved):
    other = tmp_path / "other.kerasish"
    make_model(units=12).save(other)
    weights = read_members(other.read_bytes())["model.weights.safetensors"]
    err = refused(tmp_path, replace_members(saved, {"model.weights.safetensors": weights}),
                  r"weight 0 'dense.*kernel' .* shape \(6, 16\) .* shape \(6, 12\)")
    assert "model.weights.safetensors" in str(err)


def test_optimizer_state_of_another_optimizer(tmp_path, saved):
    kerasish.utils.set_random_seed(0)
    model = make_model()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 6), "float32"), np.zeros((4, 3), "float32"), verbose=0)
    model.save(tmp_path / "sgd.kerasish")
    state = read_members((tmp_path / "sgd.kerasish").read_bytes())["optimizer.safetensors"]
    refused(tmp_path, replace_members(saved, {"optimizer.safetensors": state}), "optimizer state arrays")


def _with_config(saved, edit):
    config = json.loads(read_members(saved)["config.json"])
    edit(config)
    return replace_members(saved, {"config.json": json.dumps(config).encode()})


@pytest.mark.parametrize("class_name", ["NoSuchLayer", "os.system", "posix.system", "builtins.exec",
                                        "keras.src.layers.Dense", "__main__>Evil", "KerasTensor", 7, None])
def test_config_with_unknown_or_code_like_class(tmp_path, saved, class_name):
    def edit(config):
        config["config"]["layers"][1]["class_name"] = class_name
        config["config"]["layers"][1]["module"] = "os"

    refused(tmp_path, _with_config(saved, edit), "config.json: .*(Unknown layer class|class_name)")


def test_top_level_class_that_is_not_a_model(tmp_path, saved):
    refused(tmp_path, _with_config(saved, lambda c: c.update(class_name="Dense")), "not a model")


def test_config_that_is_not_json_or_not_an_object(tmp_path, saved):
    refused(tmp_path, replace_members(saved, {"config.json": b"\xff\xfe{"}), "config.json: not valid JSON")
    refused(tmp_path, replace_members(saved, {"config.json": b"[1, 2]"}), "config.json: a model config")


def test_malformed_layer_arguments(tmp_path, saved):
    refused(tmp_path, _with_config(saved, lambda c: c["config"]["layers"][0]["config"].update(units="many")),
            "config.json")
    refused(tmp_path, _with_config(saved, lambda c: c["config"]["layers"][0]["config"].update(evil=1)),
            "unexpected keyword")


def test_compile_json_with_unknown_optimizer(tmp_path, saved):
    compile_config = json.loads(read_members(saved)["compile.json"])
    compile_config["optimizer"]["class_name"] = "os.system"
    refused(tmp_path, replace_members(saved, {"compile.json": json.dumps(compile_config).encode()}),
            "compile.json: .*Unknown optimizer")


def test_newer_format_version(tmp_path, saved):
    metadata = json.loads(read_members(saved)["metadata.json"])
    metadata["format_version"] = 99
    refused(tmp_path, replace_members(saved, {"metadata.json": json.dumps(metadata).encode()}, fix_metadata=False),
            "newer kerasish")


def test_saving_into_a_missing_directory_names_it(tmp_path):
    model = kerasish.Sequential([kerasish.Input(shape=(2,)), layers.Dense(1)])
    for call, path in ((model.save, "m.kerasish"), (model.save_weights, "w.weights.safetensors"),
                       (model.export, "served")):
        with pytest.raises(kerasish.ConfigError, match="does not exist"):
            call(str(tmp_path / "missing" / path))


def test_weight_keys_with_huge_or_repeated_indices_are_refused():
    from kerasish.saving.weights import _ordered

    with pytest.raises(kerasish.FileFormatError, match="unexpected tensor key"):
        _ordered({"0" * 5000 + "/x": np.zeros(1)}, "f")
    with pytest.raises(kerasish.FileFormatError, match="two tensors"):
        _ordered({"0000/a": np.zeros(1), "00000/b": np.zeros(1)}, "f")
