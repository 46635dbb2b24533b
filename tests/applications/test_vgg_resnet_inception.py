"""kerasish.applications against Keras 3: VGG, ResNet (v1, v2), InceptionV3, InceptionResNetV2, Xception, and the
shared imagenet_utils / weights plumbing.

The default run builds the smallest variant of each family at a small input; ``KERASISH_APPS_FULL=1`` adds
every variant at its default size with the classifier.
"""

import os

import numpy as np
import pytest

import kerasish
from kerasish.applications import _weights, imagenet_utils
from kerasish.errors import ConfigError, InputError
from tests.applications._parity import assert_same_model, build_pair

FULL = bool(os.environ.get("KERASISH_APPS_FULL"))
full_only = pytest.mark.skipif(not FULL, reason="every variant at its default size: set KERASISH_APPS_FULL=1")

# family submodule -> (constructors, smallest input side, default input side, preprocessing mode)
FAMILIES = {
    "vgg16": (("VGG16",), 32, 224, "caffe"),
    "vgg19": (("VGG19",), 32, 224, "caffe"),
    "resnet": (("ResNet50", "ResNet101", "ResNet152"), 32, 224, "caffe"),
    "resnet50": (("ResNet50",), 32, 224, "caffe"),
    "resnet_v2": (("ResNet50V2", "ResNet101V2", "ResNet152V2"), 32, 224, "tf"),
    "inception_v3": (("InceptionV3",), 75, 299, "tf"),
    "inception_resnet_v2": (("InceptionResNetV2",), 75, 299, "tf"),
    "xception": (("Xception",), 71, 299, "tf"),
}
# the default run: the smallest variant of each family at its smallest input, the heads spread over them
SMALLEST = {
    "VGG16": dict(include_top=False),  # input_shape None: (None, None, 3), fed 32x32 images
    "ResNet50": dict(include_top=True, input_shape=(32, 32, 3), classes=7),  # softmax: see _softmax_free
    "ResNet50V2": dict(include_top=False, input_shape=(32, 32, 3), pooling="max"),
    "InceptionV3": dict(include_top=False, input_shape=(75, 75, 3), pooling="avg"),
    "Xception": dict(include_top=True, input_shape=(71, 71, 3), classes=7, classifier_activation=None),
    "InceptionResNetV2": dict(include_top=False, input_shape=(75, 75, 3)),
}
ALL_VARIANTS = [(name, module) for module, (names, *_) in FAMILIES.items() if module != "resnet50" for name in names]


def _keras():
    import keras

    return keras


# --- architectures ------------------------------------------------------------------------------------------

def _softmax_free(keras_model, ks_model):
    """Compare logits rather than probabilities: with random weights the deep residual nets' logits are large,
    so the softmax saturates and float32 rounding of two nearly equal logits moves probabilities by 1e-3. The
    classifier's activation is checked here instead, then set to linear in both models."""
    if "predictions" not in [layer.name for layer in keras_model.layers]:
        return
    keras_top, ks_top = keras_model.get_layer("predictions"), ks_model.get_layer("predictions")
    assert ks_top.get_config()["activation"] == keras_top.get_config()["activation"]
    if keras_top.get_config()["activation"] == "softmax":
        keras_top.activation = _keras().activations.linear
        ks_top.activation = kerasish.activations.linear


@pytest.mark.parametrize("name", SMALLEST)
def test_smallest_variant_matches_keras(name):
    keras_model, ks_model = build_pair(name, **SMALLEST[name])
    assert ks_model.input_shape == keras_model.input_shape
    _softmax_free(keras_model, ks_model)
    # InceptionResNetV2's forward pass alone takes longer than the budget of the default run: its layers and
    # wiring are compared here, its outputs in the full run (its one custom layer: test_custom_scale_layer)
    assert_same_model(keras_model, ks_model, compare_outputs=FULL or name != "InceptionResNetV2")


def test_vgg16_classifier_with_classes_and_logits():
    keras_model, ks_model = build_pair("VGG16", include_top=True, input_shape=(32, 32, 3), classes=5,
                                       classifier_activation=None)
    assert_same_model(keras_model, ks_model, compare_outputs=FULL)  # the convolutions: the other tests
    assert ks_model.get_layer("predictions").get_config()["activation"] == "linear"
    assert [layer.name for layer in ks_model.layers[-4:]] == ["flatten", "fc1", "fc2", "predictions"]


