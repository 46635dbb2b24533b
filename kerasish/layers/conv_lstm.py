"""Convolutional LSTM layers (Keras 3's ConvLSTM1D/2D/3D): one ``lax.scan`` over time.

The input convolution does not depend on the recurrence, so it runs once for all timesteps (time
folded into the batch) before the scan; only the recurrent convolution runs inside the loop. Gate
order i, f, c, o and weight layouts are Keras's, so ``set_weights(keras_layer.get_weights())`` works.
Per-gate dropout masks (Keras draws four, fixed over time) are applied as one grouped convolution
over the four masked copies: ``kernel`` ``(k..., in, 4 * filters)`` is exactly the grouped layout.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from kerasish import activations, constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.conv import (
    _dimension_numbers,
    _positive_int,
    _positive_tuple,
    normalize_data_format,
    normalize_padding,
)


def _rate(layer: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ConfigError(f"{layer}: {name} must be a number in [0, 1), got {value!r}.")
    return float(value)


def _flag(layer: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{layer}: {name} must be True or False, got {value!r}.")
    return bool(value)


class _Spec(NamedTuple):
    """The static part of a ConvLSTM computation (hashable: it keys the jit cache)."""

    rank: int
    filters: int
    strides: tuple
    padding: str
    dilation_rate: tuple
    activation: Callable
    recurrent_activation: Callable
    go_backwards: bool
    return_sequences: bool
    zero_output_for_mask: bool
    unroll: bool


def _input_conv(x, kernel, spec: _Spec, groups: int):
    return lax.conv_general_dilated(x, kernel, spec.strides, spec.padding, rhs_dilation=spec.dilation_rate,
                                    dimension_numbers=_dimension_numbers(spec.rank), feature_group_count=groups)


def _recurrent_conv(h, kernel, spec: _Spec, groups: int):
    return lax.conv_general_dilated(h, kernel, (1,) * spec.rank, "SAME",
                                    dimension_numbers=_dimension_numbers(spec.rank), feature_group_count=groups)


@functools.partial(jax.jit, static_argnames="spec")
def _conv_lstm(x, kernel, recurrent_kernel, bias, state, mask, in_masks, rec_masks, spec: _Spec):
    """The whole layer on channels-last ``x`` ``(batch, time, spatial..., in)``: ``(output, h, c)``.

    Jitted so that eager calls reuse one compiled program per shape and configuration (under an
    outer jit it is inlined). ``in_masks`` ``(4, batch, spatial..., in)`` and ``rec_masks``
    ``(4, batch, spatial..., filters)`` are the per-gate dropout masks, or None.
    """
    batch, steps = x.shape[:2]
    step_shape = x.shape[2:]
    f = spec.filters
    # Input convolution for all timesteps at once: time folded into the batch (batch-major rows).
    flat = x.reshape((batch * steps,) + step_shape)
    if in_masks is not None:
        in_masks = jnp.repeat(in_masks, steps, axis=1)  # sample b's mask on rows b*T .. b*T+T-1
        z_x = _input_conv(jnp.concatenate([flat * in_masks[g] for g in range(4)], axis=-1), kernel, spec, 4)
    else:
        z_x = _input_conv(flat, kernel, spec, 1)
    if bias is not None:
        z_x = z_x + bias
    z_x = jnp.swapaxes(z_x.reshape((batch, steps) + z_x.shape[1:]), 0, 1)  # time-major
    if state is None:
        zeros = jnp.zeros(z_x.shape[1:-1] + (f,), x.dtype)
        state = (zeros, zeros)

    xs = {"z": z_x}
    if mask is not None:
        xs["mask"] = jnp.swapaxes(mask, 0, 1)
    if spec.go_backwards:
        xs = jax.tree.map(lambda a: jnp.flip(a, 0), xs)
    act, rec_act = spec.activation, spec.recurrent_activation
    keep_shape = (batch,) + (1,) * (len(step_shape))

    def step(carry, inp):
        h, c = carry
        if rec_masks is None:
            z_h = _recurrent_conv(h, recurrent_kernel, spec, 1)
        else:
            z_h = _recurrent_conv(jnp.concatenate([h * rec_masks[g] for g in range(4)], axis=-1),
                                  recurrent_kernel, spec, 4)
        z = inp["z"] + z_h
        i = rec_act(z[..., :f])
        forget = rec_act(z[..., f:2 * f])
        c_new = forget * c + i * act(z[..., 2 * f:3 * f])
        o = rec_act(z[..., 3 * f:])
        h_new = o * act(c_new)
        out = h_new
        if "mask" in inp:  # masked steps keep the states; the output repeats the last one (or is zero)
            keep = inp["mask"].reshape(keep_shape)
            out = jnp.where(keep, h_new, jnp.zeros_like(h_new) if spec.zero_output_for_mask else h)
            h_new = jnp.where(keep, h_new, h)
            c_new = jnp.where(keep, c_new, c)
        return (h_new, c_new), (out if spec.return_sequences else None)

    (h, c), outputs = lax.scan(step, state, xs, unroll=spec.unroll)
    if spec.return_sequences:
        output = jnp.swapaxes(outputs, 0, 1)
    elif spec.zero_output_for_mask and mask is not None:
        output = jnp.where(xs["mask"][-1].reshape(keep_shape), h, jnp.zeros_like(h))
    else:
        output = h
    return output, h, c


class _ConvLSTM(Layer):
    """N-d convolutional LSTM over ``(batch, time, spatial..., channels)`` sequences.

    Args:
        filters: number of output channels (of the hidden and cell states).
        kernel_size: int or tuple of ``rank`` ints, for both the input and recurrent convolutions.
        strides: int or tuple; applies to the input convolution (the recurrent one has stride 1).
        padding: ``"valid"`` or ``"same"`` for the input convolution (the recurrent one is ``"same"``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"`` (``(batch, time, channels, ...)``).
        dilation_rate: int or tuple, of the input convolution (strides and dilation cannot both exceed 1).
        activation: of the candidate cell and output (``"tanh"``).
        recurrent_activation: of the gates (``"sigmoid"``).
        use_bias: whether to add ``bias`` ``(4 * filters,)``.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers of ``kernel``
            ``(k..., in, 4 * filters)``, ``recurrent_kernel`` ``(k..., filters, 4 * filters)`` and ``bias``.
        unit_forget_bias: start the forget gate's bias at 1 (the rest from ``bias_initializer``).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: weight regularizers.
        activity_regularizer: a penalty on the outputs (see ``Layer``).
        kernel_constraint, recurrent_constraint, bias_constraint: weight constraints.
        dropout, recurrent_dropout: fraction of the input / hidden-state units dropped (one mask per
            gate, fixed over time), in training only.
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
        return_sequences: return the whole output sequence instead of the last output.
        return_state: also return the last hidden and cell states (``[output, h, c]``).
        go_backwards: process the sequence in reverse (the returned sequence is in processing order).
        stateful: only ``False`` is supported.
        unroll: unroll the scan (a compile-time/run-time trade-off; same results).
        zero_output_for_mask: output zeros at masked steps instead of the previous output.

    Call arguments:
        sequences: ``(batch, time, spatial..., channels)`` (channels_last).
        initial_state: optional ``[h, c]``, each shaped like one output step.
        mask: optional boolean ``(batch, time)``; at masked steps the states are kept.
        training: enables dropout.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self.filters = _positive_int(filters, "filters", cls)
        self.kernel_size = _positive_tuple(kernel_size, self.rank, "kernel_size", cls)
        self.strides = _positive_tuple(strides, self.rank, "strides", cls)
        self.padding = normalize_padding(padding, cls)
        self.data_format = normalize_data_format(data_format, cls)
        self.dilation_rate = _positive_tuple(dilation_rate, self.rank, "dilation_rate", cls)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{cls}: strides > 1 is not supported together with dilation_rate > 1 "
                              f"(got strides={strides!r}, dilation_rate={dilation_rate!r}).")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = _flag(cls, "use_bias", use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = _flag(cls, "unit_forget_bias", unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get_argument(cls, "kernel_constraint", kernel_constraint)
        self.recurrent_constraint = constraints.get_argument(cls, "recurrent_constraint", recurrent_constraint)
        self.bias_constraint = constraints.get_argument(cls, "bias_constraint", bias_constraint)
        self.dropout = _rate(cls, "dropout", dropout)
        self.recurrent_dropout = _rate(cls, "recurrent_dropout", recurrent_dropout)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"{cls}: seed must be None or an int, got {seed!r}.")
        self.seed = seed
        self.return_sequences = _flag(cls, "return_sequences", return_sequences)
        self.return_state = _flag(cls, "return_state", return_state)
        self.go_backwards = _flag(cls, "go_backwards", go_backwards)
        if stateful:
            raise ConfigError(f"{cls}: stateful=True is not supported (got stateful={stateful!r}); pass the "
                              "last states back as initial_state instead.")
        self.stateful = False
        self.unroll = _flag(cls, "unroll", unroll)
        self.zero_output_for_mask = _flag(cls, "zero_output_for_mask", zero_output_for_mask)

    # -- shapes and weights ------------------------------------------------------------------------
    def _channels(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 3:
            raise InputError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank {self.rank + 3} "
                f"(batch, time, spatial..., channels), got input shape {input_shape}.")
        channels = input_shape[2] if self.data_format == "channels_first" else input_shape[-1]
        if channels is None:
            raise InputError(f"Layer {self.name!r}: the input channels must be known, got input shape {input_shape}.")
        return channels

    def _check_input(self, input_shape):
        channels = self._channels(input_shape)
        if channels != self.input_channels:
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) expects {self.input_channels} input "
                             f"channels, got input shape {input_shape}.")

    def build(self, input_shape):
        channels = self._channels(input_shape)
        f = self.filters
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, 4 * f), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", self.kernel_size + (f, 4 * f), self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint)
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                def init(key, shape, dtype=jnp.float32, base=self.bias_initializer):
                    values = np.array(base(key, shape, dtype))
                    values[f:2 * f] = 1.0  # the forget gate's slice
                    return jax.device_put(values)
            self.bias = self.add_weight("bias", (4 * f,), init, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.input_channels = channels

    # -- computation -----------------------------------------------------------------------------
    def _dropout_masks(self, rate, shape, dtype, inputs=None):
        """Four inverted-dropout masks (one per gate) of ``shape``."""
        # Drawn flat: XLA compiles random-bit generation for rank-5+ shapes slowly.
        keep = jax.random.bernoulli(self.random_key(inputs), 1.0 - rate, (4 * math.prod(shape),)).reshape((4,) + shape)
        return keep.astype(dtype) / jnp.asarray(1.0 - rate, dtype)

    def _to_last(self, x, time_axis: bool):
        if self.data_format == "channels_first":
            return jnp.moveaxis(x, 2 if time_axis else 1, -1)
        return x

    def _from_last(self, x, time_axis: bool):
        if self.data_format == "channels_first":
            return (np if isinstance(x, np.ndarray) else jnp).moveaxis(x, -1, 2 if time_axis else 1)
        return x

    def call(self, sequences, initial_state=None, mask=None, training=None):
        x = self._to_last(jnp.asarray(sequences), time_axis=True)
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else self.compute_dtype
        x = x.astype(dtype)
        batch, steps = x.shape[:2]
        spec = _Spec(self.rank, self.filters, self.strides, self.padding.upper(), self.dilation_rate,
                     self.activation, self.recurrent_activation, self.go_backwards, self.return_sequences,
                     self.zero_output_for_mask, self.unroll)
        step_spec = jax.ShapeDtypeStruct((batch,) + x.shape[2:], dtype)
        out_spatial = jax.eval_shape(lambda a, k: _input_conv(a, k, spec, 1), step_spec, self.kernel.value).shape[1:-1]
        state_shape = (batch,) + tuple(out_spatial) + (self.filters,)
        if initial_state is None:
            state = None
        else:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) != 2:
                raise InputError(f"Layer {self.name!r}: initial_state must be a list [h, c], got {initial_state!r}.")
            state = tuple(self._to_last(jnp.asarray(s), time_axis=False).astype(dtype) for s in initial_state)
            for name, s in zip("hc", state):
                if tuple(s.shape) != state_shape:
                    expected = self._from_last(np.empty(state_shape, np.bool_), time_axis=False)
                    raise InputError(
                        f"Layer {self.name!r}: initial state {name} has shape "
                        f"{tuple(self._from_last(s, time_axis=False).shape)}, expected {tuple(expected.shape)}.")
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.shape != (batch, steps):
                raise InputError(f"Layer {self.name!r}: mask must have shape (batch, time) = {(batch, steps)}, "
                                 f"got {tuple(mask.shape)}.")
            mask = mask.astype(bool)
        in_masks = rec_masks = None
        if training and self.dropout > 0:
            in_masks = self._dropout_masks(self.dropout, (batch,) + x.shape[2:], dtype, x)
        if training and self.recurrent_dropout > 0:
            rec_masks = self._dropout_masks(self.recurrent_dropout, state_shape, dtype, x)
        bias = self.bias.value.astype(dtype) if self.use_bias else None
        output, h, c = _conv_lstm(x, self.kernel.value.astype(dtype), self.recurrent_kernel.value.astype(dtype),
                                  bias, state, mask, in_masks, rec_masks, spec)
        time_axis = self.return_sequences
        if self.return_state:
            return [self._from_last(output, time_axis), self._from_last(h, False), self._from_last(c, False)]
        return self._from_last(output, time_axis)

    def compute_mask(self, inputs, mask=None):
        out = mask if (self.return_sequences and mask is not None) else None
        return [out, None, None] if self.return_state else out

    # -- config ----------------------------------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask, "filters": self.filters,
            "kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
        }


class ConvLSTM1D(_ConvLSTM):
    """1D convolutional LSTM over ``(batch, time, steps, channels)``; kernel ``(k, in, 4 * filters)``."""

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """2D convolutional LSTM over ``(batch, time, rows, cols, channels)``.

    Weights, as Keras: ``kernel`` ``(kh, kw, in, 4 * filters)``, ``recurrent_kernel``
    ``(kh, kw, filters, 4 * filters)``, ``bias`` ``(4 * filters,)``; gates i, f, c, o. See
    :class:`_ConvLSTM` for the arguments.

    Example:
        >>> layer = ConvLSTM2D(8, 3, padding="same", return_sequences=True)
        >>> layer(np.zeros((2, 4, 16, 16, 3), "float32")).shape
        (2, 4, 16, 16, 8)
    """

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """3D convolutional LSTM over ``(batch, time, depth, rows, cols, channels)``."""

    rank = 3
