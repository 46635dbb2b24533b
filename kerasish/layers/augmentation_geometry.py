"""Geometric and local augmentation layers (Keras 3): RandomShear, RandomErasing, RandomGaussianBlur,
RandomPerspective and RandomElasticTransform.

Same design as :mod:`kerasish.layers.augmentation`: ``random_params(key, shape)`` draws the
transformation (with Keras's ``get_random_transformation`` keys where the meaning is the same),
``transform(images, params)`` applies it to a float ``(N, H, W, C)`` batch, and the layers are the
identity outside training. Everything is ``jnp``/``jax.lax`` with static shapes, so they run inside
the jitted train step.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError
from kerasish.layers.augmentation import (
    FILL_MODES,
    INTERPOLATIONS,
    _choice,
    _ImageAugmentation,
    _number,
    affine_transform,
)
from kerasish.layers.augmentation_color import value_range_arg


def keras_factor(layer: str, arg: str, factor, low: float = 0.0, high: float = 1.0) -> list:
    """Keras's factor rule: ``f`` in ``[low, high]`` -> ``[max(-|f|, low), |f|]``; a pair -> sorted."""
    message = f"{layer}: {arg} must be a number in [{low}, {high}] or a pair of numbers, got {factor!r}."
    if isinstance(factor, (list, tuple)):
        if len(factor) != 2 or not all(_number(v) for v in factor) or factor[0] > high or factor[1] < low:
            raise ConfigError(message)
        return sorted(float(v) for v in factor)
    if not (_number(factor) and low <= factor <= high):
        raise ConfigError(message)
    return [max(-abs(float(factor)), low), abs(float(factor))]


def gaussian_kernel(size_x: int, size_y: int, sigma_x, sigma_y, dtype="float32"):
    """A ``(size_y, size_x)`` normalized Gaussian kernel (the outer product of two 1-D ones)."""
    def one_d(size, sigma):
        t = jnp.arange(size, dtype=dtype) - (size - 1) / 2.0
        k = jnp.exp(-0.5 * (t / sigma) ** 2)
        return k / jnp.sum(k)

    return jnp.outer(one_d(size_y, sigma_y), one_d(size_x, sigma_x))


def blur(images, kernel):
    """Filter each channel of a ``(N, H, W, C)`` batch with a 2-D kernel (zero "same" padding)."""
    c = images.shape[-1]
    k = jnp.tile(jnp.asarray(kernel, images.dtype)[:, :, None, None], (1, 1, 1, c))
    return jax.lax.conv_general_dilated(images, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=c)


def _resample(images, src_y, src_x, interpolation: str, fill_mode: str, fill_value: float):
    """Read each ``(N, H, W, C)`` image at per-image source coordinates ``(N, H, W)``."""
    order = INTERPOLATIONS[interpolation]

    def one_channel(plane, sy, sx):
        return jax.scipy.ndimage.map_coordinates(plane, [sy, sx], order=order, mode=fill_mode, cval=fill_value)

    per_channel = jax.vmap(one_channel, in_axes=(2, None, None), out_axes=2)
    return jax.vmap(per_channel)(images, src_y, src_x)


def homography(start_points, end_points):
    """The 8 projective coefficients mapping each output corner (``end_points``) to its input corner."""
    sx, sy = start_points[..., 0], start_points[..., 1]
    ex, ey = end_points[..., 0], end_points[..., 1]
    zero, one = jnp.zeros_like(ex), jnp.ones_like(ex)
    rows_x = jnp.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    rows_y = jnp.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    a = jnp.concatenate([rows_x, rows_y], axis=1)
    b = jnp.concatenate([sx, sy], axis=-1)[..., None]
    return jnp.linalg.solve(a, b)[..., 0]


