"""EfficientNet (B0-B7), EfficientNetV2 (B0-B3, S, M, L) and ConvNeXt (Tiny-XLarge) against Keras 3.

By default only the smallest variant of each family is built, at 32x32; ``KERASISH_APPS_FULL=1`` adds every
variant at its default size. Keras is the oracle: both libraries build the model with ``weights=None``,
Keras's weights (made non-trivial first: batch-norm statistics, layer scales) are copied into kerasish by
layer name, and the predictions must agree.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.applications import _parity

keras = pytest.importorskip("keras")

FULL = bool(os.environ.get("KERASISH_APPS_FULL"))
full_only = pytest.mark.skipif(not FULL, reason="every variant at its default size runs only with KERASISH_APPS_FULL=1")

# (submodule, smallest constructor): the default test set
FAMILIES = [("efficientnet", "EfficientNetB0"), ("efficientnet_v2", "EfficientNetV2B0"), ("convnext", "ConvNeXtTiny")]
ALL_VARIANTS = ([("efficientnet", f"EfficientNetB{i}") for i in range(8)]
                + [("efficientnet_v2", f"EfficientNetV2{v}") for v in ("B0", "B1", "B2", "B3", "S", "M", "L")]
                + [("convnext", f"ConvNeXt{s}") for s in ("Tiny", "Small", "Base", "Large", "XLarge")])
SMALL = {"input_shape": (32, 32, 3)}

# config entries compared between each Keras layer and its kerasish twin
_CONFIG_KEYS = ("filters", "kernel_size", "strides", "padding", "groups", "use_bias", "units", "activation", "rate",
                "noise_shape", "epsilon", "momentum", "axis", "scale", "offset", "mean", "variance", "target_shape",
                "init_values", "projection_dim", "drop_path_rate")


@pytest.fixture(autouse=True)
def _fast_keras_init(monkeypatch):
    """Keras's random initializers draw through jax.random, compiling one program per weight shape (most of
    a minute per model on CPU); the oracle's initial values do not matter (they are copied), so draw them
    with NumPy."""
    import jax.numpy as jnp
    import keras.src.backend.jax.random as keras_jax_random

    rng = np.random.default_rng(0)

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.standard_normal(shape) * stddev + mean, dtype or "float32")

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return jnp.asarray(np.clip(rng.standard_normal(shape), -2, 2) * stddev + mean, dtype or "float32")

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.uniform(minval, maxval, shape), dtype or "float32")

    monkeypatch.setattr(keras_jax_random, "normal", normal)
    monkeypatch.setattr(keras_jax_random, "truncated_normal", truncated_normal)
    monkeypatch.setattr(keras_jax_random, "uniform", uniform)


def _ks_module(module: str):
    import importlib

    return importlib.import_module(f"kerasish.applications.{module}")


def _randomize_statistics(keras_model, seed: int = 0) -> None:
    """Give Keras's normalization statistics and scales values far from their identity initial ones, so that
    a weight copied to the wrong place shows in the predictions."""
    rng = np.random.default_rng(seed)
    for layer in keras_model.layers:
        if not layer.weights or isinstance(layer, keras.Model):
            continue
        values = []
        for variable, value in zip(layer.weights, layer.get_weights()):
            name = variable.name
            if name in ("moving_variance", "variance"):
                value = rng.uniform(0.5, 2.0, value.shape)
            elif name in ("moving_mean", "mean", "beta"):
                value = rng.normal(0.0, 0.3, value.shape)
            elif name == "gamma" or type(layer).__name__ == "LayerScale":
                value = rng.uniform(0.5, 1.5, value.shape)
            values.append(np.asarray(value, dtype=np.asarray(value).dtype))
        layer.set_weights(values)
        if hasattr(layer, "finalize_state"):  # Keras's Normalization reads set weights only after this (as
            layer.finalize_state()            # its file loaders do)


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str):
        return value.replace("silu", "swish")
    return value


def _assert_same_structure(keras_model, ks_model) -> None:
    """Same layer names, classes, parameter counts and output shape (``_parity``'s checks), and the same
    hyperparameters layer by layer."""
    keras_names = [layer.name for layer in keras_model.layers]
    ks_names = [layer.name for layer in ks_model.layers]
    assert ks_names == keras_names, _parity._first_difference("layer names", keras_names, ks_names)
    keras_classes = [type(layer).__name__ for layer in keras_model.layers]
    ks_classes = [type(layer).__name__ for layer in ks_model.layers]
    assert ks_classes == keras_classes, _parity._first_difference("layer classes", keras_classes, ks_classes,
                                                                   keras_names)
    assert ks_model.name == keras_model.name
    assert ks_model.count_params() == keras_model.count_params()
    assert _parity._count(ks_model.trainable_weights) == _parity._count(keras_model.trainable_weights)
    assert _parity._count(ks_model.non_trainable_weights) == _parity._count(keras_model.non_trainable_weights)
    assert tuple(ks_model.output_shape) == tuple(keras_model.output_shape)
    for keras_layer in keras_model.layers:
        expected, actual = keras_layer.get_config(), ks_model.get_layer(keras_layer.name).get_config()
        for key in _CONFIG_KEYS:
            if key in expected:
                value = actual.get(key)
                if key == "axis" and isinstance(value, int) and isinstance(expected[key], list):
                    value = [value]  # kerasish's LayerNormalization keeps an int axis where Keras stores [axis]
                assert _plain(value) == _plain(expected[key]), (keras_layer.name, key)


def _assert_same_predictions(keras_model, ks_model, x, atol=1e-4, rtol=1e-4) -> None:
    _randomize_statistics(keras_model)
    _parity.copy_weights_by_name(keras_model, ks_model)
    # Keras's eager call compiles op by op (tens of seconds for these models on CPU): predict jits it once.
    expected = keras_model.predict(x, verbose=0)
    actual = np.asarray(ks_model(x, training=False))
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol)


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 255.0, (2, *shape)).astype("float32")


# -- Keras parity -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module,name", FAMILIES)
def test_smallest_variant_matches_keras(module, name):
    # an odd, non-square size exercises the explicit padding of the strided convolutions
    kwargs = {"input_shape": (35, 32, 3), "classes": 10, "classifier_activation": None}
    keras_model, ks_model = _parity.build_pair(name, module, **kwargs)
    _assert_same_structure(keras_model, ks_model)
    _assert_same_predictions(keras_model, ks_model, _images(kwargs["input_shape"]))


# The pooling code is shared by the three families; ConvNeXt names its headless layers differently.
@pytest.mark.parametrize("module,name,pooling", [("efficientnet", "EfficientNetB0", "avg"),
                                                 ("efficientnet_v2", "EfficientNetV2B0", "max"),
                                                 ("convnext", "ConvNeXtTiny", None),
                                                 ("convnext", "ConvNeXtTiny", "max")])
def test_feature_extractor_matches_keras(module, name, pooling):
    keras_model, ks_model = _parity.build_pair(name, module, include_top=False, pooling=pooling)
    assert ks_model.input_shape == (None, None, None, 3)
    _assert_same_structure(keras_model, ks_model)


@full_only
@pytest.mark.parametrize("module,name", ALL_VARIANTS)
def test_every_variant_matches_keras(module, name):
    keras_model, ks_model = _parity.build_pair(name, module)
    _assert_same_structure(keras_model, ks_model)
    _assert_same_predictions(keras_model, ks_model, _images(keras_model.input_shape[1:]), atol=2e-4, rtol=2e-4)


@pytest.mark.parametrize("module,name,first", [("efficientnet", "EfficientNetB0", "rescaling"),
                                               ("efficientnet_v2", "EfficientNetV2B0", "rescaling"),
                                               ("convnext", "ConvNeXtTiny", "convnext_tiny_prestem_normalization")])
def test_input_tensor_keeps_its_predecessors(module, name, first):
    import kerasish

    kerasish.utils.clear_session()
    source = kerasish.Input(shape=(32, 32, 3), name="source")
    tensor = kerasish.layers.Rescaling(0.5, name="halve")(source)
    model = getattr(_ks_module(module), name)(weights=None, include_top=False, input_tensor=tensor, pooling="avg")
    assert model.inputs[0] is source and len(model.inputs) == 1
    assert [layer.name for layer in model.layers[:3]] == ["source", "halve", first]
    assert model.output_shape[0] is None and len(model.output_shape) == 2


def test_efficientnetv2_preprocessing_options():
    from kerasish.applications import efficientnet_v2

    # one channel: [-1, 1] rescaling instead of ImageNet normalization, as Keras
    keras_model, ks_model = _parity.build_pair("EfficientNetV2B0", "efficientnet_v2", include_top=False,
                                               input_shape=(32, 32, 1))
    _assert_same_structure(keras_model, ks_model)
    model = efficientnet_v2.EfficientNetV2B0(weights=None, include_top=False, include_preprocessing=False)
    assert [type(layer).__name__ for layer in model.layers[:2]] == ["InputLayer", "Conv2D"]


def test_convnext_without_preprocessing_matches_keras():
    keras_model, ks_model = _parity.build_pair("ConvNeXtTiny", "convnext", include_top=False,
                                               include_preprocessing=False, input_shape=(32, 32, 3))
    assert "convnext_tiny_prestem_normalization" not in [layer.name for layer in ks_model.layers]
    _assert_same_structure(keras_model, ks_model)


# -- ImageNet weights: the right file, and EfficientNet's extra rescaling -------------------------------------
@pytest.fixture
def recorded_downloads(monkeypatch, tmp_path):
    """Patch kerasish's (and Keras's) download and ``load_weights`` to record what would be fetched and loaded."""
    import keras.src.utils.file_utils as keras_file_utils

    import kerasish.utils
    from kerasish.models import Model

    calls = {"get_file": [], "load_weights": []}

    def fake_get_file(fname=None, origin=None, **kwargs):
        calls["get_file"].append({"fname": fname, "origin": origin, **kwargs})
        return str(tmp_path / fname)

    monkeypatch.setattr(kerasish.utils, "get_file", fake_get_file)
    monkeypatch.setattr(Model, "load_weights", lambda self, path, *a, **k: calls["load_weights"].append(path))
    monkeypatch.setattr(keras_file_utils, "get_file", lambda fname, origin, **kwargs: str(tmp_path / fname))
    monkeypatch.setattr(keras.Model, "load_weights", lambda self, path, *a, **k: None)
    return calls


@pytest.mark.parametrize("module,name,fname,origin,file_hash", [
    ("efficientnet", "EfficientNetB0", "efficientnetb0_notop.h5",
     "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
     "50bc09e76180e00e4465e1a485ddc09d"),
    ("efficientnet_v2", "EfficientNetV2B0", "efficientnetv2-b0_notop.h5",
     "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b0_notop.h5",
     "893217f2bb855e2983157299931e43ff"),
    ("convnext", "ConvNeXtTiny", "convnext_tiny_notop.h5",
     "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_tiny_notop.h5",
     "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
])
def test_imagenet_weights_fetch_keras_file(recorded_downloads, module, name, fname, origin, file_hash):
    model = getattr(_ks_module(module), name)(weights="imagenet", include_top=False, **SMALL)
    assert recorded_downloads["get_file"] == [{"fname": fname, "origin": origin, "cache_subdir": "models",
                                               "file_hash": file_hash}]
    assert [os.path.basename(p) for p in recorded_downloads["load_weights"]] == [fname]
    assert model.name == fname.replace("_notop.h5", "")


def test_efficientnet_imagenet_rescaling_undoes_the_squared_std(recorded_downloads):
    # With ImageNet weights EfficientNet has one more Rescaling (1 / sqrt(std)) after its Normalization.
    keras_model, ks_model = _parity.build_pair("EfficientNetB0", "efficientnet", weights="imagenet",
                                               include_top=False, **SMALL)
    _assert_same_structure(keras_model, ks_model)
    rescale = [layer for layer in ks_model.layers if type(layer).__name__ == "Rescaling"]
    assert [layer.name for layer in rescale] == ["rescaling", "rescaling_1"]
    np.testing.assert_allclose(rescale[1].scale, [1 / np.sqrt(s) for s in (0.229, 0.224, 0.225)])


def test_imagenet_top_file_name(recorded_downloads):
    from kerasish.applications import efficientnet_v2

    # the stem and first stage of V2-S are enough to see which file is fetched
    model = efficientnet_v2.EfficientNetV2(1.0, 1.0, 384, name="efficientnetv2-s", weights="imagenet",
                                           weights_name="-s",
                                           blocks_args=efficientnet_v2.DEFAULT_BLOCKS_ARGS["efficientnetv2-s"][:1])
    assert model.input_shape == (None, 384, 384, 3)
    assert model.get_layer("predictions").get_config()["activation"] == "softmax"  # the default classifier
    assert recorded_downloads["get_file"][0]["fname"] == "efficientnetv2-s.h5"
    assert recorded_downloads["get_file"][0]["file_hash"] == "e1d88a8495beba45748fedd0cecbe016"


def test_local_weights_file_goes_to_load_weights(recorded_downloads, tmp_path):
    from kerasish.applications import convnext

    path = tmp_path / "mine.weights.h5"
    path.write_bytes(b"")
    convnext.ConvNeXtTiny(weights=str(path), include_top=False, **SMALL)
    assert recorded_downloads["load_weights"] == [str(path)] and recorded_downloads["get_file"] == []


@pytest.mark.parametrize("module,name", FAMILIES)
def test_keras_legacy_h5_weights_load(tmp_path, module, name):
    """A Keras 2 style HDF5 weights file (the format of the published ImageNet files) written by Keras from
    its model loads into kerasish's through ``weights=path``: every layer ends with Keras's weights."""
    h5py = pytest.importorskip("h5py")
    from keras.src.legacy.saving import legacy_h5_format

    import kerasish

    keras.backend.clear_session()
    keras_model = getattr(keras.applications, name)(weights=None, include_top=False, **SMALL)
    _randomize_statistics(keras_model)
    path = str(tmp_path / f"{name}.h5")
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, keras_model)
    kerasish.utils.clear_session()
    ks_model = getattr(_ks_module(module), name)(weights=path, include_top=False, **SMALL)
    for layer in keras_model.layers:
        for expected, actual in zip(layer.get_weights(), ks_model.get_layer(layer.name).get_weights(), strict=True):
            np.testing.assert_array_equal(actual, expected, err_msg=layer.name)


# -- errors, as Keras's (kerasish's ConfigError is a ValueError) ---------------------------------------------
@pytest.mark.parametrize("module,name", FAMILIES)
@pytest.mark.parametrize("kwargs,match", [
    ({"weights": "/no/such/file.h5"}, "weights"),
    ({"weights": "imagenet", "classes": 10}, "classes"),
    ({"input_shape": (16, 16, 3), "include_top": False}, "at least 32"),
])
def test_bad_arguments_raise_as_keras(module, name, kwargs, match):
    from kerasish.errors import ConfigError

    kwargs = {"weights": None, **kwargs}
    with pytest.raises(ValueError):
        getattr(getattr(keras.applications, module), name)(**kwargs)
    with pytest.raises(ConfigError, match=match):
        getattr(_ks_module(module), name)(**kwargs)


@pytest.mark.parametrize("module,name", FAMILIES)
def test_bad_pooling_is_refused(module, name):
    # Keras silently ignores an unknown pooling; kerasish names it.
    from kerasish.errors import ConfigError

    with pytest.raises(ConfigError, match="pooling='mean'"):
        getattr(_ks_module(module), name)(weights=None, include_top=False, pooling="mean")


@pytest.mark.parametrize("module,name", FAMILIES)
def test_input_tensor_must_be_symbolic(module, name):
    from kerasish.errors import ConfigError

    with pytest.raises(ConfigError, match="input_tensor"):
        getattr(_ks_module(module), name)(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))


def test_pretrained_classifier_activation_is_checked():
    from kerasish.applications import efficientnet
    from kerasish.errors import ConfigError

    with pytest.raises(ConfigError, match="classifier_activation"):
        efficientnet.EfficientNet(1.0, 1.0, 224, weights="imagenet", weights_name="b0", name="efficientnetb0",
                                  classifier_activation="relu", blocks_args=efficientnet.DEFAULT_BLOCKS_ARGS[:1])


def test_convnext_imagenet_needs_the_variant_name(recorded_downloads):
    from kerasish.applications import convnext
    from kerasish.errors import ConfigError

    with pytest.raises(ConfigError, match="convnext_tiny"):
        convnext.ConvNeXtTiny(weights="imagenet", name="my_net", include_top=False)
    assert recorded_downloads["get_file"] == []


# -- preprocess_input / decode_predictions -------------------------------------------------------------------
@pytest.mark.parametrize("module", ["efficientnet", "efficientnet_v2", "convnext"])
def test_preprocess_input_is_the_identity_as_keras(module):
    import jax.numpy as jnp

    x = _images((8, 8, 3))
    keras_fn, ks_fn = getattr(keras.applications, module).preprocess_input, _ks_module(module).preprocess_input
    assert ks_fn(x) is x and keras_fn(x) is x
    y = jnp.asarray(x)
    assert ks_fn(y, data_format="channels_last") is y


@pytest.mark.parametrize("module", ["efficientnet", "efficientnet_v2", "convnext"])
def test_decode_predictions_as_keras(fake_class_index, module):
    preds = np.random.default_rng(1).uniform(size=(3, 1000)).astype("float32")
    expected = getattr(keras.applications, module).decode_predictions(preds, top=4)
    actual = _ks_module(module).decode_predictions(preds, top=4)
    assert [[(a, b) for a, b, _ in row] for row in actual] == [[(a, b) for a, b, _ in row] for row in expected]
    np.testing.assert_allclose([[s for *_, s in row] for row in actual], [[s for *_, s in row] for row in expected])
    assert fake_class_index[0]["cache_subdir"] == "models"


def test_decode_predictions_rejects_wrong_shape(fake_class_index):
    from kerasish.applications import convnext
    from kerasish.errors import InputError

    with pytest.raises(InputError, match="1000"):
        convnext.decode_predictions(np.zeros((2, 10)))


# -- ConvNeXt's own layers ---------------------------------------------------------------------------------
def test_layer_scale_and_stochastic_depth_configs_match_keras():
    from keras.src.applications import convnext as keras_convnext

    from kerasish.applications import convnext

    pairs = [(convnext.LayerScale(1e-6, 8, name="ls"), keras_convnext.LayerScale(1e-6, 8, name="ls")),
             (convnext.StochasticDepth(0.1, name="sd"), keras_convnext.StochasticDepth(0.1, name="sd"))]
    for ours, theirs in pairs:
        expected = {k: v for k, v in theirs.get_config().items() if k != "dtype"}
        actual = {k: v for k, v in ours.get_config().items() if k != "dtype"}
        assert actual == expected
        assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    layer = convnext.LayerScale(0.5, 4)
    x = np.ones((2, 3, 4), "float32")
    np.testing.assert_allclose(np.asarray(layer(x)), 0.5 * x)
    assert [w.shape for w in layer.get_weights()] == [(4,)]


def test_stochastic_depth_drops_whole_samples_in_training():
    import kerasish
    from kerasish.applications import convnext

    kerasish.utils.set_random_seed(0)
    layer = convnext.StochasticDepth(0.5)
    x = np.ones((64, 3, 3, 2), "float32")
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    y = np.asarray(layer(x, training=True))
    per_sample = y.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()  # a sample is dropped or kept as a whole
    assert 0 < (per_sample[:, 0] == 0).sum() < 64
    with pytest.raises(ValueError, match="drop_path_rate"):
        convnext.StochasticDepth(1.0)


@pytest.mark.parametrize("suffix", [".keras", ".kerasish"])
def test_model_with_convnext_layers_saves_and_reloads(tmp_path, suffix):
    import kerasish
    from kerasish.applications import convnext

    inputs = kerasish.Input(shape=(4, 4, 8))
    x = convnext.LayerScale(0.25, 8, name="scale")(inputs)
    x = inputs + convnext.StochasticDepth(0.2, name="drop")(x)
    model = kerasish.Model(inputs, x)
    model.get_layer("scale").set_weights([np.arange(8, dtype="float32")])
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    loaded = kerasish.models.load_model(path)
    assert type(loaded.get_layer("scale")) is convnext.LayerScale
    assert loaded.get_layer("drop").drop_path_rate == 0.2
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)
