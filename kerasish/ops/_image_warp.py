"""Geometric warps of ``keras.ops.image``: map_coordinates and the affine, perspective and elastic transforms.

Each output pixel reads the input at a computed (row, column) location through
``jax.scipy.ndimage.map_coordinates`` (order 0: nearest pixel, order 1: bilinear).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._image_filters import blur_nhwc
from kerasish.ops._image_util import choice, float_images, images_of_rank, resolve_data_format, to_nhwc
from kerasish.ops._util import float_tensor, tensor

__all__ = ["affine_transform", "elastic_transform", "map_coordinates", "perspective_transform"]

INTERPOLATION_ORDERS = {"nearest": 0, "bilinear": 1}
FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


@keras_op
def map_coordinates(inputs, coordinates, order, fill_mode="constant", fill_value=0):
    """``inputs`` read at ``coordinates`` by spline interpolation (``jax.scipy.ndimage.map_coordinates``).

    Args:
        inputs: an array of rank ``R``.
        coordinates: ``R`` arrays of one shape (or one array whose first axis has ``R`` entries): the location
            to read along each axis of ``inputs``, for every output element.
        order: ``0`` (the nearest element) or ``1`` (linear interpolation).
        fill_mode: how locations outside ``inputs`` read: ``"constant"`` (``fill_value``), ``"nearest"``
            (the edge element), ``"wrap"`` (periodic), ``"mirror"`` (about the edge element, ``c d c b | a b c d``)
            or ``"reflect"`` (about the edge, ``d c b a | a b c d``).
        fill_value: the value for ``"constant"``.

    Returns:
        An array of the coordinates' shape (less their first axis), in the dtype of ``inputs``.
    """
    inputs, coordinates = tensor(inputs), tensor(coordinates)
    if coordinates.ndim < 2:
        raise InputError(f"ops.image.map_coordinates: coordinates must have rank >= 2, got shape "
                         f"{coordinates.shape}.")
    if coordinates.shape[0] != inputs.ndim:
        raise InputError(f"ops.image.map_coordinates: the first axis of coordinates must have one entry per axis "
                         f"of inputs ({inputs.ndim}), got coordinates.shape={coordinates.shape}.")
    choice("map_coordinates", "fill_mode", fill_mode, FILL_MODES)
    if isinstance(order, bool) or order not in (0, 1):
        raise ConfigError(f"ops.image.map_coordinates: order must be 0 or 1, got {order!r}.")
    return _map_coordinates(inputs, coordinates, int(order), fill_mode, _number("map_coordinates", fill_value))


def _number(op: str, fill_value):
    """``fill_value`` as a Python number (``jax.scipy.ndimage`` needs it known when the warp is traced)."""
    try:
        return np.asarray(fill_value).item()
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        raise ConfigError(f"ops.image.{op}: fill_value must be one number known outside jit, "
                          f"got {fill_value!r}.") from None


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _map_coordinates(inputs, coordinates, order, fill_mode, fill_value):
    return jax.scipy.ndimage.map_coordinates(inputs, list(coordinates), order, fill_mode, fill_value)


def _sample(x, rows, cols, order: int, fill_mode: str, fill_value):
    """Each ``(H, W, C)`` image of the batch ``x`` read at its own ``rows``, ``cols`` (``(N, H', W')`` each)."""
    def plane(p, r, c):
        return jax.scipy.ndimage.map_coordinates(p, [r, c], order, fill_mode, fill_value)

    per_channel = jax.vmap(plane, in_axes=(-1, None, None), out_axes=-1)
    return jax.vmap(per_channel)(x, rows, cols)


def _projective_coordinates(transforms, height: int, width: int):
    """The input (rows, cols) each output pixel reads under ``(N, 8)`` projective transforms."""
    y, x = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
    k = c0 * x + c1 * y + 1.0
    return (b0 * x + b1 * y + b2) / k, (a0 * x + a1 * y + a2) / k


def _check_batch(op: str, transforms, images, name: str = "transform"):
    batch = 1 if images.ndim == 3 else images.shape[0]
    if transforms.shape[0] not in (1, batch):
        raise InputError(f"ops.image.{op}: {name} holds {transforms.shape[0]} transforms for {batch} images; give "
                         "one per image, or one for all.")


@keras_op
def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Images warped by projective transforms, given as output-to-input maps.

    A transform ``[a0, a1, a2, b0, b1, b2, c0, c1]`` fills output pixel ``(x, y)`` (column, row) from input
    location ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`` with ``k = c0 x + c1 y + 1``.

    Args:
        images: one image (rank 3) or a batch (rank 4).
        transform: one transform (8 numbers) for all images, or ``(N, 8)``, one per image.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"constant"``, ``"nearest"``, ``"wrap"``, ``"mirror"`` or ``"reflect"``
            (see :func:`map_coordinates`).
        fill_value: the value of outside pixels for ``"constant"``.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Keras's JAX backend ignores ``c0, c1`` (it documents them as TensorFlow-only, and adds ``c * c0`` and
    ``c * c1`` to the location of channel ``c`` instead); here they apply, as with TensorFlow. It also refuses a
    single transform for a batch of several images, which here applies to each.

    Returns:
        The warped images, shape and dtype of the input.

    Example:
        >>> shift = [1, 0, -2, 0, 1, -1, 0, 0]   # move the content 2 columns right, 1 row down
        >>> affine_transform(np.ones((8, 8, 3)), shift).shape
        (8, 8, 3)
    """
    fmt = resolve_data_format("affine_transform", data_format)
    order = INTERPOLATION_ORDERS[choice("affine_transform", "interpolation", interpolation, INTERPOLATION_ORDERS)]
    choice("affine_transform", "fill_mode", fill_mode, FILL_MODES)
    images = images_of_rank("affine_transform", images)
    transform = float_tensor(transform)
    if transform.ndim not in (1, 2) or transform.shape[-1] != 8:
        raise InputError(f"ops.image.affine_transform: transform must have shape (8,) or (N, 8), got "
                         f"{transform.shape}.")
    transform = transform.reshape(-1, 8)
    _check_batch("affine_transform", transform, images)
    return _warp(images, transform, _number("affine_transform", fill_value), order, fill_mode, fmt)


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _warp(images, transforms, fill_value, order, fill_mode, fmt):
    x, restore = to_nhwc(images, fmt)
    transforms = jnp.broadcast_to(transforms, (x.shape[0], 8))
    rows, cols = _projective_coordinates(transforms, x.shape[1], x.shape[2])
    return restore(_sample(x, rows, cols, order, fill_mode, fill_value))


