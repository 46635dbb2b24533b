"""A loopback HTTP server serving tiny dataset files generated in the real formats, and a tmp cache dir.

Nothing here touches the network: the loaders are pointed at the server with KERASISH_DATASETS_BASE_URL
and the pinned hashes are replaced by those of the generated files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile
import threading
from collections import Counter
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest


def _ragged(rng, n, vocab, lo=1, hi=12):
    return [rng.integers(1, vocab, rng.integers(lo, hi)).tolist() for _ in range(n)]


def _object_array(lists):
    out = np.empty(len(lists), dtype=object)
    for i, x in enumerate(lists):
        out[i] = x
    return out


def _idx_gz(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _add_pickle(archive: tarfile.TarFile, name: str, obj) -> None:
    raw = pickle.dumps(obj, protocol=4)  # bytes natively, as the py2 originals decode with encoding="bytes"
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    archive.addfile(info, io.BytesIO(raw))


def make_fixture_files(root: Path) -> dict:
    """Writes every dataset file into ``root`` in its real format; returns the raw arrays written."""
    rng = np.random.default_rng(0)
    raw = {}
    raw["mnist"] = {
        "x_train": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 5, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    np.savez_compressed(root / "mnist.npz", **raw["mnist"])

    fashion = {
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, 4, dtype=np.uint8),
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 2, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
    }
    for name, array in fashion.items():
        _idx_gz(root / name, array)
    raw["fashion_mnist"] = fashion

    # CIFAR pickles hold flat (n, 3072) rows: 1024 red, then green, then blue values, row-major.
    cifar10 = {}
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as archive:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)
            labels = rng.integers(0, 10, 2).tolist()
            cifar10[name] = (data, labels)
            batch = {b"batch_label": name.encode(), b"labels": labels, b"data": data, b"filenames": [b"a", b"b"]}
            _add_pickle(archive, f"cifar-10-batches-py/{name}", batch)
        _add_pickle(archive, "cifar-10-batches-py/batches.meta", {b"label_names": [b"airplane"]})
    raw["cifar10"] = cifar10

    cifar100 = {}
    with tarfile.open(root / "cifar-100-python.tar.gz", "w:gz") as archive:
        for name, n in (("train", 4), ("test", 3)):
            entry = {
                b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                b"fine_labels": rng.integers(0, 100, n).tolist(),
                b"coarse_labels": rng.integers(0, 20, n).tolist(),
                b"filenames": [b"x"] * n,
            }
            cifar100[name] = entry
            _add_pickle(archive, f"cifar-100-python/{name}", entry)
    raw["cifar100"] = cifar100

    raw["imdb"] = {
        "x_train": _ragged(rng, 12, 30),
        "y_train": rng.integers(0, 2, 12),
        "x_test": _ragged(rng, 10, 30),
        "y_test": rng.integers(0, 2, 10),
    }
    np.savez(root / "imdb.npz", **{k: _object_array(v) if k.startswith("x") else v for k, v in raw["imdb"].items()})
    (root / "imdb_word_index.json").write_text(json.dumps({"the": 1, "movie": 2, "good": 3}))

    raw["reuters"] = {"x": _ragged(rng, 15, 25), "y": rng.integers(0, 46, 15)}
    np.savez(root / "reuters.npz", x=_object_array(raw["reuters"]["x"]), y=raw["reuters"]["y"])
    (root / "reuters_word_index.json").write_text(json.dumps({"said": 1, "mln": 2}))

    raw["boston_housing"] = {"x": rng.normal(size=(20, 13)), "y": rng.uniform(5, 50, 20)}
    np.savez(root / "boston_housing.npz", **raw["boston_housing"])
    return raw


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def pin_fixture_hashes(monkeypatch, root: Path) -> None:
    """Replace each loader's pinned hashes by those of the generated files."""
    from kerasish.datasets import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters

    for module, name in (
        (mnist, "mnist.npz"),
        (cifar10, "cifar-10-python.tar.gz"),
        (cifar100, "cifar-100-python.tar.gz"),
        (imdb, "imdb.npz"),
        (reuters, "reuters.npz"),
        (boston_housing, "boston_housing.npz"),
    ):
        monkeypatch.setattr(module, "SHA256", file_hash(root / name))
    monkeypatch.setattr(imdb, "WORD_INDEX_HASH", "md5:" + file_hash(root / "imdb_word_index.json", "md5"))
    monkeypatch.setattr(reuters, "WORD_INDEX_HASH", "md5:" + file_hash(root / "reuters_word_index.json", "md5"))
    monkeypatch.setattr(fashion_mnist, "SHA256", {name: file_hash(root / name) for name in fashion_mnist.SHA256})


class DatasetServer:
    """``url``, ``root`` (the served folder), ``raw`` (arrays written), ``hits`` (GET count per file name)."""

    def __init__(self, root: Path, raw: dict):
        self.root, self.raw, self.hits = root, raw, Counter()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path.lstrip("/")] += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("KERASISH_DATA_DIR", str(path))
    return path


@pytest.fixture
def dataset_server(tmp_path, monkeypatch, cache_dir):
    """A running loopback server with every fixture file; loaders point at it, hashes pinned to its files."""
    root = tmp_path / "served"
    root.mkdir()
    raw = make_fixture_files(root)
    pin_fixture_hashes(monkeypatch, root)
    server = DatasetServer(root, raw)
    monkeypatch.setenv("KERASISH_DATASETS_BASE_URL", server.url)
    yield server
    server.close()
