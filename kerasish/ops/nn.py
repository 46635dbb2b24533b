"""keras.ops.nn on JAX: activations, convolutions and pooling, normalization, losses, attention."""

from __future__ import annotations

import math as _math

import jax
import jax.numpy as jnp
from jax import lax

from kerasish import activations as _act
from kerasish.errors import InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._nn_extra import (  # noqa: F401
    adaptive_average_pool,
    adaptive_max_pool,
    ctc_decode,
    ctc_loss,
    depth_to_space,
    dot_product_attention,
    fold,
    space_to_depth,
    unfold,
)
from kerasish.ops._util import data_format_or_default, epsilon_or_default, float_tensor, tensor

_EPSILON = 1e-7


def _activation(name, fn):
    def op(x):
        return fn(float_tensor(x))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"The ``{name}`` activation (as ``kerasish.activations.{name}``)."
    return keras_op(op)


_PLAIN = ("relu6", "sigmoid", "sparse_sigmoid", "tanh_shrink", "softplus", "softsign", "sparse_plus", "silu",
          "log_sigmoid", "hard_sigmoid", "hard_silu", "selu", "swish", "hard_swish")
for _name in _PLAIN:
    globals()[_name] = _activation(_name, getattr(_act, _name))


@keras_op
def relu(x):
    return jax.nn.relu(tensor(x))  # ints stay ints, as in Keras


@keras_op
def hard_tanh(x):
    return _act.hard_tanh(tensor(x))


@keras_op
def soft_shrink(x, threshold=0.5):
    return _act.soft_shrink(float_tensor(x), threshold)


@keras_op
def hard_shrink(x, threshold=0.5):
    return _act.hard_shrink(float_tensor(x), threshold)


@keras_op
def squareplus(x, b=4):
    return _act.squareplus(float_tensor(x), b)


@keras_op
def leaky_relu(x, negative_slope=0.2):
    return jax.nn.leaky_relu(float_tensor(x), negative_slope)


@keras_op
def elu(x, alpha=1.0):
    return jax.nn.elu(float_tensor(x), alpha)


@keras_op
def celu(x, alpha=1.0):
    return jax.nn.celu(float_tensor(x), alpha)


@keras_op
def gelu(x, approximate=True):
    return jax.nn.gelu(float_tensor(x), approximate=approximate)


@keras_op
def glu(x, axis=-1):
    return jax.nn.glu(float_tensor(x), axis=axis)


@keras_op
def threshold(x, threshold, default_value):
    return _act.threshold(tensor(x), threshold, default_value)


@keras_op
def softmax(x, axis=-1):
    return jax.nn.softmax(float_tensor(x), axis=axis)


@keras_op
def log_softmax(x, axis=-1):
    return jax.nn.log_softmax(float_tensor(x), axis=axis)


@keras_op
def sparsemax(x, axis=-1):
    """The projection onto the probability simplex (outputs sum to 1). Keras 3.15's sums running totals once
    two or more entries are non-zero (``[1, 0.9, 0]`` gives ``[0.05, 0, 0]``); kerasish computes the projection."""
    return _act.sparsemax(float_tensor(x), axis=axis)


# -- convolution and pooling -------------------------------------------------------------------------------------

def _spatial(value, rank: int, name: str):
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise InputError(f"{name}: expected {rank} values (one per spatial dimension); got {value}.")
    return value


def _dimension_numbers(rank: int, data_format: str):
    spatial = "DHW"[3 - rank:]
    lhs = "N" + spatial + "C" if data_format == "channels_last" else "NC" + spatial
    return lhs, spatial + "IO", lhs


def _padding(padding: str, name: str) -> str:
    if padding not in ("valid", "same"):
        raise InputError(f"ops.{name}: padding must be 'valid' or 'same'; got {padding!r}.")
    return padding.upper()


