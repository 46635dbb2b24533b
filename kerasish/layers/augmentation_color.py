"""Color augmentation layers (Keras 3): RandomBrightness, RandomGrayscale, RandomSaturation, RandomHue,
RandomColorJitter, Solarization, RandomInvert, RandomPosterization, RandomColorDegeneration,
RandomSharpness, AutoContrast and Equalization.

They follow :mod:`kerasish.layers.augmentation`: ``random_params(key, shape)`` draws the transformation
(the same dict keys as Keras's ``get_random_transformation``, so tests hand both frameworks the same
draw), ``transform(images, params)`` applies it to a float ``(N, H, W, C)`` batch, and the layer acts
only in training (the identity otherwise), with one exception: AutoContrast, which Keras applies in
every mode. ``value_range`` is the ``(low, high)`` range of the pixel values (``(0, 255)`` by default);
results are clipped to it where Keras clips.

Factor conventions are Keras's, including its quirks: a single number ``f`` for a factor bounded by
``[-1, 1]`` (RandomBrightness, RandomSaturation, RandomColorDegeneration) means the range ``(-f, f)``.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError
from kerasish.layers.augmentation import RandomContrast, _factor_range, _ImageAugmentation, _json, _number

_KERAS_EPSILON = 1e-7
_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma, as tf.image.rgb_to_grayscale


def value_range_arg(layer: str, value_range) -> list:
    """``value_range`` checked and sorted: a pair of numbers ``[low, high]``."""
    if not (isinstance(value_range, (list, tuple)) and len(value_range) == 2 and all(_number(v) for v in value_range)):
        raise ConfigError(f"{layer}: value_range must be a pair of numbers (low, high), got {value_range!r}.")
    return sorted(value_range)


def rescale(images, source, target):
    """Map values linearly from the range ``source`` to ``target`` (Keras's ``_transform_value_range``)."""
    if source[0] == target[0] and source[1] == target[1]:
        return images
    unit = (images - source[0]) / (source[1] - source[0])
    return unit * (target[1] - target[0]) + target[0]


def rgb_to_grayscale(images):
    """Luma of an ``(..., 3)`` RGB batch, keeping a channel axis of size 1 (single-channel input unchanged)."""
    if images.shape[-1] == 1:
        return images
    return jnp.tensordot(images, jnp.asarray(_GRAY_WEIGHTS, images.dtype), axes=(-1, -1))[..., None]


def rgb_to_hsv(images):
    """RGB to HSV, channels last: hue in [0, 1), saturation in [0, 1], value the channel maximum."""
    eps = jnp.finfo(images.dtype).eps
    images = jnp.where(jnp.abs(images) < eps, 0.0, images)
    r, g, b = images[..., 0], images[..., 1], images[..., 2]
    v = jnp.maximum(jnp.maximum(r, g), b)
    spread = v - jnp.minimum(jnp.minimum(r, g), b)
    s = jnp.where(v > 0, spread / jnp.where(v > 0, v, 1.0), 0.0)
    inv = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    h = jnp.where(v == g, inv * (b - r) + 2.0 / 6.0, inv * (r - g) + 4.0 / 6.0)
    h = jnp.where(v == r, inv * (g - b), h)
    h = jnp.where(spread > 0, h, 0.0) + (h < 0.0).astype(h.dtype)
    return jnp.stack([h, s, v], axis=-1)


def hsv_to_rgb(images):
    """HSV (channels last, hue in [0, 1)) back to RGB."""
    h, s, v = images[..., 0], images[..., 1], images[..., 2]
    sector = jnp.mod(h, 1.0) * 6.0
    weights = (jnp.clip(jnp.abs(sector - 3.0) - 1.0, 0.0, 1.0), jnp.clip(2.0 - jnp.abs(sector - 2.0), 0.0, 1.0),
               jnp.clip(2.0 - jnp.abs(sector - 4.0), 0.0, 1.0))
    return jnp.stack([v * (1.0 - s + s * w) for w in weights], axis=-1)


def depthwise_filter(images, kernel):
    """Convolve every channel of a ``(N, H, W, C)`` batch with the 2-D ``kernel`` (zero "same" padding)."""
    c = images.shape[-1]
    k = jnp.tile(jnp.asarray(kernel, images.dtype)[:, :, None, None], (1, 1, 1, c))
    return jax.lax.conv_general_dilated(images, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=c)


class _ColorAugmentation(_ImageAugmentation):
    """An image augmentation with a ``value_range``."""

    def __init__(self, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.value_range = value_range_arg(type(self).__name__, value_range)

    def _clip(self, images):
        return jnp.clip(images, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}


class _FactorColor(_ColorAugmentation):
    """A color augmentation with one ``factor`` within ``_BOUNDS`` (Keras's base-layer factor rules)."""

    _BOUNDS = (-1.0, 1.0)

    def __init__(self, factor, value_range=(0, 255), data_format=None, seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self.factor = list(_factor_range(type(self).__name__, "factor", factor, *self._BOUNDS))

    def _uniform(self, key, shape):
        return jax.random.uniform(key, shape, minval=self.factor[0], maxval=self.factor[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor)}


class RandomBrightness(_FactorColor):
    """Randomly adds a brightness offset to each image during training.

    ``out = clip(x + d * (high - low), low, high)`` with ``d`` drawn per image from the factor range.

    Args:
        factor: ``f`` (the range ``(-f, f)``) or a pair ``(lo, hi)``, within [-1, 1].
        value_range: the ``(low, high)`` range of the pixels.
        seed, data_format: as the other augmentation layers.

    ``params = {"rgb_delta": (N, 1, 1, 1)}`` (already scaled to the value range).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range=value_range, data_format=data_format, seed=seed, **kwargs)

    def random_params(self, key, shape):
        return {"rgb_delta": self._uniform(key, (shape[0], 1, 1, 1)) * (self.value_range[1] - self.value_range[0])}

    def transform(self, images, params):
        return self._clip(images + jnp.asarray(params["rgb_delta"], images.dtype))


class RandomGrayscale(_ImageAugmentation):
    """Turns each image to grayscale (kept as 3 equal channels) with probability ``factor`` in training.

    Args:
        factor: the probability, in [0, 1] (default 0.5).

    ``params = {"should_apply": (N, 1, 1, 1) bool}``.
    """

    def __init__(self, factor=0.5, data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if not (_number(factor) and 0 <= factor <= 1):
            raise ConfigError(f"RandomGrayscale: factor must be a number in [0, 1], got {factor!r}.")
        self.factor = float(factor)

    def random_params(self, key, shape):
        return {"should_apply": (jax.random.uniform(key, (shape[0],)) < self.factor)[:, None, None, None]}

    def transform(self, images, params):
        apply = jnp.reshape(jnp.asarray(params["should_apply"], bool), (-1, 1, 1, 1))
        return jnp.where(apply, rgb_to_grayscale(images), images)

    def get_config(self):
        config = {**super().get_config(), "factor": self.factor}
        config.pop("seed", None)  # Keras's RandomGrayscale does not write its seed
        return config


class RandomSaturation(_FactorColor):
    """Randomly scales the saturation of each image during training.

    A draw ``u`` from the factor range becomes the multiplier ``u / (1 - u)`` of the HSV saturation
    (``u = 0.5``: unchanged, ``0``: grayscale, near 1: fully saturated), clipped to the value range.

    Args:
        factor: ``f`` (the range ``(-f, f)``, Keras's rule) or a pair ``(lo, hi)`` in [0, 1].
        value_range, seed, data_format: as the other color layers.

    ``params = {"factor": (N,)}`` (the multipliers).
    """

    def random_params(self, key, shape):
        u = self._uniform(key, (shape[0],))
        return {"factor": u / (1.0 - u + _KERAS_EPSILON)}

    def transform(self, images, params):
        f = jnp.asarray(params["factor"], images.dtype)[:, None, None]
        hsv = rgb_to_hsv(images)
        s = jnp.clip(hsv[..., 1] * f, self.value_range[0], self.value_range[1])
        return hsv_to_rgb(jnp.stack([hsv[..., 0], s, hsv[..., 2]], axis=-1))


class RandomHue(_FactorColor):
    """Randomly rotates the hue of each image during training.

    The hue (in [0, 1)) moves by ``+-u / 2`` (sign and ``u`` from the factor range drawn per image),
    wrapping around.

    Args:
        factor: ``f`` (the range ``(0, f)``) or a pair ``(lo, hi)``, within [0, 1].
        value_range, seed, data_format: as the other color layers.

    ``params = {"factor": (N,)}`` (the signed hue shift).
    """

    _BOUNDS = (0.0, 1.0)

    def random_params(self, key, shape):
        ks, ku = jax.random.split(key)
        sign = jnp.where(jax.random.uniform(ks, (shape[0],)) > 0.5, -1.0, 1.0)
        return {"factor": sign * self._uniform(ku, (shape[0],)) * 0.5}

    def transform(self, images, params):
        x = rescale(images, self.value_range, (0, 1))
        hsv = rgb_to_hsv(x)
        h = hsv[..., 0] + jnp.asarray(params["factor"], x.dtype)[:, None, None]
        h = jnp.where(h > 1.0, h - 1.0, h)
        h = jnp.where(h < 0.0, h + 1.0, h)
        rgb = jnp.clip(hsv_to_rgb(jnp.stack([h, hsv[..., 1], hsv[..., 2]], axis=-1)), 0, 1)
        return rescale(rgb, (0, 1), self.value_range)


class RandomColorJitter(_ColorAugmentation):
    """Brightness, contrast, saturation and hue jitter in one layer (each applied when its factor is set).

    Applies, in this order, :class:`RandomBrightness`, ``RandomContrast``, :class:`RandomSaturation` and
    :class:`RandomHue` with the given factors and ``value_range``, each drawing its own transformation.

    ``params = {"brightness": ..., "contrast": ..., "saturation": ..., "hue": ...}`` (the parts' params).
    """

    _PARTS = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, value_range=(0, 255), brightness_factor=None, contrast_factor=None, saturation_factor=None,
                 hue_factor=None, seed=None, data_format=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        self.brightness_factor = _json(brightness_factor)
        self.contrast_factor = _json(contrast_factor)
        self.saturation_factor = _json(saturation_factor)
        self.hue_factor = _json(hue_factor)
        makers = {"brightness": RandomBrightness, "contrast": RandomContrast, "saturation": RandomSaturation,
                  "hue": RandomHue}
        self._parts = {}
        for part in self._PARTS:
            factor = getattr(self, f"{part}_factor")
            if factor is not None:
                self._parts[part] = makers[part](factor, value_range=tuple(self.value_range), name=f"{self.name}_{part}")

    def random_params(self, key, shape):
        keys = jax.random.split(key, len(self._PARTS))
        return {part: layer.random_params(k, shape) for (part, layer), k in
                zip(self._parts.items(), keys)}

    def transform(self, images, params):
        for part, layer in self._parts.items():
            images = layer.transform(images, params[part])
        return images

    def get_config(self):
        return {**super().get_config(), "brightness_factor": self.brightness_factor,
                "contrast_factor": self.contrast_factor, "saturation_factor": self.saturation_factor,
                "hue_factor": self.hue_factor}


def _unit_pair(layer: str, arg: str, factor) -> list:
    """Solarization's factors: ``f`` -> ``(0, f)``, or a pair; every value in [0, 1]."""
    values = factor if isinstance(factor, (list, tuple)) else (0.0, factor)
    if len(values) != 2 or not all(_number(v) and 0 <= v <= 1 for v in values):
        raise ConfigError(f"{layer}: {arg} must be a number or a pair of numbers in [0, 1], got {factor!r}.")
    return sorted(float(v) for v in values)


class Solarization(_ColorAugmentation):
    """Solarizes images in training: adds a random offset, then inverts the pixels above a random threshold.

    On the 0..255 scale: ``y = clip(x + a, 0, 255)``, ``out = y if y < t else 255 - y``, mapped back
    to ``value_range``. As Keras, ``a`` is drawn from ``[lo_a, hi_a * 255]`` and ``t`` from
    ``[lo_t, hi_t * 255]`` (the lower ends are not scaled by 255).

    Args:
        addition_factor: ``f`` (``(0, f)``) or a pair, in [0, 1].
        threshold_factor: the same for the threshold.
        value_range, seed: as the other color layers.

    ``params = {"additions": (N, 1, 1, 1), "thresholds": (N, 1, 1, 1)}`` on the 0..255 scale.
    """

    def __init__(self, addition_factor=0.0, threshold_factor=0.0, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, **kwargs)
        self.addition_factor = _unit_pair("Solarization", "addition_factor", addition_factor)
        self.threshold_factor = _unit_pair("Solarization", "threshold_factor", threshold_factor)

    def random_params(self, key, shape):
        ka, kt = jax.random.split(key)
        size = (shape[0], 1, 1, 1)
        return {"additions": jax.random.uniform(ka, size, minval=self.addition_factor[0],
                                                maxval=self.addition_factor[1] * 255),
                "thresholds": jax.random.uniform(kt, size, minval=self.threshold_factor[0],
                                                 maxval=self.threshold_factor[1] * 255)}

    def transform(self, images, params):
        x = rescale(images, self.value_range, (0, 255))
        y = jnp.clip(x + jnp.asarray(params["additions"], x.dtype), 0, 255)
        y = jnp.where(y < jnp.asarray(params["thresholds"], x.dtype), y, 255 - y)
        return rescale(y, (0, 255), self.value_range)

    def get_config(self):
        return {**super().get_config(), "addition_factor": list(self.addition_factor),
                "threshold_factor": list(self.threshold_factor)}


class RandomInvert(_FactorColor):
    """Inverts images (``high - x``) in training, each with a probability drawn from the factor range.

    Args:
        factor: ``f`` (probabilities ``(0, f)``) or a pair, in [0, 1]; default 1.0.
        value_range, seed, data_format: as the other color layers.

    ``params = {"apply_inversion": (N,) bool}``.
    """

    _BOUNDS = (0.0, 1.0)

    def __init__(self, factor=1.0, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(factor, value_range=value_range, data_format=data_format, seed=seed, **kwargs)

    def random_params(self, key, shape):
        kp, kt = jax.random.split(key)
        return {"apply_inversion": jax.random.uniform(kt, (shape[0],)) < self._uniform(kp, (shape[0],))}

    def transform(self, images, params):
        apply = jnp.asarray(params["apply_inversion"], bool)[:, None, None, None]
        return jnp.where(apply, self.value_range[1] - images, images)


class RandomPosterization(_FactorColor):
    """Reduces each image to ``b`` bits per channel in training (``b`` drawn per image from the factor).

    On the 0..255 scale the pixels are truncated to ``uint8`` and their low ``8 - b`` bits cleared.

    Args:
        factor: ``b`` (bits drawn from ``[1, b)``, as Keras's ``randint``; just ``b`` when the range
            is one value) or a pair, within [1, 8].

    ``params = {"shift_factor": (N,) int}`` (``8 - b``).
    """

    _BOUNDS = (1.0, 8.0)

    def random_params(self, key, shape):
        lo, hi = int(self.factor[0]), int(self.factor[1])
        bits = jax.random.randint(key, (shape[0],), lo, hi) if lo != hi else jnp.full((shape[0],), lo)
        return {"shift_factor": (8 - bits).astype(jnp.int32)}

    def transform(self, images, params):
        shift = jnp.asarray(params["shift_factor"]).astype(jnp.uint8)[:, None, None, None]
        x = rescale(images, self.value_range, (0, 255)).astype(jnp.uint8)
        x = jnp.left_shift(jnp.right_shift(x, shift), shift).astype(images.dtype)
        return rescale(x, (0, 255), self.value_range)


class RandomColorDegeneration(_FactorColor):
    """Blends each image toward its grayscale version in training: ``x + f * (gray(x) - x)``, clipped.

    Args:
        factor: ``f`` (the range ``(-f, f)``, Keras's rule) or a pair, within [-1, 1].

    ``params = {"factor": (N, 1, 1, 1)}``.
    """

    def random_params(self, key, shape):
        return {"factor": self._uniform(key, (shape[0], 1, 1, 1))}

    def transform(self, images, params):
        f = jnp.asarray(params["factor"], images.dtype)
        return self._clip(images + f * (rgb_to_grayscale(images) - images))


class RandomSharpness(_FactorColor):
    """Sharpens or blurs each image in training: ``x + (1 - 2 f) * (smooth(x) - x)``, clipped.

    ``smooth`` is a 3x3 filter (centre 5/13, neighbours 1/13, zero padding); ``f = 0.5`` keeps the image.

    Args:
        factor: ``f`` (the range ``(0, f)``) or a pair, within [0, 1].

    ``params = {"factor": (N,)}``.
    """

    _BOUNDS = (0.0, 1.0)

    def random_params(self, key, shape):
        return {"factor": self._uniform(key, (shape[0],))}

    def transform(self, images, params):
        f = jnp.reshape(jnp.asarray(params["factor"], images.dtype) * 2, (-1, 1, 1, 1))
        a, b = 1.0 / 13.0, 5.0 / 13.0
        smooth = depthwise_filter(images, [[a, a, a], [a, b, a], [a, a, a]])
        return self._clip(images + (1.0 - f) * (smooth - images))


class AutoContrast(_ColorAugmentation):
    """Stretches each image's channels to the full value range (in every mode, as Keras).

    Per image and channel, the minimum maps to ``low`` and the maximum to ``high``; a constant channel
    is left as it is. (With ``data_format="channels_first"`` the statistics are per image and channel
    here; Keras reduces over the wrong axes there.)
    """

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(value_range=value_range, **kwargs)

    def random_params(self, key, shape):
        return {}

    def transform(self, images, params=None):
        x = rescale(images, self.value_range, (0, 255))
        low = jnp.min(x, axis=(1, 2), keepdims=True)
        high = jnp.max(x, axis=(1, 2), keepdims=True)
        scale = 255.0 / (high - low)
        out = rescale(jnp.clip(x * scale - low * scale, 0.0, 255.0), (0, 255), self.value_range)
        return jnp.where(jnp.isnan(out), images, out)

    def inference(self, images):
        return self.transform(images)

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)
        return config


class Equalization(_ColorAugmentation):
    """Histogram equalization of each channel, in training (Keras skips it at inference).

    As Keras, one histogram of ``bins`` bins per channel is taken over the whole batch, and each
    pixel is mapped through the rounded, rescaled cumulative histogram; a channel with at most one
    occupied bin is unchanged.

    Args:
        value_range: the range of the pixels. bins: the histogram size (256).
    """

    def __init__(self, value_range=(0, 255), bins=256, data_format=None, **kwargs):
        super().__init__(value_range=value_range, data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 2:
            raise ConfigError(f"Equalization: bins must be an integer >= 2, got {bins!r}.")
        self.bins = int(bins)

    def random_params(self, key, shape):
        return {}

    def _equalize(self, channel):
        n = self.bins
        x = rescale(channel, self.value_range, (0, 255))
        idx = jnp.clip((x * (n - 1) / 255.0).astype(jnp.int32), 0, n - 1)
        hist = jnp.bincount(idx.reshape(-1), length=n)
        cdf = jnp.cumsum(hist)
        cdf_min = cdf[jnp.argmax(cdf > 0)]
        denominator = jnp.where(cdf[-1] - cdf_min == 0, 1, cdf[-1] - cdf_min)
        table = jnp.clip(jnp.round((cdf - cdf_min) * 255 / denominator), 0, 255)
        lookup = jnp.clip(x / 255.0 * (n - 1), 0, n - 1).astype(jnp.int32)
        out = jnp.where(jnp.count_nonzero(hist) <= 1, x, table[lookup].astype(x.dtype))
        return rescale(out, (0, 255), self.value_range)

    def transform(self, images, params=None):
        return jnp.stack([self._equalize(images[..., c]) for c in range(images.shape[-1])], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)
        return {**config, "bins": self.bins}


__all__ = ["AutoContrast", "Equalization", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter",
           "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPosterization", "RandomSaturation",
           "RandomSharpness", "Solarization"]
