"""Size changes of ``keras.ops.image``: resize, scale_and_translate, pad_images, crop_images (on ``jax.image``)."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._image_util import choice, images_of_rank, resolve_data_format, spatial_axes
from kerasish.ops._util import tensor
from kerasish.ops.core import saturate_cast

__all__ = ["crop_images", "pad_images", "resize", "scale_and_translate"]

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")
SCALE_AND_TRANSLATE_METHODS = ("linear", "bilinear", "trilinear", "cubic", "bicubic", "tricubic", "lanczos3",
                               "lanczos5")


@keras_op
def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Images resized to ``size = (height, width)`` with ``jax.image.resize``.

    Args:
        images: one image (rank 3) or a batch (rank 4).
        size: ``(height, width)`` of the result.
        interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"lanczos3"`` or ``"lanczos5"``.
        antialias: filter when downsampling (not for ``"nearest"``).
        crop_to_aspect_ratio: first crop the largest centered window with the target's aspect ratio.
        pad_to_aspect_ratio: first pad the short side to the target's aspect ratio, the same number of rows
            (or columns) on both sides (so an odd difference leaves one short, as in Keras).
        fill_mode: the padding mode; only ``"constant"``.
        fill_value: the value of the padding.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        The resized images, in the input's dtype (integer images are rounded and clipped to their range).

    Example:
        >>> resize(np.zeros((2, 8, 8, 3)), (4, 6)).shape
        (2, 4, 6, 3)
    """
    fmt = resolve_data_format("resize", data_format)
    choice("resize", "interpolation", interpolation, RESIZE_INTERPOLATIONS)
    choice("resize", "fill_mode", fill_mode, ("constant",))
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise ConfigError(f"ops.image.resize: size must be (height, width), got {size!r}.")
    height, width = (int(s) for s in size)
    if height <= 0 or width <= 0:
        raise ConfigError(f"ops.image.resize: size must have a positive height and width, got {size!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ConfigError("ops.image.resize: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True.")
    images = images_of_rank("resize", images)
    source_dtype = images.dtype
    h_axis, w_axis = spatial_axes(images.ndim, fmt)
    in_h, in_w = images.shape[h_axis], images.shape[w_axis]
    if crop_to_aspect_ratio:
        crop_h = max(min(in_h, int(float(in_w * height) / width)), 1)
        crop_w = max(min(in_w, int(float(in_h * width) / height)), 1)
        top, left = int(float(in_h - crop_h) / 2), int(float(in_w - crop_w) / 2)
        images = jax.lax.slice_in_dim(images, top, top + crop_h, axis=h_axis)
        images = jax.lax.slice_in_dim(images, left, left + crop_w, axis=w_axis)
    elif pad_to_aspect_ratio:
        top = int(float(max(in_h, int(float(in_w * height) / width)) - in_h) / 2)
        left = int(float(max(in_w, int(float(in_h * width) / height)) - in_w) / 2)
        if not jnp.issubdtype(images.dtype, jnp.floating):
            images = images.astype(jnp.float32)  # the fill value need not be an integer
        pads = [(0, 0)] * images.ndim
        if top > 0:
            pads[h_axis] = (top, top)
        elif left > 0:
            pads[w_axis] = (left, left)
        images = jnp.pad(images, pads, constant_values=jnp.asarray(fill_value, images.dtype))
    shape = list(images.shape)
    shape[h_axis], shape[w_axis] = height, width
    out = jax.image.resize(images, tuple(shape), method=interpolation, antialias=antialias)
    if out.dtype == source_dtype:
        return out
    if jnp.issubdtype(source_dtype, jnp.integer):
        out = jnp.round(out)
    return saturate_cast(out, source_dtype)


@keras_op
def scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias=True):
    """``jax.image.scale_and_translate``: resample ``images`` into ``output_shape`` under a scale and a shift.

    An input location ``x`` along ``spatial_dims[i]`` lands at ``x * scale[i] + translation[i]`` in the output
    (pixel centers at half-integers); output samples that come from outside the input are zero.

    Args:
        images: an array of any rank.
        output_shape: the result's shape, one entry per axis of ``images``.
        scale: ``K`` scale factors, one per spatial axis.
        translation: ``K`` shifts, one per spatial axis.
        spatial_dims: the ``K`` axes that are scaled and shifted.
        method: ``"linear"``/``"bilinear"``/``"trilinear"``, ``"cubic"``/``"bicubic"``/``"tricubic"``,
            ``"lanczos3"`` or ``"lanczos5"``.
        antialias: filter when downsampling.

    Returns:
        The resampled array (integer inputs give float32, as in ``jax.image``).
    """
    choice("scale_and_translate", "method", method, SCALE_AND_TRANSLATE_METHODS)
    return jax.image.scale_and_translate(tensor(images), tuple(int(d) for d in output_shape), tuple(spatial_dims),
                                         tensor(scale), tensor(translation), method, antialias)


