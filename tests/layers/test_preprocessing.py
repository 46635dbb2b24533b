"""Preprocessing layers against Keras 3 and NumPy: Rescaling, Normalization, Resizing, CenterCrop."""

import json

import jax
import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError, InputError
from kerasish.layers.preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras, make_inputs, run_layer_test

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

CUSTOM = {c.__name__: c for c in (Rescaling, Normalization, Resizing, CenterCrop)}
IMAGES = np.random.default_rng(0).uniform(0, 255, (2, 7, 9, 3)).astype("float32")


@pytest.mark.parametrize("kwargs", [{"scale": 1 / 255.0}, {"scale": 1 / 127.5, "offset": -1.0}])
def test_rescaling_standard_checks(kwargs):
    out = run_layer_test(Rescaling, kwargs, (2, 4, 3), expected_output_shape=(2, 4, 3), expected_num_weights=0,
                         custom_objects=CUSTOM)
    assert_close(out["model"](out["x"]), out["x"] * kwargs["scale"] + kwargs.get("offset", 0.0))


def test_rescaling_integer_images_give_floats():
    y = Rescaling(0.5, offset=1.0)(np.array([[0, 2, 255]], "uint8"))
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.asarray(y), [[1.0, 2.0, 128.5]])


@pytest.mark.parametrize("kwargs, keras_kwargs", [
    ({"mean": 2.0, "variance": 4.0}, None),
    ({"axis": -1, "mean": [0.0, 1.0, 2.0], "variance": [1.0, 4.0, 9.0]}, None),
    ({"axis": -1, "mean": [0.0, 1.0, 2.0], "variance": [1.0, 4.0, 9.0], "invert": True}, None),
], ids=["scalar", "per_feature", "invert"])
def test_normalization_given_statistics(kwargs, keras_kwargs):
    run_layer_test(Normalization, kwargs, (4, 3), expected_output_shape=(4, 3), expected_num_weights=0,
                   custom_objects=CUSTOM)


def test_normalization_weights_match_keras():
    # mean, variance and count (int32, scalar), non-trainable: what adapt writes and models save.
    # (run_layer_test's parity step does not apply: Keras's set_weights leaves its cached statistics stale.)
    for axis, shape in [(-1, (None, 5)), ((1, 2), (None, 3, 4, 2))]:
        ours, theirs = Normalization(axis=axis), keras.layers.Normalization(axis=axis)
        ours.build(shape)
        theirs.build(shape)
        assert [(w.name, w.shape, str(w.dtype), w.trainable) for w in ours.weights] == [
            (w.name, tuple(w.shape), str(w.dtype), w.trainable) for w in theirs.weights]
        assert ours.trainable_weights == []
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)
    assert [w.name for w in ours.weights] == ["mean", "variance", "count"]


@pytest.mark.parametrize("axis, shape", [(-1, (40, 3)), (None, (40, 3)), ((1, 2), (30, 3, 2, 2)), (1, (30, 4, 5))])
def test_normalization_adapt_matches_numpy_and_keras(axis, shape):
    data = (3.0 + 2.0 * make_inputs(shape, seed=1)).astype("float32")
    layer = Normalization(axis=axis)
    layer.adapt(data)
    keep = () if axis is None else tuple(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))
    reduce = tuple(d for d in range(len(shape)) if d not in keep)
    mean, var, count = layer.get_weights()
    assert_close(mean, data.astype("float64").mean(axis=reduce), "adapted mean")
    assert_close(var, data.astype("float64").var(axis=reduce), "adapted variance")
    assert int(count) == int(np.prod([shape[d] for d in reduce]))
    theirs = keras.layers.Normalization(axis=axis)
    theirs.adapt(data)
    assert_close(mean, theirs.get_weights()[0])
    assert_close(var, theirs.get_weights()[1])
    x = make_inputs((3,) + shape[1:], seed=2)
    assert_close(layer(x), theirs(x), "normalized outputs", atol=1e-4)
    # Batches (an iterable, or an array with batch_size) give the same statistics.
    batched = Normalization(axis=axis)
    batched.adapt(iter([data[:7], data[7:20], data[20:]]))
    assert_close(batched.get_weights()[0], mean)
    assert_close(batched.get_weights()[1], var)
    chunked = Normalization(axis=axis)
    chunked.adapt(data, batch_size=8)
    assert_close(chunked.get_weights()[1], var)


def test_normalization_adapt_steps_and_tuples_and_invert_roundtrip():
    data = make_inputs((30, 2), seed=3) * 5 + 1
    layer = Normalization()
    layer.adapt([(data[:10], None), (data[10:20], None), (data[20:], None)], steps=2)
    assert_close(layer.get_weights()[0], data[:20].astype("float64").mean(axis=0))
    inverse = Normalization(invert=True)
    inverse.adapt(data[:20])
    assert_close(inverse(layer(data)), data, "invert undoes normalization", atol=1e-4)


