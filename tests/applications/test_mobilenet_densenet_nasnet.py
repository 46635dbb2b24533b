"""MobileNet (v1, v2, v3), DenseNet and NASNet against Keras 3: structure, parameters, predictions, weight files,
preprocessing and errors.

The default run builds the smallest variant of each family at 32x32; ``KERASISH_APPS_FULL=1`` adds every
variant at its default size.
"""

import os
import warnings

import numpy as np
import pytest

from tests.applications._parity import build_pair, copy_weights_by_name

FULL = bool(os.environ.get("KERASISH_APPS_FULL"))
full_only = pytest.mark.skipif(not FULL, reason="builds every variant at its default size (minutes): set "
                                                "KERASISH_APPS_FULL=1 to run")


@pytest.fixture(autouse=True, scope="module")
def _fast_keras_init():
    """Keras draws initial weights with JAX random ops, compiled once per weight shape (most of the build time
    here); the tests overwrite those weights anyway, so draw them with NumPy."""
    import jax.numpy as jnp
    import keras.src.backend.jax.random as keras_random

    rng = np.random.default_rng(0)

    def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.normal(mean, stddev, shape), dtype or "float32")

    def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        return jnp.asarray(np.clip(rng.standard_normal(shape), -2, 2) * stddev + mean, dtype or "float32")

    def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        return jnp.asarray(rng.uniform(minval, maxval, shape), dtype or "float32")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras_random, "normal", normal)
        patch.setattr(keras_random, "truncated_normal", truncated_normal)
        patch.setattr(keras_random, "uniform", uniform)
        yield


def _randomize_batchnorm(keras_model, seed=0):
    """Give Keras's BatchNormalization layers non-trivial statistics, so that copying them is checked too."""
    rng = np.random.default_rng(seed)
    for layer in keras_model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                               rng.normal(0, 0.1, beta.shape).astype("float32"),
                               rng.normal(0, 0.1, mean.shape).astype("float32"),
                               rng.uniform(0.5, 1.5, var.shape).astype("float32")])


def _assert_same(keras_model, ks_model, seed=0):
    """``_parity.assert_same_model``'s checks, with predictions from each framework's jitted ``predict``
    (an eager call compiles op by op: three to four times slower on these graphs)."""
    assert [layer.name for layer in ks_model.layers] == [layer.name for layer in keras_model.layers]
    assert [type(layer).__name__ for layer in ks_model.layers] == [type(layer).__name__ for layer in keras_model.layers]
    assert ks_model.name == keras_model.name
    assert ks_model.count_params() == keras_model.count_params()
    assert len(ks_model.non_trainable_weights) == len(keras_model.non_trainable_weights)
    assert tuple(ks_model.output_shape) == tuple(keras_model.output_shape)
    _randomize_batchnorm(keras_model, seed)
    copy_weights_by_name(keras_model, ks_model)
    shape = [2] + [32 if d is None else d for d in keras_model.input_shape[1:]]
    x = np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype("float32")
    expected = np.asarray(keras_model.predict(x, verbose=0))
    actual = np.asarray(ks_model.predict(x, verbose=0))
    # atol relative to the outputs' scale, as _parity.assert_same_model: float32 rounding of features up to ~200
    np.testing.assert_allclose(actual, expected, atol=1e-4 * max(1.0, float(np.abs(expected).max())), rtol=1e-4)
    return actual


def _check(name, **kwargs):
    return _assert_same(*build_pair(name, **kwargs))


# -- parity: the smallest variant of each family, small inputs ----------------------------------------------------

