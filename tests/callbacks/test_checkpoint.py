"""ModelCheckpoint keeps what Keras's keeps; its orbax directories load back into a model."""

import os

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.callbacks import ModelCheckpoint, load_checkpoint


def _model(seed=0, spe="auto"):
    kerasish.utils.set_random_seed(seed)
    model = kerasish.Sequential([kerasish.Input(shape=(5,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    model.compile(optimizer=kerasish.optimizers.Adam(0.05), loss="mse", steps_per_execution=spe)
    return model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1))).astype("float32")
    # A validation set whose loss goes down, then up (it is fitted against noise): a clear best epoch.
    return x, y, x[:24] + 0.5, -y[:24]


class RecordWeights(kerasish.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights, self.val = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])
        self.val.append(logs["val_loss"])


def test_save_best_only_in_an_orbax_directory_keeps_the_best_epoch(tmp_path, data):
    x, y, xv, yv = data
    model, rec = _model(), RecordWeights()
    ckpt = ModelCheckpoint(tmp_path / "best", monitor="val_loss", save_best_only=True, max_to_keep=1)
    model.fit(x, y, batch_size=16, epochs=6, validation_data=(xv, yv), callbacks=[rec, ckpt], verbose=0)
    best = int(np.argmin(rec.val))
    assert best < 5, rec.val  # the test needs a best epoch that is not the last
    fresh = _model(seed=1)
    meta = load_checkpoint(fresh, tmp_path / "best")
    assert meta["epoch"] == best + 1
    for a, b in zip(fresh.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)
    assert ckpt.best == pytest.approx(min(rec.val))
    assert len([p for p in os.listdir(tmp_path / "best") if p.isdigit()]) == 1  # max_to_keep


def test_orbax_checkpoint_restores_the_optimizer_so_training_continues(tmp_path, data):
    x, y, _, _ = data
    straight = _model(spe=1)
    straight.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    first = _model(spe=1)
    first.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
              callbacks=[ModelCheckpoint(tmp_path / "c", monitor="loss")])
    resumed = _model(seed=7, spe=1)
    load_checkpoint(resumed, tmp_path / "c")
    resumed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_save_every_n_batches_runs_single_steps_and_saves_that_batch(tmp_path, data):
    x, y, _, _ = data
    model, seen = _model(), {}

    class Grab(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:
                seen["w"] = [w.copy() for w in self.model.get_weights()]

    # 6 batches per epoch, one epoch: saves after batches 2 and 4 (0-based 1 and 3); steps 2 and 4.
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[
        Grab(), ModelCheckpoint(tmp_path / "n", monitor="loss", save_freq=2)])
    fresh = _model(seed=3)
    load_checkpoint(fresh, tmp_path / "n", step=4)
    for a, b in zip(fresh.get_weights(), seen["w"]):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, data):
    x, y, _, _ = data
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "c", monitor="loss")])
    other = kerasish.Sequential([kerasish.Input(shape=(5,)), layers.Dense(4), layers.Dense(1)])
    other.compile(optimizer="adam", loss="mse")
    with pytest.raises(kerasish.FileFormatError, match="cannot be read|does not match"):
        load_checkpoint(other, tmp_path / "c")
    with pytest.raises(kerasish.FileFormatError, match="No checkpoint"):
        load_checkpoint(other, tmp_path / "missing")


def test_bad_arguments(tmp_path):
    with pytest.raises(kerasish.ConfigError, match="save_weights_only"):
        ModelCheckpoint(tmp_path / "m.weights.safetensors")
    with pytest.raises(kerasish.ConfigError, match="weights.safetensors"):
        ModelCheckpoint(tmp_path / "m.kerasish", save_weights_only=True)
    with pytest.raises(kerasish.ConfigError, match="template"):
        ModelCheckpoint(str(tmp_path / "dir-{epoch}"))
    with pytest.raises(kerasish.ConfigError, match="mode"):
        ModelCheckpoint(tmp_path / "m.kerasish", mode="best")
    with pytest.raises(kerasish.ConfigError, match="save_freq"):
        ModelCheckpoint(tmp_path / "m.kerasish", save_freq=0)


def test_templated_weights_files_and_save_best_only_keep_the_best(tmp_path, data):
    # Keras's example: one file per improvement, named from the epoch and the monitored value.
    x, y, xv, yv = data
    model, rec = _model(), RecordWeights()
    template = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.weights.safetensors")
    model.fit(x, y, batch_size=16, epochs=6, validation_data=(xv, yv), verbose=0,
              callbacks=[rec, ModelCheckpoint(template, save_best_only=True, save_weights_only=True)])
    improved = [i for i, v in enumerate(rec.val) if v == min(rec.val[: i + 1])]
    files = sorted(os.listdir(tmp_path))
    assert files == [f"ckpt-{i + 1:02d}-{rec.val[i]:.3f}.weights.safetensors" for i in improved]
    best = improved[-1]
    fresh = _model(seed=2)
    fresh.load_weights(str(tmp_path / files[-1]))
    for a, b in zip(fresh.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(a, b)


def test_whole_model_file_every_epoch_loads_and_predicts(tmp_path, data):
    x, y, _, _ = data
    model = _model()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "m-{epoch}.kerasish"), monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == ["m-1.kerasish", "m-2.kerasish"]
    loaded = kerasish.models.load_model(str(tmp_path / "m-2.kerasish"))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_orbax_directory_reused_by_a_second_run_and_read_by_an_uncompiled_model(tmp_path, data):
    x, y, _, _ = data
    for seed in (0, 1):  # the second run saves the same steps again: they are replaced
        model = _model(seed)
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "c", monitor="loss")])
    plain = kerasish.Sequential([kerasish.Input(shape=(5,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    load_checkpoint(plain, tmp_path / "c")  # weights only: the checkpoint's optimizer state is not needed
    for a, b in zip(plain.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_auto_mode_follows_the_metric_and_templates_count_batches_from_one(tmp_path, data):
    x, y, _, _ = data
    assert ModelCheckpoint(tmp_path / "a.kerasish", monitor="val_precision").mode == "max"
    assert ModelCheckpoint(tmp_path / "a.kerasish", monitor="val_mean_squared_error").mode == "min"
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[
        ModelCheckpoint(str(tmp_path / "b{batch}.weights.safetensors"), save_weights_only=True, save_freq=3,
                        monitor="loss")])
    assert sorted(os.listdir(tmp_path)) == ["b3.weights.safetensors", "b6.weights.safetensors"]


def test_a_missing_monitor_warns_and_saves_anyway(tmp_path, data):
    x, y, _, _ = data
    with pytest.warns(UserWarning, match="val_loss"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[
            ModelCheckpoint(str(tmp_path / "m.weights.safetensors"), save_best_only=True, save_weights_only=True)])
    assert os.listdir(tmp_path) == ["m.weights.safetensors"]
