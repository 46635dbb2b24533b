"""Audio spectrogram layers (Keras 3): MelSpectrogram (fixed, from an STFT) and STFTSpectrogram (a trainable
STFT, computed as a strided 1D convolution with Fourier kernels)."""

from __future__ import annotations

import math
import numbers

import jax.numpy as jnp
import numpy as np
from jax import lax

from kerasish import initializers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer

_MEL_BREAK_HZ = 700.0
_MEL_Q = 1127.0
_EPSILON = 1e-7  # Keras's backend.epsilon()


def _hertz_to_mel(hz):
    return _MEL_Q * np.log(1.0 + np.asarray(hz, np.float64) / _MEL_BREAK_HZ)


def linear_to_mel_weight_matrix(num_mel_bins: int, num_spectrogram_bins: int, sampling_rate: float,
                                lower_edge_hertz: float, upper_edge_hertz: float) -> np.ndarray:
    """``(num_spectrogram_bins, num_mel_bins)`` triangular HTK mel filters with peak 1, as Keras's (and
    TensorFlow's): the DC bin gets no weight, the bands are evenly spaced on ``1127 * ln(1 + f / 700)``."""
    freqs = np.linspace(0.0, sampling_rate / 2.0, num_spectrogram_bins)[1:]
    bins_mel = _hertz_to_mel(freqs)[:, None]
    edges = np.linspace(_hertz_to_mel(lower_edge_hertz), _hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    weights = np.maximum(0.0, np.minimum((bins_mel - lower) / (center - lower), (upper - bins_mel) / (upper - center)))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)


def _positive_int(layer: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{layer}: {arg} must be a positive integer, got {value!r}.")
    return int(value)


class MelSpectrogram(Layer):
    """Mel spectrograms of raw audio: ``(batch, samples)`` (or ``(samples,)``) to ``(batch, num_mel_bins, frames)``.

    The signal is framed (centred, reflect-padded), windowed and Fourier transformed (``kerasish.ops.stft``);
    the magnitudes raised to ``mag_exp`` are mapped onto ``num_mel_bins`` triangular mel bands between
    ``min_freq`` and ``max_freq``, and with ``power_to_db`` converted to decibels,
    ``10 * log10(max(x, min_power) / max(ref_power, min_power))``, floored at ``top_db`` below the largest
    value of the whole batch (as Keras).

    Args:
        fft_length: FFT size. sequence_stride: hop between frames. sequence_length: window length
            (default ``fft_length``; at most ``fft_length``). window: ``"hann"``, ``"hamming"`` or None.
        sampling_rate: samples per second. num_mel_bins: number of mel bands.
        min_freq / max_freq: the band range in Hz (``max_freq`` defaults to ``sampling_rate / 2``).
        power_to_db, top_db, mag_exp, min_power, ref_power: as described above.
    """

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None, window="hann",
                 sampling_rate=16000, num_mel_bins=128, min_freq=20.0, max_freq=None, power_to_db=True,
                 top_db=80.0, mag_exp=2.0, min_power=1e-10, ref_power=1.0, **kwargs):
        name = "MelSpectrogram"
        self.fft_length = _positive_int(name, "fft_length", fft_length)
        self.sequence_stride = _positive_int(name, "sequence_stride", sequence_stride)
        self.sequence_length = _positive_int(name, "sequence_length", sequence_length or fft_length)
        if self.fft_length < self.sequence_length:
            raise ConfigError(f"{name}: fft_length ({fft_length}) must be >= sequence_length ({sequence_length}).")
        if window not in ("hann", "hamming", None):
            raise ConfigError(f"{name}: window must be 'hann', 'hamming' or None, got {window!r}.")
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = _positive_int(name, "num_mel_bins", num_mel_bins)
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        self.power_to_db = bool(power_to_db)
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        super().__init__(**kwargs)

    def call(self, inputs):
        from kerasish.ops.math import stft

        dtype = self.compute_dtype if self.compute_dtype in ("float32", "float64") else "float32"
        x = jnp.asarray(inputs, dtype)
        real, imag = stft(x, self.sequence_length, self.sequence_stride, self.fft_length, window=self.window,
                          center=True)
        spec = jnp.power(jnp.sqrt(jnp.square(real) + jnp.square(imag)), self.mag_exp)
        mel = linear_to_mel_weight_matrix(self.num_mel_bins, spec.shape[-1], self.sampling_rate, self.min_freq,
                                          self.max_freq)
        out = jnp.tensordot(spec, jnp.asarray(mel, spec.dtype), axes=1)
        if self.power_to_db:
            out = 10.0 * jnp.log10(jnp.maximum(out, self.min_power))
            out = out - 10.0 * math.log10(max(abs(self.ref_power), self.min_power))
            out = jnp.maximum(out, jnp.max(out) - self.top_db)
        return jnp.swapaxes(out, -1, -2).astype(self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
                "sequence_length": self.sequence_length, "window": self.window, "sampling_rate": self.sampling_rate,
                "num_mel_bins": self.num_mel_bins, "min_freq": self.min_freq, "max_freq": self.max_freq,
                "power_to_db": self.power_to_db, "top_db": self.top_db, "mag_exp": self.mag_exp,
                "min_power": self.min_power, "ref_power": self.ref_power}


_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


