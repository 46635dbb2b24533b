"""keras.ops math: segment reductions, top-k, FFTs and short-time Fourier transforms, special functions."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import _axis, float_tensor, tensor


def _segment(name, jfn):
    def op(data, segment_ids, num_segments=None, sorted=False):
        if num_segments is None:
            raise InputError(f"ops.{name}: num_segments is required (JAX needs the output size up front).")
        return jfn(tensor(data), tensor(segment_ids), int(num_segments), indices_are_sorted=sorted)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Keras's ``ops.{name}`` (``jax.ops.{jfn.__name__}``); ``num_segments`` is required."
    return keras_op(op)


segment_sum = _segment("segment_sum", jax.ops.segment_sum)
segment_max = _segment("segment_max", jax.ops.segment_max)
segment_min = _segment("segment_min", jax.ops.segment_min)
segment_prod = _segment("segment_prod", jax.ops.segment_prod)


@keras_op
def top_k(x, k, sorted=True):
    """``(values, indices)`` of the ``k`` largest entries along the last axis (always sorted, descending)."""
    return jax.lax.top_k(tensor(x), k)


@keras_op
def in_top_k(targets, predictions, k):
    """Whether each target's prediction is among the ``k`` largest (ties count in its favour; NaN never)."""
    targets, predictions = tensor(targets), tensor(predictions)
    at_target = jnp.take_along_axis(predictions, targets[..., None].astype("int32"), axis=-1)
    at_target = jnp.where(jnp.isnan(at_target), -jnp.inf, at_target)
    rank = 1 + jnp.sum(predictions > at_target, axis=-1)
    return rank <= k


@keras_op
def logsumexp(x, axis=None, keepdims=False):
    return jax.scipy.special.logsumexp(float_tensor(x), axis=_axis(axis), keepdims=keepdims)


@keras_op
def cdist(x, y):
    """Euclidean distances between the rows of ``x`` and of ``y`` (batched over leading axes)."""
    x, y = tensor(x), tensor(y)
    if x.ndim < 2 or y.ndim < 2 or x.shape[-1] != y.shape[-1]:
        raise InputError(f"ops.cdist: inputs of rank >= 2 with equal last dimensions; got {x.shape} and {y.shape}.")
    diff = x[..., :, None, :] - y[..., None, :, :]
    return jnp.sqrt(jnp.sum(diff * diff, axis=-1))


@keras_op
def erf(x):
    return jax.lax.erf(float_tensor(x))


@keras_op
def erfc(x):
    return jax.scipy.special.erfc(float_tensor(x))


@keras_op
def erfinv(x):
    return jax.scipy.special.erfinv(float_tensor(x))


@keras_op
def rsqrt(x):
    return jax.lax.rsqrt(float_tensor(x))


@keras_op
def logdet(x):
    """``log(det(x))`` of a square matrix (or a batch of them)."""
    return jnp.linalg.slogdet(float_tensor(x))[1]


@keras_op
def view_as_complex(x):
    """A complex array from ``x[..., 0]`` (real) and ``x[..., 1]`` (imaginary)."""
    x = tensor(x)
    if x.shape[-1] != 2:
        raise InputError(f"ops.view_as_complex: the last dimension must be 2 (real, imag); got shape {x.shape}.")
    return jax.lax.complex(x[..., 0], x[..., 1])


@keras_op
def view_as_real(x):
    """The real and imaginary parts of a complex ``x`` stacked on a new last axis."""
    x = tensor(x)
    return jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1)


# -- Fourier transforms: complex values travel as (real, imag) pairs, as in Keras ---------------------------------

def _complex(x, name):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise InputError(f"ops.{name}: x must be a (real, imag) pair of float tensors; got {type(x).__name__}.")
    real, imag = tensor(x[0]), tensor(x[1])
    if real.shape != imag.shape:
        raise InputError(f"ops.{name}: real and imaginary parts differ in shape: {real.shape} vs {imag.shape}.")
    if not (jnp.issubdtype(real.dtype, jnp.floating) and jnp.issubdtype(imag.dtype, jnp.floating)):
        raise InputError(f"ops.{name}: the real and imaginary parts must be floats; got {real.dtype}, {imag.dtype}.")
    return jax.lax.complex(real, imag)


def _pair(z):
    return jnp.real(z), jnp.imag(z)


@keras_op
def fft(x):
    return _pair(jnp.fft.fft(_complex(x, "fft")))


