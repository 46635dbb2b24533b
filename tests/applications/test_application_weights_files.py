"""Keras 3 builds an application with random weights and saves them; kerasish builds the same application
from that file (``weights=path``): the same parameter count and predictions within 1e-4. Both of Keras's weight
formats are used: Keras 2's legacy HDF5 (the format of the published ImageNet files) and ``.weights.h5``.

``weights="imagenet"`` is tested end to end without the network: the published file name is served from a
loopback HTTP server through the dataset cache's mirror setting, and the download is verified by its hash.

By default a few small architectures run; ``KERASISH_APPS_FULL=1`` runs every architecture at its default size.
"""

import hashlib
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import h5py
import keras
import numpy as np
import pytest

import kerasish
from kerasish.errors import FileFormatError

FULL = bool(os.environ.get("KERASISH_APPS_FULL"))

SMALL = [("MobileNetV2", {"alpha": 0.35}, (32, 32, 3)), ("EfficientNetB0", {}, (32, 32, 3)),
         ("MobileNetV3Small", {"minimalistic": True}, (32, 32, 3))]
EVERY = [(name, {}, None) for name in (
    "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2",
    "InceptionV3", "InceptionResNetV2", "Xception", "MobileNet", "MobileNetV2", "MobileNetV3Small",
    "MobileNetV3Large", "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
    "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S",
    "EfficientNetV2M", "EfficientNetV2L", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge",
    "ConvNeXtXLarge", "NASNetMobile", "NASNetLarge")]


def _legacy_h5(model, path):
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def _randomized(name, kwargs, shape):
    extra = {} if shape is None else {"input_shape": shape}
    km = getattr(keras.applications, name)(weights=None, **extra, **kwargs)
    rng = np.random.default_rng(0)
    km.set_weights([(w + rng.standard_normal(w.shape).astype(w.dtype) * 0.01) if w.dtype.kind == "f" else w
                    for w in km.get_weights()])
    return km, extra


@pytest.mark.parametrize("name, kwargs, shape", EVERY if FULL else SMALL, ids=lambda v: v if isinstance(v, str) else "")
def test_keras_weights_files_load_into_the_kerasish_application(tmp_path, name, kwargs, shape):
    km, extra = _randomized(name, kwargs, shape)
    size = tuple(d or 224 for d in km.input_shape[1:])  # MobileNetV3 leaves its input size free
    x = np.random.default_rng(1).uniform(0, 255, (2, *size)).astype("float32")
    expected = km.predict(x, verbose=0)
    _legacy_h5(km, tmp_path / "legacy.h5")
    sm = getattr(kerasish.applications, name)(weights=str(tmp_path / "legacy.h5"), **extra, **kwargs)
    assert sm.count_params() == km.count_params()
    _assert_same_weights(km, sm)
    if name not in CHAOTIC:
        np.testing.assert_allclose(sm.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)
    if FULL or name == "MobileNetV2":
        km.save_weights(tmp_path / "k.weights.h5")
        sm2 = getattr(kerasish.applications, name)(weights=str(tmp_path / "k.weights.h5"), **extra, **kwargs)
        _assert_same_weights(km, sm2)
        if name not in CHAOTIC:
            np.testing.assert_allclose(sm2.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


# With random weights these deep networks are chaotic: their activations grow to ~1e6 and float32 rounding is
# amplified about 1.5x per block, so Keras's own predictions for the same image differ completely between a
# batch of 4 and a batch of 1 (measured for EfficientNetV2M at 224x224). Their weights are compared exactly;
# the same blocks' predictions are compared in EfficientNetV2B0-B3 and S.
CHAOTIC = {"EfficientNetV2M", "EfficientNetV2L"}


def _assert_same_weights(km, sm):
    """Layer by layer in graph order (unnamed layers' names follow global counters, so not by name)."""
    for theirs, ours in zip(km.layers, sm.layers, strict=True):
        for a, b in zip(theirs.get_weights(), ours.get_weights(), strict=True):
            np.testing.assert_array_equal(b, a, err_msg=theirs.name)


def test_a_weights_file_of_another_architecture_is_refused(tmp_path):
    km = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), include_top=False)
    _legacy_h5(km, tmp_path / "w.h5")
    with pytest.raises(FileFormatError, match="layer count mismatch"):
        kerasish.applications.EfficientNetB0(weights=str(tmp_path / "w.h5"), input_shape=(32, 32, 3), include_top=False)


@pytest.fixture
def weights_server(tmp_path, monkeypatch):
    """A loopback HTTP server over ``tmp_path / "served"``, set as the dataset cache's mirror, with an empty cache."""
    served = tmp_path / "served"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KERASISH_DATASETS_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("KERASISH_DATA_DIR", str(tmp_path / "cache"))
    yield served
    server.shutdown()