def _homographies(start_points, end_points):
    """``(N, 8)`` projective transforms mapping each of the 4 ``end_points`` onto its ``start_point``."""
    ex, ey = end_points[..., 0], end_points[..., 1]
    sx, sy = start_points[..., 0], start_points[..., 1]
    zero, one = jnp.zeros_like(ex), jnp.ones_like(ex)
    # s = (h0 e_x + h1 e_y + h2) / (h6 e_x + h7 e_y + 1), linear in h once multiplied out
    rows_x = jnp.stack([ex, ey, one, zero, zero, zero, -sx * ex, -sx * ey], axis=-1)
    rows_y = jnp.stack([zero, zero, zero, ex, ey, one, -sy * ex, -sy * ey], axis=-1)
    system = jnp.concatenate([rows_x, rows_y], axis=-2)
    target = jnp.concatenate([sx, sy], axis=-1)
    return jnp.linalg.solve(system, target[..., None])[..., 0]


@keras_op
def perspective_transform(images, start_points, end_points, interpolation="bilinear", fill_value=0,
                          data_format=None):
    """Images warped by the perspective transform that moves ``start_points`` to ``end_points``.

    Args:
        images: one image (rank 3) or a batch (rank 4).
        start_points: ``(4, 2)`` or ``(N, 4, 2)``: four ``(x, y)`` points of the input.
        end_points: the same shape: where those points go in the output.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_value: the value of output pixels that come from outside the input.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    One set of points applies to every image of a batch (Keras's JAX backend refuses it).

    Returns:
        The warped images, shape and dtype of the input.
    """
    fmt = resolve_data_format("perspective_transform", data_format)
    order = INTERPOLATION_ORDERS[choice("perspective_transform", "interpolation", interpolation,
                                        INTERPOLATION_ORDERS)]
    images = images_of_rank("perspective_transform", images)
    start_points, end_points = tensor(start_points, jnp.float32), tensor(end_points, jnp.float32)
    for name, points in (("start_points", start_points), ("end_points", end_points)):
        if points.ndim not in (2, 3) or points.shape[-2:] != (4, 2):
            raise InputError(f"ops.image.perspective_transform: {name} must have shape (4, 2) or (N, 4, 2), got "
                             f"{points.shape}.")
    if start_points.shape != end_points.shape:
        raise InputError(f"ops.image.perspective_transform: start_points and end_points must have the same shape, "
                         f"got {start_points.shape} and {end_points.shape}.")
    start_points, end_points = start_points.reshape(-1, 4, 2), end_points.reshape(-1, 4, 2)
    _check_batch("perspective_transform", start_points, images, "start_points")
    return _perspective(images, start_points, end_points, _number("perspective_transform", fill_value), order, fmt)