class STFTSpectrogram(Layer):
    """Spectrograms of multi-channel signals ``(batch, time, channels)`` by a strided Conv1D whose kernels hold
    the windowed Fourier basis (``kerasish.initializers.STFT``) — trainable, as Keras's.

    Args:
        mode: ``"log"`` (log magnitude), ``"magnitude"``, ``"psd"`` (one-sided power), ``"real"``, ``"imag"``,
            ``"angle"`` or ``"stft"`` (real then imaginary bins).
        frame_length: samples per frame. frame_step: hop (default ``frame_length // 2``; at most frame_length).
        fft_length: FFT size (default the next power of two >= frame_length).
        window: a window name (``scipy.signal.get_window``), values, or None. periodic: periodic window form.
        scaling: ``"density"``, ``"spectrum"`` or None (the kernels' normalization).
        padding: ``"valid"`` or ``"same"`` (of the convolution over time).
        expand_dims: keep channels and frequency bins as separate axes.
        data_format: ``"channels_last"`` (``(batch, time, channels)``, default) or ``"channels_first"``.

    Weights: ``real_kernel`` (unless mode is ``"imag"``) and ``imag_kernel`` (unless ``"real"``), each
    ``(frame_length, 1, fft_length // 2 + 1)``. Output (channels_last): ``(batch, frames, channels * bins)``,
    or ``(batch, frames, bins, channels)`` with ``expand_dims``.
    """

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None, window="hann",
                 periodic=False, scaling="density", padding="valid", expand_dims=False, data_format=None, **kwargs):
        name = "STFTSpectrogram"
        frame_length = _positive_int(name, "frame_length", frame_length)
        if frame_step is not None and (isinstance(frame_step, bool) or not isinstance(frame_step, int)
                                       or not 1 <= frame_step <= frame_length):
            raise ConfigError(f"{name}: frame_step must be a positive integer <= frame_length ({frame_length}), "
                              f"got {frame_step!r}.")
        if fft_length is not None and (isinstance(fft_length, bool) or not isinstance(fft_length, int)
                                       or fft_length < frame_length):
            raise ConfigError(f"{name}: fft_length must be an integer >= frame_length ({frame_length}), "
                              f"got {fft_length!r}.")
        if mode not in _MODES:
            raise ConfigError(f"{name}: mode must be one of {list(_MODES)}, got {mode!r}.")
        if padding not in ("valid", "same"):
            raise ConfigError(f"{name}: padding must be 'valid' or 'same', got {padding!r}.")
        if data_format not in (None, "channels_last", "channels_first"):
            raise ConfigError(f"{name}: data_format must be 'channels_last' or 'channels_first', "
                              f"got {data_format!r}.")
        initializers.STFT("real", window, scaling, periodic)  # checks window and scaling
        super().__init__(**kwargs)
        self.mode, self.frame_length, self.frame_step, self.fft_length = mode, frame_length, frame_step, fft_length
        self._frame_step = frame_step or frame_length // 2
        self._fft_length = fft_length or 2 ** int(math.ceil(math.log2(frame_length)))
        self.window, self.periodic, self.scaling, self.padding = window, periodic, scaling, padding
        self.expand_dims = bool(expand_dims)
        self.data_format = data_format or "channels_last"

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise InputError(f"Layer {self.name!r} (STFTSpectrogram) expects inputs of rank 3 (batch, time, "
                             f"channels), got input shape {input_shape}.")
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        if self.mode != "imag":
            self.real_kernel = self.add_weight(
                name="real_kernel", shape=shape,
                initializer=initializers.STFT("real", self.window, self.scaling, self.periodic))
        if self.mode != "real":
            self.imag_kernel = self.add_weight(
                name="imag_kernel", shape=shape,
                initializer=initializers.STFT("imag", self.window, self.scaling, self.periodic))

    def _conv(self, x, kernel):
        """``(batch, channels, time)`` signals to ``(batch, channels, bins, frames)``."""
        b, c, t = x.shape
        y = lax.conv_general_dilated(x.reshape(b * c, t, 1), kernel.astype(x.dtype), (self._frame_step,),
                                     self.padding.upper(), dimension_numbers=("NWC", "WIO", "NWC"))
        return jnp.swapaxes(y, 1, 2).reshape(b, c, y.shape[2], y.shape[1])

    def _shape_out(self, y):
        b, c, f, t = y.shape
        if self.data_format == "channels_last":
            return jnp.transpose(y, (0, 3, 2, 1)) if self.expand_dims else \
                jnp.transpose(y.reshape(b, c * f, t), (0, 2, 1))
        return jnp.transpose(y, (0, 1, 3, 2)) if self.expand_dims else y.reshape(b, c * f, t)

    def call(self, inputs):
        if not jnp.issubdtype(inputs.dtype, jnp.floating):
            raise InputError(f"Layer {self.name!r} (STFTSpectrogram) needs float inputs, got {inputs.dtype}.")
        x = jnp.swapaxes(inputs, 1, 2) if self.data_format == "channels_last" else inputs
        real = None if self.mode == "imag" else self._conv(x, self.real_kernel.value)
        imag = None if self.mode == "real" else self._conv(x, self.imag_kernel.value)
        if self.mode == "real":
            return self._shape_out(real)
        if self.mode == "imag":
            return self._shape_out(imag)
        if self.mode == "angle":
            return self._shape_out(jnp.arctan2(imag, real))
        if self.mode == "stft":
            return self._shape_out(jnp.concatenate([real, imag], axis=2))
        power = jnp.square(real) + jnp.square(imag)
        if self.mode == "psd":  # one-sided: every bin but DC and Nyquist counted twice
            return self._shape_out(power + jnp.pad(power[:, :, 1:-1], ((0, 0), (0, 0), (1, 1), (0, 0))))
        magnitude = self._shape_out(jnp.sqrt(jnp.maximum(power, _EPSILON)))
        return magnitude if self.mode == "magnitude" else jnp.log(jnp.maximum(magnitude, _EPSILON))

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "frame_length": self.frame_length,
                "frame_step": self.frame_step, "fft_length": self.fft_length, "window": self.window,
                "periodic": self.periodic, "scaling": self.scaling, "padding": self.padding,
                "data_format": self.data_format, "expand_dims": self.expand_dims}
