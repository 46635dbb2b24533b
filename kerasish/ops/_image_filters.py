"""Filters of ``keras.ops.image``: Gaussian blur, Sobel edges and SSIM, as depthwise ``jax.lax`` convolutions."""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._image_util import float_images, images_of_rank, resolve_data_format, to_nhwc
from kerasish.ops._util import floatx

__all__ = ["gaussian_blur", "sobel_edges", "ssim"]


def depthwise(x, kernel, padding: str):
    """Every channel of an ``(N, H, W, C)`` batch correlated with the same 2D ``kernel``."""
    channels = x.shape[-1]
    weights = jnp.broadcast_to(kernel.astype(x.dtype)[:, :, None, None], (*kernel.shape, 1, channels))
    return jax.lax.conv_general_dilated(x, weights, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=channels, precision=jax.lax.Precision.HIGHEST)


def gaussian_1d(size: int, sigma, dtype):
    """A normalized Gaussian of ``size`` taps centered on the middle one."""
    x = jnp.arange(size, dtype=dtype) - jnp.asarray((size - 1) / 2, dtype)
    taps = jnp.exp(-0.5 * (x / jnp.asarray(sigma, dtype)) ** 2)
    return taps / jnp.sum(taps)


def _pair(op: str, name: str, value, kind):
    if isinstance(value, (numbers.Real, jax.Array)) and not isinstance(value, bool) and jnp.ndim(value) == 0:
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ConfigError(f"ops.image.{op}: {name} must be a pair (or one number), got {value!r}.")
    if kind is int and not all(isinstance(v, numbers.Integral) and v > 0 for v in value):
        raise ConfigError(f"ops.image.{op}: {name} must hold positive ints, got {value!r}.")
    return tuple(value)


def blur_nhwc(x, kernel_size, sigma):
    """Gaussian blur of an ``(N, H, W, C)`` float batch, zero padded to keep its size."""
    # Keras's JAX backend builds the rows of the kernel from the second entries and the columns from the first
    rows = gaussian_1d(kernel_size[1], sigma[1], x.dtype)
    cols = gaussian_1d(kernel_size[0], sigma[0], x.dtype)
    return depthwise(x, jnp.outer(rows, cols), "SAME")


@keras_op
def gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None):
    """Images blurred by a Gaussian kernel (zero padding, same size out).

    Args:
        images: one float image (rank 3) or a batch (rank 4).
        kernel_size: two ints, the kernel's extent (an int: both).
        sigma: two floats, the Gaussian's standard deviations (a float: both).
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    As in Keras's JAX backend, the first entries of ``kernel_size`` and ``sigma`` apply along the width and the
    second along the height (Keras documents ``(height, width)``; it matters only for unequal pairs). And
    unlike Keras's JAX backend, ``data_format=None`` means the global image data format here (Keras 3.15 then
    treats the images as channels first).

    Returns:
        The blurred images, shape and dtype of the input.
    """
    fmt = resolve_data_format("gaussian_blur", data_format)
    kernel_size = _pair("gaussian_blur", "kernel_size", kernel_size, int)
    sigma = _pair("gaussian_blur", "sigma", sigma, float)
    images = float_images("gaussian_blur", images_of_rank("gaussian_blur", images))
    return _blur(images, sigma, kernel_size, fmt)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _blur(images, sigma, kernel_size, fmt):
    x, restore = to_nhwc(images, fmt)
    return restore(blur_nhwc(x, kernel_size, sigma))


_SOBEL = ((-1, 0, 1), (-2, 0, 2), (-1, 0, 1))


