"""The downloadable loaders, through the real pooch path against a loopback server (never the internet).

Oracles: Keras 3's own loaders reading the same fixture files (their ``get_file`` swapped for the local
path), and a NumPy re-implementation of the imdb/reuters word-index semantics written here.
"""

from __future__ import annotations

import importlib
import socket
import tarfile

import numpy as np
import pytest

from kerasish.datasets import (
    DatasetDownloadError,
    DatasetHashError,
    boston_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)
from kerasish.errors import ConfigError, FileFormatError, KerasishError

DOWNLOAD_FILES = {
    "mnist": ["mnist.npz"],
    "fashion_mnist": list(fashion_mnist.SHA256),
    "cifar10": ["cifar-10-python.tar.gz"],
    "cifar100": ["cifar-100-python.tar.gz"],
    "imdb": ["imdb.npz"],
    "reuters": ["reuters.npz"],
    "boston_housing": ["boston_housing.npz"],
}
LOADERS = {
    "mnist": mnist.load_data,
    "fashion_mnist": fashion_mnist.load_data,
    "cifar10": cifar10.load_data,
    "cifar100": cifar100.load_data,
    "imdb": imdb.load_data,
    "reuters": reuters.load_data,
    "boston_housing": boston_housing.load_data,
}


def _keras_loader(name, served, tmp_path, monkeypatch):
    """Keras 3's load_data for ``name``, reading the served fixture files instead of downloading."""
    module = importlib.import_module(f"keras.src.datasets.{name}")
    if name.startswith("cifar"):
        extracted = tmp_path / f"keras_{name}"
        with tarfile.open(served / DOWNLOAD_FILES[name][0]) as archive:
            archive.extractall(extracted, filter="data")
        monkeypatch.setattr(module, "get_file", lambda *a, **k: str(extracted))
    else:
        monkeypatch.setattr(module, "get_file", lambda fname, *a, **k: str(served / fname))
    return module.load_data


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs):
        if isinstance(b, tuple):
            _assert_same(a, b)
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
        if a.dtype == object:
            assert [list(x) for x in a] == [list(x) for x in b]
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_matches_keras_and_caches(name, dataset_server, cache_dir, tmp_path, monkeypatch):
    ours = LOADERS[name]()
    if name != "cifar10":  # Keras's cifar10 hard-codes 10,000 images per batch; checked in test_layouts_and_values
        theirs = _keras_loader(name, dataset_server.root, tmp_path, monkeypatch)()
        _assert_same(ours, theirs)
    files = DOWNLOAD_FILES[name]
    assert all(dataset_server.hits[f] == 1 for f in files)
    subdir = "fashion-mnist" if name == "fashion_mnist" else ""
    assert sorted(p.name for p in (cache_dir / subdir).iterdir() if p.is_file()) == sorted(files)
    _assert_same(LOADERS[name](), ours)  # second call: from the cache, no request
    assert all(dataset_server.hits[f] == 1 for f in files)


