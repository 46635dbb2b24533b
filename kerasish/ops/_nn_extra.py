"""keras.ops.nn: adaptive pooling, CTC, dot-product attention and the patch/space rearrangements."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import data_format_or_default, tensor

# -- adaptive pooling: each output cell pools [floor(i*n/out), ceil((i+1)*n/out)) of its axis, as torch and Keras --

def _adaptive_axis(x, axis: int, out: int, reduce: str):
    n = x.shape[axis]
    start = (jnp.arange(out) * n) // out
    stop = -((-(jnp.arange(1, out + 1) * n)) // out)
    inside = (jnp.arange(n)[None, :] >= start[:, None]) & (jnp.arange(n)[None, :] < stop[:, None])  # (out, n)
    moved = jnp.moveaxis(x, axis, -1)[..., None, :]  # (..., 1, n)
    if reduce == "avg":
        pooled = jnp.sum(jnp.where(inside, moved, 0), axis=-1) / (stop - start).astype(x.dtype)
    else:
        low = -jnp.inf if jnp.issubdtype(x.dtype, jnp.floating) else jnp.iinfo(x.dtype).min
        pooled = jnp.max(jnp.where(inside, moved, low), axis=-1)
    return jnp.moveaxis(pooled, -1, axis)


def _adaptive(inputs, output_size, data_format, reduce, name):
    x = tensor(inputs)
    if reduce == "avg" and not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype("float32")
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise InputError(f"ops.{name}: inputs must be 3-D, 4-D or 5-D (batch, spatial..., channels); "
                         f"got shape {x.shape}.")
    sizes = (output_size,) * rank if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != rank:
        raise InputError(f"ops.{name}: output_size needs {rank} values; got {output_size!r}.")
    first = 1 if data_format_or_default(data_format) == "channels_last" else 2
    for i, size in enumerate(sizes):
        x = _adaptive_axis(x, first + i, int(size), reduce)
    return x


@keras_op
def adaptive_average_pool(inputs, output_size, data_format=None):
    return _adaptive(inputs, output_size, data_format, "avg", "adaptive_average_pool")


@keras_op
def adaptive_max_pool(inputs, output_size, data_format=None):
    return _adaptive(inputs, output_size, data_format, "max", "adaptive_max_pool")


# -- CTC ---------------------------------------------------------------------------------------------------------

@keras_op
def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """Per-sequence CTC loss of logits ``output`` ``(batch, time, classes)`` against int ``target``
    ``(batch, max_label)`` (optax's ``ctc_loss``; ``mask_index`` is the blank class)."""
    target = tensor(target).astype("int32")
    output = tensor(output)
    output = output.astype(jnp.result_type(output.dtype, jnp.float32))
    target_length, output_length = tensor(target_length).astype("int32"), tensor(output_length).astype("int32")
    logit_paddings = (jnp.arange(output.shape[1])[None, :] >= output_length[:, None]).astype(output.dtype)
    label_paddings = (jnp.arange(target.shape[1])[None, :] >= target_length[:, None]).astype(output.dtype)
    return optax.ctc_loss(output, logit_paddings, target, label_paddings, blank_id=mask_index, log_epsilon=-1e5)


def _greedy(inputs, lengths, merge_repeated, mask_index):
    batch, steps, classes = inputs.shape
    best = jnp.argmax(inputs, axis=-1)
    score = jnp.max(inputs, axis=-1)
    beyond = jnp.arange(steps)[None, :] >= lengths[:, None]
    best = jnp.where(beyond, mask_index, best)
    score = jnp.where(beyond, 0.0, score)
    if merge_repeated:
        repeated = jnp.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = jnp.where(repeated, mask_index, best)
    blank = best == mask_index
    best = jnp.where(blank, -1, best)
    # the kept labels first, in order; the blanks (-1) after them
    order = jnp.argsort(jnp.where(blank, steps, jnp.arange(steps)[None, :]), axis=-1)
    return jnp.take_along_axis(best, order, axis=-1)[None], -jnp.sum(score, axis=1)[:, None]


@keras_op
def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Decodes ``(batch, time, classes)`` scores: ``(paths (top_paths, batch, time), scores (batch, top_paths))``
    with -1 padding. ``strategy="greedy"``, or ``"beam_search"`` (a prefix beam search, ``_ctc_beam.py``)."""
    inputs = tensor(inputs)
    lengths = tensor(sequence_lengths).astype("int32")
    if mask_index is None:
        mask_index = inputs.shape[-1] - 1
    if strategy == "greedy":
        return _greedy(inputs, lengths, merge_repeated, mask_index)
    if strategy == "beam_search":
        from kerasish.ops._ctc_beam import beam_search

        return beam_search(inputs, lengths, beam_width, top_paths, mask_index)
    raise InputError(f"ops.ctc_decode: strategy must be 'greedy' or 'beam_search'; got {strategy!r}.")


# -- attention ---------------------------------------------------------------------------------------------------

@keras_op
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """Scaled dot-product attention over ``(batch, seq, heads, head_dim)`` (or unbatched 3-D) inputs; key/value
    may have fewer heads than the query (grouped-query attention). ``flash_attention=True`` is refused on the
    CPU; XLA's fused attention is used where JAX picks it."""
    query, key, value = tensor(query), tensor(key), tensor(value)
    if flash_attention:
        raise InputError("ops.dot_product_attention: flash_attention=True needs a GPU or TPU kernel; pass None or "
                         "False.")
    unbatched = query.ndim == 3
    if unbatched:
        query, key, value = query[None], key[None], value[None]
    b, t, n, h = query.shape
    k_heads = key.shape[2]
    if n % k_heads:
        raise InputError(f"ops.dot_product_attention: query heads ({n}) must be a multiple of key heads ({k_heads}).")
    scale = 1.0 / math.sqrt(h) if scale is None else scale
    q = query.reshape(b, t, k_heads, n // k_heads, h)
    logits = jnp.einsum("btkgh,bskh->bkgts", q, key, preferred_element_type=jnp.float32) * scale
    logits = logits.reshape(b, n, t, key.shape[1])
    if bias is not None:
        bias = tensor(bias)
        logits = logits + (bias[None] if unbatched and bias.ndim == 3 else bias).astype(logits.dtype)
    if attn_logits_soft_cap is not None:
        logits = jnp.tanh(logits / attn_logits_soft_cap) * attn_logits_soft_cap
    keep = None
    if mask is not None:
        mask = tensor(mask).astype(bool)
        keep = mask[None] if unbatched and mask.ndim == 3 else mask
    if is_causal:
        causal = jnp.tril(jnp.ones((t, key.shape[1]), bool))
        keep = causal if keep is None else jnp.logical_and(keep, causal)
    if keep is not None:
        logits = jnp.where(keep, logits, jnp.finfo(jnp.float32).min * 0.7)
    weights = jax.nn.softmax(logits, axis=-1).astype(value.dtype)
    weights = weights.reshape(b, k_heads, n // k_heads, t, key.shape[1])
    out = jnp.einsum("bkgts,bskh->btkgh", weights, value).reshape(b, t, n, value.shape[-1])
    return out[0] if unbatched else out


# -- patches and space/depth rearrangements ----------------------------------------------------------------------

def _pair(value, name):
    return (value, value) if isinstance(value, int) else tuple(value)


@keras_op
def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding patches of a channels-first ``(N, C, H, W)`` image: ``(N, C * kh * kw, L)`` (torch's ``unfold``)."""
    x = tensor(x)
    if x.ndim != 4:
        raise InputError(f"ops.unfold: x must be (N, C, H, W); got shape {x.shape}.")
    kh, kw = _pair(kernel_size, "kernel_size")
    ph, pw = _pair(padding, "padding")
    patches = jax.lax.conv_general_dilated_patches(
        x, (kh, kw), _pair(stride, "stride"), [(ph, ph), (pw, pw)], rhs_dilation=_pair(dilation, "dilation"),
        dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return patches.reshape(x.shape[0], x.shape[1] * kh * kw, -1)


@keras_op
def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """The adjoint of :func:`unfold`: patches ``(N, C * kh * kw, L)`` summed back into ``(N, C, H, W)``."""
    x = tensor(x)
    kh, kw = _pair(kernel_size, "kernel_size")
    if x.ndim != 3 or x.shape[1] % (kh * kw):
        raise InputError(f"ops.fold: x must be (N, C * {kh} * {kw}, L); got shape {x.shape}.")
    h, w = _pair(output_size, "output_size")
    image = jnp.zeros((x.shape[0], x.shape[1] // (kh * kw), h, w), x.dtype)
    _, pullback = jax.vjp(lambda im: unfold(im, kernel_size, dilation, padding, stride), image)
    return pullback(x)[0]


@keras_op
def depth_to_space(x, block_size, data_format="channels_last"):
    """Pixel shuffle: ``(N, H, W, C)`` to ``(N, H*b, W*b, C/b²)`` (channels-last takes the block offsets from the
    channels' high digits, channels-first from their low digits, as Keras)."""
    x, b = tensor(x), block_size
    if data_format == "channels_last":
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    if c % (b * b):
        raise InputError(f"ops.depth_to_space: channels ({c}) must be divisible by block_size**2 ({b * b}).")
    if data_format == "channels_last":
        x = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h * b, w * b, c // (b * b))
    x = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // (b * b), h * b, w * b)


@keras_op
def space_to_depth(x, block_size, data_format="channels_last"):
    """Pixel unshuffle, the inverse of :func:`depth_to_space`."""
    x, b = tensor(x), block_size
    if data_format == "channels_last":
        n, h, w, c = x.shape
    else:
        n, c, h, w = x.shape
    if h % b or w % b:
        raise InputError(f"ops.space_to_depth: height and width ({h}, {w}) must be divisible by block_size ({b}).")
    if data_format == "channels_last":
        x = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
        return x.reshape(n, h // b, w // b, b * b * c)
    x = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * b * b, h // b, w // b)