@keras_op
def fft2(x):
    return _pair(jnp.fft.fft2(_complex(x, "fft2")))


@keras_op
def ifft2(x):
    return _pair(jnp.fft.ifft2(_complex(x, "ifft2")))


@keras_op
def rfft(x, fft_length=None):
    return _pair(jnp.fft.rfft(tensor(x), n=fft_length, axis=-1))


@keras_op
def irfft(x, fft_length=None):
    return jnp.fft.irfft(_complex(x, "irfft"), n=fft_length, axis=-1)


@keras_op
def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of ``sequence_length`` taken every ``sequence_stride`` along the last axis:
    ``(..., n) -> (..., frames, sequence_length)``."""
    x = tensor(x)
    frames = 1 + (x.shape[-1] - sequence_length) // sequence_stride
    index = jnp.arange(frames)[:, None] * sequence_stride + jnp.arange(sequence_length)[None, :]
    return x[..., index]


def _window(window, sequence_length, fft_length, dtype, name):
    if window is None:
        return jnp.ones((fft_length,), dtype)  # no window: every sample of the fft_length frame counts
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise InputError(f"ops.{name}: window must be 'hann', 'hamming', a tensor or None; got {window!r}.")
        # periodic windows (scipy.signal.get_window's default, which Keras uses)
        a = 0.5 if window == "hann" else 0.54
        n = jnp.arange(sequence_length)
        win = (a - (1 - a) * jnp.cos(2 * jnp.pi * n / sequence_length)).astype(dtype)
    else:
        win = tensor(window, dtype=dtype)
        if win.shape != (sequence_length,):
            raise InputError(f"ops.{name}: window must have shape ({sequence_length},); got {win.shape}.")
    left = (fft_length - sequence_length) // 2
    return jnp.pad(win, (left, fft_length - sequence_length - left))


@keras_op
def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """Short-time Fourier transform of real float32 signals: ``(real, imag)`` of shape
    ``(..., frames, fft_length // 2 + 1)``."""
    x = tensor(x)
    if x.dtype not in (jnp.float32, jnp.float64):
        raise InputError(f"ops.stft: x must be float32 or float64; got {x.dtype}.")
    if fft_length < sequence_length:
        raise InputError(f"ops.stft: fft_length ({fft_length}) must be >= sequence_length ({sequence_length}).")
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)]
        x = jnp.pad(x, pad, mode="reflect")
    win = _window(window, sequence_length, fft_length, x.dtype, "stft")
    frames = extract_sequences(x, fft_length, sequence_stride) * win
    return _pair(jnp.fft.rfft(frames, n=fft_length, axis=-1))


@keras_op
def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann", center=True):
    """The inverse of :func:`stft`: overlap-add of the windowed inverse transforms, normalised by the summed
    squared window."""
    z = _complex(x, "istft")
    if z.ndim < 2:
        raise InputError(f"ops.istft: x must have at least 2 dimensions (frames, bins); got shape {z.shape}.")
    dtype = jnp.real(z).dtype
    win = _window(window, sequence_length, fft_length, dtype, "istft")
    frames = jnp.fft.irfft(z, n=fft_length, axis=-1) * win
    count = z.shape[-2]
    total = fft_length + sequence_stride * (count - 1)
    starts = jnp.arange(count) * sequence_stride
    index = (starts[:, None] + jnp.arange(fft_length)[None, :]).reshape(-1)
    signal = jnp.zeros(z.shape[:-2] + (total,), dtype).at[..., index].add(
        frames.reshape(z.shape[:-2] + (-1,)))
    norm = jnp.zeros((total,), dtype).at[index].add(jnp.tile(win * win, count))
    signal = signal / jnp.where(norm > 1e-10, norm, 1.0)
    if window is None:
        signal = signal * (fft_length / sequence_stride)  # Keras's scale for the unwindowed inverse
    start = fft_length // 2 if center else 0
    if length is not None:
        return signal[..., start:start + length]
    return signal[..., start:total - fft_length // 2] if center else signal


__all__ = [
    "segment_sum", "segment_max", "segment_min", "segment_prod", "top_k", "in_top_k", "logsumexp", "cdist", "erf",
    "erfc", "erfinv", "rsqrt", "logdet", "view_as_complex", "view_as_real", "fft", "fft2", "ifft2", "rfft", "irfft",
    "extract_sequences", "stft", "istft",
]
