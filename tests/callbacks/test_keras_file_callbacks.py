"""ModelCheckpoint and BackupAndRestore with Keras 3's files: what kerasish writes, Keras reads, and back."""

import json
import warnings

import keras
import numpy as np
import pytest

import kerasish

X = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
Y = np.random.default_rng(1).standard_normal((32, 2)).astype("float32")


def _mlp(lib):
    model = lib.Sequential([lib.Input((4,)), lib.layers.Dense(8, activation="relu"), lib.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_model_checkpoint_writes_weights_h5_that_keras_loads(tmp_path):
    model = _mlp(kerasish)
    template = str(tmp_path / "ckpt-{epoch:02d}.weights.h5")
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0,
              callbacks=[kerasish.callbacks.ModelCheckpoint(template, save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01.weights.h5", "ckpt-02.weights.h5"]
    twin = _mlp(keras)
    twin.load_weights(tmp_path / "ckpt-02.weights.h5")
    _close(twin.predict(X, verbose=0), model.predict(X, verbose=0))


def test_model_checkpoint_best_keras_file(tmp_path):
    model = _mlp(kerasish)
    path = tmp_path / "best.keras"
    model.fit(X, Y, epochs=3, batch_size=8, verbose=0, validation_data=(X, Y),
              callbacks=[kerasish.callbacks.ModelCheckpoint(str(path), save_best_only=True)])
    loaded = kerasish.models.load_model(path)
    assert loaded.compiled
    assert int(loaded.optimizer.iterations.value) == 12  # the best epoch was the last: val_loss falls here
    _close(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_backup_dir_holds_keras_files_that_keras_resumes_from(tmp_path):
    model = _mlp(kerasish)
    model.fit(X, Y, epochs=2, batch_size=8, verbose=0,
              callbacks=[kerasish.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False, keras_files=True)])
    assert json.loads((tmp_path / "training_metadata.json").read_text()) == {"epoch": 2, "batch": 0}
    twin = _mlp(keras)
    history = twin.fit(X, Y, epochs=3, batch_size=8, verbose=0,
                       callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    assert len(history.history["loss"]) == 1  # epochs 1 and 2 were done: Keras runs the third only
    mine = model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert len(mine.history["loss"]) == 1
    model_again = _mlp(keras)
    model_again.fit(X, Y, epochs=2, batch_size=8, verbose=0,  # nothing left to run: the backup's weights
                    callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    reference = _mlp(kerasish)
    reference.load_weights(tmp_path / "latest.weights.h5")
    _close(model_again.predict(X, verbose=0), reference.predict(X, verbose=0))


def test_kerasish_resumes_a_keras_backup(tmp_path):
    twin = _mlp(keras)
    twin.fit(X, Y, epochs=2, batch_size=8, verbose=0,
             callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path), delete_checkpoint=False)])
    model = _mlp(kerasish)
    with pytest.warns(UserWarning, match="resuming from the Keras backup .* at epoch 3"):
        history = model.fit(X, Y, epochs=2, batch_size=8, verbose=0,
                            callbacks=[kerasish.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert history.history.get("loss", []) == []  # both epochs were done
    _close(model.predict(X, verbose=0), twin.predict(X, verbose=0))
    assert int(model.optimizer.iterations.value) == int(twin.optimizer.iterations) == 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        more = model.fit(X, Y, epochs=3, batch_size=8, verbose=0,
                         callbacks=[kerasish.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert len(more.history["loss"]) == 1