@pytest.mark.parametrize("pooling", ["avg", "max"])  # None and the ResNet names: the smallest-variant tests
def test_pooling_heads(pooling):
    keras_model, ks_model = build_pair("VGG16", include_top=False, input_shape=(32, 32, 3), pooling=pooling)
    assert_same_model(keras_model, ks_model, compare_outputs=False)  # same layers as the tested forward passes
    assert ks_model.output_shape == (None, 512)
    assert type(ks_model.layers[-1]).__name__ == f"Global{'Average' if pooling == 'avg' else 'Max'}Pooling2D"


def test_input_tensor_keeps_the_graph_inputs():
    keras = _keras()
    from keras.src.backend.common.stateless_scope import StatelessScope

    from tests.applications._parity import randomize_keras_weights

    def build(lib):
        inp = lib.Input(shape=(32, 32, 3), name="image")
        scaled = lib.layers.Rescaling(2.0, name="scale")(inp)
        return inp, lib.applications.VGG16(weights=None, include_top=False, input_tensor=scaled, pooling="avg")

    keras.backend.clear_session()
    with StatelessScope(initialize_variables=False):  # see build_pair: no initializer compilations
        keras_inp, keras_model = build(keras)
    randomize_keras_weights(keras_model)
    kerasish.utils.clear_session()
    ks_inp, ks_model = build(kerasish)
    assert ks_model.inputs[0] is ks_inp and [t.name for t in ks_model.inputs] == ["image"]
    assert ks_model.layers[1].name == "scale"
    assert_same_model(keras_model, ks_model)


def test_custom_scale_layer():
    from kerasish.applications.inception_resnet_v2 import CustomScaleLayer

    layer = CustomScaleLayer(0.17, name="s")
    a, b = np.full((1, 2, 2, 3), 2.0, "float32"), np.full((1, 2, 2, 3), 10.0, "float32")
    np.testing.assert_allclose(layer([a, b]), 2.0 + 10.0 * 0.17, rtol=1e-6)
    assert layer.get_config()["scale"] == 0.17 and layer.name == "s"


def test_input_tensor_must_be_symbolic():
    with pytest.raises(ConfigError, match="input_tensor"):
        kerasish.applications.VGG16(weights=None, include_top=False, input_tensor=np.zeros((1, 32, 32, 3)))


@full_only
@pytest.mark.parametrize("name,module", ALL_VARIANTS, ids=[n for n, _ in ALL_VARIANTS])
def test_every_variant_at_default_size_matches_keras(name, module):
    keras_model, ks_model = build_pair(name, module=module)
    assert ks_model.input_shape[1] == FAMILIES[module][2]
    _softmax_free(keras_model, ks_model)
    assert_same_model(keras_model, ks_model)


@full_only
@pytest.mark.parametrize("name,module", ALL_VARIANTS, ids=[n for n, _ in ALL_VARIANTS])
def test_every_variant_without_top_matches_keras(name, module):
    size = FAMILIES[module][1]
    keras_model, ks_model = build_pair(name, module=module, include_top=False, pooling="max",
                                       input_shape=(size + 13, size + 6, 3))
    assert_same_model(keras_model, ks_model)


# --- argument errors ----------------------------------------------------------------------------------------

CONSTRUCTORS = sorted({name for name, _ in ALL_VARIANTS})


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_bad_weights_and_classes_raise_like_keras(name, tmp_path):
    keras, ks = _keras().applications, kerasish.applications
    missing = str(tmp_path / "nope.h5")
    for kwargs in (dict(weights=missing), dict(weights="imagenet", classes=10)):
        with pytest.raises(ValueError):
            getattr(keras, name)(**kwargs)
        with pytest.raises(ConfigError, match="weights|classes"):
            getattr(ks, name)(**kwargs)
    with pytest.raises(ConfigError, match="weights=3"):  # Keras builds the model first, then fails to load 3
        getattr(ks, name)(weights=3)