@functools.partial(jax.jit, static_argnums=(3, 4, 5))
def _perspective(images, start_points, end_points, fill_value, order, fmt):
    return _warp(images, _homographies(start_points, end_points), fill_value, order, "constant", fmt)


def smooth_field(noise, sigma: float):
    """A displacement field: white ``noise`` ``(N, H, W)`` times ``sigma``, blurred by a ``sigma`` Gaussian."""
    size = int(6 * sigma) | 1
    noise = noise.astype(jnp.promote_types(noise.dtype, jnp.float32))
    return blur_nhwc((noise * sigma)[..., None], (size, size), (sigma, sigma))[..., 0]


def elastic_warp(x, dx, dy, alpha, order: int, fill_mode: str, fill_value):
    """The ``(N, H, W, C)`` batch ``x`` with output pixel ``(i, j)`` read at ``(i + alpha dy, j + alpha dx)``."""
    _, height, width, _ = x.shape
    y, x_grid = jnp.meshgrid(jnp.arange(height), jnp.arange(width), indexing="ij")
    alpha = jnp.asarray(alpha, jnp.promote_types(x.dtype, jnp.float32))
    return _sample(x, y + alpha * dy, x_grid + alpha * dx, order, fill_mode, fill_value).astype(x.dtype)


@keras_op
def elastic_transform(images, alpha=20.0, sigma=5.0, interpolation="bilinear", fill_mode="reflect", fill_value=0.0,
                      seed=None, data_format=None):
    """Images deformed by a random smooth displacement field (Simard et al. 2003).

    Each pixel of each image moves by ``alpha`` times a field of white noise (scaled by ``sigma``) blurred by a
    Gaussian of standard deviation ``sigma`` (kernel ``int(6 sigma) | 1`` wide), as Keras computes it.

    Args:
        images: one float image (rank 3) or a batch (rank 4).
        alpha: the strength of the deformation.
        sigma: the smoothness of the field (a Python number).
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"reflect"``, ``"constant"``, ``"nearest"``, ``"wrap"`` or ``"mirror"`` for locations
            outside the image (see :func:`map_coordinates`).
        fill_value: the value for ``"constant"``.
        seed: an int, a ``kerasish.random.SeedGenerator``, a JAX key, or None (see ``kerasish.random``).
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    The horizontal and vertical fields are drawn independently. Keras's JAX (and TensorFlow) backend draws
    both from one key, so every pixel moves along the diagonal; its NumPy and torch backends draw two.
    The numbers differ from Keras's for the same int seed (kerasish seeds every random op its own way).

    Returns:
        The deformed images, shape and dtype of the input.
    """
    from kerasish.random import draw_seed

    fmt = resolve_data_format("elastic_transform", data_format)
    order = INTERPOLATION_ORDERS[choice("elastic_transform", "interpolation", interpolation, INTERPOLATION_ORDERS)]
    choice("elastic_transform", "fill_mode", fill_mode, FILL_MODES)
    images = float_images("elastic_transform", images_of_rank("elastic_transform", images))
    try:
        sigma = float(sigma)
    except (TypeError, jax.errors.ConcretizationTypeError):
        raise ConfigError(f"ops.image.elastic_transform: sigma must be a number known outside jit, "
                          f"got {sigma!r}.") from None
    if sigma <= 0:
        raise ConfigError(f"ops.image.elastic_transform: sigma must be > 0, got {sigma!r}.")
    fill_value = _number("elastic_transform", fill_value)
    batch_hw = (1, *images.shape[:2]) if images.ndim == 3 else images.shape[:3]
    if fmt == "channels_first":
        batch_hw = (1, *images.shape[1:]) if images.ndim == 3 else (images.shape[0], *images.shape[2:])
    # drawn outside the jitted warp: jax.random.normal's own compiled draw is reused for every call of this shape
    noise = [jax.random.normal(key, batch_hw, images.dtype) for key in jax.random.split(draw_seed(seed))]
    return _elastic(images, *noise, alpha, fill_value, sigma, order, fill_mode, fmt)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7, 8))
def _elastic(images, noise_x, noise_y, alpha, fill_value, sigma, order, fill_mode, fmt):
    x, restore = to_nhwc(images, fmt)
    dx, dy = smooth_field(noise_x, sigma), smooth_field(noise_y, sigma)
    return restore(elastic_warp(x, dx, dy, alpha, order, fill_mode, fill_value))
