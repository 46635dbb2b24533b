"""Preprocessing layers (Keras 3): Rescaling, Normalization, Resizing, CenterCrop.

They run inside the jitted step as plain ``jnp`` / ``jax.image`` math. ``Normalization.adapt``
computes its statistics on the host with NumPy and stores them as non-trainable weights
(``mean``, ``variance``, ``count``, as Keras), so saving and loading a model keeps them.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic")
_EPSILON = 1e-7  # Keras's backend.epsilon(): the floor of the standard deviation


def _data_format(layer: str, value) -> str:
    if value not in (None, "channels_last", "channels_first"):
        raise ConfigError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {value!r}.")
    return value or "channels_last"


def _positive_int(layer: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{layer}: {arg} must be a positive integer, got {value!r}.")
    return int(value)


def _to_json(value):
    return np.asarray(value).tolist() if isinstance(value, (np.ndarray, jax.Array)) else value


def _as_nhwc(layer: Layer, images, data_format: str):
    """Images as a float ``(N, H, W, C)`` batch, plus a function that restores the caller's layout."""
    images = jnp.asarray(images, layer.compute_dtype)
    if images.ndim not in (3, 4):
        raise InputError(f"Layer {layer.name!r} ({type(layer).__name__}) expects images of rank 3 (one image) "
                         f"or 4 (a batch), got shape {tuple(images.shape)}.")
    unbatched = images.ndim == 3
    if unbatched:
        images = images[None]
    if data_format == "channels_first":
        images = jnp.transpose(images, (0, 2, 3, 1))

    def restore(out):
        if data_format == "channels_first":
            out = jnp.transpose(out, (0, 3, 1, 2))
        return out[0] if unbatched else out

    return images, restore


def aspect_crop_box(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int, int, int]:
    """The largest centered window of the target aspect ratio: ``(top, left, crop_height, crop_width)``."""
    crop_h = max(min(height, int(float(width * target_height) / target_width)), 1)
    crop_w = max(min(width, int(float(height * target_width) / target_height)), 1)
    return int(float(height - crop_h) / 2), int(float(width - crop_w) / 2), crop_h, crop_w


def resize_images(images, height: int, width: int, interpolation: str = "bilinear", antialias: bool = False,
                  crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False, fill_value: float = 0.0):
    """Resize a ``(N, H, W, C)`` batch with ``jax.image.resize`` as Keras 3's JAX backend does.

    ``crop_to_aspect_ratio`` first crops the largest centered window of the target aspect ratio;
    ``pad_to_aspect_ratio`` first pads the short side (evenly, with ``fill_value``) to it.
    """
    n, h, w, c = images.shape
    if crop_to_aspect_ratio:
        top, left, ch, cw = aspect_crop_box(h, w, height, width)
        images = images[:, top:top + ch, left:left + cw, :]
    elif pad_to_aspect_ratio:
        pad_h = max(h, int(float(w * height) / width))
        pad_w = max(w, int(float(h * width) / height))
        top, left = int(float(pad_h - h) / 2), int(float(pad_w - w) / 2)
        # Keras pads the same amount on both sides (so an odd difference loses one row).
        if top > 0:
            images = jnp.pad(images, ((0, 0), (top, top), (0, 0), (0, 0)), constant_values=fill_value)
        elif left > 0:
            images = jnp.pad(images, ((0, 0), (0, 0), (left, left), (0, 0)), constant_values=fill_value)
    n, _, _, c = images.shape
    return jax.image.resize(images, (n, height, width, c), method=interpolation, antialias=antialias)


