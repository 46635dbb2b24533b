"""Convolution layers (flax ``nnx.Conv``)."""

from __future__ import annotations

import numbers

import jax.numpy as jnp
from flax import nnx
from jax import lax

from kerasish import activations, constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.saving import registry
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


def normalize_padding(padding: str, layer: str, allowed=("valid", "same")) -> str:
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ConfigError(f"{layer}: padding must be one of {list(allowed)}, got {padding!r}.")
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


def _positive_int(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ConfigError(f"{layer}: {name} must be a positive integer, got {value!r}.")
    return int(value)


def _positive_tuple(value, n: int, name: str, layer: str) -> tuple[int, ...]:
    out = normalize_tuple(value, n, name, layer)
    if any(v <= 0 for v in out):
        raise ConfigError(f"{layer}: {name} must be positive, got {value!r}.")
    return out


def check_output_size(layer, input_shape, window, strides, dilation, padding, data_format, what) -> None:
    """Refuse (InputError, as Keras) an input whose known spatial size is smaller than a ``"valid"`` window
    (``(size - 1) * dilation + 1``): the output would have no positions (size 0), and predict would return
    empty arrays. Unknown sizes (None, symbolic) are not checked; ``"same"``/``"causal"`` padding never shrinks to 0."""
    if padding != "valid" or not isinstance(input_shape, tuple) or len(input_shape) != len(window) + 2:
        return
    spatial = input_shape[2:] if data_format == "channels_first" else input_shape[1:-1]
    if any(isinstance(n, numbers.Integral) and n < (k - 1) * d + 1 for n, k, d in zip(spatial, window, dilation)):
        extra = f", dilation_rate={tuple(dilation)}" if max(dilation) > 1 else ""
        raise InputError(
            f"Layer {layer.name!r} ({type(layer).__name__}): {what}={tuple(window)}{extra} with padding='valid' "
            f"does not fit the input's spatial size {tuple(spatial)} (input shape {input_shape}, strides="
            f"{tuple(strides)}): the computed output size would be zero. Use a smaller {what}, padding='same', "
            "or larger inputs."
        )


def _dimension_numbers(rank: int):
    spatial = "DHW"[3 - rank:] if rank <= 3 else None
    return ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")


class _ConvBase(Layer):
    """Shared arguments of the convolution family (spatial rank ``rank``)."""

    rank = 2
    paddings = ("valid", "same")
    _shrinks = True  # a "valid" window must fit the input (transposed convolutions grow it instead)

    def _init_common(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                     bias_initializer, bias_regularizer, bias_constraint):
        cls = type(self).__name__
        self.kernel_size = _positive_tuple(kernel_size, self.rank, "kernel_size", cls)
        self.strides = _positive_tuple(strides, self.rank, "strides", cls)
        self.padding = normalize_padding(padding, cls, self.paddings)
        self.data_format = normalize_data_format(data_format, cls)
        self.dilation_rate = _positive_tuple(dilation_rate, self.rank, "dilation_rate", cls)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{cls}: strides > 1 is not supported together with dilation_rate > 1 "
                              f"(got strides={strides!r}, dilation_rate={dilation_rate!r}).")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get_argument(cls, "bias_regularizer", bias_regularizer)
        self.bias_constraint = constraints.get_argument(cls, "bias_constraint", bias_constraint)

    def _channels(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2:
            raise InputError(
                f"Layer {self.name!r} ({type(self).__name__}) expects inputs of rank {self.rank + 2} "
                f"(batch, spatial..., channels), got input shape {input_shape}."
            )
        if self._shrinks:
            check_output_size(self, input_shape, self.kernel_size, self.strides, self.dilation_rate, self.padding,
                              self.data_format, "kernel_size")
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        if channels is None:
            raise InputError(f"Layer {self.name!r}: the input channels must be known, got input shape {input_shape}.")
        return channels

    def _check_input(self, input_shape):
        channels = self._channels(input_shape)
        if channels != self.input_channels:
            raise InputError(
                f"Layer {self.name!r} ({type(self).__name__}) expects {self.input_channels} input channels, "
                f"got input shape {input_shape}."
            )

    def _lax_padding(self):
        if self.padding == "causal":
            return [((k - 1) * d, 0) for k, d in zip(self.kernel_size, self.dilation_rate)]
        return self.padding.upper()

    def _bias_activation(self, y):
        if self.use_bias:
            y = y + self.bias.value
        return self.activation(y)

    def call(self, inputs):
        x = to_channels_last(inputs, self.data_format)
        return from_channels_last(self._forward(x), self.data_format)

    def _common_config(self):
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "bias_constraint": constraints.serialize(self.bias_constraint)}