def _build_on_input_tensor(name, **kwargs):
    """Build ``name`` in both frameworks on ``input_tensor=`` a layer's output (not the Input itself)."""
    import keras

    import kerasish

    keras.backend.clear_session()
    k_in = keras.Input(shape=(32, 32, 3))
    keras_model = getattr(keras.applications, name)(weights=None, input_tensor=keras.layers.Rescaling(0.5)(k_in),
                                                     **kwargs)
    kerasish.utils.clear_session()
    ks_in = kerasish.Input(shape=(32, 32, 3))
    ks_model = getattr(kerasish.applications, name)(weights=None, input_tensor=kerasish.layers.Rescaling(0.5)(ks_in),
                                                     **kwargs)
    assert ks_model.inputs[0] is ks_in  # the model starts where input_tensor came from, as in Keras
    return keras_model, ks_model


SMALL = [
    pytest.param("MobileNet", dict(alpha=0.25, input_shape=(32, 32, 3), classes=7), id="mobilenet-top"),
    pytest.param("MobileNetV2", dict(alpha=0.35, classes=5, classifier_activation=None, input_tensor=True),
                 id="mobilenet_v2-input_tensor-logits"),
    pytest.param("MobileNetV3Small", dict(alpha=0.75, include_top=False, pooling="avg", input_tensor=True),
                 id="mobilenet_v3_small-input_tensor-avg"),
    pytest.param("MobileNetV3Small", dict(minimalistic=True, alpha=1.25, input_shape=(32, 32, 3), dropout_rate=0.0,
                                          include_preprocessing=False, classes=3),
                 id="mobilenet_v3_small-minimalistic"),
    pytest.param("DenseNet121", dict(input_shape=(32, 32, 3), include_top=False, pooling="max"), id="densenet121-max"),
    pytest.param("NASNetMobile", dict(input_shape=(32, 32, 3), include_top=False), id="nasnet_mobile-features"),
]


@pytest.mark.parametrize("name,kwargs", SMALL)
def test_small_variant_matches_keras(name, kwargs):
    kwargs = dict(kwargs)
    if kwargs.pop("input_tensor", False):
        _assert_same(*_build_on_input_tensor(name, **kwargs))
    else:
        _check(name, **kwargs)


@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_pooling_matches_keras(pooling):
    out = _check("MobileNet", alpha=0.25, input_shape=(32, 32, 3), include_top=False, pooling=pooling)
    assert out.ndim == (4 if pooling is None else 2)


def test_mobilenet_names_follow_keras():
    from kerasish import applications

    assert applications.MobileNet(weights=None, include_top=False, alpha=0.25).name == "mobilenet_0.25_None"
    assert applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.5).name == "mobilenetv2_0.50_96"


# -- weights="imagenet": the same file (name, URL, hash) as Keras -------------------------------------------------

class _Fetched(Exception):
    """Raised by the fake get_file: the test only needs its arguments."""


def _requested_file(monkeypatch, build):
    """Run ``build`` with ``get_file`` faked in both frameworks; return the (fname, origin, file_hash) asked for."""
    import keras.src.utils.file_utils as keras_files

    import kerasish.utils

    calls = []

    def fake_get_file(fname=None, origin=None, cache_subdir="datasets", file_hash=None, **kwargs):
        calls.append((fname, origin, file_hash))
        assert cache_subdir == "models"
        raise _Fetched

    monkeypatch.setattr(keras_files, "get_file", fake_get_file)
    monkeypatch.setattr(kerasish.utils, "get_file", fake_get_file)
    with pytest.raises(_Fetched), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build()
    assert len(calls) == 1
    return calls[0]


def _same_imagenet_file(monkeypatch, name, **kwargs):
    import keras

    import kerasish

    kwargs.setdefault("weights", "imagenet")
    expected = _requested_file(monkeypatch, lambda: getattr(keras.applications, name)(**kwargs))
    actual = _requested_file(monkeypatch, lambda: getattr(kerasish.applications, name)(**kwargs))
    assert actual == expected
    return actual


@pytest.mark.parametrize("include_top", [True, False])
def test_imagenet_file_mobilenet(monkeypatch, include_top):
    fname, origin, _ = _same_imagenet_file(monkeypatch, "MobileNet", alpha=0.25, input_shape=(128, 128, 3),
                                           include_top=include_top)
    assert fname == ("mobilenet_2_5_128_tf.h5" if include_top else "mobilenet_2_5_128_tf_no_top.h5")


