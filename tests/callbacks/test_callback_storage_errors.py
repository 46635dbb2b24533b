"""Callbacks that write files fail in kerasish's own errors: a StorageError naming the path when the file
system refuses (a parent that is a file, a missing directory, no space left), and a ConfigError for a
ModelCheckpoint name ending in a file extension kerasish does not save as (not a directory of that name)."""

from __future__ import annotations

import errno
import os
import shutil

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.callbacks import Callback, CSVLogger, ModelCheckpoint
from kerasish.errors import ConfigError, StorageError

X = np.linspace(-1, 1, 32, dtype="float32").reshape(8, 4)
Y = X.sum(axis=1, keepdims=True)


def make_model():
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(1, name="d")])
    model.compile("sgd", "mse")
    return model


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("not a directory")
    return path


# -- ModelCheckpoint ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, weights_only", [("afile/c.keras", False), ("afile/sub/c.keras", False),
                                                ("afile/c.weights.h5", True)])
def test_checkpoint_under_a_parent_that_is_a_file_is_a_storage_error(tmp_path, afile, name, weights_only):
    path = tmp_path / name
    with pytest.raises(StorageError) as err:
        make_model().fit(X, Y, epochs=1, verbose=0,
                         callbacks=[ModelCheckpoint(path, save_weights_only=weights_only)])
    assert err.value.errno == errno.ENOTDIR
    assert str(err.value) == f"Cannot save the checkpoint {str(path)!r}: {str(afile)!r} is a file, not a directory."
    assert afile.read_text() == "not a directory"


def test_checkpoint_creates_missing_parents_as_keras(tmp_path):
    path = tmp_path / "runs" / "a" / "b" / "c.keras"
    make_model().fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path)])
    assert kerasish.models.load_model(path).count_params() == 5


def test_orbax_checkpoint_under_a_parent_that_is_a_file_is_a_storage_error(afile):
    with pytest.raises(StorageError, match=f"{afile}/ckdir'.*Not a directory"):
        make_model().fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(afile / "ckdir")])


@pytest.mark.parametrize("name, weights_only", [("ck.txt", False), ("ck.safetensors", False), ("run/ck.pt", False),
                                                ("c-{epoch:02d}.json", False), ("ck.weights", True),
                                                ("ck.txt", True)])
def test_checkpoint_name_with_an_unknown_file_extension_is_refused(tmp_path, name, weights_only):
    suffix = "." + name.rsplit(".", 1)[1]
    with pytest.raises(ConfigError) as err:
        ModelCheckpoint(tmp_path / name, save_weights_only=weights_only)
    message = str(err.value)
    assert f"ends in {suffix!r}" in message and "orbax checkpoints" in message and "end it with '/'" in message
    assert ("'.weights.h5' or '.weights.safetensors'" if weights_only else "'.keras' or '.kerasish'") in message
    assert not os.path.exists(tmp_path / name)


def test_keras_refuses_such_a_name_too(tmp_path):
    keras = pytest.importorskip("keras")
    with pytest.raises(ValueError, match="must end in `.keras`"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "ck.txt"))


@pytest.mark.parametrize("name", ["ckdir", "runs/ckpt.v2", "lr_0.01", "ck.best/", "ck.txt/"])
def test_names_without_a_letters_only_extension_are_orbax_directories(tmp_path, name):
    assert ModelCheckpoint(os.path.join(tmp_path, name)).kind == "orbax"


# -- CSVLogger --------------------------------------------------------------------------------------
class _Count(Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize("where", ["missing", "file"])
def test_csv_logger_into_a_missing_or_file_directory_is_refused_before_training(tmp_path, afile, where):
    path = tmp_path / "nodir" / "sub" / "log.csv" if where == "missing" else afile / "log.csv"
    count = _Count()
    model = make_model()
    before = model.get_weights()
    with pytest.raises(StorageError) as err:
        model.fit(X, Y, epochs=2, verbose=0, callbacks=[count, CSVLogger(path)])
    assert str(path) in str(err.value) and "Cannot write the CSV log" in str(err.value)
    assert err.value.errno == (errno.ENOENT if where == "missing" else errno.ENOTDIR)
    assert count.batches == 0  # nothing trained (as Keras, which opens the file at train begin)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "nodir").exists()  # not created, as Keras


class _RemoveDirectory(Callback):
    def __init__(self, directory):
        super().__init__()
        self.directory = directory

    def on_epoch_begin(self, epoch, logs=None):
        shutil.rmtree(self.directory)


def test_csv_logger_whose_directory_went_during_training_is_a_storage_error(tmp_path):
    path = tmp_path / "logs" / "log.csv"
    path.parent.mkdir()
    with pytest.raises(StorageError, match=f"Cannot write the CSV log '{path}': the directory does not exist"):
        make_model().fit(X, Y, epochs=1, verbose=0, callbacks=[_RemoveDirectory(path.parent), CSVLogger(path)])


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full (every write: no space left) is Linux's")
def test_csv_logger_on_a_full_disk_is_a_storage_error():
    with pytest.raises(StorageError, match="Cannot write the CSV log '/dev/full': no space left") as err:
        make_model().fit(X, Y, epochs=1, verbose=0, callbacks=[CSVLogger("/dev/full")])
    assert err.value.errno == errno.ENOSPC