class RandomShear(_ImageAugmentation):
    """Randomly shears images during training.

    Output pixel ``(x, y)`` reads the input at ``(x + sx * y, sy * x + y)``, with ``sx``, ``sy`` drawn
    per image from the factor ranges and one random sign for both.

    Args:
        x_factor, y_factor: ``f`` in [0, 1] (the range ``(-f, f)``) or a pair ``(lo, hi)`` in [-1, 1].
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``; fill_value: for ``"constant"``.
        seed, data_format: as the other augmentation layers.

    ``params = {"shear_factor": (N, 2)}`` (``sx, sy``).
    """

    def __init__(self, x_factor=0.0, y_factor=0.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 data_format=None, seed=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.x_factor = self._factor("x_factor", x_factor)
        self.y_factor = self._factor("y_factor", y_factor)
        self.interpolation = _choice("RandomShear", "interpolation", interpolation, tuple(INTERPOLATIONS))
        self.fill_mode = _choice("RandomShear", "fill_mode", fill_mode, FILL_MODES)
        if not _number(fill_value):
            raise ConfigError(f"RandomShear: fill_value must be a number, got {fill_value!r}.")
        self.fill_value = float(fill_value)

    @staticmethod
    def _factor(arg, factor):
        # A pair may be negative (Keras accepts only [0, 1], which its own get_config output breaks).
        pair = isinstance(factor, (list, tuple))
        values = factor if pair else (factor,)
        if len(values) != (2 if pair else 1) or not all(_number(v) and (-1 if pair else 0) <= v <= 1 for v in values):
            raise ConfigError(f"RandomShear: {arg} must be a number in [0, 1] or a pair of numbers in [-1, 1], "
                              f"got {factor!r}.")
        return sorted(float(v) for v in values) if pair else [-float(factor), float(factor)]

    def random_params(self, key, shape):
        ks, kx, ky = jax.random.split(key, 3)
        n = shape[0]
        sign = jnp.where(jax.random.uniform(ks, (n, 1)) > 0.5, -1.0, 1.0)
        sx = jax.random.uniform(kx, (n, 1), minval=self.x_factor[0], maxval=self.x_factor[1])
        sy = jax.random.uniform(ky, (n, 1), minval=self.y_factor[0], maxval=self.y_factor[1])
        return {"shear_factor": jnp.concatenate([sx, sy], axis=1) * sign}

    def transform(self, images, params):
        s = jnp.asarray(params["shear_factor"], jnp.float32)
        one, zero = jnp.ones_like(s[:, 0]), jnp.zeros_like(s[:, 0])
        m = jnp.stack([one, s[:, 0], zero, s[:, 1], one, zero, zero, zero], axis=1)
        return affine_transform(images, m, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "x_factor": list(self.x_factor), "y_factor": list(self.y_factor),
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomErasing(_ImageAugmentation):
    """Erases a random rectangle of each image during training (Zhong et al., 2017).

    Each image is erased with a probability drawn from ``factor``; the rectangle's width and height are
    ``sqrt(s)`` of the image's (``s`` drawn per side from ``scale``) and its position is uniform.

    Args:
        factor: ``f`` (probabilities ``(0, f)``) or a pair, in [0, 1]; default 1.0.
        scale: the range of the erased fraction per side, squared (``(0.02, 0.33)``).
        fill_value: None (Gaussian noise times ``high``, clipped), a number, or 3 numbers (per channel).
        value_range, seed, data_format: as the color layers.

    ``params = {"apply_erasing": (N,) bool, "batch_masks": (N, H, W, C) bool, "fill_value": (N, H, W, C)}``.
    """

    def __init__(self, factor=1.0, scale=(0.02, 0.33), fill_value=None, value_range=(0, 255), seed=None,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomErasing", "factor", factor)
        self.scale = keras_factor("RandomErasing", "scale", scale)
        if not (fill_value is None or _number(fill_value) or (
                isinstance(fill_value, (list, tuple)) and len(fill_value) == 3 and all(map(_number, fill_value)))):
            raise ConfigError(f"RandomErasing: fill_value must be None, a number or 3 numbers, got {fill_value!r}.")
        self.fill_value = list(fill_value) if isinstance(fill_value, tuple) else fill_value
        self.value_range = value_range_arg("RandomErasing", value_range)

    def random_params(self, key, shape):
        n, h, w, c = shape
        km, kx, ky, kp, kt, kf = jax.random.split(key, 6)
        side = jnp.sqrt(jax.random.uniform(km, (n, 2), minval=self.scale[0], maxval=self.scale[1]))
        cut_w, cut_h = side[:, 0] * w, side[:, 1] * h
        x0 = jax.random.uniform(kx, (n,)) * (w - cut_w)
        y0 = jax.random.uniform(ky, (n,)) * (h - cut_h)
        ys = jnp.arange(h, dtype=jnp.float32)[None, :, None, None]
        xs = jnp.arange(w, dtype=jnp.float32)[None, None, :, None]

        def col(v):
            return v[:, None, None, None]

        masks = (xs >= col(x0)) & (xs < col(x0 + cut_w)) & (ys >= col(y0)) & (ys < col(y0 + cut_h))
        apply = jax.random.uniform(kt, (n,)) < jax.random.uniform(kp, (n,), minval=self.factor[0],
                                                                    maxval=self.factor[1])
        if self.fill_value is None:
            fill = jax.random.normal(kf, shape) * self.value_range[1]
        else:
            fill = jnp.broadcast_to(jnp.asarray(self.fill_value, jnp.float32), shape)
        return {"apply_erasing": apply, "batch_masks": jnp.broadcast_to(masks, shape),
                "fill_value": jnp.clip(fill, self.value_range[0], self.value_range[1])}

    def transform(self, images, params):
        erased = jnp.where(jnp.asarray(params["batch_masks"], bool), jnp.asarray(params["fill_value"], images.dtype),
                           images)
        return jnp.where(jnp.asarray(params["apply_erasing"], bool)[:, None, None, None], erased, images)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale),
                "fill_value": self.fill_value, "value_range": list(self.value_range)}


def _odd_kernel_size(value):
    values = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 and v % 2
                                   for v in values):
        raise ConfigError(f"RandomGaussianBlur: kernel_size must be an odd positive int or a pair of them, "
                          f"got {value!r}.")
    return [int(v) for v in values]