class _Conv(_ConvBase):
    """N-d convolution over ``(batch, spatial..., channels)`` inputs (flax ``nnx.Conv``).

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of ``rank`` ints.
        strides: int or tuple.
        padding: ``"valid"`` or ``"same"`` (TensorFlow-style ``same``); Conv1D also ``"causal"``. With
            ``"valid"``, an input smaller than the (dilated) kernel is refused (InputError), as Keras.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dilation_rate: int or tuple (strides and dilation cannot both exceed 1, as in Keras).
        groups: number of channel groups; divides ``filters`` and the input channels.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
            kernel_constraint, bias_constraint: as in :class:`Dense`.

    Kernel shape ``(k..., in_channels // groups, filters)``, as Keras.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.filters = _positive_int(filters, "filters", cls)
        self.groups = _positive_int(groups, "groups", cls)
        if filters % self.groups:
            raise ConfigError(f"{cls}: filters ({filters}) must be divisible by groups ({groups}).")
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, bias_constraint)
        if self.padding == "causal" and self.data_format != "channels_last":
            raise ConfigError(f"{cls}: padding='causal' needs data_format='channels_last'.")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get_argument(cls, "kernel_regularizer", kernel_regularizer)
        self.kernel_constraint = constraints.get_argument(cls, "kernel_constraint", kernel_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        if channels % self.groups:
            raise InputError(
                f"Layer {self.name!r}: input channels ({channels}) must be divisible by groups ({self.groups})."
            )
        module = nnx.Conv(channels, self.filters, self.kernel_size, strides=self.strides,
                          padding=self._lax_padding(), kernel_dilation=self.dilation_rate,
                          feature_group_count=self.groups, use_bias=self.use_bias,
                          kernel_init=self.kernel_initializer, bias_init=self.bias_initializer,
                          rngs=host_rngs())
        names = {"kernel": ("kernel", True, self.kernel_regularizer, self.kernel_constraint)}
        if self.use_bias:
            names["bias"] = ("bias", True, self.bias_regularizer, self.bias_constraint)
        self._adopt_nnx(module, names)
        self.input_channels = channels

    def _forward(self, x):
        return self.activation(self._nnx_module()(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._common_config(), "groups": self.groups,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint)}


class Conv1D(_Conv):
    """1D convolution over ``(batch, steps, channels)``; padding ``"valid"``, ``"same"`` or ``"causal"``."""

    rank = 1
    paddings = ("valid", "same", "causal")


class Conv2D(_Conv):
    """2D convolution over ``(batch, height, width, channels)``; kernel ``(kh, kw, in // groups, filters)``."""

    rank = 2


class Conv3D(_Conv):
    """3D convolution over ``(batch, depth, height, width, channels)``."""

    rank = 3


class _ConvTranspose(_ConvBase):
    """N-d transposed convolution, Keras's output shapes and kernel layout ``(k..., filters, in_channels)``.

    Args:
        filters, kernel_size, strides, padding (``"valid"``/``"same"``), data_format, dilation_rate,
            activation, use_bias, initializers, regularizers and constraints: as in :class:`Conv2D`.
        output_padding: None (Keras's default output size) or int/tuple, each below its stride.
    """

    _shrinks = False

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.filters = _positive_int(filters, "filters", cls)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, bias_constraint)
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding", cls)
            if any(op < 0 or op >= s for op, s in zip(self.output_padding, self.strides)):
                raise ConfigError(f"{cls}: output_padding ({output_padding!r}) must be non-negative and smaller "
                                  f"than strides ({self.strides}).")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get_argument(cls, "kernel_regularizer", kernel_regularizer)
        self.kernel_constraint = constraints.get_argument(cls, "kernel_constraint", kernel_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                                      self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_channels = channels

    def _transpose_padding(self):
        out = []
        for i in range(self.rank):
            k = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            s = self.strides[i]
            op = None if self.output_padding is None else self.output_padding[i]
            if self.padding == "valid":
                op = max(k, s) - k if op is None else op
                out.append((k - 1, k - 1 + op))
            else:
                pad_len = s + k - 2 if op is None else k + k % 2 - 2 + op
                left = min(pad_len // 2 + pad_len % 2, k - 1)
                out.append((left, pad_len - left))
        return out

    def _forward(self, x):
        y = lax.conv_transpose(x, self.kernel.value.astype(x.dtype), self.strides,
                               padding=self._transpose_padding(), rhs_dilation=self.dilation_rate,
                               dimension_numbers=_dimension_numbers(self.rank), transpose_kernel=True)
        return self._bias_activation(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._common_config(),
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint)}


class Conv1DTranspose(_ConvTranspose):
    """1D transposed convolution; kernel ``(k, filters, in_channels)``."""

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """2D transposed convolution; kernel ``(kh, kw, filters, in_channels)``."""

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """3D transposed convolution; kernel ``(kd, kh, kw, filters, in_channels)``."""

    rank = 3


def _depthwise(x, kernel, strides, padding, dilation, rank):
    """Keras's depthwise conv: kernel ``(k..., in, multiplier)`` as ``(k..., 1, in * multiplier)`` grouped."""
    channels = kernel.shape[-2]
    kernel = jnp.reshape(kernel, kernel.shape[:-2] + (1, channels * kernel.shape[-1]))
    return lax.conv_general_dilated(x, kernel.astype(x.dtype), strides, padding, rhs_dilation=dilation,
                                    dimension_numbers=_dimension_numbers(rank), feature_group_count=channels)


class _DepthwiseConv(_ConvBase):
    """Depthwise convolution: each input channel convolved with ``depth_multiplier`` filters of its own.

    Weights, as Keras: ``kernel`` ``(k..., in_channels, depth_multiplier)`` and ``bias`` ``(in * multiplier,)``;
    the kernel's initializer, regularizer and constraint are the ``depthwise_*`` arguments, the bias's ``bias_*``.
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", cls)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, bias_constraint)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get_argument(cls, "depthwise_regularizer", depthwise_regularizer)
        self.depthwise_constraint = constraints.get_argument(cls, "depthwise_constraint", depthwise_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier),
                                      self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_channels = channels

    def _forward(self, x):
        y = _depthwise(x, self.kernel.value, self.strides, self._lax_padding(), self.dilation_rate, self.rank)
        return self._bias_activation(y)

    def get_config(self):
        return {**super().get_config(), **self._common_config(), "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint)}


class DepthwiseConv1D(_DepthwiseConv):
    """1D depthwise convolution; kernel ``(k, in_channels, depth_multiplier)``."""

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """2D depthwise convolution; kernel ``(kh, kw, in_channels, depth_multiplier)``."""

    rank = 2


class _SeparableConv(_ConvBase):
    """Depthwise then pointwise (1x1) convolution, as Keras.

    Weights, in Keras's order: ``depthwise_kernel`` ``(k..., in, depth_multiplier)``, ``pointwise_kernel``
    ``(1..., in * depth_multiplier, filters)``, ``bias`` ``(filters,)``; each with its ``depthwise_*``,
    ``pointwise_*`` or ``bias_*`` initializer, regularizer and constraint.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cls = type(self).__name__
        self.filters = _positive_int(filters, "filters", cls)
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier", cls)
        self._init_common(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                          bias_initializer, bias_regularizer, bias_constraint)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get_argument(cls, "depthwise_regularizer", depthwise_regularizer)
        self.depthwise_constraint = constraints.get_argument(cls, "depthwise_constraint", depthwise_constraint)
        self.pointwise_regularizer = regularizers.get_argument(cls, "pointwise_regularizer", pointwise_regularizer)
        self.pointwise_constraint = constraints.get_argument(cls, "pointwise_constraint", pointwise_constraint)

    def build(self, input_shape):
        channels = self._channels(input_shape)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (channels, self.depth_multiplier), self.depthwise_initializer,
            regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1,) * self.rank + (channels * self.depth_multiplier, self.filters),
            self.pointwise_initializer, regularizer=self.pointwise_regularizer, constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.input_channels = channels

    def _forward(self, x):
        y = _depthwise(x, self.depthwise_kernel.value, self.strides, self._lax_padding(), self.dilation_rate,
                       self.rank)
        y = lax.conv_general_dilated(y, self.pointwise_kernel.value.astype(y.dtype), (1,) * self.rank, "VALID",
                                     dimension_numbers=_dimension_numbers(self.rank))
        return self._bias_activation(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._common_config(),
                "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
                "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
                "pointwise_constraint": constraints.serialize(self.pointwise_constraint)}


class SeparableConv1D(_SeparableConv):
    """1D separable convolution (depthwise, then pointwise)."""

    rank = 1


class SeparableConv2D(_SeparableConv):
    """2D separable convolution (depthwise, then pointwise)."""

    rank = 2


# Keras's long names for the same classes; configs may name them too.
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
for _alias in ("Convolution1D", "Convolution2D", "Convolution3D", "Convolution1DTranspose", "Convolution2DTranspose",
               "Convolution3DTranspose", "SeparableConvolution1D", "SeparableConvolution2D"):
    registry.register_builtin(globals()[_alias], _alias)
del _alias
