"""Augmentation layers against Keras 3 (same transformation parameters), NumPy and their own contracts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError, KerasishError
from kerasish.layers.augmentation import (
    CutMix,
    MixUp,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)

from .helpers import assert_close, keras, run_layer_test

pytestmark = [
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
    pytest.mark.filterwarnings("ignore:Explicitly requested dtype int64"),  # inside Keras's MixUp
]

CUSTOM = {c.__name__: c for c in (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomCrop,
                                  RandomContrast, MixUp, CutMix)}
IMAGES = np.random.default_rng(0).uniform(0, 255, (3, 7, 9, 2)).astype("float32")
LABELS = np.eye(3, 4, dtype="float32")

ALL = [
    (RandomFlip, {}),
    (RandomRotation, {"factor": 0.2}),
    (RandomZoom, {"height_factor": 0.3, "width_factor": (-0.2, 0.4)}),
    (RandomTranslation, {"height_factor": 0.2, "width_factor": 0.3}),
    (RandomCrop, {"height": 4, "width": 5}),
    (RandomContrast, {"factor": 0.5}),
    (MixUp, {"alpha": 0.4}),
    (CutMix, {"factor": (0.5, 1.0)}),
]
IDS = [c.__name__ for c, _ in ALL]


def _train(layer, x, key=0):
    with StatelessScope({}, rng=jax.random.PRNGKey(key), training=True):
        return layer(x)


def _keras_transformation(layer, x=IMAGES, seed=1):
    return layer.get_random_transformation(x, training=True, seed=keras.random.SeedGenerator(seed))


@pytest.mark.parametrize("cls, kwargs", [ALL[0], ALL[1], ALL[5]], ids=["flip", "rotation", "contrast"])
def test_standard_checks(cls, kwargs):
    # Shapes, no weights, config round trip, identity at inference in both frameworks.
    out = run_layer_test(cls, kwargs, IMAGES.shape, input_data=IMAGES, expected_output_shape=IMAGES.shape,
                         expected_num_weights=0, training_parity=False, custom_objects=CUSTOM)
    np.testing.assert_array_equal(np.asarray(out["model"](IMAGES, training=False)), IMAGES)


@pytest.mark.parametrize("cls, kwargs", ALL, ids=IDS)
def test_identity_at_inference_random_in_training_deterministic_per_key(cls, kwargs):
    layer = cls(**kwargs)
    if cls is RandomCrop:  # inference center-crops (and resizes) instead; see test_random_crop_*
        assert layer(IMAGES).shape == (3, 4, 5, 2)
    else:
        np.testing.assert_array_equal(np.asarray(layer(IMAGES)), IMAGES)  # outside training: identity
        np.testing.assert_array_equal(np.asarray(layer(IMAGES, training=False)), IMAGES)
    a, b, a2 = (np.asarray(_train(layer, IMAGES, k)) for k in (1, 2, 1))
    assert not np.array_equal(a, b), "two training steps (keys) should draw different transformations"
    np.testing.assert_array_equal(a, a2)  # same key, same transformation
    # The layer seed folds into the step key: another seed, another draw; the same seed, the same.
    reseeded = cls(**kwargs, seed=7)
    s1, s2 = np.asarray(_train(reseeded, IMAGES, 1)), np.asarray(_train(cls(**kwargs, seed=7), IMAGES, 1))
    np.testing.assert_array_equal(s1, s2)
    assert not np.array_equal(s1, a)
    # Config round trip keeps the Keras keys.
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    keras_keys = set(getattr(keras.layers, cls.__name__)(**kwargs).get_config())
    assert keras_keys <= set(config), f"missing Keras config keys {keras_keys - set(config)}"


def test_jitted_step_draws_new_transformations():
    # One compiled program for a whole pipeline (compiles of random draws are slow on a shared CPU).
    pipeline = [RandomFlip(), RandomRotation(0.2), RandomZoom(0.2), RandomTranslation(0.1, 0.2), RandomContrast(0.3),
                MixUp(), CutMix(), RandomCrop(5, 6)]

    @jax.jit
    def step(key, x):
        with StatelessScope({}, rng=key, training=True):
            for layer in pipeline:
                x = layer(x)
            return x

    a = step(jax.random.PRNGKey(0), IMAGES)
    b = step(jax.random.PRNGKey(1), IMAGES)
    assert a.shape == (3, 5, 6, 2)
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(step(jax.random.PRNGKey(0), IMAGES)), np.asarray(a))


def test_eager_training_calls_use_the_global_seed_and_a_bare_jit_is_an_error():
    """As in Keras, ``layer(images, training=True)`` augments eagerly (to look at the results): a new
    draw every call, the same sequence after the same set_random_seed. A jax.jit of one's own with no
    step around it has no key to vary, so it is an error rather than one flip frozen into the program."""
    import kerasish

    layer = RandomFlip()
    kerasish.utils.set_random_seed(7)
    a, b = np.asarray(layer(IMAGES, training=True)), np.asarray(layer(IMAGES, training=True))
    kerasish.utils.set_random_seed(7)
    np.testing.assert_array_equal(np.asarray(layer(IMAGES, training=True)), a)
    assert not np.array_equal(a, b)
    with pytest.raises(KerasishError, match="random key"):
        jax.jit(lambda x: layer(x, training=True))(IMAGES)


# -- geometric transforms: the same parameters as Keras, all fill modes and interpolations ------------
FILL_MODES = ["reflect", "wrap", "constant", "nearest"]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_rotation_zoom_translation_match_keras(fill_mode, interpolation):
    common = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 3.0}
    for cls, kwargs in [(RandomRotation, {"factor": 0.3}),
                        (RandomZoom, {"height_factor": 0.4, "width_factor": (-0.3, 0.5)}),
                        (RandomTranslation, {"height_factor": 0.3, "width_factor": 0.4})]:
        theirs = getattr(keras.layers, cls.__name__)(**kwargs, **common)
        t = _keras_transformation(theirs)
        params = {"angle": t["angle"]} if cls is RandomRotation else t
        ours = cls(**kwargs, **common).transform(jnp.asarray(IMAGES), params)
        assert_close(ours, theirs.transform_images(IMAGES, t), f"{cls.__name__} {fill_mode} {interpolation}",
                     atol=1e-4)


def test_geometric_channels_first_matches_keras():
    x = np.transpose(IMAGES, (0, 3, 1, 2))
    theirs = keras.layers.RandomRotation(0.25, data_format="channels_first")
    t = _keras_transformation(theirs, x)
    ours = RandomRotation(0.25, data_format="channels_first")
    expected = np.asarray(theirs.transform_images(x, t))
    # The layer works in NHWC inside; call its pieces the way call() does.
    got = np.transpose(np.asarray(ours.transform(jnp.asarray(IMAGES), {"angle": t["angle"]})), (0, 3, 1, 2))
    assert_close(got, expected, atol=1e-4)
    assert _train(ours, x).shape == x.shape


def test_rotation_by_90_degrees_is_rot90():
    square = np.random.default_rng(1).standard_normal((2, 5, 5, 3)).astype("float32")
    for interpolation in ("bilinear", "nearest"):
        out = RandomRotation(0.25, interpolation=interpolation).transform(square, {"angle": jnp.array([90.0, -90.0])})
        assert_close(out[0], np.rot90(square[0], k=1, axes=(0, 1)), "90 degrees counter-clockwise", atol=1e-4)
        assert_close(out[1], np.rot90(square[1], k=-1, axes=(0, 1)), "90 degrees clockwise", atol=1e-4)


def test_fill_modes_on_a_known_shift():
    # Shift a 1x4 row right by 2 pixels: the two pixels that come in follow the fill mode.
    row = np.array([1.0, 2.0, 3.0, 4.0], "float32").reshape(1, 1, 4, 1)
    expected = {"constant": [9, 9, 1, 2], "nearest": [1, 1, 1, 2], "wrap": [3, 4, 1, 2], "reflect": [2, 1, 1, 2]}
    for mode, want in expected.items():
        layer = RandomTranslation(0.0, 0.5, fill_mode=mode, fill_value=9.0, interpolation="nearest")
        out = layer.transform(jnp.asarray(row), {"translations": jnp.array([[2.0, 0.0]])})
        np.testing.assert_allclose(np.asarray(out).ravel(), want, err_msg=mode)


def test_random_parameters_stay_in_their_ranges():
    key = jax.random.PRNGKey(3)
    shape = (500, 8, 10, 1)
    angle = RandomRotation((-0.1, 0.2)).random_params(key, shape)["angle"]
    assert -36.0 <= float(angle.min()) < -30 and 66 < float(angle.max()) <= 72.0
    zoom = RandomZoom(0.2, (0.1, 0.3)).random_params(key, shape)
    assert 0.8 <= float(zoom["height_zoom"].min()) and float(zoom["height_zoom"].max()) <= 1.2
    assert 1.1 <= float(zoom["width_zoom"].min()) and float(zoom["width_zoom"].max()) <= 1.3
    same = RandomZoom(0.2).random_params(key, shape)
    np.testing.assert_array_equal(same["height_zoom"], same["width_zoom"])
    t = RandomTranslation(0.25, (0.0, 0.5)).random_params(key, shape)["translations"]
    assert float(jnp.abs(t[:, 1]).max()) <= 2.0 and 0.0 <= float(t[:, 0].min()) and float(t[:, 0].max()) <= 5.0
    c = RandomContrast((0.2, 0.4)).random_params(key, shape)["contrast_factor"]
    assert 0.8 <= float(c.min()) < 0.85 and 1.35 < float(c.max()) <= 1.4


# -- flips ---------------------------------------------------------------------------------------------
def test_random_flip_matches_numpy_and_keras():
    layer = RandomFlip()
    n = IMAGES.shape[0]
    yes, no = jnp.ones((n,), bool), jnp.zeros((n,), bool)
    np.testing.assert_array_equal(layer.transform(IMAGES, {"horizontal": yes, "vertical": no}), np.flip(IMAGES, 2))
    np.testing.assert_array_equal(layer.transform(IMAGES, {"horizontal": no, "vertical": yes}), np.flip(IMAGES, 1))
    flips = jnp.array([True, False, True])
    both = layer.transform(IMAGES, {"horizontal": flips, "vertical": flips})
    theirs = keras.layers.RandomFlip().transform_images(IMAGES, {"flips": flips[:, None, None, None]})
    np.testing.assert_array_equal(np.asarray(both), np.asarray(theirs))
    for mode, axis in (("horizontal", 2), ("vertical", 1)):
        out = np.asarray(_train(RandomFlip(mode), np.repeat(IMAGES[:1], 64, 0), key=4))
        flipped = np.all(out == np.flip(IMAGES[:1], axis), axis=(1, 2, 3))
        kept = np.all(out == IMAGES[:1], axis=(1, 2, 3))
        assert np.all(flipped | kept) and 0 < flipped.sum() < 64


# -- crop and contrast ------------------------------------------------------------------------------------
def test_random_crop_training_matches_keras_window_and_inference_is_smart_resize():
    theirs = keras.layers.RandomCrop(4, 5)
    ours = RandomCrop(4, 5)
    n = IMAGES.shape[0]
    for h0, w0 in [(0, 0), (2, 3), (3, 4)]:
        got = ours.transform(jnp.asarray(IMAGES), {"h_start": jnp.full((n,), h0), "w_start": jnp.full((n,), w0)})
        np.testing.assert_array_equal(np.asarray(got), np.asarray(theirs.transform_images(IMAGES, (h0, w0))))
    out = np.asarray(_train(ours, IMAGES, key=5))
    windows = [IMAGES[i, a:a + 4, b:b + 5] for i in range(n) for a in range(4) for b in range(5)]
    for i in range(n):
        assert any(np.array_equal(out[i], w) for w in windows[i * 20:(i + 1) * 20])
    from keras.src.utils.image_utils import smart_resize

    assert_close(ours(IMAGES), smart_resize(IMAGES, (4, 5)), "inference: centered aspect crop + resize", atol=1e-4)
    # An image too small to crop is resized in training too, so shapes never change.
    assert _train(RandomCrop(8, 10), IMAGES).shape == (3, 8, 10, 2)


def test_random_contrast_matches_keras():
    theirs = keras.layers.RandomContrast(0.5, value_range=(0, 255))
    t = _keras_transformation(theirs)
    ours = RandomContrast(0.5).transform(jnp.asarray(IMAGES), t)
    assert_close(ours, theirs.transform_images(IMAGES, t), atol=1e-3)
    extreme = RandomContrast(0.5, value_range=(0, 1)).transform(jnp.asarray(IMAGES / 255.0),
                                                               {"contrast_factor": jnp.full((3, 1, 1, 1), 3.0)})
    assert float(extreme.min()) >= 0.0 and float(extreme.max()) <= 1.0


# -- MixUp / CutMix ---------------------------------------------------------------------------------------------
def test_mixup_matches_keras_and_mixes_labels_convexly():
    theirs = keras.layers.MixUp(alpha=0.4)
    t = _keras_transformation(theirs)
    x, y = MixUp(alpha=0.4).mix(jnp.asarray(IMAGES), jnp.asarray(LABELS), t)
    assert_close(x, theirs.transform_images(IMAGES, t), atol=1e-3)
    assert_close(y, theirs.transform_labels(LABELS, t))
    out = _train(MixUp(alpha=0.4), {"images": IMAGES, "labels": LABELS}, key=2)
    assert set(out) == {"images", "labels"}
    labels = np.asarray(out["labels"])
    assert np.all(labels >= -1e-6) and np.all(labels <= 1 + 1e-6)
    assert_close(labels.sum(axis=1), np.ones(3))
    # Each image is the same convex combination of two images as its label is of two labels.
    images = np.asarray(out["images"])
    for i in range(3):
        j = int(np.argmax(labels[i] * (np.arange(4) != i)[None])) if labels[i, i] < 1 - 1e-6 else i
        w = labels[i, i] if j != i else 1.0
        assert_close(images[i], w * IMAGES[i] + (1 - w) * IMAGES[j], atol=1e-3)


def test_cutmix_images_match_keras_and_label_weight_is_pasted_area():
    n = IMAGES.shape[0]
    params = {"permutation_order": jnp.array([2, 0, 1]), "x0": jnp.array([1.0, 0.0, 2.5]),
              "x1": jnp.array([4.0, 9.0, 5.2]), "y0": jnp.array([2.0, 0.0, 0.4]), "y1": jnp.array([6.0, 7.0, 3.9])}
    x, y = CutMix().mix(jnp.asarray(IMAGES), jnp.asarray(LABELS), params)
    theirs = keras.layers.CutMix()
    masks, _ = theirs._generate_batch_mask(IMAGES.shape, (params["x0"], params["x1"], params["y0"], params["y1"]))
    expected = theirs.transform_images(IMAGES, {"permutation_order": params["permutation_order"],
                                                "batch_masks": masks})
    np.testing.assert_array_equal(np.asarray(x), np.asarray(expected))
    pasted = np.asarray(masks)[..., 0].reshape(n, -1).mean(axis=1)  # fraction of each image replaced
    np.testing.assert_allclose(pasted, [12 / 63, 1.0, 9 / 63], rtol=1e-6)
    perm = np.asarray(params["permutation_order"])
    assert_close(y, (1 - pasted)[:, None] * LABELS + pasted[:, None] * LABELS[perm])
    assert_close(np.asarray(y).sum(axis=1), np.ones(n))


def test_cutmix_random_boxes_label_weights_equal_pasted_fraction():
    labels = np.eye(3, dtype="float32")
    for key in (3, 4):
        out = _train(CutMix(), {"images": IMAGES, "labels": labels}, key=key)
        mixed, y = np.asarray(out["images"]), np.asarray(out["labels"])
        changed = np.any(mixed != IMAGES, axis=-1).reshape(3, -1).mean(axis=1)
        assert_close(y.sum(axis=1), np.ones(3))
        assert_close(1 - np.diag(y), changed, "label weight of the other image = fraction of pixels pasted", atol=1e-6)


def test_beta_sampler_matches_the_beta_distribution():
    from kerasish.layers.augmentation import sample_beta

    for a, b in [(0.2, 0.2), (2.0, 5.0)]:
        s = np.asarray(sample_beta(jax.random.PRNGKey(0), a, b, (20000,)))
        assert np.all((s >= 0) & (s <= 1))
        mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
        assert abs(s.mean() - mean) < 5 * np.sqrt(var / s.size)
        assert abs(s.var() - var) < 0.05 * var
    assert np.asarray(sample_beta(jax.random.PRNGKey(1), 2.0, 5.0, (20000,))).mean() == pytest.approx(2 / 7, abs=0.01)


@pytest.mark.parametrize("cls", [MixUp, CutMix])
def test_augment_batch_is_pure_and_jittable(cls):
    layer = cls()
    f = jax.jit(layer.augment_batch)
    x1, y1 = f(IMAGES, LABELS, jax.random.PRNGKey(0))
    x2, y2 = f(IMAGES, LABELS, jax.random.PRNGKey(0))
    x3, _ = f(IMAGES, LABELS, jax.random.PRNGKey(1))
    assert x1.shape == IMAGES.shape and y1.shape == LABELS.shape
    np.testing.assert_array_equal(np.asarray(x1), np.asarray(x2))
    np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    assert not np.array_equal(np.asarray(x1), np.asarray(x3))
    assert_close(np.asarray(y1).sum(axis=1), LABELS.sum(axis=1))
    out = layer({"images": IMAGES, "labels": LABELS}, training=False)  # inference: unchanged
    np.testing.assert_array_equal(np.asarray(out["images"]), IMAGES)
    np.testing.assert_array_equal(np.asarray(out["labels"]), LABELS)


def test_augmentation_in_a_fitted_model():
    model = kerasish.Sequential([kerasish.Input((7, 9, 2)), RandomFlip(), RandomRotation(0.1),
                                 kerasish.layers.Flatten(), kerasish.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(IMAGES / 255.0, np.zeros((3, 2), "float32"), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(IMAGES, verbose=0).shape == (3, 2)


@pytest.mark.parametrize("make, match", [
    (lambda: RandomFlip(mode="diagonal"), "mode"),
    (lambda: RandomRotation(1.5), "factor"),
    (lambda: RandomRotation((0.1, 0.2, 0.3)), "factor"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: RandomZoom(-1.0), "height_factor"),
    (lambda: RandomZoom(0.1, width_factor=2.0), "width_factor"),
    (lambda: RandomTranslation(0.1, 1.2), "width_factor"),
    (lambda: RandomTranslation("a", 0.1), "height_factor"),
    (lambda: RandomCrop(0, 3), "height"),
    (lambda: RandomContrast(-0.2), "factor"),
    (lambda: RandomContrast(1.5), "factor"),
    (lambda: RandomContrast(0.2, value_range=(1, 0)), "value_range"),
    (lambda: MixUp(alpha=0.0), "alpha"),
    (lambda: CutMix(factor=-0.5), "factor"),
    (lambda: CutMix(factor=2.0), "factor"),
    (lambda: RandomFlip(seed="x"), "seed"),
    (lambda: RandomFlip(data_format="nhwc"), "data_format"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(InputError, match="rank"):
        RandomFlip()(np.ones((2, 3), "float32"))
    with pytest.raises(InputError, match="rank 4"):
        MixUp()(IMAGES[0])
    with pytest.raises(InputError, match="images"):
        MixUp()({"labels": LABELS})