def test_imagenet_weights_come_through_the_cache_verified(weights_server, monkeypatch):
    """MobileNetV2(weights="imagenet") asks for Keras's published file (its name, URL and hash); the file is
    fetched from the mirror into the cache, checked, and loaded. A file that does not match is refused."""
    import kerasish.utils

    km = keras.applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(96, 96, 3), include_top=False)
    km.set_weights([w + 0.01 for w in km.get_weights()])
    fname = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    _legacy_h5(km, weights_server / fname)
    fixture_hash = hashlib.sha256((weights_server / fname).read_bytes()).hexdigest()
    real_get_file, asked = kerasish.utils.get_file, []

    def get_file(fname, origin, **kwargs):
        asked.append((fname, origin, kwargs.get("file_hash"), kwargs.get("cache_subdir")))
        return real_get_file(fname, origin, **{**kwargs, "file_hash": fixture_hash})

    monkeypatch.setattr(kerasish.utils, "get_file", get_file)
    sm = kerasish.applications.MobileNetV2(weights="imagenet", alpha=0.35, input_shape=(96, 96, 3),
                                           include_top=False)
    (name, origin, published_hash, subdir), = asked
    assert name == fname and subdir == "models"
    assert origin == "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + fname
    assert published_hash is None  # Keras publishes no hash for MobileNetV2; test_the_published_file_is_asked_for
    x = np.random.default_rng(2).uniform(0, 255, (2, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(sm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
    # A damaged download is refused by its hash (the cached copy is fetched again and checked again).
    (weights_server / fname).write_bytes(b"not the weights")
    monkeypatch.setattr(kerasish.utils, "get_file",
                        lambda fname, origin, **kw: real_get_file(fname, origin, **{**kw, "force_download": True,
                                                                                    "file_hash": fixture_hash}))
    with pytest.raises(kerasish.KerasishError, match="(?i)hash"):
        kerasish.applications.MobileNetV2(weights="imagenet", alpha=0.35, input_shape=(96, 96, 3), include_top=False)


class _Asked(Exception):
    pass


HASHED = [("MobileNetV3Small", {}, (32, 32, 3)), ("EfficientNetB0", {}, (32, 32, 3)), ("ResNet50", {}, (32, 32, 3)),
          ("DenseNet121", {}, (32, 32, 3))]
EVERY_HASHED = [(name, {}, (size, size, 3)) for name, size in (
    ("VGG16", 32), ("VGG19", 32), ("ResNet50", 32), ("ResNet101", 32), ("ResNet152", 32), ("ResNet50V2", 32),
    ("ResNet101V2", 32), ("ResNet152V2", 32), ("InceptionV3", 75), ("InceptionResNetV2", 75), ("Xception", 71),
    ("MobileNet", 32), ("MobileNetV2", 32), ("MobileNetV3Small", 32), ("MobileNetV3Large", 32),
    ("DenseNet121", 32), ("DenseNet169", 32), ("DenseNet201", 32), ("EfficientNetB0", 32), ("EfficientNetB7", 32),
    ("EfficientNetV2B0", 32), ("EfficientNetV2L", 32), ("ConvNeXtTiny", 32), ("ConvNeXtXLarge", 32),
    ("NASNetMobile", 32), ("NASNetLarge", 32))]


@pytest.mark.parametrize("include_top", [False, True] if FULL else [False])
@pytest.mark.parametrize("name, kwargs, shape", EVERY_HASHED if FULL else HASHED,
                         ids=lambda v: v if isinstance(v, str) else "")
def test_the_published_file_is_asked_for(monkeypatch, name, kwargs, shape, include_top):
    """``weights="imagenet"`` asks the cache for exactly the file Keras asks for: name, URL, hash, folder."""
    import keras.src.utils.file_utils as keras_files

    import kerasish.utils

    def recorder(asked):
        def get_file(fname=None, origin=None, **kwargs):
            asked.append((fname, origin, kwargs.get("file_hash"), kwargs.get("cache_subdir")))
            raise _Asked

        return get_file

    theirs, ours = [], []
    monkeypatch.setattr(keras_files, "get_file", recorder(theirs))
    monkeypatch.setattr(kerasish.utils, "get_file", recorder(ours))
    extra = {} if include_top else {"input_shape": shape}
    with pytest.raises(_Asked):
        getattr(keras.applications, name)(weights="imagenet", include_top=include_top, **extra, **kwargs)
    with pytest.raises(_Asked):
        getattr(kerasish.applications, name)(weights="imagenet", include_top=include_top, **extra, **kwargs)
    ((fname, origin, file_hash, subdir),) = theirs
    assert ours == [(fname or origin.rsplit("/", 1)[-1], origin, file_hash, subdir or "models")]
