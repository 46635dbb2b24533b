"""Convolution layers (flax ``nnx.Conv``)."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from kerasish import activations, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.utils.random import host_rngs


def normalize_tuple(value, n: int, name: str, layer: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise ConfigError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}.") from None
    if len(out) != n:
        raise ConfigError(f"{layer}: {name} must be an int or a tuple of {n} ints, got {value!r}.")
    return out


def normalize_padding(padding: str, layer: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ConfigError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}.")
    return padding.lower()


def normalize_data_format(data_format, layer: str) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ConfigError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def to_channels_last(x, data_format):
    if data_format == "channels_first":
        return jnp.moveaxis(x, 1, -1)
    return x


def from_channels_last(x, data_format):
    if data_format == "channels_first":
        return jnp.moveaxis(x, -1, 1)
    return x


class Conv2D(Layer):
    """2D convolution over ``(batch, height, width, channels)`` inputs.

    Args:
        filters: number of output channels.
        kernel_size: int or (kh, kw).
        strides: int or (sh, sw).
        padding: ``"valid"`` or ``"same"`` (TensorFlow-style ``same``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: int or pair.
        groups: number of channel groups.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer:
            as in :class:`Dense`.

    Kernel shape ``(kh, kw, in_channels // groups, filters)``, as Keras.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        if not isinstance(filters, int) or filters <= 0:
            raise ConfigError(f"{cls}: filters must be a positive integer, got {filters!r}.")
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size", cls)
        self.strides = normalize_tuple(strides, self.rank, "strides", cls)
        self.padding = normalize_padding(padding, cls)
        self.data_format = normalize_data_format(data_format, cls)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate", cls)
        self.groups = int(groups)
        if filters % self.groups:
            raise ConfigError(f"{cls}: filters ({filters}) must be divisible by groups ({groups}).")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _channels(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2:
            raise InputError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank {self.rank + 2} "
                f"(batch, spatial..., channels), got input shape {input_shape}."
            )
        return input_shape[1] if self.data_format == "channels_first" else input_shape[-1]

    def build(self, input_shape):
        channels = self._channels(input_shape)
        if channels is None or channels % self.groups:
            raise InputError(
                f"Layer {self.name!r}: input channels ({channels}) must be known and divisible by groups ({self.groups})."
            )
        module = nnx.Conv(channels, self.filters, self.kernel_size, strides=self.strides,
                          padding=self.padding.upper(), kernel_dilation=self.dilation_rate,
                          feature_group_count=self.groups, use_bias=self.use_bias,
                          kernel_init=self.kernel_initializer, bias_init=self.bias_initializer,
                          rngs=host_rngs())
        names = {"kernel": ("kernel", True, self.kernel_regularizer)}
        if self.use_bias:
            names["bias"] = ("bias", True, self.bias_regularizer)
        self._adopt_nnx(module, names)
        self.input_channels = channels

    def _check_input(self, input_shape):
        channels = self._channels(input_shape)
        if channels is not None and channels != self.input_channels:
            raise InputError(
                f"Layer {self.name!r} ({type(self).__name__}) expects {self.input_channels} input channels, "
                f"got input shape {input_shape}."
            )

    def call(self, inputs):
        x = to_channels_last(inputs, self.data_format)
        y = self.activation(self._nnx_module()(x))
        return from_channels_last(y, self.data_format)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}