class RandomGaussianBlur(_ImageAugmentation):
    """Blurs images with a Gaussian kernel during training, each with a probability drawn from ``factor``.

    Args:
        factor: ``f`` (probabilities ``(0, f)``) or a pair, in [0, 1]; default 1.0.
        kernel_size: an odd int or a pair ``(width, height)`` of odd ints.
        sigma: ``s`` (the range ``(0, s)``, ``s`` in [0, 1]) or a pair ``(lo, hi)``: the standard deviations
            ``(sigma_x, sigma_y)`` are drawn once per batch from it (as Keras).
        value_range, seed, data_format: as the color layers (the result is clipped to the range).

    ``params = {"should_apply_blur": (N,) bool, "blur_factor": (2,)}``.
    """

    def __init__(self, factor=1.0, kernel_size=3, sigma=1.0, value_range=(0, 255), data_format=None, seed=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomGaussianBlur", "factor", factor)
        self.kernel_size = _odd_kernel_size(kernel_size)
        self.sigma = keras_factor("RandomGaussianBlur", "sigma", sigma)
        self.value_range = value_range_arg("RandomGaussianBlur", value_range)

    def random_params(self, key, shape):
        kp, kt, ks = jax.random.split(key, 3)
        n = shape[0]
        apply = jax.random.uniform(kt, (n,)) < jax.random.uniform(kp, (n,), minval=self.factor[0],
                                                                    maxval=self.factor[1])
        return {"should_apply_blur": apply,
                "blur_factor": jax.random.uniform(ks, (2,), minval=self.sigma[0], maxval=self.sigma[1]) + 1e-6}

    def transform(self, images, params):
        s = jnp.asarray(params["blur_factor"], images.dtype)
        blurred = blur(images, gaussian_kernel(self.kernel_size[0], self.kernel_size[1], s[0], s[1], images.dtype))
        out = jnp.where(jnp.asarray(params["should_apply_blur"], bool)[:, None, None, None], blurred, images)
        return jnp.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "kernel_size": list(self.kernel_size),
                "sigma": list(self.sigma), "value_range": list(self.value_range)}