@pytest.mark.parametrize("name,min_size", [("VGG19", 32), ("ResNet101", 32), ("ResNet152V2", 32),
                                           ("InceptionV3", 75), ("InceptionResNetV2", 75), ("Xception", 71)])
def test_input_too_small_or_malformed(name, min_size):
    keras, ks = _keras().applications, kerasish.applications
    for shape in ((min_size - 1, min_size, 3), (min_size, min_size - 1, 3), (min_size, min_size)):
        with pytest.raises(ValueError):
            getattr(keras, name)(weights=None, include_top=False, input_shape=shape)
        with pytest.raises(ConfigError, match="input_shape"):
            getattr(ks, name)(weights=None, include_top=False, input_shape=shape)


def test_imagenet_top_needs_the_default_shape():
    with pytest.raises(ConfigError, match=r"\(224, 224, 3\)"):
        kerasish.applications.ResNet50(weights="imagenet", input_shape=(64, 64, 3))
    with pytest.raises(ConfigError, match="3 input channels"):
        kerasish.applications.ResNet50(weights="imagenet", include_top=False, input_shape=(64, 64, 1))


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_bad_pooling_is_rejected(name):
    # Keras silently ignores an unknown pooling; kerasish says so
    with pytest.raises(ConfigError, match="pooling"):
        getattr(kerasish.applications, name)(weights=None, include_top=False, pooling="mean")


# --- weights ------------------------------------------------------------------------------------------------

class _Recorder:
    """Stands for get_file and load_weights in Keras and kerasish: records what they are asked for."""

    def __init__(self, monkeypatch):
        import keras.src.utils.file_utils as keras_files

        keras = _keras()
        self.calls = {"keras": [], "kerasish": []}
        monkeypatch.setattr(keras_files, "get_file", self._get_file("keras"))
        monkeypatch.setattr(kerasish.utils, "get_file", self._get_file("kerasish"))
        monkeypatch.setattr(keras.Model, "load_weights", self._load("keras"))
        monkeypatch.setattr(kerasish.Model, "load_weights", self._load("kerasish"))

    def _get_file(self, lib):
        def get_file(fname=None, origin=None, **kwargs):
            self.calls[lib].append(("get_file", fname, origin, kwargs.get("cache_subdir"), kwargs.get("file_hash")))
            return f"/cache/models/{fname}"

        return get_file

    def _load(self, lib):
        def load_weights(model, path, *args, **kwargs):
            self.calls[lib].append(("load_weights", model.name, os.fspath(path)))

        return load_weights


def _imagenet_files_match(name, monkeypatch, **kwargs):
    from keras.src.backend.common.stateless_scope import StatelessScope

    recorder = _Recorder(monkeypatch)
    with StatelessScope(initialize_variables=False):
        getattr(_keras().applications, name)(weights="imagenet", **kwargs)
    getattr(kerasish.applications, name)(weights="imagenet", **kwargs)
    assert recorder.calls["kerasish"] == recorder.calls["keras"]
    assert [c[0] for c in recorder.calls["kerasish"]] == ["get_file", "load_weights"]
    assert recorder.calls["kerasish"][0][3] == "models"


@pytest.mark.parametrize("name", ["VGG16", "ResNet50"])
def test_imagenet_weights_fetch_keras_files(name, monkeypatch):
    _imagenet_files_match(name, monkeypatch, include_top=False, input_shape=(32, 32, 3))


@full_only
@pytest.mark.parametrize("name", CONSTRUCTORS)
@pytest.mark.parametrize("include_top", [True, False])
def test_imagenet_weights_fetch_keras_files_all(name, include_top, monkeypatch):
    _imagenet_files_match(name, monkeypatch, include_top=include_top)


def test_weights_path_is_loaded(monkeypatch, tmp_path):
    recorder = _Recorder(monkeypatch)
    path = tmp_path / "mine.weights.h5"
    path.write_bytes(b"")
    kerasish.applications.VGG16(weights=str(path), include_top=False, input_shape=(32, 32, 3))
    assert recorder.calls["kerasish"] == [("load_weights", "vgg16", str(path))]


