"""keras.utils's data helpers without TensorFlow: timeseries windows (against Keras's Grain output), folder
datasets (against Keras's own file indexing), image files (against Keras's Pillow helpers), split_dataset
and get_file (against NumPy / hand-written references, on a loopback HTTP server)."""

from __future__ import annotations

import hashlib
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import keras
import numpy as np
import pytest
from keras.src.utils.dataset_utils import index_directory

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError
from kerasish.utils import (
    array_to_img,
    get_file,
    image_dataset_from_directory,
    img_to_array,
    load_img,
    save_img,
    split_dataset,
    text_dataset_from_directory,
    timeseries_dataset_from_array,
)

DATA = np.arange(60, dtype="float32").reshape(30, 2)
TARGETS = np.arange(30) * 10


@pytest.mark.parametrize("kwargs", [
    dict(sequence_length=4, sequence_stride=3, sampling_rate=2, batch_size=3, start_index=2, end_index=25),
    dict(sequence_length=5, batch_size=4),
    dict(sequence_length=3, sequence_stride=2, batch_size=None),
])
@pytest.mark.parametrize("with_targets", [True, False])
def test_timeseries_windows_match_keras(kwargs, with_targets):
    targets = TARGETS if with_targets else None
    theirs = list(keras.utils.timeseries_dataset_from_array(DATA, targets, format="grain", **kwargs))
    ours = timeseries_dataset_from_array(DATA, targets, **kwargs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for x, y in zip(a if with_targets else [a], b if with_targets else [b]):
            np.testing.assert_array_equal(x, np.asarray(y))


def test_timeseries_shuffle_and_fit():
    ds = timeseries_dataset_from_array(DATA, TARGETS, sequence_length=3, batch_size=50, shuffle=True, seed=7)
    starts = np.arange(28)
    np.random.RandomState(7).shuffle(starts)  # the window order Keras draws first
    x, y = ds[0]
    np.testing.assert_array_equal(y, TARGETS[starts])
    np.testing.assert_array_equal(x[:, 1], DATA[starts + 1])
    model = kerasish.Sequential([kerasish.Input((3, 2)), layers.Flatten(), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(timeseries_dataset_from_array(DATA, TARGETS, sequence_length=3, batch_size=8), epochs=1,
                        verbose=0)
    assert len(history.history["loss"]) == 1
    with pytest.raises(ConfigError, match="sequence_stride"):
        timeseries_dataset_from_array(DATA, None, 3, sequence_stride=30)
    with pytest.raises(ConfigError, match="format"):
        timeseries_dataset_from_array(DATA, None, 3, format="torch")


def test_split_dataset():
    x, y = np.arange(10).reshape(10, 1), np.arange(10) * 2
    (lx, ly), (rx, ry) = split_dataset((x, y), left_size=0.75)
    assert len(lx) == 8 and len(rx) == 2  # round(0.75 * 10), as Keras
    np.testing.assert_array_equal(ly, y[:8])
    np.testing.assert_array_equal(ry, y[8:])
    left, right = split_dataset({"a": x, "b": y}, right_size=3, shuffle=True, seed=1)
    order = np.arange(10)
    np.random.default_rng(1).shuffle(order)
    np.testing.assert_array_equal(left["b"], y[order[:7]])
    np.testing.assert_array_equal(right["a"], x[order[7:]])
    a, b = split_dataset(x, left_size=2, right_size=3)
    assert a.shape == (2, 1) and b.shape == (3, 1)
    with pytest.raises(ConfigError):
        split_dataset(x, left_size=1.5)
    with pytest.raises(ConfigError):
        split_dataset(x, left_size=8, right_size=5)
    with pytest.raises(InputError):
        split_dataset((x, y[:3]), left_size=1)


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    pixels = {}
    for cls in ("cat", "dog"):
        (tmp_path / cls / "nested").mkdir(parents=True)
        for i in range(3):
            img = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            path = tmp_path / cls / ("nested" if i == 2 else "") / f"{i}.png"
            keras.utils.save_img(path, img, scale=False)
            pixels[str(path)] = img.astype("float32")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    return tmp_path, pixels


def test_image_dataset_from_directory_matches_keras_indexing(image_folder):
    root, pixels = image_folder
    files, labels, names = index_directory(str(root), "inferred", (".bmp", ".gif", ".jpeg", ".jpg", ".png"),
                                           shuffle=True, seed=3, verbose=False)
    ds = image_dataset_from_directory(root, image_size=(6, 8), batch_size=4, seed=3, label_mode="categorical",
                                      verbose=False)
    assert ds.class_names == names == ["cat", "dog"] and ds.file_paths == files and len(ds) == 2
    x, y = ds[0]
    assert x.shape == (4, 6, 8, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[1], pixels[files[1]])
    np.testing.assert_array_equal(y, np.eye(2, dtype="float32")[labels[:4]])
    train, val = image_dataset_from_directory(root, image_size=(3, 4), batch_size=None, seed=3, label_mode="binary",
                                              validation_split=0.34, subset="both", color_mode="grayscale",
                                              verbose=False)
    assert len(train) == 4 and len(val) == 2 and train.file_paths + val.file_paths == files
    img, label = val[0]
    assert img.shape == (3, 4, 1) and label.shape == (1,) and label[0] == labels[4]
    with pytest.raises(ConfigError, match="seed"):
        image_dataset_from_directory(root, validation_split=0.2, subset="training")


def test_text_dataset_from_directory(tmp_path):
    for cls, texts in (("neg", ["bad", "awful film"]), ("pos", ["good", "great movie", "fine"])):
        (tmp_path / cls).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / cls / f"{i}.txt").write_text(t)
    files, labels, names = index_directory(str(tmp_path), "inferred", (".txt",), shuffle=False, verbose=False)
    ds = text_dataset_from_directory(tmp_path, batch_size=8, shuffle=False, max_length=4, verbose=False)
    x, y = ds[0]
    assert ds.class_names == names and ds.file_paths == files
    assert x.tolist() == [open(f).read()[:4] for f in files] and y.tolist() == labels.tolist()


def test_image_helpers_match_keras(tmp_path):
    rng = np.random.default_rng(1)
    for shape, fmt in [((5, 7, 3), "channels_last"), ((4, 5, 7), "channels_first"), ((5, 7, 1), "channels_last")]:
        x = rng.uniform(-1, 3, shape).astype("float32")
        for scale in (True, False):
            ours = array_to_img(x * (1 if scale else 50), data_format=fmt, scale=scale)
            theirs = keras.utils.array_to_img(x * (1 if scale else 50), data_format=fmt, scale=scale)
            assert ours.mode == theirs.mode
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
            for out_fmt in ("channels_last", "channels_first"):
                np.testing.assert_array_equal(img_to_array(ours, out_fmt), keras.utils.img_to_array(theirs, out_fmt))
    img = rng.integers(0, 256, (10, 16, 3), dtype=np.uint8)
    save_img(tmp_path / "a.png", img, scale=False)
    with pytest.warns(UserWarning, match="RGBA"):
        save_img(tmp_path / "b.jpg", np.concatenate([img, img[..., :1]], -1), scale=False)
    for path in (tmp_path / "a.png", tmp_path / "b.jpg"):
        for kwargs in [{}, dict(color_mode="grayscale", target_size=(5, 4)), dict(color_mode="rgba"),
                       dict(target_size=(6, 6), interpolation="bilinear", keep_aspect_ratio=True)]:
            ours, theirs = load_img(path, **kwargs), keras.utils.load_img(path, **kwargs)
            assert ours.mode == theirs.mode
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    with pytest.raises(ConfigError, match="color_mode"):
        load_img(tmp_path / "a.png", color_mode="cmyk")


@pytest.fixture
def file_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    (root / "data.bin").write_bytes(b"0123456789")
    (root / "inner").mkdir()
    (root / "inner" / "a.txt").write_text("hello")
    with tarfile.open(root / "pack.tar.gz", "w:gz") as archive:
        archive.add(root / "inner", arcname="inner")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_get_file_downloads_verifies_and_extracts(file_server, tmp_path, monkeypatch):
    url, root = file_server
    monkeypatch.setenv("KERASISH_DATA_DIR", str(tmp_path / "cache"))
    digest = hashlib.sha256(b"0123456789").hexdigest()
    path = get_file(origin=f"{url}/data.bin", file_hash=digest)
    assert path == str(tmp_path / "cache" / "data.bin") and open(path, "rb").read() == b"0123456789"
    md5 = hashlib.md5(b"0123456789").hexdigest()
    other = get_file("copy.bin", origin=f"{url}/data.bin", md5_hash=md5, cache_dir=tmp_path / "mine",
                     cache_subdir="sub")
    assert other == str(tmp_path / "mine" / "sub" / "copy.bin")
    with pytest.raises(kerasish.errors.FileFormatError):
        get_file("bad.bin", origin=f"{url}/data.bin", file_hash="0" * 64)
    extracted = get_file("pack.tar.gz", origin=f"{url}/pack.tar.gz", extract=True)
    assert extracted == str(tmp_path / "cache" / "pack_extracted")
    assert (tmp_path / "cache" / "pack_extracted" / "inner" / "a.txt").read_text() == "hello"
    plain = get_file(origin=f"{url}/data.bin", cache_subdir="nohash")  # no hash: downloaded, not verified
    assert open(plain, "rb").read() == b"0123456789"
    with pytest.raises(ConfigError, match="origin"):
        get_file("x")
    with pytest.raises(ConfigError, match="not a path"):
        get_file("a/b", origin=f"{url}/data.bin")