def _amount(op: str, name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"ops.image.{op}: {name} must be an int or None, got {value!r}.")
    if value < 0:
        raise ConfigError(f"ops.image.{op}: {name} must be >= 0, got {value!r}.")
    return int(value)


def _two_of_three(op: str, names: tuple[str, str, str], values: tuple) -> tuple:
    values = tuple(_amount(op, n, v) for n, v in zip(names, values))
    if values.count(None) != 1:
        given = ", ".join(f"{n}={v!r}" for n, v in zip(names, values))
        raise ConfigError(f"ops.image.{op}: give exactly two of {', '.join(names)}; got {given}.")
    return values


@keras_op
def pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, right_padding=None,
               target_height=None, target_width=None, data_format=None):
    """Images padded with zeros: on each axis give two of (first padding, last padding, target size).

    Args:
        images: one image (rank 3) or a batch (rank 4).
        top_padding, bottom_padding: rows of zeros above and below.
        left_padding, right_padding: columns of zeros on the left and right.
        target_height, target_width: the size of the result.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Example:
        >>> pad_images(np.ones((15, 25, 3)), 2, 3, target_height=20, target_width=30).shape
        (20, 30, 3)
    """
    fmt = resolve_data_format("pad_images", data_format)
    images = images_of_rank("pad_images", images)
    top, bottom, height = _two_of_three("pad_images", ("top_padding", "bottom_padding", "target_height"),
                                        (top_padding, bottom_padding, target_height))
    left, right, width = _two_of_three("pad_images", ("left_padding", "right_padding", "target_width"),
                                       (left_padding, right_padding, target_width))
    h_axis, w_axis = spatial_axes(images.ndim, fmt)
    pads = [(0, 0)] * images.ndim
    pads[h_axis] = _split("pad_images", ("top_padding", "bottom_padding"), top, bottom,
                          None if height is None else height - images.shape[h_axis])
    pads[w_axis] = _split("pad_images", ("left_padding", "right_padding"), left, right,
                          None if width is None else width - images.shape[w_axis])
    return jnp.pad(images, pads)


@keras_op
def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """Images cropped: on each axis give two of (first cropping, last cropping, target size).

    Args:
        images: one image (rank 3) or a batch (rank 4).
        top_cropping, bottom_cropping: rows removed at the top and bottom.
        left_cropping, right_cropping: columns removed on the left and right.
        target_height, target_width: the size of the result.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    A window that reaches past the image is an error here (Keras's JAX backend shifts it back inside).

    Example:
        >>> crop_images(np.ones((3, 3, 3)), 0, 0, 2, 2).shape   # top, left, bottom, right
        (1, 1, 3)
    """
    fmt = resolve_data_format("crop_images", data_format)
    images = images_of_rank("crop_images", images)
    top, bottom, height = _two_of_three("crop_images", ("top_cropping", "bottom_cropping", "target_height"),
                                        (top_cropping, bottom_cropping, target_height))
    left, right, width = _two_of_three("crop_images", ("left_cropping", "right_cropping", "target_width"),
                                       (left_cropping, right_cropping, target_width))
    for axis, (first, last, size), names in zip(
            spatial_axes(images.ndim, fmt), ((top, bottom, height), (left, right, width)),
            (("top_cropping", "bottom_cropping", "target_height"),
             ("left_cropping", "right_cropping", "target_width"))):
        extent = images.shape[axis]
        if size is None:
            size = extent - first - last
        elif first is None:
            first = extent - size - last
        if first < 0 or size < 0 or first + size > extent:
            raise InputError(f"ops.image.crop_images: {names[0]}={first} and {names[2]}={size} do not fit in an "
                             f"image axis of size {extent} (images.shape={images.shape}).")
        images = jax.lax.slice_in_dim(images, first, first + size, axis=axis)
    return images


def _split(op: str, names: tuple[str, str], first, last, total):
    """(first, last) amounts from two of (first, last, first + last)."""
    if first is None:
        first = total - last
    if last is None:
        last = total - first
    for name, value in zip(names, (first, last)):
        if value < 0:
            raise InputError(f"ops.image.{op}: the image is larger than the target size, which needs "
                             f"{name}={value}.")
    return first, last
