"""Image files and arrays (Keras's ``load_img``, ``save_img``, ``img_to_array``, ``array_to_img``), on Pillow.

Pillow comes with matplotlib, one of kerasish's dependencies. Only ``"channels_last"`` (the default)
and ``"channels_first"`` data formats exist; ``None`` means :func:`kerasish.backend.image_data_format`.
"""

from __future__ import annotations

import io
import pathlib
import warnings

import numpy as np

from kerasish.errors import ConfigError, InputError

_RESAMPLING = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def _data_format(data_format) -> str:
    from kerasish.backend import image_data_format

    if data_format is None:
        return image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ConfigError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def _float_dtype(dtype):
    from kerasish.backend import floatx

    return floatx() if dtype is None else dtype


def array_to_img(x, data_format=None, scale: bool = True, dtype=None):
    """A ``PIL.Image`` from a rank-3 array (height, width, 1/3/4 channels).

    Args:
        x: the array.
        data_format: ``"channels_last"`` or ``"channels_first"`` (None: the global default).
        scale: stretch the values to 0..255 (min to 0, max to 255); otherwise they are cast as they are.
        dtype: the dtype ``x`` is first converted to (default floatx).
    """
    from PIL import Image

    x = np.asarray(x, dtype=_float_dtype(dtype))
    if x.ndim != 3:
        raise InputError(f"array_to_img expects a rank-3 array (one image), got shape {x.shape}.")
    if _data_format(data_format) == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:  # wider than 8 bits: a 32-bit integer image
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise InputError(f"array_to_img: unsupported number of channels {channels} (1, 3 or 4).")


def img_to_array(img, data_format=None, dtype=None) -> np.ndarray:
    """A ``PIL.Image`` (or anything ``np.asarray`` takes) as a rank-3 array; a grayscale image gets a
    channel axis of 1."""
    x = np.asarray(img, dtype=_float_dtype(dtype))
    first = _data_format(data_format) == "channels_first"
    if x.ndim == 3:
        return x.transpose(2, 0, 1) if first else x
    if x.ndim == 2:
        return x[None] if first else x[..., None]
    raise InputError(f"img_to_array: unsupported image shape {x.shape}.")


def save_img(path, x, data_format=None, file_format=None, scale: bool = True, **kwargs) -> None:
    """Write an image array to a file (the format from ``file_format`` or the file's extension).

    ``**kwargs`` go to ``PIL.Image.save`` (``quality=...``). An RGBA image saved as JPEG loses its alpha
    channel, with a warning.
    """
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.", stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def load_img(path, color_mode: str = "rgb", target_size=None, interpolation: str = "nearest",
             keep_aspect_ratio: bool = False):
    """Read an image file into a ``PIL.Image``.

    Args:
        path: a path or an ``io.BytesIO``.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"rgba"``.
        target_size: ``(height, width)`` to resize to, or None.
        interpolation: the resampling filter: ``"nearest"``, ``"bilinear"``, ``"bicubic"``, ``"hamming"``,
            ``"box"`` or ``"lanczos"``.
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing.
    """
    from PIL import Image

    if isinstance(path, io.BytesIO):
        img = Image.open(path)
    elif isinstance(path, (pathlib.Path, str, bytes)):
        with open(path, "rb") as f:
            img = Image.open(io.BytesIO(f.read()))
    else:
        raise InputError(f"load_img: path must be a path or an io.BytesIO, got {type(path).__name__}.")
    modes = {"grayscale": ("L", ("L", "I;16", "I")), "rgb": ("RGB", ("RGB",)), "rgba": ("RGBA", ("RGBA",))}
    if color_mode not in modes:
        raise ConfigError(f"load_img: color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}.")
    mode, keep = modes[color_mode]
    if img.mode not in keep:
        img = img.convert(mode)
    if target_size is None:
        return img
    size = (int(target_size[1]), int(target_size[0]))
    if img.size == size:
        return img
    if interpolation not in _RESAMPLING:
        raise ConfigError(f"load_img: interpolation must be one of {list(_RESAMPLING)}, got {interpolation!r}.")
    resample = getattr(Image.Resampling, interpolation.upper())
    if not keep_aspect_ratio:
        return img.resize(size, resample)
    width, height = img.size
    crop_h = min(height, (width * size[1]) // size[0])
    crop_w = min(width, (height * size[0]) // size[1])
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    return img.resize(size, resample, box=(left, top, left + crop_w, top + crop_h))
