"""RemoteMonitor, OrbaxCheckpoint, and ModelCheckpoint refusing names whose format does not fit the arguments."""

import json
import threading
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

import kerasish
from kerasish.callbacks import BackupAndRestore, ModelCheckpoint, OrbaxCheckpoint, RemoteMonitor, load_checkpoint
from kerasish.errors import ConfigError


@pytest.mark.parametrize("name, weights_only, match", [
    ("model.h5", False, "legacy HDF5 format"), ("model.h5", True, "legacy HDF5 format"),
    ("model.weights.h5", False, "pass save_weights_only=True"), ("model.keras", True, "must end in '.weights.h5'"),
    ("model.weights.safetensors", False, "pass save_weights_only=True"),
    ("model.kerasish", True, "must end in '.weights.h5'")])
def test_model_checkpoint_refuses_mismatched_file_formats(tmp_path, name, weights_only, match):
    # Before issue 15 these names silently became orbax directories called "model.h5" etc.
    with pytest.raises(ConfigError, match=match):
        ModelCheckpoint(str(tmp_path / name), save_weights_only=weights_only)
    assert not (tmp_path / name).exists()


def test_backup_dir_is_a_directory_whatever_its_name(tmp_path):
    BackupAndRestore(tmp_path / "run.keras")  # a directory in Keras too
    (tmp_path / "file.keras").write_text("x")
    with pytest.raises(ConfigError, match="existing file"):
        BackupAndRestore(tmp_path / "file.keras")


def _model():
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input((3,)), kerasish.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


DATA = (np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32))


def test_remote_monitor_posts_each_epoch_to_a_local_server():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, self.headers["Content-Type"], self.headers.get("X-Run"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        root = f"http://127.0.0.1:{server.server_port}"
        model = _model()
        model.fit(*DATA, epochs=2, verbose=0, callbacks=[RemoteMonitor(root, headers={"X-Run": "a"})])
        model.fit(*DATA, epochs=1, verbose=0, callbacks=[RemoteMonitor(root, path="/j", send_as_json=True)])
    finally:
        server.shutdown()
        server.server_close()
    assert [r[0] for r in received] == ["/publish/epoch/end/"] * 2 + ["/j"]
    form = [json.loads(urllib.parse.parse_qs(r[3])["data"][0]) for r in received[:2]]
    assert [f["epoch"] for f in form] == [0, 1] and isinstance(form[0]["loss"], float)
    assert received[0][1] == "application/x-www-form-urlencoded" and received[0][2] == "a"
    assert received[2][1] == "application/json" and set(json.loads(received[2][3])) == {"epoch", "loss"}


def test_remote_monitor_warns_when_the_server_is_unreachable():
    monitor = RemoteMonitor("http://127.0.0.1:9", timeout=1.0)  # the discard port: nothing listens
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor.on_epoch_end(0, {"loss": np.float32(1.0)})
    assert any("could not reach" in str(w.message) for w in caught)


def test_orbax_checkpoint_saves_a_directory_that_loads_back(tmp_path):
    model = _model()
    directory = tmp_path / "ckpt.keras"  # a directory, whatever its name, as Keras's OrbaxCheckpoint
    model.fit(*DATA, epochs=2, verbose=0, callbacks=[OrbaxCheckpoint(directory, save_on_background=False)])
    assert directory.is_dir() and len([p for p in directory.iterdir() if p.name.isdigit()]) == 1  # max_to_keep=1
    fresh = _model()
    meta = load_checkpoint(fresh, directory)
    assert meta["epoch"] == 2
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="template"):
        OrbaxCheckpoint(tmp_path / "c-{epoch}")