@keras_op
def sobel_edges(images, data_format=None):
    """The Sobel gradients of a batch of images: ``[dy, dx]`` stacked on a new last axis (zero padding).

    Args:
        images: ``(N, H, W, C)`` (or ``(N, C, H, W)`` channels first), a float or signed integer dtype.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        ``images.shape + (2,)``: the vertical then the horizontal gradient of every channel.

    Example:
        >>> sobel_edges(np.zeros((1, 8, 8, 1))).shape
        (1, 8, 8, 1, 2)
    """
    fmt = resolve_data_format("sobel_edges", data_format)
    images = images_of_rank("sobel_edges", images, ranks=(4,))
    if not (jnp.issubdtype(images.dtype, jnp.floating) or jnp.issubdtype(images.dtype, jnp.signedinteger)):
        raise InputError(f"ops.image.sobel_edges: images must have a float or signed integer dtype, "
                         f"got {images.dtype}.")
    return _sobel(images, fmt)


@functools.partial(jax.jit, static_argnums=1)
def _sobel(images, fmt):
    x, restore = to_nhwc(images, fmt)
    kernel = jnp.asarray(_SOBEL, x.dtype)
    dy, dx = depthwise(x, kernel.T, "SAME"), depthwise(x, kernel, "SAME")
    return jnp.stack([restore(dy), restore(dx)], axis=-1)


@keras_op
def ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, data_format=None):
    """The structural similarity (Wang et al. 2004) of two images, averaged over pixels and channels.

    Local means, variances and the covariance come from a ``filter_size`` Gaussian window over the
    whole-window positions (no padding), per channel.

    Args:
        image1, image2: images of the same shape, one (rank 3) or a batch (rank 4), at least
            ``filter_size`` pixels high and wide.
        max_val: the range of the pixel values (``1.0`` for ``[0, 1]`` images, ``255.0`` for bytes).
        filter_size: the (odd) extent of the Gaussian window.
        filter_sigma: its standard deviation.
        k1, k2: the stabilizing constants.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        A scalar (one image pair) or one value per pair of the batch, in ``image1``'s dtype (as in Keras,
        integer images give the SSIM truncated to an integer: cast them to float first).
    """
    fmt = resolve_data_format("ssim", data_format)
    image1 = images_of_rank("ssim", image1, arg="image1")
    image2 = images_of_rank("ssim", image2, arg="image2")
    if image1.shape != image2.shape:
        raise InputError(f"ops.image.ssim: image1 and image2 must have the same shape, got {image1.shape} and "
                         f"{image2.shape}.")
    if isinstance(filter_size, bool) or not isinstance(filter_size, numbers.Integral) or filter_size < 1:
        raise ConfigError(f"ops.image.ssim: filter_size must be a positive int, got {filter_size!r}.")
    spatial = image1.shape[-3:-1] if fmt == "channels_last" else image1.shape[-2:]
    if min(spatial) < filter_size:
        raise InputError(f"ops.image.ssim: the images ({image1.shape}) must be at least filter_size={filter_size} "
                         "pixels high and wide.")
    compute = image1.dtype if jnp.issubdtype(image1.dtype, jnp.floating) else jnp.dtype(floatx())
    return _ssim(image1, image2, max_val, filter_sigma, k1, k2, int(filter_size), fmt, compute)


@functools.partial(jax.jit, static_argnums=(6, 7, 8))
def _ssim(image1, image2, max_val, filter_sigma, k1, k2, filter_size, fmt, compute):
    source_dtype = image1.dtype
    x, _ = to_nhwc(image1.astype(compute), fmt)
    y, _ = to_nhwc(image2.astype(compute), fmt)
    taps = gaussian_1d(filter_size, filter_sigma, compute)
    window = jnp.outer(taps, taps)

    def local_mean(v):
        return depthwise(v, window, "VALID")

    mean_x, mean_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mean_x * mean_x
    var_y = local_mean(y * y) - mean_y * mean_y
    cov = local_mean(x * y) - mean_x * mean_y
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    index = ((2.0 * mean_x * mean_y + c1) * (2.0 * cov + c2)) / ((mean_x ** 2 + mean_y ** 2 + c1) * (var_x + var_y + c2))
    value = jnp.mean(index, axis=(1, 2, 3))
    return (value[0] if image1.ndim == 3 else value).astype(source_dtype)