class Rescaling(Layer):
    """Multiplies the inputs by ``scale`` and adds ``offset`` (e.g. ``scale=1/255`` maps [0, 255] to [0, 1]).

    Args:
        scale: a float (or an array broadcastable to the inputs' trailing axes).
        offset: a float (or an array), added after scaling.

    Input shape: any. Output shape: same as the input, in the layer's compute dtype.
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("scale", scale), ("offset", offset)):
            try:
                arr = np.asarray(value, dtype="float64")
            except (TypeError, ValueError):
                arr = None
            if arr is None or not np.all(np.isfinite(arr)):
                raise ConfigError(f"Rescaling: {arg} must be a finite number or array, got {value!r}.")
        self.scale = _to_json(scale)
        self.offset = _to_json(offset)

    def call(self, inputs):
        scale = jnp.asarray(self.scale, self.compute_dtype)
        offset = jnp.asarray(self.offset, self.compute_dtype)
        return jnp.asarray(inputs, self.compute_dtype) * scale + offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Normalization(Layer):
    """Standardizes the inputs: ``(x - mean) / sqrt(variance)`` (or the inverse with ``invert=True``).

    The statistics are either given (``mean`` and ``variance``; the layer then has no weights) or
    computed by :meth:`adapt` and kept as the non-trainable weights ``mean``, ``variance`` and
    ``count`` (Keras 3's names and shapes).

    Args:
        axis: the axis or axes that keep their own statistics (``-1``: one mean per feature);
            ``None`` for one scalar mean and variance.
        mean: the mean, a scalar or an array broadcastable over the kept axes.
        variance: the variance, same shape as ``mean``.
        invert: map standardized values back (``mean + x * sqrt(variance)``).

    Example:
        >>> norm = Normalization()
        >>> norm.adapt(np.array([[0., 10.], [2., 30.]]))
        >>> norm(np.array([[1., 20.]]))  # [[0., 0.]]
    """

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(
                isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise ConfigError(f"Normalization: axis must be None, an int or a tuple of ints, got {axis!r}.")
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ConfigError(f"Normalization: give both mean and variance or neither, got mean={mean!r} "
                              f"and variance={variance!r}.")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ConfigError(f"Normalization: mean and variance must have the same shape, got "
                                  f"{np.shape(mean)} and {np.shape(variance)}.")
            if np.ndim(mean) > len(self.axis):
                raise ConfigError(f"Normalization: mean has rank {np.ndim(mean)}, more than the number of "
                                  f"kept axes {self.axis}.")
            if np.any(np.asarray(variance, "float64") < 0):
                raise ConfigError(f"Normalization: variance must be non-negative, got {variance!r}.")
        self.input_mean = _to_json(mean)
        self.input_variance = _to_json(variance)
        self.invert = bool(invert)

    def _axes(self, input_shape):
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise InputError(f"Layer {self.name!r} (Normalization): axis {self.axis} is out of range for "
                             f"inputs of shape {tuple(input_shape)}.")
        keep = tuple(sorted(a % ndim for a in self.axis))
        reduce = tuple(d for d in range(ndim) if d not in keep)
        return keep, reduce

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        keep, _ = self._axes(input_shape)
        for d in keep:
            if input_shape[d] is None:
                raise InputError(f"Layer {self.name!r} (Normalization): kept axis {d} of the input shape "
                                 f"{input_shape} must be known.")
        self._keep = keep
        self._ndim = len(input_shape)
        self._stat_shape = tuple(input_shape[d] for d in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(len(input_shape)))
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(shape=self._stat_shape, initializer="zeros", trainable=False,
                                              name="mean")
            self.adapt_variance = self.add_weight(shape=self._stat_shape, initializer="ones", trainable=False,
                                                  name="variance")
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="count")

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self._ndim:
            raise InputError(f"Layer {self.name!r} (Normalization) was built for inputs of rank {self._ndim}, "
                             f"got shape {input_shape}.")
        for d, size in zip(self._keep, self._stat_shape):
            if input_shape[d] is not None and input_shape[d] != size:
                raise InputError(f"Layer {self.name!r} (Normalization) was built for size {size} on axis {d}, "
                                 f"got inputs of shape {input_shape}.")

    def _stats(self):
        if self.input_mean is None:
            mean = jnp.reshape(self.adapt_mean.value, self._broadcast_shape)
            var = jnp.reshape(self.adapt_variance.value, self._broadcast_shape)
        else:
            mean = jnp.asarray(self.input_mean, self.compute_dtype)
            var = jnp.asarray(self.input_variance, self.compute_dtype)
            if mean.ndim:  # given statistics align with the last kept axes
                expanded = [1] * self._ndim
                for i in range(1, mean.ndim + 1):
                    expanded[self._keep[-i]] = mean.shape[-i]
                mean, var = mean.reshape(expanded), var.reshape(expanded)
            mean = jnp.broadcast_to(mean, self._broadcast_shape)
            var = jnp.broadcast_to(var, self._broadcast_shape)
        return mean.astype(self.compute_dtype), var.astype(self.compute_dtype)

    def call(self, inputs):
        x = jnp.asarray(inputs, self.compute_dtype)
        mean, var = self._stats()
        std = jnp.maximum(jnp.sqrt(var), _EPSILON)
        return mean + x * std if self.invert else (x - mean) / std

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Compute the mean and variance of ``data`` on the host (NumPy) and store them as the weights.

        Args:
            data: an array, or an iterable of batches (arrays, or ``(x, y)`` tuples whose ``x`` is used).
            batch_size: for an array, the statistics are accumulated over batches of this size
                (the result is the same; it bounds the host memory of the float64 copy).
            steps: for an iterable, stop after this many batches.
        """
        if self.input_mean is not None:
            raise ConfigError(f"Layer {self.name!r} (Normalization) was given mean and variance; it cannot adapt.")
        if isinstance(data, (np.ndarray, jax.Array)) or np.isscalar(data):
            arr = np.asarray(data)
            size = batch_size or len(arr) or 1
            batches = (arr[i:i + size] for i in range(0, max(len(arr), 1), size))
        elif hasattr(data, "__iter__"):
            batches = iter(data)
        else:
            raise InputError(f"Normalization.adapt: data must be an array or an iterable of batches, "
                             f"got {type(data).__name__}.")
        total_mean = total_var = None
        total = 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, (tuple, list)) and not isinstance(batch, np.ndarray):
                batch = batch[0]
            batch = np.asarray(batch, dtype="float64")
            if not self.built:
                self._maybe_build(batch.shape)
            else:
                self._check_input(batch.shape)
            _, reduce = self._axes(batch.shape)
            n = int(np.prod([batch.shape[d] for d in reduce])) if reduce else 1
            if n == 0:
                continue
            b_mean, b_var = batch.mean(axis=reduce), batch.var(axis=reduce)
            if total_mean is None:
                total_mean, total_var, total = b_mean, b_var, n
                continue
            # Chan et al.'s pairwise merge of two (count, mean, variance) summaries.
            new_total = total + n
            delta = b_mean - total_mean
            total_mean = total_mean + delta * (n / new_total)
            total_var = (total * total_var + n * b_var + delta**2 * (total * n / new_total)) / new_total
            total = new_total
        if total_mean is None:
            raise InputError(f"Normalization.adapt ({self.name!r}): data held no samples.")
        self.adapt_mean.assign(np.asarray(total_mean, "float32").reshape(self._stat_shape))
        self.adapt_variance.assign(np.asarray(total_var, "float32").reshape(self._stat_shape))
        self.count.assign(np.asarray(min(total, np.iinfo(np.int32).max), "int32"))

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": self.input_mean, "variance": self.input_variance}


