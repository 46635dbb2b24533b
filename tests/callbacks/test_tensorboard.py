"""TensorBoard callback: the logs are read back with TensorBoard's own reader and its own HTTP server."""

import glob
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jax
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import kerasish
from kerasish import layers
from kerasish.callbacks.callback_list import CallbackList
from kerasish.callbacks.tensorboard import TensorBoard
from kerasish.errors import ConfigError

STEPS = 4  # 64 samples, batch_size 16
PATHS = ["hidden/kernel", "hidden/bias", "out/kernel", "out/bias"]


def small_model():
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(5,)), layers.Dense(8, activation="relu", name="hidden"),
                                 layers.Dense(2, activation="softmax", name="out")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def small_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def read_run(path) -> EventAccumulator:
    guidance = {"scalars": 0, "histograms": 0, "tensors": 0, "images": 0, "compressedHistograms": 0}
    return EventAccumulator(str(path), size_guidance=guidance).Reload()


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 3-epoch fit with histograms, images, batch scalars every 2 batches and steps per second."""
    log_dir = tmp_path_factory.mktemp("tb")
    x, y = small_data()
    model = small_model()
    tb = TensorBoard(log_dir, histogram_freq=1, update_freq=2, write_images=True, write_steps_per_second=True)
    history = model.fit(x, y, batch_size=16, epochs=3, validation_data=(x[:16], y[:16]), callbacks=[tb],
                        verbose=0)
    return log_dir, history.history, model


def test_epoch_scalars_match_history(trained):
    log_dir, history, _ = trained
    train, val = read_run(log_dir / "train"), read_run(log_dir / "validation")
    for tag, key in [("epoch_loss", "loss"), ("epoch_accuracy", "accuracy")]:
        assert [s for s, _ in scalars(train, tag)] == [0, 1, 2]
        assert [v for _, v in scalars(train, tag)] == pytest.approx(history[key], rel=1e-6)
        assert [s for s, _ in scalars(val, tag)] == [0, 1, 2]
        assert [v for _, v in scalars(val, tag)] == pytest.approx(history[f"val_{key}"], rel=1e-6)
    assert [v for _, v in scalars(train, "epoch_learning_rate")] == pytest.approx([1e-3] * 3, rel=1e-6)
    assert len(scalars(train, "epoch_steps_per_second")) == 3
    assert all(v > 0 for _, v in scalars(train, "epoch_steps_per_second"))
    assert not any(t.startswith("epoch_val") for t in train.Tags()["scalars"])
    assert set(val.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy"}


def test_batch_scalars_every_update_freq_batches(trained):
    log_dir, history, _ = trained
    train = read_run(log_dir / "train")
    batch_loss = scalars(train, "batch_loss")
    assert [s for s, _ in batch_loss] == list(range(2, 3 * STEPS + 1, 2))
    # Batch logs are running means over the epoch: at each epoch's last batch they are the epoch's logs.
    at_epoch_end = [v for s, v in batch_loss if s % STEPS == 0]
    assert at_epoch_end == pytest.approx(history["loss"], rel=1e-6)
    assert [s for s, _ in scalars(train, "batch_accuracy")] == [s for s, _ in batch_loss]
    assert len(scalars(train, "batch_steps_per_second")) == len(batch_loss)


def test_weight_histograms_and_images(trained):
    log_dir, _, model = trained
    train = read_run(log_dir / "train")
    paths = [w.path for w in model.weights]
    assert paths == PATHS
    assert sorted(train.Tags()["histograms"]) == sorted(paths)
    for weight in model.weights:
        events = train.Histograms(weight.path)
        assert [e.step for e in events] == [0, 1, 2]
        last = events[-1].histogram_value
        final = np.asarray(weight.numpy(), dtype=np.float64)
        assert last.num == final.size
        assert last.sum == pytest.approx(final.sum(), rel=1e-5, abs=1e-6)
        assert last.sum_squares == pytest.approx((final ** 2).sum(), rel=1e-5)
        assert (last.min, last.max) == pytest.approx((final.min(), final.max()), rel=1e-6)
        assert sum(last.bucket) == final.size
    images = train.Images("hidden/kernel/image")  # a (5, 8) kernel: height 5, width 8
    assert [(e.step, e.height, e.width) for e in images] == [(0, 5, 8), (1, 5, 8), (2, 5, 8)]
    assert sorted(train.Tags()["images"]) == sorted(f"{p}/image" for p in paths)


def test_model_summary_and_hyperparameters_text(trained):
    log_dir, _, _ = trained
    train = read_run(log_dir / "train")
    summary = train.Tensors("model_summary/text_summary")
    assert len(summary) == 1
    text = summary[0].tensor_proto.string_val[0].decode()
    assert "hidden (Dense)" in text and "out (Dense)" in text and "Total params: 66" in text
    assert all(line.startswith("    ") for line in text.splitlines())  # a Markdown code block
    hparams = train.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    for row in ["| optimizer | Adam |", "| optimizer.learning_rate | 0.001 |", "| epochs | 3 |",
                "| steps_per_epoch | 4 |", "| total_params | 66 |"]:
        assert row in hparams


def test_batch_hook_only_when_needed(tmp_path):
    assert not CallbackList([TensorBoard(tmp_path)]).wants("on_train_batch_end")
    assert not CallbackList([TensorBoard(tmp_path, histogram_freq=1)]).wants("on_train_batch_end")
    for kwargs in [{"update_freq": 3}, {"update_freq": "batch"}, {"profile_batch": 2},
                   {"write_steps_per_second": True}]:
        tb = TensorBoard(tmp_path, **kwargs)
        assert CallbackList([tb]).wants("on_train_batch_end"), kwargs
        assert isinstance(tb, TensorBoard)
    assert not os.listdir(tmp_path)  # writers open lazily, at fit

    seen = []

    class Counting(TensorBoard):  # a subclass's own batch hook still runs, after the logging
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    x, y = small_data()
    small_model().fit(x, y, batch_size=16, epochs=1, callbacks=[Counting(tmp_path, update_freq=1)], verbose=0)
    assert seen == list(range(STEPS))
    assert [s for s, _ in scalars(read_run(tmp_path / "train"), "batch_loss")] == [1, 2, 3, 4]


def _get_json(opener, url):
    with opener.open(url, timeout=10) as response:
        return json.loads(response.read().decode())


def test_tensorboard_server_serves_the_scalars(trained, tmp_path):
    log_dir, history, _ = trained
    binary = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.exists(binary):
        pytest.skip(f"the tensorboard server binary is not installed next to {sys.executable}")
    stderr_path = tmp_path / "tensorboard.log"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    with open(stderr_path, "wb") as stderr:
        # --port 0: the server picks a free port and prints it ("TensorBoard 2.x at http://127.0.0.1:PORT/").
        server = subprocess.Popen([binary, "--logdir", str(log_dir), "--host", "127.0.0.1", "--port", "0",
                                   "--load_fast=false"], stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline, base, tags = time.monotonic() + 60, None, {}
        while time.monotonic() < deadline:
            assert server.poll() is None, f"tensorboard exited: {stderr_path.read_text()}"
            if base is None:
                match = re.search(r"http://127\.0\.0\.1:(\d+)/", stderr_path.read_text())
                base = match and f"http://127.0.0.1:{match.group(1)}"
            if base:
                try:
                    tags = _get_json(opener, f"{base}/data/plugin/scalars/tags")
                except (urllib.error.URLError, ConnectionError):
                    tags = {}
                if "epoch_loss" in tags.get("train", {}) and "epoch_loss" in tags.get("validation", {}):
                    break
            time.sleep(0.25)
        else:
            pytest.fail(f"tensorboard served no scalars within 60 s; its log: {stderr_path.read_text()}")

        def served(run, tag):
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            return _get_json(opener, f"{base}/data/plugin/scalars/scalars?{query}")  # [[wall_time, step, value]]

        assert sorted(_get_json(opener, f"{base}/data/runs")) == ["train", "validation"]
        for run, key in [("train", "loss"), ("validation", "val_loss"), ("train", "accuracy"),
                         ("validation", "val_accuracy")]:
            rows = served(run, "epoch_" + key.removeprefix("val_"))
            assert [step for _, step, _ in rows] == [0, 1, 2]
            assert [value for _, _, value in rows] == pytest.approx(history[key], rel=1e-6)
        assert [step for _, step, _ in served("train", "batch_loss")] == [2, 4, 6, 8, 10, 12]
        histogram_tags = _get_json(opener, f"{base}/data/plugin/histograms/tags")["train"]
        assert sorted(histogram_tags) == sorted(PATHS)
        query = urllib.parse.urlencode({"run": "train", "tag": "model_summary/text_summary"})
        text = _get_json(opener, f"{base}/data/plugin/text/text?{query}")
        assert "Total params: 66" in text[0]["text"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class TracingProbe(kerasish.callbacks.Callback):
    """Placed after the TensorBoard callback: records whether it is tracing after each batch."""

    def __init__(self, tb):
        super().__init__()
        self.tb, self.tracing = tb, []

    def on_train_batch_end(self, batch, logs=None):
        self.tracing.append(self.tb._tracing)


def _traces(log_dir):
    return glob.glob(os.path.join(log_dir, "train", "plugins", "profile", "*", "*.xplane.pb"))


def test_profile_batch_writes_a_trace_around_that_batch(tmp_path):
    x, y = small_data()
    tb = TensorBoard(tmp_path, profile_batch=2)
    probe = TracingProbe(tb)
    small_model().fit(x, y, batch_size=16, epochs=1, callbacks=[tb, probe], verbose=0)
    assert probe.tracing == [True, False, False, False]  # started after batch 1, stopped after batch 2
    assert len(_traces(tmp_path)) == 1


def test_profile_trace_stops_at_train_end(tmp_path):
    x, y = small_data()
    tb = TensorBoard(tmp_path, profile_batch=(3, 100))  # the stop batch is never reached
    probe = TracingProbe(tb)
    small_model().fit(x, y, batch_size=16, epochs=1, callbacks=[tb, probe], verbose=0)
    assert probe.tracing == [False, True, True, True]
    assert len(_traces(tmp_path)) == 1
    jax.profiler.start_trace(str(tmp_path / "after"))  # raises if the callback left its trace running
    jax.profiler.stop_trace()


@pytest.mark.parametrize("kwargs", [
    {"update_freq": "often"}, {"update_freq": 0}, {"update_freq": -3}, {"update_freq": 2.5},
    {"histogram_freq": -1}, {"histogram_freq": 1.5}, {"histogram_freq": True},
    {"embeddings_freq": -2}, {"write_graph": "yes"}, {"write_images": 1},
    {"write_steps_per_second": None}, {"profile_batch": -1}, {"profile_batch": (5, 2)},
    {"profile_batch": (0, 3)}, {"profile_batch": (1, 2, 3)}, {"profile_batch": "a,b"},
    {"profile_batch": 2.0}, {"embeddings_metadata": 3}, {"log_dir": ""}, {"log_dir": None},
])
def test_bad_arguments_raise_config_error(tmp_path, kwargs):
    kwargs = {"log_dir": tmp_path, **kwargs}
    name = [k for k in kwargs if k != "log_dir"][0] if len(kwargs) > 1 else "log_dir"
    with pytest.raises(ConfigError, match=name):
        TensorBoard(**kwargs)


def test_good_profile_batch_forms(tmp_path):
    for value, expected in [(0, (0, 0)), ((0, 0), (0, 0)), (3, (3, 3)), ((2, 5), (2, 5)), ([2, 5], (2, 5)),
                            ("2,5", (2, 5)), ("4", (4, 4))]:
        tb = TensorBoard(tmp_path, profile_batch=value)
        assert (tb._profile_start, tb._profile_stop) == expected


def test_second_fit_appends_and_state_resumes(tmp_path):
    x, y = small_data()
    model = small_model()
    tb = TensorBoard(tmp_path, update_freq=1, histogram_freq=2)
    first = model.fit(x, y, batch_size=16, epochs=2, validation_data=(x[:16], y[:16]), callbacks=[tb], verbose=0)
    second = model.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, validation_data=(x[:16], y[:16]),
                       callbacks=[tb], verbose=0)
    assert len(glob.glob(str(tmp_path / "train" / "events.out.tfevents.*"))) == 2  # one file per fit, none lost
    train, val = read_run(tmp_path / "train"), read_run(tmp_path / "validation")
    assert [s for s, _ in scalars(train, "epoch_loss")] == [0, 1, 2, 3]
    assert [v for _, v in scalars(train, "epoch_loss")] == pytest.approx(
        first.history["loss"] + second.history["loss"], rel=1e-6)
    assert [v for _, v in scalars(val, "epoch_loss")] == pytest.approx(
        first.history["val_loss"] + second.history["val_loss"], rel=1e-6)
    assert [s for s, _ in scalars(train, "batch_loss")] == list(range(1, 4 * STEPS + 1))
    assert [e.step for e in train.Histograms("hidden/kernel")] == [0, 2]
    assert len(train.Tensors("model_summary/text_summary")) == 1  # written once per callback
    assert tb.get_state() == {"global_train_batch": 4 * STEPS}

    # A resumed run (BackupAndRestore restores the state into a fresh callback) keeps counting batches.
    resumed = TensorBoard(tmp_path, update_freq=1)
    resumed.set_state(json.loads(json.dumps(tb.get_state())))
    model.fit(x, y, batch_size=16, epochs=5, initial_epoch=4, callbacks=[resumed], verbose=0)
    train = read_run(tmp_path / "train")
    assert [s for s, _ in scalars(train, "batch_loss")] == list(range(1, 5 * STEPS + 1))
    assert [s for s, _ in scalars(train, "epoch_loss")] == [0, 1, 2, 3, 4]


def test_embeddings_for_the_projector(tmp_path):
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(3,), dtype="int32"), layers.Embedding(10, 4, name="emb"),
                                 layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).integers(0, 10, size=(32, 3)).astype("int32")
    y = np.zeros((32, 1), "float32")
    with pytest.raises(ConfigError, match="embeddings_metadata"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[TensorBoard(tmp_path, embeddings_freq=1, embeddings_metadata={"nope": "m.tsv"})])
    tb = TensorBoard(tmp_path, embeddings_freq=1, embeddings_metadata={"emb": "words.tsv"})
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[tb])
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 2
    assert 'tensor_name: "emb:00001"' in config and 'metadata_path: "words.tsv"' in config
    matrix = np.loadtxt(tmp_path / "train" / "embeddings" / "emb" / "00001" / "tensors.tsv", delimiter="\t")
    np.testing.assert_allclose(matrix, model.get_layer("emb").get_weights()[0], rtol=1e-6)


@pytest.mark.timeout(120)
@pytest.mark.faults
def test_a_failed_background_write_is_a_storage_error_not_a_hang(tmp_path, monkeypatch):
    # tensorboardX writes events from a thread; a full disk kills that thread, and with a batch-level log
    # its queue of 10 events then fills and blocks forever. The callback raises, naming the event file.
    from tensorboardX import event_file_writer

    real = event_file_writer.EventsWriter.write_event

    def full(self, event):  # the event file's header goes through; the first summary fails
        if event.HasField("summary"):
            raise OSError(28, "No space left on device")
        return real(self, event)

    monkeypatch.setattr(event_file_writer.EventsWriter, "write_event", full)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the thread's death is expected here
    x, y = small_data()
    model = small_model()
    callback = TensorBoard(str(tmp_path / "logs"), update_freq=1, write_graph=False)
    with pytest.raises(kerasish.errors.StorageError, match=r"events.*stopped after a failed write"):
        model.fit(x, y, batch_size=4, epochs=30, verbose=0, callbacks=[callback])