def test_imagenet_file_mobilenet_v3(monkeypatch):
    fname, _, file_hash = _same_imagenet_file(monkeypatch, "MobileNetV3Small", minimalistic=True,
                                              input_shape=(32, 32, 3), include_top=False)
    assert fname == "weights_mobilenet_v3_small_minimalistic_224_1.0_float_no_top_v2.h5"
    assert file_hash == "cde8136e733e811080d9fcd8a252f7e4"


def test_imagenet_with_odd_size_warns_and_loads_224(monkeypatch):
    from kerasish import applications

    with pytest.warns(UserWarning, match="224"):
        with pytest.raises(_Fetched):
            _fake_fetch(monkeypatch)
            applications.MobileNetV2(alpha=0.35, input_shape=(100, 100, 3), include_top=False)


def _fake_fetch(monkeypatch):
    import kerasish.utils

    def fake_get_file(*args, **kwargs):
        raise _Fetched

    monkeypatch.setattr(kerasish.utils, "get_file", fake_get_file)


def test_weights_path_loads_a_keras_h5_file(tmp_path):
    """``weights=<path>`` of a Keras 2 HDF5 weights file (the format of Keras's ImageNet files) written by Keras."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    keras_model, _ = build_pair("MobileNet", alpha=0.25, input_shape=(32, 32, 3), include_top=False)
    _randomize_batchnorm(keras_model)
    path = tmp_path / "mobilenet.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, keras_model)
    from kerasish import applications

    ks_model = applications.MobileNet(weights=str(path), alpha=0.25, input_shape=(32, 32, 3), include_top=False)
    for layer in keras_model.layers:
        if not layer.weights:
            continue
        for expected, actual in zip(layer.get_weights(), ks_model.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(actual, expected)


# -- errors: raised where Keras raises, as kerasish's ConfigError --------------------------------------------------

ERRORS = [
    pytest.param(name, kwargs, match, id=f"{name}-{key}")
    for name in ("MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "DenseNet121", "DenseNet169",
                 "DenseNet201", "NASNetMobile", "NASNetLarge")
    for key, kwargs, match in (
        ("bad-path", dict(weights="/no/such/file.h5"), "weights"),
        ("imagenet-classes", dict(weights="imagenet", classes=10), "classes"),
        ("too-small", dict(weights=None, include_top=False, input_shape=(31, 31, 3)), "32"),
    )
]


@pytest.mark.parametrize("name,kwargs,match", ERRORS)
def test_errors_match_keras(name, kwargs, match):
    import keras

    from kerasish import ConfigError, applications

    with pytest.raises(ValueError):
        getattr(keras.applications, name)(**kwargs)
    with pytest.raises(ConfigError, match=match):
        getattr(applications, name)(**kwargs)


@pytest.mark.parametrize("name,kwargs,match", [
    ("MobileNet", dict(alpha=0.3, include_top=False), "alpha"),
    ("MobileNet", dict(depth_multiplier=2, include_top=False), "depth_multiplier"),
    ("MobileNetV2", dict(alpha=0.6, include_top=False), "alpha"),
    ("MobileNetV3Small", dict(alpha=0.75, minimalistic=True), "alpha"),
    ("MobileNetV3Large", dict(alpha=0.5), "alpha"),
    ("NASNetMobile", dict(include_top=False, input_shape=(None, None, 3)), "static"),
    ("DenseNet121", dict(input_shape=(200, 200, 3)), "input_shape"),
])
def test_imagenet_argument_errors_match_keras(name, kwargs, match):
    import keras

    from kerasish import ConfigError, applications

    with pytest.raises(ValueError):
        getattr(keras.applications, name)(weights="imagenet", **kwargs)
    with pytest.raises(ConfigError, match=match):
        getattr(applications, name)(weights="imagenet", **kwargs)


@pytest.mark.parametrize("name", ["MobileNet", "MobileNetV2", "MobileNetV3Small", "DenseNet121", "NASNetMobile"])
def test_bad_pooling_is_an_error(name):
    # deliberately stricter than Keras, which ignores an unknown pooling silently
    from kerasish import ConfigError, applications

    with pytest.raises(ConfigError, match="pooling"):
        getattr(applications, name)(weights=None, include_top=False, pooling="mean")


def test_input_tensor_and_shape_disagree():
    import kerasish
    from kerasish import ConfigError, applications

    with pytest.raises(ConfigError, match="input_tensor"):
        applications.MobileNetV2(weights=None, input_shape=(32, 48, 3), input_tensor=kerasish.Input((32, 32, 3)))
    with pytest.raises(ConfigError, match="input_tensor"):
        applications.MobileNet(weights=None, input_tensor=np.zeros((1, 32, 32, 3)))


def test_activation_with_imagenet_weights_is_an_error(monkeypatch):
    from kerasish import ConfigError, applications

    _fake_fetch(monkeypatch)
    with pytest.raises(ConfigError, match="classifier_activation"):
        applications.MobileNet(alpha=0.25, input_shape=(128, 128, 3), classifier_activation="relu")


# -- preprocess_input and decode_predictions ---------------------------------------------------------------------

MODULES = ["mobilenet", "mobilenet_v2", "mobilenet_v3", "densenet", "nasnet"]


@pytest.mark.parametrize("module", MODULES)
def test_preprocess_input_matches_keras(module):
    import keras

    from kerasish import applications

    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = getattr(keras.applications, module).preprocess_input(x.copy())
    actual = getattr(applications, module).preprocess_input(x.copy())
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-6, atol=1e-5)
    single = getattr(applications, module).preprocess_input(x[0].copy())
    np.testing.assert_allclose(np.asarray(single), np.asarray(expected)[0], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("module", MODULES)
def test_decode_predictions_matches_keras(module, fake_class_index):
    import keras

    from kerasish import applications

    preds = np.random.default_rng(1).uniform(size=(2, 1000)).astype("float32")
    expected = getattr(keras.applications, module).decode_predictions(preds, top=3)
    actual = getattr(applications, module).decode_predictions(preds, top=3)
    assert [[(c, n) for c, n, _ in row] for row in actual] == [[(c, n) for c, n, _ in row] for row in expected]
    np.testing.assert_allclose([[s for *_, s in row] for row in actual], [[s for *_, s in row] for row in expected])


# -- every variant at its default size (KERASISH_APPS_FULL=1) ----------------------------------------------------

FULL_VARIANTS = [
    ("MobileNet", {}), ("MobileNet", dict(alpha=0.5, input_shape=(160, 160, 3))),
    ("MobileNetV2", {}), ("MobileNetV2", dict(alpha=1.4)),
    ("MobileNetV3Small", {}), ("MobileNetV3Small", dict(minimalistic=True)),
    ("MobileNetV3Large", {}), ("MobileNetV3Large", dict(minimalistic=True)), ("MobileNetV3Large", dict(alpha=0.75)),
    ("DenseNet121", {}), ("DenseNet169", {}), ("DenseNet201", {}),
    ("NASNetMobile", {}), ("NASNetLarge", {}),
]


@full_only
@pytest.mark.parametrize("name,kwargs", FULL_VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FULL_VARIANTS)])
def test_full_variant_matches_keras(name, kwargs):
    _check(name, **kwargs)


@full_only
@pytest.mark.parametrize("include_top", [True, False])
@pytest.mark.parametrize("name,kwargs", FULL_VARIANTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FULL_VARIANTS)])
def test_full_imagenet_file(monkeypatch, name, kwargs, include_top):
    _same_imagenet_file(monkeypatch, name, include_top=include_top, **kwargs)