class RandomPerspective(_ImageAugmentation):
    """Random perspective warps during training: the image corners move by up to ``scale / 2`` of
    their coordinates, each image warped with a probability drawn from ``factor``; outside points get
    ``fill_value``.

    Args:
        factor: ``f`` (probabilities ``(0, f)``) or a pair, in [0, 1]; default 1.0.
        scale: the strength of the distortion, in [0, 1].
        interpolation: ``"bilinear"`` or ``"nearest"``. fill_value: the value outside the input.

    ``params = {"apply_perspective": (N,) bool, "start_points": (N, 4, 2), "end_points": (N, 4, 2)}``
    (corners as ``(x, y)``: the output's ``end_points`` show the input's ``start_points``).
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_value=0.0, seed=None, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomPerspective", "factor", factor)
        if not (_number(scale) and 0 <= scale <= 1):
            raise ConfigError(f"RandomPerspective: scale must be a number in [0, 1], got {scale!r}.")
        self.scale = float(scale)
        self.interpolation = _choice("RandomPerspective", "interpolation", interpolation, tuple(INTERPOLATIONS))
        if not _number(fill_value):
            raise ConfigError(f"RandomPerspective: fill_value must be a number, got {fill_value!r}.")
        self.fill_value = float(fill_value)

    def random_params(self, key, shape):
        n, h, w = shape[0], shape[1], shape[2]
        kp, kt, kd = jax.random.split(key, 3)
        apply = jax.random.uniform(kt, (n,)) < jax.random.uniform(kp, (n,), minval=self.factor[0],
                                                                    maxval=self.factor[1])
        moves = jax.random.uniform(kd, (n, 4, 2), minval=-0.5 * self.scale, maxval=0.5 * self.scale)
        start = jnp.broadcast_to(jnp.asarray([[0.0, 0.0], [w - 1, 0.0], [0.0, h - 1], [w - 1, h - 1]]), (n, 4, 2))
        return {"apply_perspective": apply, "start_points": start, "end_points": start + start * moves}

    def transform(self, images, params):
        _, h, w, _ = images.shape
        t = homography(jnp.asarray(params["start_points"], jnp.float32),
                       jnp.asarray(params["end_points"], jnp.float32))[:, :, None, None]
        ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
        denom = t[:, 6] * xs + t[:, 7] * ys + 1.0
        src_x = (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / denom
        src_y = (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / denom
        warped = _resample(images, src_y, src_x, self.interpolation, "constant", self.fill_value)
        return jnp.where(jnp.asarray(params["apply_perspective"], bool)[:, None, None, None], warped, images)

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": self.scale,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomElasticTransform(_ImageAugmentation):
    """Elastic distortions during training (Simard et al., 2003): pixels move along a smoothed random field.

    With ``d`` drawn from ``scale`` (once per batch), the displacement field is Gaussian noise of standard
    deviation ``sigma = 0.05 d min(H, W)``, blurred with a Gaussian of that ``sigma``, times
    ``alpha = 0.1 d max(H, W)``. Each image is distorted with a probability drawn from ``factor``.

    Differences from Keras: the x and y fields are independent draws (Keras draws the same noise for
    both, so its pixels move only along the diagonal), and the blur window is sized for the largest
    ``sigma`` of the range (shapes must be static under jit), so for a ranged ``scale`` the blur is
    normalized over a wider window than Keras's. A fixed ``scale=(s, s)`` gives Keras's window.

    Args:
        factor: ``f`` (probabilities ``(0, f)``) or a pair, in [0, 1]; default 1.0.
        scale: ``s`` (``(0, s)``) or a pair, in [0, 1]: the distortion strength.
        interpolation, fill_mode, fill_value: as :class:`RandomShear`. value_range: the result is clipped to it.

    ``params = {"apply_transform": (N,) bool, "distortion_factor": (), "dx": (N, H, W), "dy": (N, H, W)}``
    (``dx``, ``dy``: standard normal noise).
    """

    def __init__(self, factor=1.0, scale=1.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                 value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = keras_factor("RandomElasticTransform", "factor", factor)
        self.scale = keras_factor("RandomElasticTransform", "scale", scale)
        self.interpolation = _choice("RandomElasticTransform", "interpolation", interpolation, tuple(INTERPOLATIONS))
        self.fill_mode = _choice("RandomElasticTransform", "fill_mode", fill_mode, FILL_MODES)
        if not _number(fill_value):
            raise ConfigError(f"RandomElasticTransform: fill_value must be a number, got {fill_value!r}.")
        self.fill_value = float(fill_value)
        self.value_range = value_range_arg("RandomElasticTransform", value_range)

    def random_params(self, key, shape):
        n, h, w = shape[0], shape[1], shape[2]
        kp, kt, ks, kx, ky = jax.random.split(key, 5)
        apply = jax.random.uniform(kt, (n,)) < jax.random.uniform(kp, (n,), minval=self.factor[0],
                                                                    maxval=self.factor[1])
        return {"apply_transform": apply,
                "distortion_factor": jax.random.uniform(ks, (), minval=self.scale[0], maxval=self.scale[1]),
                "dx": jax.random.normal(kx, (n, h, w)), "dy": jax.random.normal(ky, (n, h, w))}

    def transform(self, images, params):
        _, h, w, _ = images.shape
        if self.scale[1] == 0 or self.factor[1] == 0:
            return images
        d = jnp.asarray(params["distortion_factor"], images.dtype)
        alpha, sigma = max(h, w) * 0.1 * d, min(h, w) * 0.05 * d
        size = int(6 * min(h, w) * 0.05 * self.scale[1]) | 1
        kernel = gaussian_kernel(size, size, sigma, sigma, images.dtype)
        field = blur(jnp.stack([jnp.asarray(params["dx"], images.dtype), jnp.asarray(params["dy"], images.dtype)],
                               axis=-1) * sigma, kernel)
        ys, xs = jnp.meshgrid(jnp.arange(h, dtype=images.dtype), jnp.arange(w, dtype=images.dtype), indexing="ij")
        warped = _resample(images, ys + alpha * field[..., 1], xs + alpha * field[..., 0], self.interpolation,
                           self.fill_mode, self.fill_value)
        out = jnp.where(jnp.asarray(params["apply_transform"], bool)[:, None, None, None], warped, images)
        return jnp.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": list(self.factor), "scale": list(self.scale),
                "interpolation": self.interpolation, "fill_mode": self.fill_mode, "fill_value": self.fill_value,
                "value_range": list(self.value_range)}


__all__ = ["RandomElasticTransform", "RandomErasing", "RandomGaussianBlur", "RandomPerspective", "RandomShear"]