def test_normalization_adapted_state_survives_config_and_weights():
    data = make_inputs((20, 3), seed=4) * 2 + 7
    layer = Normalization()
    layer.adapt(data)
    restored = deserialize_layer(json.loads(json.dumps(serialize_layer(layer))), CUSTOM)
    restored(data[:1])
    restored.set_weights(layer.get_weights())
    assert_close(restored(data), layer(data))
    # Inside a jitted model the adapted statistics are state, not constants baked at trace time.
    model = kerasish.Sequential([kerasish.Input((3,)), layer])
    before = np.asarray(model.predict(data, verbose=0))
    assert_close(before.mean(axis=0), np.zeros(3), atol=1e-4)
    # Re-adapting changes what the same compiled model computes.
    layer.adapt(data * 2)
    assert_close(np.asarray(model.predict(data * 2, verbose=0)), before, atol=1e-4)


def test_normalization_statistics_survive_save_and_load_weights(tmp_path):
    data = make_inputs((20, 3), seed=5) * 3 - 2
    layer = Normalization()
    layer.adapt(data)
    model = kerasish.Sequential([kerasish.Input((3,)), layer])
    path = str(tmp_path / "norm.weights.safetensors")
    model.save_weights(path)
    fresh = kerasish.Sequential([kerasish.Input((3,)), Normalization()])
    fresh.load_weights(path)
    for a, b in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_close(fresh.predict(data, verbose=0), model.predict(data, verbose=0))


def test_normalization_bad_arguments():
    with pytest.raises(ConfigError, match="mean"):
        Normalization(mean=1.0)
    with pytest.raises(ConfigError, match="same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ConfigError, match="axis"):
        Normalization(axis="x")
    with pytest.raises(ConfigError, match="variance"):
        Normalization(mean=0.0, variance=-1.0)
    layer = Normalization()
    layer.adapt(np.ones((4, 3), "float32"))
    with pytest.raises(InputError, match="Normalization"):
        layer(np.ones((4, 5), "float32"))
    with pytest.raises(InputError, match="out of range"):
        Normalization(axis=3)(np.ones((2, 3), "float32"))


@pytest.mark.parametrize("kwargs", [
    {"height": 4, "width": 5},
    {"height": 10, "width": 6, "interpolation": "nearest"},
    {"height": 4, "width": 4, "crop_to_aspect_ratio": True},
    {"height": 4, "width": 8, "pad_to_aspect_ratio": True, "fill_value": 2.0},
    {"height": 3, "width": 4, "antialias": True},
    {"height": 5, "width": 5, "interpolation": "bicubic"},
], ids=["bilinear", "nearest_up", "crop_aspect", "pad_aspect", "antialias", "bicubic"])
def test_resizing_matches_keras(kwargs):
    out = run_layer_test(Resizing, kwargs, (2, 7, 9, 3), input_data=IMAGES, expected_num_weights=0,
                         custom_objects=CUSTOM, atol=1e-4)
    assert out["model"].outputs[0].shape == (None, kwargs["height"], kwargs["width"], 3)


def test_resizing_channels_first_and_unbatched():
    x = np.transpose(IMAGES, (0, 3, 1, 2))
    ours = Resizing(4, 5, data_format="channels_first")(x)
    assert_close(ours, keras.layers.Resizing(4, 5, data_format="channels_first")(x), atol=1e-4)
    assert_close(Resizing(4, 5)(IMAGES[0]), keras.layers.Resizing(4, 5)(IMAGES[0]), atol=1e-4)


@pytest.mark.parametrize("hw", [(4, 5), (7, 3), (9, 9)], ids=["crop", "crop_full_height", "smaller_resize"])
def test_center_crop_matches_keras(hw):
    run_layer_test(CenterCrop, {"height": hw[0], "width": hw[1]}, (2, 7, 9, 3), input_data=IMAGES,
                   expected_num_weights=0, custom_objects=CUSTOM, atol=1e-4)


def test_center_crop_is_the_center_window():
    np.testing.assert_array_equal(np.asarray(CenterCrop(3, 5)(IMAGES)), IMAGES[:, 2:5, 2:7, :])
    x = np.transpose(IMAGES, (0, 3, 1, 2))
    np.testing.assert_array_equal(np.asarray(CenterCrop(3, 5, data_format="channels_first")(x)), x[:, :, 2:5, 2:7])


def test_preprocessing_jits():
    f = jax.jit(lambda x: CenterCrop(3, 3)(Resizing(6, 6)(Rescaling(1 / 255.0)(x))))
    assert f(IMAGES).shape == (2, 3, 3, 3)


@pytest.mark.parametrize("make, match", [
    (lambda: Resizing(0, 4), "height"),
    (lambda: Resizing(4, 4.5), "width"),
    (lambda: Resizing(4, 4, interpolation="area"), "interpolation"),
    (lambda: Resizing(4, 4, fill_mode="reflect"), "fill_mode"),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "pad_to_aspect_ratio"),
    (lambda: Resizing(4, 4, data_format="nhwc"), "data_format"),
    (lambda: CenterCrop(-1, 4), "height"),
    (lambda: Rescaling("x"), "scale"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_bad_image_rank():
    with pytest.raises(InputError, match="rank"):
        Resizing(2, 2)(np.ones((2, 3), "float32"))
