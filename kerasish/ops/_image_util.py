"""What the ``kerasish.ops.image`` modules share: the data format, argument checks, and the batch axis."""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.ops._util import data_format_or_default, tensor


def resolve_data_format(op: str, value) -> str:
    """``value`` checked, or the global image data format when it is None (``"channels_last"`` by default)."""
    return data_format_or_default(value, f"image.{op}")


def choice(op: str, arg: str, value, valid) -> str:
    if value not in valid:
        raise ConfigError(f"ops.image.{op}: {arg} must be one of {sorted(valid)}, got {value!r}.")
    return value


def images_of_rank(op: str, images, ranks=(3, 4), arg: str = "images"):
    """``images`` as an array, checked to be an unbatched (rank 3) or batched (rank 4) image."""
    images = tensor(images)
    if images.ndim not in ranks:
        kinds = "3 or 4 (one image or a batch)" if tuple(ranks) == (3, 4) else " or ".join(str(r) for r in ranks)
        raise InputError(f"ops.image.{op}: {arg} must have rank {kinds}, got shape {images.shape}.")
    return images


def float_images(op: str, images, arg: str = "images"):
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise InputError(f"ops.image.{op}: {arg} must have a float dtype, got {images.dtype}.")
    return images


def to_nhwc(images, fmt: str):
    """A batch in ``(N, H, W, C)`` layout and the function that puts a result back into the caller's layout."""
    unbatched = images.ndim == 3
    if unbatched:
        images = images[None]
    if fmt == "channels_first":
        images = jnp.moveaxis(images, 1, -1)

    def restore(out):
        if fmt == "channels_first":
            out = jnp.moveaxis(out, -1, 1)
        return out[0] if unbatched else out

    return images, restore


def spatial_axes(ndim: int, fmt: str) -> tuple[int, int]:
    """The (height, width) axes of an image array of rank ``ndim``."""
    return (ndim - 3, ndim - 2) if fmt == "channels_last" else (ndim - 2, ndim - 1)


def channel_axis(ndim: int, fmt: str) -> int:
    return ndim - 1 if fmt == "channels_last" else ndim - 3
