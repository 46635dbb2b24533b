"""Color-space conversions of ``keras.ops.image``: RGB to grayscale, RGB to HSV and back."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from kerasish.errors import InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._image_util import channel_axis, float_images, images_of_rank, resolve_data_format
from kerasish.ops._util import floatx

__all__ = ["hsv_to_rgb", "rgb_to_grayscale", "rgb_to_hsv"]

# ITU-R BT.601 luma weights, as tf.image.rgb_to_grayscale and Keras use them
_LUMA = (0.2989, 0.5870, 0.1140)


@keras_op
def rgb_to_grayscale(images, data_format=None):
    """Grayscale images from RGB ones: the BT.601 luma ``0.2989 R + 0.587 G + 0.114 B``.

    Args:
        images: one image ``(H, W, 3)`` or a batch ``(N, H, W, 3)`` (channels first: ``(..., 3, H, W)``).
            Images with one channel are returned as they are.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        The images with one channel, in the input's dtype (integer images are truncated, as in Keras).

    Example:
        >>> rgb_to_grayscale(np.ones((4, 4, 3))).shape
        (4, 4, 1)
    """
    fmt = resolve_data_format("rgb_to_grayscale", data_format)
    images = images_of_rank("rgb_to_grayscale", images)
    axis = channel_axis(images.ndim, fmt)
    if images.shape[axis] not in (1, 3):
        raise InputError(f"ops.image.rgb_to_grayscale: images must have 1 or 3 channels (axis {axis}), "
                         f"got shape {images.shape}.")
    if images.shape[axis] == 1:
        return images
    compute = images.dtype if jnp.issubdtype(images.dtype, jnp.floating) else jnp.dtype(floatx())
    return _grayscale(images, axis, compute)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _grayscale(images, axis, compute):
    gray = jnp.tensordot(images.astype(compute), jnp.asarray(_LUMA, compute), axes=(axis, 0))
    return jnp.expand_dims(gray, axis).astype(images.dtype)


@keras_op
def rgb_to_hsv(images, data_format=None):
    """HSV images from RGB ones; every channel of the result lies in ``[0, 1]`` (hue as a fraction of a turn).

    Args:
        images: one float image or a batch of them, with 3 channels holding R, G, B in ``[0, 1]``.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        The images with channels hue, saturation, value, in the input's dtype.
    """
    fmt = resolve_data_format("rgb_to_hsv", data_format)
    images = float_images("rgb_to_hsv", images_of_rank("rgb_to_hsv", images))
    return _rgb_to_hsv(images, channel_axis(images.ndim, fmt))


@functools.partial(jax.jit, static_argnums=1)
def _rgb_to_hsv(images, axis):
    # values within one machine epsilon of zero count as zero, so that noise around black has no hue
    images = jnp.where(jnp.abs(images) < jnp.finfo(images.dtype).eps, 0.0, images).astype(images.dtype)
    r, g, b = (jnp.take(images, i, axis=axis) for i in range(3))
    value = jnp.maximum(jnp.maximum(r, g), b)
    spread = value - jnp.minimum(jnp.minimum(r, g), b)
    saturation = jnp.where(value > 0, spread / jnp.where(value > 0, value, 1.0), 0.0)
    # hue in sixths of a turn, measured from the largest channel (red wins ties, then green)
    scale = 1.0 / (6.0 * jnp.where(spread > 0, spread, 1.0))
    hue = jnp.where(value == r, scale * (g - b),
                    jnp.where(value == g, scale * (b - r) + 2.0 / 6.0, scale * (r - g) + 4.0 / 6.0))
    hue = jnp.where(spread > 0, hue, 0.0) + (hue < 0).astype(hue.dtype)
    return jnp.stack([hue, saturation, value], axis=axis).astype(images.dtype)


@keras_op
def hsv_to_rgb(images, data_format=None):
    """RGB images from HSV ones (the inverse of :func:`rgb_to_hsv`).

    Args:
        images: one float image or a batch of them, with 3 channels holding hue, saturation, value in ``[0, 1]``.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        The images with channels R, G, B, in the input's dtype.
    """
    fmt = resolve_data_format("hsv_to_rgb", data_format)
    images = float_images("hsv_to_rgb", images_of_rank("hsv_to_rgb", images))
    return _hsv_to_rgb(images, channel_axis(images.ndim, fmt))


@functools.partial(jax.jit, static_argnums=1)
def _hsv_to_rgb(images, axis):
    hue, saturation, value = (jnp.take(images, i, axis=axis) for i in range(3))
    sixths = jnp.mod(hue, 1.0) * 6.0
    # each channel's share as a piecewise-linear function of the hue
    shares = (jnp.clip(jnp.abs(sixths - 3.0) - 1.0, 0.0, 1.0),
              jnp.clip(2.0 - jnp.abs(sixths - 2.0), 0.0, 1.0),
              jnp.clip(2.0 - jnp.abs(sixths - 4.0), 0.0, 1.0))
    rgb = [value * ((1.0 - saturation) + saturation * share) for share in shares]
    return jnp.stack(rgb, axis=axis).astype(images.dtype)