def test_load_weights_helper(tmp_path):
    class Model:
        name = "m"
        loaded = None

        def load_weights(self, path):
            self.loaded = path

    model = Model()
    _weights.load_weights(model, None, include_top=True)
    assert model.loaded is None
    with pytest.raises(ConfigError, match="nope.h5"):
        _weights.load_weights(model, str(tmp_path / "nope.h5"), include_top=True)
    with pytest.raises(ConfigError, match="include_top=False"):
        _weights.load_weights(model, "imagenet", include_top=False, origin_top="https://x/top.h5")


def test_classifier_activation_with_pretrained_weights():
    for activation in (None, "softmax"):
        imagenet_utils.validate_activation(activation, "imagenet")
    imagenet_utils.validate_activation("relu", None)
    with pytest.raises(ConfigError, match="classifier_activation"):
        imagenet_utils.validate_activation("relu", "imagenet")
    from keras.src.applications.imagenet_utils import validate_activation

    with pytest.raises(ValueError):
        validate_activation("relu", "imagenet")


# --- imagenet_utils: preprocess_input, decode_predictions, obtain_input_shape ----------------------------------

def _images(kind, rank, data_format):
    shape = (2, 5, 4, 3) if data_format == "channels_last" else (2, 3, 5, 4)
    x = np.random.default_rng(3).uniform(0, 255, shape[4 - rank:] if rank == 3 else shape)
    if kind == "uint8":
        return x.astype("uint8")
    if kind == "jax":
        import jax.numpy as jnp

        return jnp.asarray(x, "float32")
    return x.astype("float32")


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kind", ["float32", "uint8", "jax"])
@pytest.mark.parametrize("rank", [3, 4])
def test_preprocess_input_matches_keras(mode, data_format, kind, rank):
    from keras.src.applications.imagenet_utils import preprocess_input as keras_preprocess

    x_keras, x_ks = _images(kind, rank, data_format), _images(kind, rank, data_format)
    expected = keras_preprocess(x_keras, data_format=data_format, mode=mode)
    actual = imagenet_utils.preprocess_input(x_ks, data_format=data_format, mode=mode)
    assert type(actual) is type(expected) or kind == "jax"
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-6, atol=1e-5)
    assert np.asarray(actual).dtype == np.asarray(expected).dtype
    if kind == "float32":  # Keras writes over a float NumPy input: so does kerasish
        np.testing.assert_allclose(x_ks, x_keras, rtol=1e-6, atol=1e-5)


def test_preprocess_input_on_a_symbolic_tensor():
    inp = kerasish.Input(shape=(4, 4, 3))
    model = kerasish.Model(inp, kerasish.applications.resnet50.preprocess_input(inp))
    x = _images("float32", 4, "channels_last")[:, :4, :4]
    np.testing.assert_allclose(model.predict(x, verbose=0), imagenet_utils.preprocess_input(x.copy()), atol=1e-4)


@pytest.mark.parametrize("module", sorted(FAMILIES))
def test_family_preprocess_input_matches_keras(module):
    keras_module = getattr(_keras().applications, module)
    ks_module = getattr(kerasish.applications, module)
    x = _images("float32", 4, "channels_last")
    np.testing.assert_allclose(ks_module.preprocess_input(x.copy()), keras_module.preprocess_input(x.copy()),
                               rtol=1e-6, atol=1e-5)
    expected_mode = FAMILIES[module][3]
    np.testing.assert_allclose(ks_module.preprocess_input(x.copy()),
                               imagenet_utils.preprocess_input(x.copy(), mode=expected_mode))


def test_preprocess_input_rejects_bad_arguments():
    x = np.zeros((1, 2, 2, 3), "float32")
    with pytest.raises(ConfigError, match="mode"):
        imagenet_utils.preprocess_input(x, mode="keras")
    with pytest.raises(ConfigError, match="data_format"):
        imagenet_utils.preprocess_input(x, data_format="channels_middle")


@pytest.mark.parametrize("module", sorted(FAMILIES))
def test_decode_predictions_matches_keras(module, fake_class_index):
    preds = np.random.default_rng(4).uniform(size=(3, 1000)).astype("float32")
    expected = getattr(_keras().applications, module).decode_predictions(preds, top=4)
    actual = getattr(kerasish.applications, module).decode_predictions(preds, top=4)
    assert actual == expected
    assert fake_class_index[0]["fname"] == "imagenet_class_index.json"
    assert fake_class_index[0]["origin"] == imagenet_utils.CLASS_INDEX_PATH
    assert fake_class_index[0]["cache_subdir"] == "models"
    assert fake_class_index[0]["file_hash"] == "c2c37ea517e94d9795004a39431a14cb"


