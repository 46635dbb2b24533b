"""Geometric augmentation layers, augmentation policies, CLAHE and MaxNumBoundingBoxes against Keras 3."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError
from kerasish.layers import augmentation_geometry as geometry
from kerasish.layers import augmentation_policy as policy
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

IMAGES = np.random.default_rng(1).uniform(0, 255, (2, 9, 8, 3)).astype("float32")
CLAHE = "ContrastLimitedAdaptiveHistogramEqualization"

CASES = [
    ("RandomShear", {"x_factor": 0.5, "y_factor": (0.1, 0.4), "fill_mode": "constant", "fill_value": 9.0}),
    ("RandomErasing", {"scale": (0.2, 0.5), "value_range": (0, 100)}),
    ("RandomGaussianBlur", {"kernel_size": (3, 5), "sigma": (0.3, 0.9)}),
    ("RandomPerspective", {"scale": 0.6, "fill_value": 3.0}),
    (CLAHE, {"tile_grid_size": (2, 3), "clip_limit": 2.0}),
]
IDS = [f"{n[:20]}-{i}" for i, (n, _) in enumerate(CASES)]


def _module(name):
    return geometry if hasattr(geometry, name) else policy


@pytest.mark.parametrize("name, kwargs", CASES, ids=IDS)
def test_same_transformation_and_inference_as_keras(name, kwargs):
    ours = getattr(_module(name), name)(**kwargs)
    theirs = getattr(keras.layers, name)(**kwargs)
    # Our draw goes to both frameworks (Keras's own draw costs seconds of eager dispatch).
    params = ours.random_params(jax.random.PRNGKey(2), IMAGES.shape)
    transformation = {k: np.asarray(v) for k, v in params.items()} or None
    expected = np.asarray(theirs.transform_images(IMAGES, transformation, training=True))
    got = np.asarray(ours.transform(jnp.asarray(IMAGES), params))
    assert_close(got, expected, name, atol=1e-3)
    assert not np.allclose(got, IMAGES)  # the transformation did something
    assert_close(ours(IMAGES), theirs(IMAGES, training=False), name, atol=1e-3)
    assert set(theirs.get_config()) - {"name", "trainable", "dtype"} <= set(ours.get_config())
    clone = deserialize_layer(serialize_layer(ours))
    assert type(clone) is type(ours) and clone.get_config() == ours.get_config()


def test_elastic_transform_equals_keras_for_the_same_noise():
    # Keras draws the x and y displacement noise from one key (identical fields); hand ours the same.
    from keras.src.random.seed_generator import draw_seed

    images = IMAGES[:1, :, :, :1]  # Keras loops over images and channels: one of each keeps it quick
    noise = jax.random.normal(draw_seed(42), images.shape[:3])
    d = 0.8
    h, w = images.shape[1:3]
    expected = keras.ops.image.elastic_transform(images, alpha=max(h, w) * 0.1 * d, sigma=min(h, w) * 0.05 * d,
                                                 seed=42, fill_mode="reflect")
    layer = geometry.RandomElasticTransform(scale=(d, d), value_range=(-1e9, 1e9))
    got = layer.transform(jnp.asarray(images), {"apply_transform": np.ones(1, bool), "distortion_factor": d,
                                                "dx": noise, "dy": noise})
    assert_close(got, expected, atol=1e-3)


@pytest.mark.parametrize("cls, kwargs", [(geometry.RandomErasing, {}), (geometry.RandomElasticTransform, {})],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_identity_outside_training_random_inside(cls, kwargs):
    layer = cls(**kwargs, seed=3)
    np.testing.assert_array_equal(np.asarray(layer(IMAGES)), IMAGES)
    with StatelessScope({}, rng=jax.random.PRNGKey(0), training=True):
        a = np.asarray(layer(IMAGES))
    with StatelessScope({}, rng=jax.random.PRNGKey(1), training=True):
        b = np.asarray(layer(IMAGES))
    assert a.shape == IMAGES.shape and a.dtype == np.float32 and not np.array_equal(a, b)


def test_random_draw_ranges():
    p = geometry.RandomShear(x_factor=(0.1, 0.2), y_factor=0.0).random_params(jax.random.PRNGKey(0), IMAGES.shape)
    assert p["shear_factor"].shape == (2, 2) and np.all((np.abs(p["shear_factor"][:, 0]) >= 0.1)
                                                          & (np.abs(p["shear_factor"][:, 0]) <= 0.2))
    p = geometry.RandomGaussianBlur(sigma=(0.2, 0.5)).random_params(jax.random.PRNGKey(0), IMAGES.shape)
    assert p["blur_factor"].shape == (2,) and np.all((p["blur_factor"] >= 0.2) & (p["blur_factor"] <= 0.5 + 1e-5))
    p = geometry.RandomPerspective(scale=0.4).random_params(jax.random.PRNGKey(0), IMAGES.shape)
    moved = np.abs(p["end_points"] - p["start_points"])
    assert np.all(moved <= 0.2 * np.abs(p["start_points"]) + 1e-5)
    p = geometry.RandomErasing(scale=(0.25, 0.25), factor=(1.0, 1.0)).random_params(jax.random.PRNGKey(0),
                                                                                      IMAGES.shape)
    assert p["batch_masks"].dtype == jnp.bool_ and np.all(p["apply_erasing"])
    assert np.all(p["batch_masks"].sum(axis=(1, 2, 3)) > 0)


def _fewer_ops(layer, names):
    # Each operation is compared with Keras in its own test; here a few keep the compile short.
    layer._ops = {name: layer._ops[name] for name in names}
    return layer


def test_policies_run_jitted_apply_the_chosen_operations_and_round_trip():
    augmix = policy.AugMix(num_chains=2, chain_depth=2, seed=1)
    assert list(augmix._ops)[-1] == "random_sharpness" and len(augmix._ops) == 11
    rand = _fewer_ops(policy.RandAugment(num_ops=2, factor=0.3), ["random_brightness", "auto_contrast"])
    augmix = _fewer_ops(augmix, ["random_brightness", "auto_contrast"])
    x = jnp.asarray(IMAGES)
    for layer in (augmix, rand):
        params = jax.jit(layer.random_params, static_argnums=1)(jax.random.PRNGKey(0), IMAGES.shape)
        step = jax.jit(layer.transform)
        out = np.asarray(step(x, params))
        assert out.shape == IMAGES.shape and out.min() >= 0 and out.max() <= 255 + 1e-3
        assert not np.allclose(out, IMAGES)
        np.testing.assert_array_equal(np.asarray(layer(IMAGES)), IMAGES)  # identity at inference
        clone = deserialize_layer(serialize_layer(layer))
        assert clone.get_config() == layer.get_config()
        keras_keys = set(getattr(keras.layers, type(layer).__name__)().get_config())
        assert keras_keys - {"name", "trainable", "dtype"} <= set(layer.get_config())
        if layer is rand:  # both steps auto-contrast: the result is AutoContrast's
            auto = rand._ops["auto_contrast"]
            assert_close(step(x, {**params, "layer_idxes": jnp.asarray([1, 1])}),
                         auto.transform(auto.transform(x)), atol=1e-3)
        else:  # every step skipped: w * x + (1 - w) * x = x
            assert_close(step(x, {**params, "ops": jnp.full((2, 2), 2)}), IMAGES, atol=1e-3)


def test_max_num_bounding_boxes_pads_and_truncates_like_keras():
    boxes = np.arange(2 * 5 * 4, dtype="float32").reshape(2, 5, 4)
    labels = np.arange(10, dtype="float32").reshape(2, 5)
    for n in (3, 7):
        data = {"images": IMAGES, "bounding_boxes": {"boxes": boxes, "labels": labels}}
        ours = policy.MaxNumBoundingBoxes(n)(data)
        theirs = keras.layers.MaxNumBoundingBoxes(n, bounding_box_format="xyxy")(
            {"images": IMAGES, "bounding_boxes": {"boxes": boxes, "labels": labels}})
        for k in ("boxes", "labels"):
            assert_close(ours["bounding_boxes"][k], theirs["bounding_boxes"][k])
        np.testing.assert_array_equal(np.asarray(ours["images"]), IMAGES)
    with pytest.raises(InputError, match="bounding_boxes"):
        policy.MaxNumBoundingBoxes(2)({"images": IMAGES, "bounding_boxes": boxes})
    with pytest.raises(ConfigError, match="max_number"):
        policy.MaxNumBoundingBoxes(0)


@pytest.mark.parametrize("cls, kwargs, arg", [
    (geometry.RandomShear, {"x_factor": 1.5}, "x_factor"),
    (geometry.RandomGaussianBlur, {"kernel_size": 4}, "kernel_size"),
    (geometry.RandomPerspective, {"scale": 2.0}, "scale"),
    (geometry.RandomErasing, {"fill_value": (1, 2)}, "fill_value"),
    (geometry.RandomElasticTransform, {"fill_mode": "mirror"}, "fill_mode"),
    (policy.AugMix, {"num_chains": 0}, "num_chains"),
    (policy.ContrastLimitedAdaptiveHistogramEqualization, {"tile_grid_size": (0, 2)}, "tile_grid_size"),
])
def test_bad_arguments_name_the_argument(cls, kwargs, arg):
    with pytest.raises(ConfigError, match=arg):
        cls(**kwargs)


def test_augmentations_train_inside_fit_and_pass_through_predict():
    model = kerasish.Sequential([
        kerasish.Input(shape=IMAGES.shape[1:]),
        kerasish.layers.RandomBrightness(0.2, seed=1),
        kerasish.layers.RandomColorJitter(contrast_factor=0.2, hue_factor=0.1),
        geometry.RandomShear(x_factor=0.2),
        geometry.RandomErasing(factor=0.5),
        kerasish.layers.Rescaling(1 / 255.0),
        kerasish.layers.Flatten(),
        kerasish.layers.Dense(2),
    ])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(IMAGES, np.zeros((2, 2), "float32"), epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    head = kerasish.Sequential([kerasish.Input(shape=IMAGES.shape[1:])] + model.layers[-3:])
    assert_close(model.predict(IMAGES, verbose=0), head.predict(IMAGES, verbose=0), atol=1e-5)
