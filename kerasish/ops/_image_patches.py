"""Patch extraction of ``keras.ops.image``: every patch of an image (or volume) flattened into the channels.

Keras computes this as a convolution with an identity kernel; here each patch position is a strided slice, so
the values are copied exactly, for every dtype and on every device (a float32 convolution on a GPU may round
through TF32).
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._image_util import choice, resolve_data_format
from kerasish.ops._util import tensor

__all__ = ["extract_patches", "extract_patches_3d"]


def _tuple(op: str, name: str, value, n: int) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, (tuple, list)) or len(value) != n or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value):
        raise ConfigError(f"ops.image.{op}: {name} must be a positive int or a tuple of {n} of them, got {value!r}.")
    return tuple(int(v) for v in value)


def _patches(op: str, images, size, strides, dilation_rate, padding, data_format, n: int):
    """Patches over the ``n`` spatial axes of a batch (rank n + 2) or one item (rank n + 1)."""
    fmt = resolve_data_format(op, data_format)
    size = _tuple(op, "size", size, n)
    strides = _tuple(op, "strides", size if strides is None else strides, n)
    dilation = _tuple(op, "dilation_rate", dilation_rate, n)
    padding = choice(op, "padding", str(padding).lower(), ("valid", "same"))
    images = tensor(images)
    if images.ndim not in (n + 1, n + 2):
        raise InputError(f"ops.image.{op}: images must have rank {n + 1} (one item) or {n + 2} (a batch) for "
                         f"patches of size {size}, got shape {images.shape}.")
    spatial = images.shape[-n - 1:-1] if fmt == "channels_last" else images.shape[-n:]
    windows = [(k - 1) * d + 1 for k, d in zip(size, dilation)]
    pads = tuple(jax.lax.padtype_to_pads(spatial, windows, strides, padding.upper()))
    out = [(s + lo + hi - w) // st + 1 for s, (lo, hi), w, st in zip(spatial, pads, windows, strides)]
    if min(out) <= 0:
        raise InputError(f"ops.image.{op}: patches of size {size} (dilation {dilation}) do not fit in images of "
                         f"spatial shape {tuple(spatial)} with padding={padding!r}.")
    return _extract(images, size, strides, dilation, pads, tuple(out), fmt)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6))
def _extract(images, size, strides, dilation, pads, out, fmt):
    unbatched = images.ndim == len(size) + 1
    x = images[None] if unbatched else images
    if fmt == "channels_first":
        x = jnp.moveaxis(x, 1, -1)
    x = jnp.pad(x, [(0, 0), *pads, (0, 0)])
    # one strided slice per position inside the patch; the channels of a patch are ordered
    # (position along each axis in turn, then channel), as Keras's identity-kernel convolution orders them
    pieces = []
    for offset in _positions(size):
        start = [0, *(o * d for o, d in zip(offset, dilation)), 0]
        limit = [x.shape[0], *(b + (m - 1) * st + 1 for b, m, st in zip(start[1:-1], out, strides)), x.shape[-1]]
        pieces.append(jax.lax.slice(x, start, limit, [1, *strides, 1]))
    patches = jnp.concatenate(pieces, axis=-1)
    if fmt == "channels_first":
        patches = jnp.moveaxis(patches, -1, 1)
    return patches[0] if unbatched else patches


def _positions(size):
    if not size:
        yield ()
        return
    for first in range(size[0]):
        for rest in _positions(size[1:]):
            yield (first, *rest)


@keras_op
def extract_patches(images, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of images (``size`` of length 2 or an int) or of volumes (``size`` of length 3).

    Args:
        images: ``(H, W, C)`` or ``(N, H, W, C)`` for 2D patches; ``(D, H, W, C)`` or ``(N, D, H, W, C)`` for 3D
            (channels first: the channel axis before the spatial ones).
        size: the patch size, an int (2D) or a tuple of 2 or 3 ints.
        strides: the step between patches; by default ``size`` (patches that do not overlap).
        dilation_rate: the step between the pixels of a patch.
        padding: ``"valid"`` (whole patches only) or ``"same"`` (zero padding, ``ceil(size / stride)`` patches).
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Returns:
        For each patch position, the patch's pixels flattened into the channel axis (``prod(size) * C``
        channels, ordered by position then channel).

    Example:
        >>> extract_patches(np.zeros((2, 20, 20, 3)), (5, 5)).shape
        (2, 4, 4, 75)
    """
    if not isinstance(size, numbers.Integral) and (not isinstance(size, (tuple, list)) or len(size) not in (2, 3)):
        raise ConfigError(f"ops.image.extract_patches: size must be an int or a tuple of 2 or 3 ints, got {size!r}.")
    n = 2 if isinstance(size, numbers.Integral) else len(size)
    if n == 2 and not strides:
        strides = None
    return _patches("extract_patches", images, size, strides, dilation_rate, padding, data_format, n)


@keras_op
def extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding="valid", data_format=None):
    """Patches of volumes: :func:`extract_patches` with a 3D ``size`` (an int means a cube).

    Args:
        volumes: ``(D, H, W, C)`` or ``(N, D, H, W, C)`` (channels first: ``(..., C, D, H, W)``).
        size: an int or ``(patch_depth, patch_height, patch_width)``.
        strides: the step between patches; by default ``size``.
        dilation_rate: the step between the voxels of a patch.
        padding: ``"valid"`` or ``"same"``.
        data_format: ``"channels_last"`` or ``"channels_first"``; by default the global image data format.

    Example:
        >>> extract_patches_3d(np.zeros((2, 10, 10, 10, 3)), 3).shape
        (2, 3, 3, 3, 81)
    """
    return _patches("extract_patches_3d", volumes, size, strides, dilation_rate, padding, data_format, 3)
