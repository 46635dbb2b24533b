"""Image augmentation layers (Keras 3): RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomCrop,
RandomContrast, and the batch-level MixUp and CutMix.

Each layer splits into two pure pieces: ``random_params(key, shape)`` draws the transformation
(angles, zooms, offsets, ...) from a JAX key, and ``transform(images, params)`` applies it, so tests
can hand kerasish and Keras the same transformation. The layers act only when ``training`` is true
(inside ``fit``/``train_on_batch``, or a ``StatelessScope(..., training=True)``) and are the identity
otherwise (RandomCrop center-crops and resizes instead, see its docstring).

Keys come from the stateless scope's RNG stream (one fresh key per layer call, so they change every
step and are reproducible under the global seed). A layer's ``seed`` is folded into that key: two
layers with different seeds draw different transformations from the same step key, and the same seed
reproduces the same draws for the same step key.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.preprocessing import _as_nhwc, _data_format, _positive_int, resize_images

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


# -- argument checks ----------------------------------------------------------------------------
def _number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _factor_range(layer: str, arg: str, factor, low: float, high: float, low_open: bool = False):
    """``factor`` (a number f -> (-|f|, |f|), or a pair) as a sorted ``(lower, upper)`` within [low, high]."""
    def ok(v):
        return _number(v) and (v > low if low_open else v >= low) and v <= high

    interval = f"{'(' if low_open else '['}{low}, {high}]"
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2 or not all(ok(v) for v in factor):
            raise ConfigError(f"{layer}: {arg} must be a number or a pair of numbers in {interval}, got {factor!r}.")
        lower, upper = sorted(float(v) for v in factor)
        return lower, upper
    if not ok(factor):
        raise ConfigError(f"{layer}: {arg} must be a number or a pair of numbers in {interval}, got {factor!r}.")
    return max(-abs(float(factor)), low), abs(float(factor))


def _choice(layer: str, arg: str, value, valid) -> str:
    if value not in valid:
        raise ConfigError(f"{layer}: {arg} must be one of {tuple(valid)}, got {value!r}.")
    return value


def _seed(layer: str, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ConfigError(f"{layer}: seed must be None or an int, got {seed!r}.")
    return None if seed is None else int(seed)


def _json(value):
    return list(value) if isinstance(value, tuple) else value


# -- shared math ----------------------------------------------------------------------------------
def affine_transform(images, transforms, interpolation: str = "bilinear", fill_mode: str = "reflect",
                     fill_value: float = 0.0):
    """Resample a ``(N, H, W, C)`` batch through per-image affine maps (Keras's 8-number layout).

    Output pixel ``(x, y)`` of image ``i`` reads the input at ``(a0 x + a1 y + a2, b0 x + b1 y + b2)``
    with ``transforms[i] = [a0, a1, a2, b0, b1, b2, c0, c1]`` (``c0, c1`` unused, as in Keras's JAX
    backend), interpolated by ``jax.scipy.ndimage.map_coordinates``; points outside the image follow
    ``fill_mode``: reflect ``(d c b a | a b c d | d c b a)``, wrap, nearest, or constant ``fill_value``.
    """
    n, h, w, _ = images.shape
    t = jnp.asarray(transforms, images.dtype)[:, :, None, None]
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=images.dtype), jnp.arange(w, dtype=images.dtype), indexing="ij")
    src_x = t[:, 0] * xs + t[:, 1] * ys + t[:, 2]
    src_y = t[:, 3] * xs + t[:, 4] * ys + t[:, 5]
    order = INTERPOLATIONS[interpolation]

    def one_channel(plane, sy, sx):
        return jax.scipy.ndimage.map_coordinates(plane, [sy, sx], order=order, mode=fill_mode, cval=fill_value)

    per_channel = jax.vmap(one_channel, in_axes=(2, None, None), out_axes=2)
    return jax.vmap(per_channel)(images, src_y, src_x)


def rotation_matrix(angles, height: int, width: int):
    """Keras's transform rotating each image by ``angles`` degrees (counter-clockwise) about its center."""
    rad = jnp.asarray(angles, jnp.float32) * (math.pi / 180.0)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    cos, sin = jnp.cos(rad), jnp.sin(rad)
    a0, a1, b0, b1 = cos, -sin, sin, cos
    a2 = cx - cx * a0 - cy * a1
    b2 = cy - cx * b0 - cy * b1
    zeros = jnp.zeros_like(rad)
    return jnp.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def _log_gamma_sample(u, a, trials: int):
    """``log`` of Gamma(``a``) samples from uniforms ``u`` of shape ``(2 * trials + 1, *shape)``.

    Marsaglia and Tsang's method for Gamma(a + 1) with ``trials`` proposals at once, the first accepted
    one kept (each is accepted with probability > 0.95, so all fail with probability < 1e-20), then
    Gamma(a) = Gamma(a + 1) * U ** (1 / a), in log space so that small ``a`` does not underflow.
    No while loop and one random draw: it compiles in a fraction of ``jax.random.beta``'s time.
    """
    a = jnp.asarray(a, jnp.float32)
    d = a + 1.0 - 1.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    z = jnp.sqrt(2.0) * jax.scipy.special.erfinv(2.0 * u[:trials] - 1.0)  # standard normals
    v = (1.0 + c * z) ** 3
    safe_v = jnp.where(v > 0, v, 1.0)
    accept = (v > 0) & (jnp.log(u[trials:2 * trials]) < 0.5 * z**2 + d - d * safe_v + d * jnp.log(safe_v))
    first = jnp.argmax(accept, axis=0)
    log_g1 = jnp.log(d) + jnp.log(jnp.take_along_axis(safe_v, first[None], axis=0)[0])
    return log_g1 + jnp.log(u[2 * trials]) / a


def sample_beta(key, a, b, shape, trials: int = 16):
    """Beta(a, b) samples as ``G_a / (G_a + G_b)`` of independent Gamma samples (cheap to compile)."""
    u = jax.random.uniform(key, (2, 2 * trials + 1) + tuple(shape), minval=1e-7, maxval=1.0)
    return jax.nn.sigmoid(_log_gamma_sample(u[0], a, trials) - _log_gamma_sample(u[1], b, trials))


def random_permutation(key, n: int):
    """A uniformly random permutation of ``range(n)`` (argsort of uniform draws)."""
    return jnp.argsort(jax.random.uniform(key, (n,))).astype(jnp.int32)


def _next_key(layer: Layer, inputs=None):
    key = layer.random_key(inputs)
    seed = getattr(layer, "seed", None)
    return key if seed is None else jax.random.fold_in(key, seed)


class _ImageAugmentation(Layer):
    """Calls ``transform(images, random_params(key, shape))`` in training, the identity otherwise."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.seed = _seed(name, seed)
        self.data_format = _data_format(name, data_format)

    def random_params(self, key, shape) -> dict:
        """Draw the transformation of a ``(N, H, W, C)`` batch (override)."""
        raise NotImplementedError

    def transform(self, images, params):
        """Apply ``params`` to a float ``(N, H, W, C)`` batch (override)."""
        raise NotImplementedError

    def inference(self, images):
        return images

    def call(self, inputs, training=False):
        x, restore = _as_nhwc(self, inputs, self.data_format)
        if not training:
            return restore(self.inference(x))
        return restore(self.transform(x, self.random_params(_next_key(self, x), x.shape)))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "seed": self.seed}


class RandomFlip(_ImageAugmentation):
    """Randomly flips images horizontally and/or vertically during training.

    With ``"horizontal_and_vertical"`` the two flips are drawn independently (each with probability
    1/2), so all four orientations occur; Keras 3 draws one flag for both.

    Args:
        mode: ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``.
        seed: an int folded into the step's key (see the module docstring).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _choice("RandomFlip", "mode", mode, ("horizontal", "vertical", "horizontal_and_vertical"))

    def random_params(self, key, shape):
        kh, kv = jax.random.split(key)
        n = shape[0]
        return {"horizontal": jax.random.bernoulli(kh, 0.5, (n,)) & (self.mode != "vertical"),
                "vertical": jax.random.bernoulli(kv, 0.5, (n,)) & (self.mode != "horizontal")}

    def transform(self, images, params):
        h = jnp.asarray(params["horizontal"], bool)[:, None, None, None]
        v = jnp.asarray(params["vertical"], bool)[:, None, None, None]
        images = jnp.where(h, jnp.flip(images, axis=2), images)
        return jnp.where(v, jnp.flip(images, axis=1), images)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineAugmentation(_ImageAugmentation):
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        name = type(self).__name__
        self.fill_mode = _choice(name, "fill_mode", fill_mode, FILL_MODES)
        self.interpolation = _choice(name, "interpolation", interpolation, tuple(INTERPOLATIONS))
        if not _number(fill_value):
            raise ConfigError(f"{name}: fill_value must be a number, got {fill_value!r}.")
        self.fill_value = float(fill_value)

    def matrices(self, params, height: int, width: int):
        raise NotImplementedError

    def transform(self, images, params):
        m = self.matrices(params, images.shape[1], images.shape[2])
        return affine_transform(images, m, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "interpolation": self.interpolation}


class RandomRotation(_AffineAugmentation):
    """Randomly rotates images during training.

    Args:
        factor: a fraction of a full turn: ``f`` rotates by an angle drawn from ``[-f, f] * 360`` degrees,
            a pair ``(lo, hi)`` from ``[lo, hi] * 360``; positive is counter-clockwise. In [-1, 1].
        fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"`` (points outside the input).
        interpolation: ``"bilinear"`` or ``"nearest"``.
        seed: an int folded into the step's key.
        fill_value: the value outside the input with ``fill_mode="constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    ``params = {"angle": (N,) degrees}``.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_range("RandomRotation", "factor", factor, -1.0, 1.0)

    def random_params(self, key, shape):
        lo, hi = self.factor
        return {"angle": jax.random.uniform(key, (shape[0],), minval=lo * 360.0, maxval=hi * 360.0)}

    def matrices(self, params, height, width):
        return rotation_matrix(params["angle"], height, width)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomZoom(_AffineAugmentation):
    """Randomly zooms images in or out during training.

    Args:
        height_factor: ``f`` draws the vertical zoom from ``[1 - f, 1 + f]`` (a pair ``(lo, hi)``:
            ``[1 + lo, 1 + hi]``); each value in (-1, 1]. A zoom above 1 shows more (zooms out).
        width_factor: the same horizontally; ``None`` keeps the aspect ratio (width zoom = height zoom).
        fill_mode, interpolation, seed, fill_value, data_format: as :class:`RandomRotation`.

    ``params = {"height_zoom": (N, 1), "width_zoom": (N, 1)}``.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._height_range = _factor_range("RandomZoom", "height_factor", height_factor, -1.0, 1.0, low_open=True)
        self._width_range = None if width_factor is None else _factor_range(
            "RandomZoom", "width_factor", width_factor, -1.0, 1.0, low_open=True)
        self.height_factor = _json(height_factor)
        self.width_factor = _json(width_factor)

    def random_params(self, key, shape):
        kh, kw = jax.random.split(key)
        lo, hi = self._height_range
        hz = jax.random.uniform(kh, (shape[0], 1), minval=1.0 + lo, maxval=1.0 + hi)
        if self._width_range is None:
            return {"height_zoom": hz, "width_zoom": hz}
        lo, hi = self._width_range
        return {"height_zoom": hz, "width_zoom": jax.random.uniform(kw, (shape[0], 1), minval=1.0 + lo,
                                                                   maxval=1.0 + hi)}

    def matrices(self, params, height, width):
        zx = jnp.reshape(jnp.asarray(params["width_zoom"], jnp.float32), (-1,))
        zy = jnp.reshape(jnp.asarray(params["height_zoom"], jnp.float32), (-1,))
        zeros = jnp.zeros_like(zx)
        return jnp.stack([zx, zeros, (width - 1.0) / 2.0 * (1.0 - zx), zeros, zy,
                          (height - 1.0) / 2.0 * (1.0 - zy), zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomTranslation(_AffineAugmentation):
    """Randomly shifts images during training.

    Args:
        height_factor: ``f`` shifts vertically by a fraction of the height drawn from ``[-f, f]``
            (a pair ``(lo, hi)``: from ``[lo, hi]``; positive moves the content down); values in [-1, 1].
        width_factor: the same horizontally (positive moves the content right).
        fill_mode, interpolation, seed, fill_value, data_format: as :class:`RandomRotation`.

    ``params = {"translations": (N, 2) pixels, (dx, dy)}``.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._height_range = _factor_range("RandomTranslation", "height_factor", height_factor, -1.0, 1.0)
        self._width_range = _factor_range("RandomTranslation", "width_factor", width_factor, -1.0, 1.0)
        self.height_factor = _json(height_factor)
        self.width_factor = _json(width_factor)

    def random_params(self, key, shape):
        kh, kw = jax.random.split(key)
        n, h, w = shape[0], shape[1], shape[2]
        dy = jax.random.uniform(kh, (n, 1), minval=self._height_range[0], maxval=self._height_range[1]) * h
        dx = jax.random.uniform(kw, (n, 1), minval=self._width_range[0], maxval=self._width_range[1]) * w
        return {"translations": jnp.concatenate([dx, dy], axis=1)}

    def matrices(self, params, height, width):
        t = jnp.asarray(params["translations"], jnp.float32)
        ones, zeros = jnp.ones_like(t[:, 0]), jnp.zeros_like(t[:, 0])
        return jnp.stack([ones, zeros, -t[:, 0], zeros, ones, -t[:, 1], zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomCrop(_ImageAugmentation):
    """Crops a random ``(height, width)`` window of each image during training.

    At inference, and in training when an image is not larger than the target in both dimensions,
    the largest centered window of the target aspect ratio is cropped and resized (bilinear) to
    ``(height, width)`` (Keras's documented behaviour and ``smart_resize``), so the output shape is
    the same in training and inference. (Keras 3.15 returns the uncropped input at inference.)

    Args:
        height, width: the output size.
        seed: an int folded into the step's key.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    ``params = {"h_start": (N,) int, "w_start": (N,) int}`` (one window per image).
    """

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = _positive_int("RandomCrop", "height", height)
        self.width = _positive_int("RandomCrop", "width", width)

    def inference(self, images):
        return resize_images(images, self.height, self.width, crop_to_aspect_ratio=True)

    def random_params(self, key, shape):
        kh, kw = jax.random.split(key)
        n, h, w = shape[0], shape[1], shape[2]
        return {"h_start": jax.random.randint(kh, (n,), 0, max(h - self.height, 0) + 1),
                "w_start": jax.random.randint(kw, (n,), 0, max(w - self.width, 0) + 1)}

    def transform(self, images, params):
        _, h, w, c = images.shape
        if not (h > self.height and w > self.width):
            return self.inference(images)

        def crop(img, top, left):
            return jax.lax.dynamic_slice(img, (top, left, 0), (self.height, self.width, c))

        return jax.vmap(crop)(images, jnp.asarray(params["h_start"], jnp.int32),
                              jnp.asarray(params["w_start"], jnp.int32))

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomContrast(_ImageAugmentation):
    """Randomly scales each image's deviation from its per-channel mean during training.

    ``out = clip((x - mean) * c + mean, *value_range)`` with ``c`` drawn per image from
    ``[1 - lower, 1 + upper]``.

    Args:
        factor: ``f`` (lower = upper = f) or a pair ``(lower, upper)``, each in [0, 1].
        value_range: ``(low, high)`` of the image values, used to clip the result.
        seed: an int folded into the step's key.

    ``params = {"contrast_factor": (N, 1, 1, 1)}``.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if isinstance(factor, (list, tuple)):
            ok = len(factor) == 2 and all(_number(v) and 0 <= v <= 1 for v in factor)
            lower, upper = (float(factor[0]), float(factor[1])) if ok else (0.0, 0.0)
        else:
            ok = _number(factor) and 0 <= factor <= 1
            lower = upper = float(factor) if ok else 0.0
        if not ok:
            raise ConfigError(f"RandomContrast: factor must be a number or a pair of numbers in [0, 1], got {factor!r}.")
        self._range = (lower, upper)
        self.factor = _json(factor)
        if not (isinstance(value_range, (list, tuple)) and len(value_range) == 2 and all(_number(v) for v in value_range)
                and value_range[0] < value_range[1]):
            raise ConfigError(f"RandomContrast: value_range must be a pair (low, high) with low < high, "
                              f"got {value_range!r}.")
        self.value_range = [float(v) for v in value_range]

    def random_params(self, key, shape):
        lower, upper = self._range
        return {"contrast_factor": jax.random.uniform(key, (shape[0], 1, 1, 1), minval=1.0 - lower,
                                                      maxval=1.0 + upper)}

    def transform(self, images, params):
        mean = jnp.mean(images, axis=(1, 2), keepdims=True)
        out = (images - mean) * jnp.asarray(params["contrast_factor"], images.dtype) + mean
        return jnp.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        factor = self.factor if isinstance(self.factor, (list, tuple)) else (0.0, self.factor)
        return {**super().get_config(), "factor": list(factor), "value_range": self.value_range}


class _BatchMix(_ImageAugmentation):
    """Batch-level mixing: ``call`` takes images or ``{"images": x, "labels": y}`` and returns the same."""

    def mix_params(self, key, shape) -> dict:
        raise NotImplementedError

    def mix(self, images, labels, params):
        raise NotImplementedError

    def augment_batch(self, x, y, key, sample_mask=None):
        """Mix a batch ``x`` (N, H, W, C) and its one-hot/probability labels ``y`` (N, K) with ``key``.

        Pure and jit-able (shapes static); the train step calls it with its own key (see
        ``compile(batch_augmentation=...)``). ``sample_mask`` (N,) marks the real rows of a padded
        batch: a real row is never mixed with a padding row (it keeps itself instead).
        """
        x = jnp.asarray(x, self.dtype)
        params = self.random_params(key, x.shape)
        if sample_mask is not None:
            perm = jnp.asarray(params["permutation_order"], jnp.int32)
            real = jnp.asarray(sample_mask) > 0
            params = {**params, "permutation_order": jnp.where(real[perm], perm, jnp.arange(perm.shape[0]))}
        return self.mix(x, jnp.asarray(y, self.dtype), params)

    def random_params(self, key, shape):
        return self.mix_params(key, shape)

    def transform(self, images, params):
        return self.mix(images, None, params)[0]

    def call(self, inputs, training=False):
        is_dict = isinstance(inputs, dict)
        if is_dict and "images" not in inputs:
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects images or a dict with an "
                             f"'images' key, got keys {sorted(inputs)}.")
        images = inputs["images"] if is_dict else inputs
        if jnp.ndim(images) != 4:
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) mixes a batch: expects images of rank 4, "
                             f"got shape {tuple(jnp.shape(images))}.")
        x, restore = _as_nhwc(self, images, self.data_format)
        labels = inputs.get("labels") if is_dict else None
        if training:
            params = self.random_params(_next_key(self, x), x.shape)
            x, labels = self.mix(x, None if labels is None else jnp.asarray(labels, self.compute_dtype), params)
        if not is_dict:
            return restore(x)
        out = dict(inputs)
        out["images"] = restore(x)
        if labels is not None:
            out["labels"] = labels
        return out


class MixUp(_BatchMix):
    """MixUp (Zhang et al., 2018): each image and label is blended with another of the batch.

    ``x_i <- w_i x_i + (1 - w_i) x_p(i)`` and the same for labels, with ``w_i ~ Beta(alpha, alpha)``
    and ``p`` a random permutation of the batch.

    Args:
        alpha: the Beta distribution's parameter (> 0).
        seed: an int folded into the step's key.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    ``params = {"mix_weight": (N,), "permutation_order": (N,) int}``.
    """

    def __init__(self, alpha=0.2, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not _number(alpha) or alpha <= 0:
            raise ConfigError(f"MixUp: alpha must be a positive number, got {alpha!r}.")
        self.alpha = float(alpha)

    def mix_params(self, key, shape):
        kp, kw = jax.random.split(key)
        n = shape[0]
        return {"mix_weight": sample_beta(kw, self.alpha, self.alpha, (n,)),
                "permutation_order": random_permutation(kp, n)}

    def mix(self, images, labels, params):
        w = jnp.asarray(params["mix_weight"], images.dtype)
        perm = jnp.asarray(params["permutation_order"], jnp.int32)
        images = w[:, None, None, None] * images + (1.0 - w[:, None, None, None]) * images[perm]
        if labels is not None:
            labels = w[:, None] * labels + (1.0 - w[:, None]) * labels[perm]
        return images, labels

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class CutMix(_BatchMix):
    """CutMix (Yun et al., 2019): a random box of each image is replaced by the same box of another.

    The box of image ``i`` covers ``1 - lam_i`` of the area (``lam_i ~ Beta(a, a)``, ``a`` drawn
    from ``factor``); labels mix with the weight ``1 - (pasted pixels) / (H W)``, the exact fraction
    of the pixels that stay (Keras uses the continuous box area, which differs by the rounding to pixels).

    Args:
        factor: ``f`` or ``(lo, hi)`` in [0, 1]: the range of the Beta parameter ``a``.
        seed: an int folded into the step's key.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    ``params = {"permutation_order": (N,), "x0", "x1", "y0", "y1": (N,) box corners in pixels}``:
    pixel ``(x, y)`` is pasted when ``x0 <= x < x1`` and ``y0 <= y < y1``.
    """

    def __init__(self, factor=1.0, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        lower, upper = _factor_range("CutMix", "factor", factor, 0.0, 1.0)
        self.factor = [max(lower, 0.0), upper]

    def mix_params(self, key, shape):
        ka, kl, kx, ky, kp = jax.random.split(key, 5)
        n, h, w = shape[0], shape[1], shape[2]
        a = jax.random.uniform(ka, (), minval=self.factor[0], maxval=self.factor[1]) + 1e-6
        lam = sample_beta(kl, a, a, (n,))
        ratio = jnp.sqrt(1.0 - lam)
        cut_w, cut_h = ratio * w, ratio * h
        x0 = jax.random.uniform(kx, (n,)) * (w - cut_w)
        y0 = jax.random.uniform(ky, (n,)) * (h - cut_h)
        return {"permutation_order": random_permutation(kp, n), "x0": x0, "x1": x0 + cut_w,
                "y0": y0, "y1": y0 + cut_h}

    @staticmethod
    def box_masks(params, height: int, width: int):
        """``(N, H, W)`` booleans, true where the other image is pasted."""
        ys = jnp.arange(height, dtype=jnp.float32)[None, :, None]
        xs = jnp.arange(width, dtype=jnp.float32)[None, None, :]

        def col(k):
            return jnp.asarray(params[k], jnp.float32)[:, None, None]

        return (xs >= col("x0")) & (xs < col("x1")) & (ys >= col("y0")) & (ys < col("y1"))

    def mix(self, images, labels, params):
        perm = jnp.asarray(params["permutation_order"], jnp.int32)
        masks = self.box_masks(params, images.shape[1], images.shape[2])
        images = jnp.where(masks[..., None], images[perm], images)
        if labels is not None:
            keep = 1.0 - jnp.mean(masks.astype(labels.dtype), axis=(1, 2))
            labels = keep[:, None] * labels + (1.0 - keep[:, None]) * labels[perm]
        return images, labels

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomCrop", "RandomContrast",
           "MixUp", "CutMix", "affine_transform", "rotation_matrix"]