def test_layouts_and_values(dataset_server):
    raw = dataset_server.raw
    (x, y), (xt, yt) = mnist.load_data()
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(xt, raw["mnist"]["x_test"])

    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (4, 28, 28) and xt.shape == (2, 28, 28) and y.dtype == np.uint8
    np.testing.assert_array_equal(x, raw["fashion_mnist"]["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yt, raw["fashion_mnist"]["t10k-labels-idx1-ubyte.gz"])

    (x, y), (xt, yt) = cifar10.load_data()
    assert x.shape == (10, 32, 32, 3) and y.shape == (10, 1) and x.dtype == y.dtype == np.uint8
    data, labels = raw["cifar10"]["data_batch_2"]
    # Channels-last: pixel (row 1, col 2) of channel c is flat index c*1024 + 1*32 + 2.
    np.testing.assert_array_equal(x[2, 1, 2], data[0, [0 * 1024 + 34, 1024 + 34, 2048 + 34]])
    assert y[2, 0] == labels[0]
    assert xt.shape == (2, 32, 32, 3) and yt.shape == (2, 1) and yt.dtype == np.uint8
    batches = [raw["cifar10"][f"data_batch_{i}"] for i in range(1, 6)]
    flat = np.concatenate([d for d, _ in batches])
    np.testing.assert_array_equal(x, flat.reshape(10, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y[:, 0], sum((lab for _, lab in batches), []))

    for mode, key, bound in (("fine", b"fine_labels", 100), ("coarse", b"coarse_labels", 20)):
        (x, y), (xt, yt) = cifar100.load_data(label_mode=mode)
        assert x.shape == (4, 32, 32, 3) and y.shape == (4, 1) and xt.shape == (3, 32, 32, 3)
        np.testing.assert_array_equal(yt[:, 0], raw["cifar100"]["test"][key])
        assert y.max() < bound

    (x, y), (xt, yt) = boston_housing.load_data(test_split=0.25, seed=1)
    assert x.shape == (15, 13) and xt.shape == (5, 13) and y.shape == (15,)
    order = np.arange(20)
    np.random.RandomState(1).shuffle(order)
    np.testing.assert_array_equal(xt, raw["boston_housing"]["x"][order[15:]])


def _reference_sequences(x_lists, labels, *, num_words, skip_top, maxlen, start_char, oov_char, index_from):
    """The word-index semantics spelled out on plain lists: shift, prepend, drop long, cut vocabulary."""
    out_x, out_y = [], []
    for seq, label in zip(x_lists, labels):
        seq = ([] if start_char is None else [start_char]) + [w + index_from for w in seq]
        if maxlen and len(seq) >= maxlen:
            continue
        out_x.append(seq)
        out_y.append(label)
    return out_x, out_y


def _cut(xs, num_words, skip_top, oov_char):
    top = num_words or max(max(s) for s in xs)
    if oov_char is None:
        return [[w for w in s if skip_top <= w < top] for s in xs]
    return [[w if skip_top <= w < top else oov_char for w in s] for s in xs]


OPTIONS = [
    {},
    {"num_words": 15, "skip_top": 5},
    {"num_words": 20, "skip_top": 2, "maxlen": 9, "seed": 7},
    {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 12},
    {"start_char": 4, "oov_char": 3, "index_from": 5, "maxlen": 12},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_imdb_semantics(dataset_server, options):
    kw = {"num_words": None, "skip_top": 0, "maxlen": None, "start_char": 1, "oov_char": 2, "index_from": 3}
    kw.update({k: v for k, v in options.items() if k != "seed"})
    seed = options.get("seed", 113)
    raw = dataset_server.raw["imdb"]
    rng = np.random.RandomState(seed)
    parts = []
    for split_name in ("train", "test"):
        order = np.arange(len(raw[f"y_{split_name}"]))
        rng.shuffle(order)
        xs = [raw[f"x_{split_name}"][i] for i in order]
        parts.append(_reference_sequences(xs, raw[f"y_{split_name}"][order], **kw))
    (tx, ty), (vx, vy) = parts
    allx = _cut(tx + vx, kw["num_words"], kw["skip_top"], kw["oov_char"])

    (x, y), (xt, yt) = imdb.load_data(seed=seed, **kw)
    assert x.dtype == object and x.ndim == 1
    assert [list(s) for s in x] == allx[: len(tx)] and [list(s) for s in xt] == allx[len(tx) :]
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(yt, vy)
    if kw["num_words"]:
        assert max(max(s) for s in list(x) + list(xt) if s) < kw["num_words"]


@pytest.mark.parametrize("options", OPTIONS + [{"test_split": 0.4, "num_words": 10}])
def test_reuters_semantics(dataset_server, options):
    kw = {"num_words": None, "skip_top": 0, "maxlen": None, "start_char": 1, "oov_char": 2, "index_from": 3}
    kw.update({k: v for k, v in options.items() if k not in ("seed", "test_split")})
    seed, test_split = options.get("seed", 113), options.get("test_split", 0.2)
    raw = dataset_server.raw["reuters"]
    order = np.arange(len(raw["y"]))
    np.random.RandomState(seed).shuffle(order)
    xs, ys = _reference_sequences([raw["x"][i] for i in order], raw["y"][order], **kw)
    xs = _cut(xs, kw["num_words"], kw["skip_top"], kw["oov_char"])
    n = int(len(xs) * (1 - test_split))

    (x, y), (xt, yt) = reuters.load_data(seed=seed, test_split=test_split, **kw)
    assert [list(s) for s in x] == xs[:n] and [list(s) for s in xt] == xs[n:]
    np.testing.assert_array_equal(np.concatenate([y, yt]), ys)


def test_word_indices_and_labels(dataset_server):
    assert imdb.get_word_index() == {"the": 1, "movie": 2, "good": 3}
    assert reuters.get_word_index() == {"said": 1, "mln": 2}
    assert dataset_server.hits["imdb_word_index.json"] == 1
    imdb.get_word_index()
    assert dataset_server.hits["imdb_word_index.json"] == 1
    names = reuters.get_label_names()
    assert len(names) == 46 and names[:3] == ("cocoa", "grain", "veg-oil") and names[-1] == "lead"


def test_corrupted_download_leaves_nothing(dataset_server, cache_dir):
    served = dataset_server.root / "mnist.npz"
    good = served.read_bytes()
    served.write_bytes(good[:-10] + b"0123456789")
    with pytest.raises(DatasetHashError) as info:
        mnist.load_data()
    message = str(info.value)
    assert f"{dataset_server.url}/mnist.npz" in message
    assert mnist.SHA256 in message
    from tests.datasets.conftest import file_hash

    assert file_hash(served) in message
    assert isinstance(info.value, FileFormatError)
    assert not cache_dir.exists() or not any(cache_dir.rglob("*")), list(cache_dir.rglob("*"))
    # Once the server is fixed, the same cache works.
    served.write_bytes(good)
    assert mnist.load_data()[0][0].shape == (5, 28, 28)


def test_corrupted_cache_file_is_replaced(dataset_server, cache_dir):
    cache_dir.mkdir(parents=True)
    (cache_dir / "boston_housing.npz").write_bytes(b"truncated")
    (x, _), _ = boston_housing.load_data()
    assert x.shape == (16, 13) and dataset_server.hits["boston_housing.npz"] == 1


def test_missing_on_server_names_url(dataset_server, cache_dir):
    (dataset_server.root / "reuters.npz").unlink()
    with pytest.raises(DatasetDownloadError, match=r"reuters\.npz"):
        reuters.load_data()
    assert not any(cache_dir.rglob("*.npz"))


def test_offline_message(cache_dir, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("KERASISH_DATASETS_BASE_URL", url)
    with pytest.raises(DatasetDownloadError) as info:
        imdb.load_data()
    message = str(info.value)
    assert f"{url}/imdb.npz" in message
    assert imdb.SHA256 in message
    assert str(cache_dir / "imdb.npz") in message
    assert isinstance(info.value, KerasishError)
    assert not any(cache_dir.rglob("*.npz"))


def test_mirror_attribute_and_default_dir(dataset_server, monkeypatch, tmp_path):
    import kerasish.datasets as datasets
    from kerasish.datasets import _cache

    monkeypatch.delenv("KERASISH_DATASETS_BASE_URL")
    monkeypatch.setattr(datasets, "MIRROR", dataset_server.url + "/")
    assert mnist.load_data()[0][0].shape == (5, 28, 28)
    monkeypatch.delenv("KERASISH_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _cache.data_dir() == tmp_path / "home" / ".kerasish" / "datasets"
    monkeypatch.setattr(datasets, "MIRROR", None)
    assert _cache.resolve_url(mnist.ORIGIN) == mnist.ORIGIN


def test_unsafe_pickle_is_refused(dataset_server):
    import collections

    bad = np.empty(2, dtype=object)
    bad[0], bad[1] = [1, 2], collections.OrderedDict()
    np.savez(dataset_server.root / "imdb.npz", x_train=bad, y_train=np.zeros(2), x_test=bad, y_test=np.zeros(2))
    from tests.datasets.conftest import file_hash

    imdb.SHA256 = file_hash(dataset_server.root / "imdb.npz")  # restored by the fixture's monkeypatch
    with pytest.raises(FileFormatError, match="OrderedDict"):
        imdb.load_data()


def test_bad_arguments():
    with pytest.raises(ConfigError, match="label_mode"):
        cifar100.load_data(label_mode="medium")
    with pytest.raises(ConfigError, match="test_split"):
        boston_housing.load_data(test_split=1.0)
    with pytest.raises(ConfigError, match="num_words"):
        imdb.load_data(num_words=-1)
    with pytest.raises(ConfigError, match="test_split"):
        reuters.load_data(test_split=2)


def test_pooch_is_quiet(dataset_server, capfd):
    import pooch

    mnist.load_data()
    captured = capfd.readouterr()
    assert "Downloading" not in captured.err + captured.out
    level = pooch.get_logger().level
    boston_housing.load_data()
    assert pooch.get_logger().level == level


def test_cache_only_reads_the_cache_and_never_the_network(dataset_server, cache_dir):
    import kerasish

    with kerasish.datasets.cache_only():
        with pytest.raises(kerasish.datasets.DatasetNotCachedError, match="mnist.npz is not in the cache"):
            mnist.load_data()
    assert dataset_server.hits.get("mnist.npz", 0) == 0, "cache_only() must not touch the server"
    fetched = mnist.load_data()  # outside the context: downloads once
    with kerasish.datasets.cache_only():
        cached = mnist.load_data()
    _assert_same(cached, fetched)
    assert dataset_server.hits["mnist.npz"] == 1
