"""kerasish.ops.image against keras.ops.image (Keras 3, JAX backend): every public function on random images of
several shapes, layouts and dtypes, with each interpolation and fill mode Keras offers; values, shapes and dtypes
must agree, eagerly and under ``jax.jit``."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import kerasish
from kerasish.ops import image as kimage
from kerasish.ops._image_warp import elastic_warp, smooth_field

KIMAGE = keras.ops.image
F32 = dict(atol=1e-5, rtol=1e-5)


def img(*shape, dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    if dtype in ("uint8", "int32"):
        return rng.integers(0, 256, size=shape).astype(dtype)
    return rng.random(shape).astype(dtype)


def cl(shape, fmt, spatial=2):
    """A shape given channels last (``spatial`` axes before the channels), in layout ``fmt``."""
    if fmt == "channels_last":
        return shape
    return (*shape[:-spatial - 1], shape[-1], *shape[-spatial - 1:-1])


def check(name, args, kwargs=None, jit=False, atol=1e-5, rtol=1e-5, n_arrays=1):
    """kerasish.ops.image.<name> equals keras.ops.image.<name>: shape, dtype, values; with ``jit`` also under
    jax.jit, where the first ``n_arrays`` positional arguments are traced."""
    kwargs = kwargs or {}
    want = np.asarray(getattr(KIMAGE, name)(*args, **kwargs))
    got = getattr(kimage, name)(*args, **kwargs)
    _same(got, want, atol, rtol)
    if jit:
        arrays, rest = args[:n_arrays], args[n_arrays:]
        jitted = jax.jit(lambda *a: getattr(kimage, name)(*a, *rest, **kwargs))(*arrays)
        _same(jitted, want, atol, rtol)


def _same(got, want, atol, rtol):
    assert got.shape == want.shape
    assert np.dtype(got.dtype) == want.dtype
    np.testing.assert_allclose(np.asarray(got, "float64"), want.astype("float64"), atol=atol, rtol=rtol)


def test_names_and_signatures_are_keras():
    keras_names = sorted(n for n in dir(KIMAGE) if not n.startswith("_"))
    assert sorted(kimage.__all__) == keras_names
    for name in keras_names:
        assert inspect.signature(getattr(kimage, name)) == inspect.signature(getattr(KIMAGE, name)), name
        assert hasattr(getattr(kimage, name), "_keras_op"), name
    assert kerasish.ops.image is kimage


FORMATS = ("channels_last", "channels_first")
# (channels-last shape, layout): one image channels last, a batch channels first (the layouts share one code path)
LAYOUTS = (((5, 6, 3), "channels_last"), ((2, 5, 6, 3), "channels_first"))


# ---------------------------------------------------------------------------------------------- color
@pytest.mark.parametrize(("shape", "fmt"), LAYOUTS)
@pytest.mark.parametrize("dtype", ("float32", "uint8", "float16"))
def test_rgb_to_grayscale(fmt, shape, dtype):
    check("rgb_to_grayscale", (img(*cl(shape, fmt), dtype=dtype),), {"data_format": fmt},
          atol=1e-2 if dtype == "float16" else 1e-5, jit=dtype == "uint8")


def test_rgb_to_grayscale_one_channel_is_unchanged():
    check("rgb_to_grayscale", (img(2, 4, 4, 1),))


def _hsv_inputs(shape, dtype):
    # quarter steps make ties between channels (and grays) common
    return (np.floor(img(*shape) * 5) / 4).astype(dtype)


@pytest.mark.parametrize(("name", "shape", "fmt", "dtype"), (("rgb_to_hsv", (5, 6, 3), "channels_last", "float32"),
                                                             ("rgb_to_hsv", (2, 5, 6, 3), "channels_first", "float16"),
                                                             ("hsv_to_rgb", (2, 5, 6, 3), "channels_first", "float32"),
                                                             ("hsv_to_rgb", (5, 6, 3), "channels_last", "float16")))
def test_hsv(name, fmt, shape, dtype):
    tol = 2e-3 if dtype == "float16" else 1e-6
    x = np.concatenate([_hsv_inputs(shape, dtype), img(*shape, dtype=dtype, seed=1)], axis=-2)  # ties, then not
    check(name, (x if fmt == "channels_last" else np.moveaxis(x, -1, -3),), {"data_format": fmt}, atol=tol, rtol=tol,
          jit=dtype == "float32")


def test_hsv_round_trip_and_int_refused():
    x = img(3, 4, 4, 3)
    np.testing.assert_allclose(kimage.hsv_to_rgb(kimage.rgb_to_hsv(x)), x, atol=1e-5)
    with pytest.raises(kerasish.InputError, match="float"):
        kimage.rgb_to_hsv(img(4, 4, 3, dtype="uint8"))


# ---------------------------------------------------------------------------------------------- resize
@pytest.mark.parametrize("interpolation", ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"))
@pytest.mark.parametrize(("dtype", "size", "antialias"), (("float32", (4, 5), True), ("uint8", (11, 6), False)))
def test_resize_interpolations(interpolation, dtype, size, antialias):
    x = img(2, 7, 9, 3, dtype=dtype)
    check("resize", (x, size), {"interpolation": interpolation, "antialias": antialias}, atol=1e-4,
          jit=interpolation == "bicubic")


@pytest.mark.parametrize(("shape", "fmt", "mode", "dtype"), (((7, 9, 2), "channels_last", "crop", "float32"),
                                                             ((2, 7, 9, 2), "channels_first", "crop", "int32"),
                                                             ((2, 7, 9, 2), "channels_first", "pad", "float32"),
                                                             ((7, 9, 2), "channels_last", "pad", "int32")))
def test_resize_aspect_ratio(fmt, shape, mode, dtype):
    x = img(*cl(shape, fmt), dtype=dtype)
    for size in ((3, 8), (8, 3)) if dtype == "int32" else ((8, 3),):
        kwargs = {"data_format": fmt, f"{mode}_to_aspect_ratio": True}
        if mode == "pad":
            kwargs["fill_value"] = 0.5
        check("resize", (x, size), kwargs, atol=1e-4, jit=size == (3, 8) and mode == "pad")


@pytest.mark.parametrize("method", ("linear", "trilinear", "bicubic", "lanczos3", "lanczos5"))
def test_scale_and_translate(method):
    x = img(2, 6, 7, 3)
    scale, translation = np.array([0.7, 1.6], "float32"), np.array([0.5, -1.0], "float32")
    check("scale_and_translate", (x, (2, 4, 9, 3), scale, translation, (1, 2), method), jit=method == "bicubic")
    if method == "linear":
        check("scale_and_translate", (x.astype("int32"), (2, 4, 9, 3), scale, translation, (1, 2), method, False))


@pytest.mark.parametrize(("shape", "fmt"), LAYOUTS)
@pytest.mark.parametrize("spec", ({"top_padding": 1, "left_padding": 2, "bottom_padding": 0, "right_padding": 3},
                                  {"top_padding": 2, "left_padding": 0, "target_height": 9, "target_width": 8},
                                  {"bottom_padding": 1, "right_padding": 2, "target_height": 7, "target_width": 9}))
def test_pad_images(fmt, shape, spec):
    check("pad_images", (img(*cl(shape, fmt), dtype="uint8"),), {**spec, "data_format": fmt}, jit=len(shape) == 4)


@pytest.mark.parametrize(("shape", "fmt"), LAYOUTS)
@pytest.mark.parametrize("spec", ({"top_cropping": 1, "left_cropping": 2, "bottom_cropping": 0, "right_cropping": 3},
                                  {"top_cropping": 2, "left_cropping": 0, "target_height": 2, "target_width": 4},
                                  {"bottom_cropping": 1, "right_cropping": 2, "target_height": 3,
                                   "target_width": 2}))
def test_crop_images(fmt, shape, spec):
    check("crop_images", (img(*cl(shape, fmt)),), {**spec, "data_format": fmt}, jit=len(shape) == 4)


def test_pad_and_crop_refuse_bad_arguments():
    x = img(5, 6, 3)
    with pytest.raises(kerasish.ConfigError, match="exactly two"):
        kimage.pad_images(x, 1, 1, 1, 1, target_height=7)
    with pytest.raises(kerasish.ConfigError, match="left_padding"):
        kimage.pad_images(x, 1, -1, 1, 1)
    with pytest.raises(kerasish.InputError, match="bottom_padding"):
        kimage.pad_images(x, 3, 1, target_height=6, right_padding=0)
    with pytest.raises(kerasish.InputError, match="top_cropping"):
        kimage.crop_images(x, 3, 0, target_height=4, right_cropping=0)
    with pytest.raises(kerasish.InputError, match="rank 3 or 4"):
        kimage.crop_images(x[0], 1, 1, 1, 1)


# ---------------------------------------------------------------------------------------------- patches
@pytest.mark.parametrize(("shape", "fmt", "dtype"), (((9, 10, 2), "channels_last", "float32"),
                                                     ((2, 9, 10, 2), "channels_first", "int32")))
def test_extract_patches_2d(fmt, shape, dtype):
    x = img(*cl(shape, fmt), dtype=dtype)
    for size, kwargs in ((3, {}), ((2, 3), {"strides": (1, 2)}), ((3, 2), {"padding": "same", "strides": 2}),
                         ((2, 2), {"strides": 1, "dilation_rate": 2})):
        check("extract_patches", (x, size), {**kwargs, "data_format": fmt}, jit=size == (3, 2))


@pytest.mark.parametrize(("shape", "fmt", "name"), (((5, 6, 7, 2), "channels_last", "extract_patches"),
                                                    ((2, 5, 6, 7, 2), "channels_first", "extract_patches_3d")))
def test_extract_patches_3d(name, fmt, shape):
    x = img(*cl(shape, fmt, spatial=3))
    for size, kwargs in (((2, 3, 2), {}), ((3, 2, 2), {"padding": "same", "strides": 2}),
                         ((2, 2, 2), {"strides": 1, "dilation_rate": 2})):
        check(name, (x, size), {**kwargs, "data_format": fmt}, jit=size == (3, 2, 2))
    if name == "extract_patches_3d":
        check(name, (x, 2), {"data_format": fmt})


def test_extract_patches_refuses_bad_size():
    with pytest.raises(kerasish.ConfigError, match="size"):
        kimage.extract_patches(img(2, 8, 8, 3), (2, 2, 2, 2))
    with pytest.raises(kerasish.InputError, match="rank"):
        kimage.extract_patches(img(8, 8), 2)


# ---------------------------------------------------------------------------------------------- warps
@pytest.mark.parametrize("order", (0, 1))
@pytest.mark.parametrize("fill_mode", ("constant", "nearest", "wrap", "mirror", "reflect"))
def test_map_coordinates(order, fill_mode):
    rng = np.random.default_rng(1)
    coords = rng.uniform(-3, 9, size=(2, 4, 5)).astype("float32")
    check("map_coordinates", (img(6, 7), coords, order, fill_mode, 0.5), jit=fill_mode == "wrap", n_arrays=2)
    if fill_mode == "mirror":
        check("map_coordinates", (img(4, 5, 3, dtype="int32"), rng.uniform(-2, 6, size=(3, 7)), order, fill_mode))
        check("map_coordinates", (img(6, 7), [coords[0], coords[1]], order, fill_mode))


def _affine_transforms(n):
    # rotation + shear + zoom + translation, one per image
    rng = np.random.default_rng(2)
    out = []
    for _ in range(n):
        a, s = rng.uniform(-0.6, 0.6), rng.uniform(0.7, 1.4)
        out.append([s * np.cos(a), -np.sin(a) + 0.1, rng.uniform(-2, 2), np.sin(a), s * np.cos(a),
                    rng.uniform(-2, 2), 0, 0])
    return np.array(out, "float32")


# transforms whose sample locations are exact integers (or quarters), so that "nearest" rounding is unambiguous
EXACT = np.array([[2, 0, -3.25, 0, 1, 1.25, 0, 0], [1, 0, 2.25, 0, -1, 5.75, 0, 0]], "float32")


@pytest.mark.parametrize(("fill_mode", "fmt", "interpolation"), (
    ("constant", "channels_last", "bilinear"), ("nearest", "channels_first", "bilinear"),
    ("wrap", "channels_last", "bilinear"), ("mirror", "channels_first", "bilinear"),
    ("reflect", "channels_last", "bilinear"), ("wrap", "channels_first", "nearest"),
    ("reflect", "channels_last", "nearest")))
def test_affine_transform(interpolation, fill_mode, fmt):
    x = img(*cl((2, 6, 7, 3), fmt))
    transforms = _affine_transforms(2) if interpolation == "bilinear" else EXACT
    kwargs = {"interpolation": interpolation, "fill_mode": fill_mode, "fill_value": 0.25, "data_format": fmt}
    check("affine_transform", (x, transforms), kwargs, atol=1e-4, jit=fill_mode == "wrap", n_arrays=2)
    if fill_mode == "reflect":
        check("affine_transform", (x[0], transforms[0]), kwargs, atol=1e-4)


@pytest.mark.parametrize("dtype", ("uint8", "float16"))
def test_affine_transform_dtypes(dtype):
    check("affine_transform", (img(2, 6, 7, 3, dtype=dtype), EXACT), {"fill_mode": "reflect"}, atol=2e-3)


def _homography_reference(start, end):
    """The 3x3 matrix mapping ``end`` points onto ``start`` points, by NumPy in float64 (a test-side reference)."""
    a, b = [], []
    for (sx, sy), (ex, ey) in zip(start, end):
        a += [[ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey], [0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey]]
        b += [sx, sy]
    return np.linalg.solve(np.array(a, "float64"), np.array(b, "float64"))


START = np.array([[[0, 0], [0, 6], [7, 0], [7, 6]], [[0, 0], [0, 6], [7, 0], [7, 6]]], "float32")
END = np.array([[[0.5, 1], [1, 6.5], [6, -1], [7.5, 5]], [[1, 1.5], [1.5, 5], [5.5, 0.5], [8, 4.5]]], "float32")


@pytest.mark.parametrize(("fmt", "interpolation"), (("channels_first", "bilinear"), ("channels_last", "nearest")))
def test_perspective_transform(fmt, interpolation):
    x = img(*cl((2, 6, 7, 3), fmt))
    kwargs = {"interpolation": interpolation, "fill_value": 0.5, "data_format": fmt}
    if interpolation == "bilinear":
        check("perspective_transform", (x, START, END), kwargs, atol=1e-4, jit=True, n_arrays=3)
    else:  # nearest flips on rounding noise: compare where the sample location is not near a pixel boundary
        got = np.asarray(kimage.perspective_transform(x, START, END, **kwargs))
        want = np.asarray(KIMAGE.perspective_transform(x, START, END, **kwargs))
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.mean(np.isclose(got, want, atol=1e-6)) > 0.97


def test_affine_transform_projective_terms_match_perspective_transform():
    # Keras's JAX backend ignores c0, c1; here they apply: the homography of perspective_transform, given to
    # affine_transform as a transform, must give Keras's perspective_transform
    x = img(2, 6, 7, 3)
    transforms = np.stack([_homography_reference(s, e) for s, e in zip(START, END)]).astype("float32")
    want = KIMAGE.perspective_transform(x, START, END, fill_value=0.0)
    np.testing.assert_allclose(kimage.affine_transform(x, transforms), want, atol=1e-4)


def test_one_transform_applies_to_a_batch():
    # also the unbatched forms, against Keras's
    x = img(3, 6, 7, 2)
    got = kimage.affine_transform(x, EXACT[0], fill_mode="nearest")
    for i in (0, 2):
        np.testing.assert_allclose(got[i], KIMAGE.affine_transform(x[i], EXACT[0], fill_mode="nearest"), atol=1e-6)
    got = kimage.perspective_transform(x, START[0], END[0])
    for i in (0, 2):
        np.testing.assert_allclose(got[i], KIMAGE.perspective_transform(x[i], START[0], END[0]), atol=1e-4)
    with pytest.raises(kerasish.InputError, match="transforms for 3 images"):
        kimage.affine_transform(x, EXACT)


def test_warps_refuse_bad_arguments():
    with pytest.raises(kerasish.ConfigError, match="interpolation"):
        kimage.affine_transform(img(6, 7, 3), EXACT[0], interpolation="bicubic")
    with pytest.raises(kerasish.ConfigError, match="fill_mode"):
        kimage.affine_transform(img(6, 7, 3), EXACT[0], fill_mode="edge")
    with pytest.raises(kerasish.InputError, match="shape"):
        kimage.affine_transform(img(6, 7, 3), EXACT[0, :6])
    with pytest.raises(kerasish.InputError, match="start_points"):
        kimage.perspective_transform(img(6, 7, 3), START[0, :3], END[0, :3])
    with pytest.raises(kerasish.ConfigError, match="order"):
        kimage.map_coordinates(img(6, 7), np.zeros((2, 3, 3)), 3)
    with pytest.raises(kerasish.InputError, match="first axis"):
        kimage.map_coordinates(img(6, 7), np.zeros((3, 3, 3)), 1)


# ---------------------------------------------------------------------------------------------- elastic
def test_elastic_transform_matches_keras():
    # Keras's JAX backend draws both fields from the key [seed, 0]: given those fields, kerasish's warp must
    # agree with it exactly; and elastic_transform itself (independent fields) must deform about as much
    seed, alpha, sigma = 3, 4.0, 1.5
    x = img(2, 3, 9, 10)  # channels first
    want = np.asarray(KIMAGE.elastic_transform(x, alpha, sigma, "bilinear", "reflect", 0.5, seed=seed,
                                               data_format="channels_first"))
    field = jax.jit(smooth_field, static_argnums=1)(
        jax.random.normal(jnp.array([seed, 0], "uint32"), (2, 9, 10), "float32"), sigma)
    got = jax.jit(elastic_warp, static_argnums=(4, 5, 6))(np.moveaxis(x, 1, -1), field, field, alpha, 1, "reflect",
                                                          0.5)
    _same(jnp.moveaxis(got, -1, 1), want, 1e-4, 1e-4)

    got = kimage.elastic_transform(x, alpha, sigma, "bilinear", "reflect", 0.5, seed=seed,
                                   data_format="channels_first")
    assert got.shape == want.shape and got.dtype == want.dtype
    # a smooth deformation of a [0, 1] image: values stay in range, move about as much as Keras's do
    assert 0.0 <= float(got.min()) and float(got.max()) <= 1.0
    change, keras_change = float(np.abs(got - x).mean()), float(np.abs(want - x).mean())
    assert 0.3 * keras_change < change < 3 * keras_change
    # the same seed, the same result (also under jit); another seed, another result; alpha = 0 moves nothing
    jitted = jax.jit(lambda v: kimage.elastic_transform(v, alpha, sigma, "bilinear", "reflect", 0.5, seed=seed,
                                                        data_format="channels_first"))(x)
    np.testing.assert_allclose(jitted, got, atol=1e-6)
    other = kimage.elastic_transform(x, alpha, sigma, "bilinear", "reflect", 0.5, seed=4, data_format="channels_first")
    assert not np.allclose(got, other)
    still = kimage.elastic_transform(x, 0.0, sigma, "bilinear", "reflect", 0.5, data_format="channels_first")
    np.testing.assert_allclose(still, x, atol=1e-6)


def test_elastic_transform_draws_independent_fields():
    # a horizontal gradient image shows the horizontal displacement, a vertical one the vertical displacement
    ramp = np.broadcast_to(np.arange(16, dtype="float32"), (16, 16))
    x = np.stack([ramp, ramp.T], axis=-1)
    out = np.asarray(kimage.elastic_transform(x, 30.0, 2.0, fill_mode="nearest", seed=0))
    dx, dy = (out - x)[4:-4, 4:-4, 0], (out - x)[4:-4, 4:-4, 1]
    assert np.abs(dx).mean() > 0.1 and np.abs(dy).mean() > 0.1 and not np.allclose(dx, dy, atol=1e-3)
    gen = kerasish.random.SeedGenerator(5)
    assert not np.allclose(kimage.elastic_transform(x, seed=gen), kimage.elastic_transform(x, seed=gen))
    with pytest.raises(kerasish.InputError, match="float"):
        kimage.elastic_transform(x.astype("uint8"), seed=0)


# ---------------------------------------------------------------------------------------------- filters
@pytest.mark.parametrize(("shape", "fmt"), LAYOUTS)
def test_gaussian_blur(fmt, shape):
    x = img(*cl(shape, fmt))
    for kernel_size, sigma in (((5, 3), (2.0, 0.7)),) if x.ndim == 3 else (((3, 3), (1.0, 1.0)), ((1, 7), (0.5, 3.0))):
        check("gaussian_blur", (x,), {"kernel_size": kernel_size, "sigma": sigma, "data_format": fmt},
              jit=kernel_size == (1, 7))
    if x.ndim == 4:
        check("gaussian_blur", (x.astype("float16"),), {"data_format": fmt}, atol=2e-3, rtol=2e-3)


def test_gaussian_blur_default_layout_is_the_global_one(monkeypatch):
    x = img(2, 6, 7, 3)
    want = KIMAGE.gaussian_blur(x, data_format="channels_last")
    np.testing.assert_allclose(kimage.gaussian_blur(x), want, **F32)
    monkeypatch.setattr(kerasish.settings, "image_data_format", lambda: "channels_first")
    np.testing.assert_allclose(kimage.gaussian_blur(x), KIMAGE.gaussian_blur(x, data_format="channels_first"), **F32)
    with pytest.raises(kerasish.InputError, match="float"):
        kimage.gaussian_blur(x.astype("uint8"))
    with pytest.raises(kerasish.ConfigError, match="data_format"):
        kimage.gaussian_blur(x, data_format="NHWC")


@pytest.mark.parametrize(("fmt", "dtype"), (("channels_last", "float32"), ("channels_first", "int32")))
def test_sobel_edges(fmt, dtype):
    check("sobel_edges", (img(*cl((2, 6, 7, 3), fmt), dtype=dtype),), {"data_format": fmt}, jit=True)


@pytest.mark.parametrize(("shape", "fmt"), (((12, 13, 3), "channels_last"), ((2, 12, 13, 3), "channels_first")))
def test_ssim(fmt, shape):
    a, b = img(*cl(shape, fmt)), img(*cl(shape, fmt), seed=1)
    b = 0.7 * a + 0.3 * b
    check("ssim", (a, b), {"data_format": fmt}, jit=a.ndim == 4, n_arrays=2)
    if a.ndim == 3:
        check("ssim", (a * 255, b * 255), {"max_val": 255.0, "filter_size": 7, "filter_sigma": 1.0, "k1": 0.02,
                                           "k2": 0.05, "data_format": fmt})
    if a.ndim == 4:
        check("ssim", ((a * 255).astype("uint8"), (b * 255).astype("uint8")), {"max_val": 255.0, "data_format": fmt})
    assert float(np.min(kimage.ssim(a, a, data_format=fmt))) == pytest.approx(1.0, abs=1e-5)


def test_ssim_refuses_bad_shapes():
    with pytest.raises(kerasish.InputError, match="same shape"):
        kimage.ssim(img(12, 12, 3), img(12, 13, 3))
    with pytest.raises(kerasish.InputError, match="filter_size"):
        kimage.ssim(img(8, 8, 3), img(8, 8, 3))