class Resizing(Layer):
    """Resizes images to ``(height, width)`` with ``jax.image.resize`` (as Keras 3's JAX backend).

    Args:
        height, width: the output size.
        interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"lanczos3"`` or ``"lanczos5"``.
        crop_to_aspect_ratio: crop the largest centered window of the target aspect ratio first.
        pad_to_aspect_ratio: pad the short side with ``fill_value`` to the target aspect ratio first.
        fill_mode: only ``"constant"`` (Keras's only mode).
        fill_value: the padding value.
        antialias: low-pass filter when downsampling (Keras's default is False).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Input shape: ``(batch, H, W, C)`` or ``(H, W, C)`` (channels last). Output shape: H, W replaced.
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False,
                 data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = _positive_int("Resizing", "height", height)
        self.width = _positive_int("Resizing", "width", width)
        if interpolation not in RESIZE_INTERPOLATIONS:
            raise ConfigError(f"Resizing: interpolation must be one of {RESIZE_INTERPOLATIONS}, got {interpolation!r}.")
        if fill_mode != "constant":
            raise ConfigError(f"Resizing: fill_mode must be 'constant', got {fill_mode!r}.")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ConfigError("Resizing: crop_to_aspect_ratio and pad_to_aspect_ratio cannot both be True.")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = bool(antialias)
        self.data_format = _data_format("Resizing", data_format)

    def call(self, inputs):
        x, restore = _as_nhwc(self, inputs, self.data_format)
        return restore(resize_images(x, self.height, self.width, self.interpolation, self.antialias,
                                     self.crop_to_aspect_ratio, self.pad_to_aspect_ratio, self.fill_value))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width, "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}


class CenterCrop(Layer):
    """Crops the central ``(height, width)`` window of images.

    An image smaller than the target in either dimension is instead cropped to the target aspect ratio
    and resized (bilinear), as Keras's ``smart_resize``.

    Args:
        height, width: the output size.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
    """

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = _positive_int("CenterCrop", "height", height)
        self.width = _positive_int("CenterCrop", "width", width)
        self.data_format = _data_format("CenterCrop", data_format)

    def call(self, inputs):
        x, restore = _as_nhwc(self, inputs, self.data_format)
        h, w = x.shape[1], x.shape[2]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            return restore(x[:, top:top + self.height, left:left + self.width, :])
        return restore(resize_images(x, self.height, self.width, crop_to_aspect_ratio=True))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width}

__all__ = ["CenterCrop", "Normalization", "Rescaling", "Resizing"]
