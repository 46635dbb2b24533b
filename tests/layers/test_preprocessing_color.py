"""Color augmentation layers against Keras 3: the same transformation gives the same images, inference
matches, random draws have the right ranges, shapes and dtypes, and configs round trip."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError
from kerasish.layers import augmentation_color as color
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IMAGES = np.random.default_rng(0).uniform(0, 255, (3, 6, 7, 3)).astype("float32")
IMAGES[2, :, :, 1] = 40.0  # a constant channel (AutoContrast leaves it alone)
UNIT = IMAGES / 255.0

# (name, kwargs, images): fixed-factor transforms are compared through Keras's own draw.
CASES = [
    ("RandomBrightness", {"factor": (-0.2, 0.4), "value_range": (0, 1)}, UNIT),
    ("RandomGrayscale", {"factor": 0.7}, IMAGES),
    ("RandomSaturation", {"factor": (0.2, 0.9)}, IMAGES),
    ("RandomHue", {"factor": (0.1, 0.6), "value_range": (0, 1)}, UNIT),
    ("Solarization", {"addition_factor": 0.3, "threshold_factor": (0.2, 0.6)}, IMAGES),
    ("RandomInvert", {"factor": 0.6}, IMAGES),
    ("RandomPosterization", {"factor": (2, 6)}, IMAGES),
    ("RandomColorDegeneration", {"factor": (0.2, 0.9)}, IMAGES),
    ("RandomSharpness", {"factor": (0.1, 0.9)}, IMAGES),
    ("Equalization", {"bins": 8, "value_range": (0, 1)}, UNIT),  # few bins: Keras's JAX histogram loops over them
    ("AutoContrast", {}, IMAGES),
]
IDS = [f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)]


def _keras_transformation(name, params):
    if name == "RandomGrayscale":  # Keras's transformation is the bare mask
        return np.asarray(params["should_apply"])
    return {k: np.asarray(v) for k, v in params.items()} or None


@pytest.mark.parametrize("name, kwargs, images", CASES, ids=IDS)
def test_same_transformation_inference_and_config_as_keras(name, kwargs, images):
    # Our draw goes to both frameworks (Keras's own draw costs seconds of eager dispatch).
    ours = getattr(color, name)(**kwargs)
    theirs = getattr(keras.layers, name)(**kwargs)
    params = ours.random_params(jax.random.PRNGKey(3), images.shape)
    expected = np.asarray(theirs.transform_images(images, _keras_transformation(name, params), training=True))
    got = ours.transform(jnp.asarray(images), params)
    assert_close(got, expected, name, atol=1e-3 if images is IMAGES else 1e-5)
    assert_close(ours(images), theirs(images, training=False), name, atol=1e-3)  # inference
    config = ours.get_config()
    assert set(theirs.get_config()) - {"name", "trainable", "dtype"} <= set(config)
    clone = deserialize_layer(serialize_layer(ours))
    assert type(clone) is type(ours) and clone.get_config() == config


def _draw(layer, images, key=0):
    return layer.random_params(jax.random.PRNGKey(key), images.shape)


def test_random_draws_ranges_shapes_and_training_only():
    p = _draw(color.RandomBrightness(factor=(-0.2, 0.4), value_range=(0, 1)), IMAGES)
    assert p["rgb_delta"].shape == (3, 1, 1, 1) and np.all((p["rgb_delta"] >= -0.2) & (p["rgb_delta"] <= 0.4))
    p = _draw(color.RandomHue(factor=0.6), IMAGES)
    assert p["factor"].shape == (3,) and np.all(np.abs(p["factor"]) <= 0.3)
    p = _draw(color.RandomPosterization(factor=(2, 5)), IMAGES)
    assert p["shift_factor"].dtype == jnp.int32 and np.all((p["shift_factor"] >= 4) & (p["shift_factor"] <= 6))
    p = _draw(color.Solarization(addition_factor=0.5, threshold_factor=(0.1, 0.2)), IMAGES)
    assert np.all(p["additions"] <= 127.5) and np.all((p["thresholds"] >= 0.1) & (p["thresholds"] <= 51))
    assert _draw(color.RandomInvert(factor=1.0), IMAGES)["apply_inversion"].dtype == jnp.bool_
    layer = color.RandomColorJitter(brightness_factor=0.2, contrast_factor=0.3, saturation_factor=(0.4, 0.6),
                                    hue_factor=0.1, seed=4)
    np.testing.assert_array_equal(np.asarray(layer(IMAGES)), IMAGES)  # identity outside training
    with StatelessScope({}, rng=jax.random.PRNGKey(1), training=True):
        out = np.asarray(layer(IMAGES))
    assert out.shape == IMAGES.shape and out.dtype == np.float32 and not np.allclose(out, IMAGES)
    assert out.min() >= 0 and out.max() <= 255
    # channels_first: the same transformation on transposed images.
    cf = color.RandomSharpness(factor=(0.9, 0.9), data_format="channels_first")
    with StatelessScope({}, rng=jax.random.PRNGKey(1), training=True):
        got = np.asarray(cf(IMAGES.transpose(0, 3, 1, 2)))
    want = color.RandomSharpness(factor=(0.9, 0.9)).transform(jnp.asarray(IMAGES), {"factor": jnp.full(3, 0.9)})
    assert_close(got, np.asarray(want).transpose(0, 3, 1, 2), atol=1e-3)


def test_color_jitter_composes_the_parts_like_keras():
    kwargs = {"brightness_factor": (0.1, 0.1), "contrast_factor": (0.5, 0.5), "saturation_factor": (0.7, 0.7),
              "hue_factor": (0.2, 0.2)}
    ours = color.RandomColorJitter(**kwargs)
    params = ours.random_params(jax.random.PRNGKey(0), IMAGES.shape)
    theirs = keras.layers.RandomColorJitter(**kwargs)
    x = IMAGES
    for part, layer in (("brightness", theirs.random_brightness), ("contrast", theirs.random_contrast),
                        ("saturation", theirs.random_saturation), ("hue", theirs.random_hue)):
        x = layer.transform_images(x, {k: np.asarray(v) for k, v in params[part].items()}, training=True)
    assert_close(ours.transform(jnp.asarray(IMAGES), params), x, atol=1e-3)


@pytest.mark.parametrize("name, kwargs", [
    ("RandomBrightness", {"factor": 1.5}), ("RandomHue", {"factor": -0.2}), ("RandomGrayscale", {"factor": 2}),
    ("Solarization", {"addition_factor": (0.1, 1.2)}), ("RandomPosterization", {"factor": 9}),
    ("RandomSaturation", {"factor": 0.5, "value_range": (0,)}), ("Equalization", {"bins": 1}),
])
def test_bad_arguments_name_the_argument(name, kwargs):
    arg = next(iter(kwargs)) if name != "RandomSaturation" else "value_range"
    with pytest.raises(ConfigError, match=arg):
        getattr(color, name)(**kwargs)