@keras_op
def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution; ``kernel`` is ``(*spatial, in_channels // groups, out_channels)`` as in Keras."""
    inputs, kernel = tensor(inputs), tensor(kernel)
    rank = inputs.ndim - 2
    data_format = data_format_or_default(data_format)
    channels = inputs.shape[-1] if data_format == "channels_last" else inputs.shape[1]
    if channels % kernel.shape[-2]:
        raise InputError(f"ops.conv: input channels ({channels}) must be a multiple of the kernel's input "
                         f"channels ({kernel.shape[-2]}).")
    return lax.conv_general_dilated(
        inputs, kernel.astype(inputs.dtype), _spatial(strides, rank, "ops.conv strides"), _padding(padding, "conv"),
        rhs_dilation=_spatial(dilation_rate, rank, "ops.conv dilation_rate"),
        dimension_numbers=_dimension_numbers(rank, data_format), feature_group_count=channels // kernel.shape[-2])


@keras_op
def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Depthwise convolution; ``kernel`` is ``(*spatial, in_channels, depth_multiplier)``."""
    inputs, kernel = tensor(inputs), tensor(kernel)
    rank = inputs.ndim - 2
    data_format = data_format_or_default(data_format)
    channels = inputs.shape[-1] if data_format == "channels_last" else inputs.shape[1]
    kernel = kernel.reshape(kernel.shape[:-2] + (1, kernel.shape[-2] * kernel.shape[-1]))
    return lax.conv_general_dilated(
        inputs, kernel.astype(inputs.dtype), _spatial(strides, rank, "ops.depthwise_conv strides"),
        _padding(padding, "depthwise_conv"), rhs_dilation=_spatial(dilation_rate, rank, "dilation_rate"),
        dimension_numbers=_dimension_numbers(rank, data_format), feature_group_count=channels)


@keras_op
def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, dilation_rate)


def _transpose_pads(kernel_size, strides, padding, output_padding, dilation):
    pads = []
    for k, s, op, d in zip(kernel_size, strides, output_padding, dilation):
        k = (k - 1) * d + 1
        if padding == "valid":
            op = max(k, s) - k if op is None else op
            pads.append((k - 1, k - 1 + op))
        else:
            total = s + k - 2 if op is None else k + k % 2 - 2 + op
            left = min(total // 2 + total % 2, k - 1)
            pads.append((left, total - left))
    return pads


@keras_op
def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """Transposed convolution; ``kernel`` is ``(*spatial, out_channels, in_channels)`` as in Keras."""
    inputs, kernel = tensor(inputs), tensor(kernel)
    rank = inputs.ndim - 2
    data_format = data_format_or_default(data_format)
    _padding(padding, "conv_transpose")
    strides = _spatial(strides, rank, "ops.conv_transpose strides")
    dilation = _spatial(dilation_rate, rank, "ops.conv_transpose dilation_rate")
    output_padding = (None,) * rank if output_padding is None else _spatial(output_padding, rank, "output_padding")
    pads = _transpose_pads(kernel.shape[:-2], strides, padding, output_padding, dilation)
    return lax.conv_transpose(inputs, kernel.astype(inputs.dtype), strides, padding=pads, rhs_dilation=dilation,
                              dimension_numbers=_dimension_numbers(rank, data_format), transpose_kernel=True)


def _window(inputs, pool_size, strides, data_format, name):
    rank = inputs.ndim - 2
    pool = _spatial(pool_size, rank, f"ops.{name} pool_size")
    stride = pool if strides is None else _spatial(strides, rank, f"ops.{name} strides")
    if data_format_or_default(data_format) == "channels_last":
        return (1, *pool, 1), (1, *stride, 1)
    return (1, 1, *pool), (1, 1, *stride)


@keras_op
def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    inputs = tensor(inputs)
    window, stride = _window(inputs, pool_size, strides, data_format, "max_pool")
    init = -jnp.inf if jnp.issubdtype(inputs.dtype, jnp.floating) else jnp.iinfo(inputs.dtype).min
    return lax.reduce_window(inputs, jnp.asarray(init, inputs.dtype), lax.max, window, stride,
                             _padding(padding, "max_pool"))


@keras_op
def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Average pooling; with ``padding="same"`` each window averages only its real (unpadded) entries."""
    inputs = tensor(inputs)
    window, stride = _window(inputs, pool_size, strides, data_format, "average_pool")
    pad = _padding(padding, "average_pool")
    total = lax.reduce_window(inputs, jnp.asarray(0, inputs.dtype), lax.add, window, stride, pad)
    if pad == "VALID":
        return total / _math.prod(window)
    ones = jnp.ones([n if w != 1 else 1 for n, w in zip(inputs.shape, window)], inputs.dtype)
    return total / lax.reduce_window(ones, jnp.asarray(0, inputs.dtype), lax.add, window, stride, pad)


# -- encodings, normalization, losses ----------------------------------------------------------------------------

@keras_op
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    if sparse:
        raise InputError("ops.one_hot: sparse=True needs sparse tensors, which kerasish does not have.")
    return jax.nn.one_hot(tensor(x), num_classes, axis=axis, dtype=jnp.dtype(dtype or "float32"))


@keras_op
def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 for each class that appears in a row of ``inputs`` (a batch when 2-D)."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise InputError("ops.multi_hot: give num_classes.")
    x = tensor(inputs).astype("int32")
    encoded = one_hot(x, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    return jnp.max(encoded, axis=1 if x.ndim > 1 else 0)


@keras_op
def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` over ``axes``; float16/bfloat16 are computed in float32. ``synchronized`` has no
    effect (one process computes over the whole batch it is given)."""
    x = tensor(x)
    low = x.dtype in (jnp.float16, jnp.bfloat16)
    xf = x.astype("float32") if low else x
    axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    mean = jnp.mean(xf, axis=axes, keepdims=True)
    variance = jnp.mean(jnp.square(xf), axis=axes, keepdims=True) - jnp.square(lax.stop_gradient(mean))
    variance = jnp.maximum(variance, 0.0)
    if not keepdims:
        mean, variance = jnp.squeeze(mean, axes), jnp.squeeze(variance, axes)
    return (mean.astype(x.dtype), variance.astype(x.dtype)) if low else (mean, variance)


@keras_op
def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = tensor(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def bcast(v):
        return None if v is None else jnp.reshape(tensor(v), shape)

    inv = lax.rsqrt(bcast(variance) + epsilon)
    if scale is not None:
        inv = inv * bcast(scale)
    res = -bcast(mean) * inv
    if offset is not None:
        res = res + bcast(offset)
    return x * inv + res


@keras_op
def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """Normalizes over ``axis`` (an int or a list), then scales by ``gamma`` and shifts by ``beta``."""
    x = tensor(x)
    epsilon = epsilon_or_default(epsilon)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    compute = jnp.float32 if x.dtype in (jnp.float16, jnp.bfloat16) else x.dtype
    xf = x.astype(compute)
    mean = jnp.mean(xf, axis=axes, keepdims=True)
    variance = jnp.var(xf, axis=axes, keepdims=True)
    out = (xf - mean) * lax.rsqrt(variance + epsilon)
    if gamma is not None:
        out = out * tensor(gamma).astype(compute)
    if beta is not None:
        out = out + tensor(beta).astype(compute)
    return out.astype(x.dtype)


@keras_op
def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    x = tensor(x)
    epsilon = epsilon_or_default(epsilon)
    compute = jnp.float32 if x.dtype in (jnp.float16, jnp.bfloat16) else x.dtype
    xf = x.astype(compute)
    out = xf * lax.rsqrt(jnp.mean(jnp.square(xf), axis=axis, keepdims=True) + epsilon)
    if scale is not None:
        out = out * tensor(scale).astype(compute)
    return out.astype(x.dtype)


@keras_op
def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order``-norm along ``axis`` (at least ``epsilon``)."""
    x = float_tensor(x)
    epsilon = epsilon_or_default(epsilon)
    if order == 2:
        return x * lax.rsqrt(jnp.maximum(jnp.sum(jnp.square(x), axis=axis, keepdims=True), epsilon))
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, epsilon)


@keras_op
def binary_crossentropy(target, output, from_logits=False):
    target, output = tensor(target), tensor(output)
    if target.shape != output.shape:
        raise InputError(f"ops.binary_crossentropy: target and output shapes differ: {target.shape} vs "
                         f"{output.shape}.")
    if from_logits:
        log_p, log_not_p = jax.nn.log_sigmoid(output), jax.nn.log_sigmoid(-output)
        return -(target * log_p + (1 - target) * log_not_p)
    output = jnp.clip(output, _EPSILON, 1 - _EPSILON)
    return -(target * jnp.log(output) + (1 - target) * jnp.log(1 - output))


def _log_probs(output, from_logits, axis):
    if from_logits:
        return jax.nn.log_softmax(output, axis=axis)
    output = output / jnp.sum(output, axis, keepdims=True)
    return jnp.log(jnp.clip(output, _EPSILON, 1 - _EPSILON))


@keras_op
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = tensor(target), tensor(output)
    if target.shape != output.shape or target.ndim < 1:
        raise InputError(f"ops.categorical_crossentropy: target and output must have the same shape of rank >= 1; "
                         f"got {target.shape} and {output.shape}.")
    return -jnp.sum(target * _log_probs(output, from_logits, axis), axis=axis)


@keras_op
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    target, output = tensor(target).astype("int32"), tensor(output)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, -1)
    if output.ndim < 1 or target.shape != output.shape[:-1]:
        raise InputError(f"ops.sparse_categorical_crossentropy: target shape {target.shape} must be output shape "
                         f"{output.shape} without its last dimension.")
    onehot = jax.nn.one_hot(target, output.shape[axis], axis=axis, dtype=output.dtype)
    return -jnp.sum(onehot * _log_probs(output, from_logits, axis), axis=axis)


@keras_op
def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio in dB."""
    x1, x2 = tensor(x1), tensor(x2)
    if x1.shape != x2.shape:
        raise InputError(f"ops.psnr: shapes differ: {x1.shape} vs {x2.shape}.")
    mse = jnp.mean(jnp.square(x1 - x2))
    return 20 * jnp.log10(max_val) - 10 * jnp.log10(mse)


@keras_op
def polar(abs_, angle):
    """``abs_ * exp(i * angle)`` as a complex array."""
    abs_, angle = float_tensor(abs_), float_tensor(angle)
    return lax.complex(abs_ * jnp.cos(angle), abs_ * jnp.sin(angle))


__all__ = sorted([
    *_PLAIN, "relu", "hard_tanh", "soft_shrink", "hard_shrink", "squareplus", "leaky_relu", "elu", "celu", "gelu", "glu",
    "threshold", "softmax", "log_softmax", "sparsemax", "conv", "depthwise_conv", "separable_conv", "conv_transpose",
    "max_pool", "average_pool", "adaptive_average_pool", "adaptive_max_pool", "one_hot", "multi_hot", "moments",
    "batch_normalization", "layer_normalization", "rms_normalization", "normalize", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "ctc_loss", "ctc_decode", "psnr", "polar",
    "dot_product_attention", "fold", "unfold", "depth_to_space", "space_to_depth",
])