def test_decode_predictions_reads_the_index_once_and_takes_jax_arrays(fake_class_index):
    import jax.numpy as jnp

    preds = np.zeros((1, 1000), "float32")
    preds[0, [7, 3]] = (0.9, 0.5)
    assert imagenet_utils.decode_predictions(jnp.asarray(preds), top=2) == [
        [("n00000007", "class_7", np.float32(0.9)), ("n00000003", "class_3", np.float32(0.5))]]
    imagenet_utils.decode_predictions(preds)
    assert len(fake_class_index) == 1


@pytest.mark.parametrize("shape", [(2, 999), (1000,), (1, 2, 1000)])
def test_decode_predictions_rejects_bad_shapes(shape):
    with pytest.raises(InputError, match=r"\(samples, 1000\)"):
        imagenet_utils.decode_predictions(np.zeros(shape))
    with pytest.raises(ValueError):
        _keras().applications.imagenet_utils.decode_predictions(np.zeros(shape))


OBTAIN_CASES = [  # input_shape, default_size, min_size, data_format, require_flatten, weights
    (None, 224, 32, "channels_last", True, None),
    (None, 224, 32, "channels_last", False, None),
    (None, 224, 32, "channels_first", False, "imagenet"),
    ((64, 64, 3), 224, 32, "channels_last", False, None),
    ((64, 64, 3), 224, 32, "channels_last", True, None),
    ((64, 64, 3), 224, 32, "channels_last", True, "imagenet"),
    ((224, 224, 3), 224, 32, "channels_last", True, "imagenet"),
    ((None, None, 3), 224, 32, "channels_last", False, "imagenet"),
    ((None, None, 3), 224, 32, "channels_last", True, None),
    ((31, 64, 3), 224, 32, "channels_last", False, None),
    ((64, 64, 1), 224, 32, "channels_last", False, "imagenet"),
    ((64, 64, 1), 224, 32, "channels_last", False, None),
    ((3, 80, 80), 299, 75, "channels_first", False, None),
    ((3, 80, 70), 299, 75, "channels_first", False, None),
    ((64, 64), 224, 32, "channels_last", False, None),
]


@pytest.mark.parametrize("case", OBTAIN_CASES)
def test_obtain_input_shape_matches_keras(case):
    import warnings

    from keras.src.applications.imagenet_utils import obtain_input_shape as keras_obtain

    shape, default_size, min_size, data_format, require_flatten, weights = case
    args = dict(default_size=default_size, min_size=min_size, data_format=data_format,
                require_flatten=require_flatten, weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = keras_obtain(shape, **args)
        except ValueError:
            with pytest.raises(ConfigError):
                imagenet_utils.obtain_input_shape(shape, **args)
            return
        assert tuple(imagenet_utils.obtain_input_shape(shape, **args)) == tuple(expected)


def test_obtain_input_shape_warns_on_unusual_channels():
    with pytest.warns(UserWarning, match="channels"):
        imagenet_utils.obtain_input_shape((64, 64, 5), 224, 32, "channels_last", False)


# --- the package --------------------------------------------------------------------------------------------

def test_package_exposes_keras_names():
    keras = _keras()
    keras_names = {n for n in vars(keras.applications) if not n.startswith("_")}
    assert keras_names <= set(kerasish.applications.__all__)
    assert keras_names <= set(dir(kerasish.applications))
    with pytest.raises(AttributeError):
        kerasish.applications.ResNet18  # noqa: B018


@pytest.mark.parametrize("module", sorted(FAMILIES))
def test_family_modules_expose_keras_names(module):
    keras_module = getattr(_keras().applications, module)
    ks_module = getattr(kerasish.applications, module)
    for name in (n for n in vars(keras_module) if not n.startswith("_")):
        assert callable(getattr(ks_module, name)), name
        if name[0].isupper():
            assert getattr(kerasish.applications, name) is getattr(ks_module, name)
