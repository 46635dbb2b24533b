"""Grouped-query attention (Keras 3 ``GroupQueryAttention``): query heads share fewer key/value heads."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from kerasish import constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.attention import _SOFTMAX_FILL, MultiHeadAttention, _dropout, _positive_int, _rate
from kerasish.layers.base import Layer, unique_name
from kerasish.saving import registry


class GroupedQueryAttention(MultiHeadAttention):
    """Attention with ``num_query_heads`` query heads and ``num_key_value_heads`` key/value heads, each
    key/value head serving ``num_query_heads // num_key_value_heads`` query heads (Ainslie et al., 2023).

    Args:
        head_dim: size of every head (query, key and value).
        num_query_heads: number of query heads.
        num_key_value_heads: number of key and value heads; must divide ``num_query_heads``.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        sliding_window: if set, each query position only sees keys less than this far away.
        flash_attention: not supported (XLA fuses the attention); only None or False.
        kernel_initializer / bias_initializer, kernel_regularizer / bias_regularizer,
            kernel_constraint / bias_constraint: as :class:`MultiHeadAttention`.
        use_gate: whether a sigmoid gate (a projection of the query) multiplies the heads' outputs.
        seed: accepted for Keras compatibility; dropout keys come from the model's RNG stream.

    Call arguments: ``query`` ``(B, T, dim)``, ``value`` ``(B, S, dim)``, ``key`` (default ``value``), the
    masks, ``return_attention_scores``, ``training`` and ``use_causal_mask``, as :class:`MultiHeadAttention`.

    Weights (Keras's names and order): ``query`` ``(dim, Hq, head_dim)``, ``key`` ``(dim, Hkv, head_dim)``,
    ``gate`` (with ``use_gate``), ``value`` ``(dim, Hkv, head_dim)``, ``attention_output``
    ``(Hq, head_dim, dim)``, each with its bias. Output shape: ``(B, T, dim)``; scores ``(B, Hq, T, S)``.
    """

    def __init__(self, head_dim, num_query_heads, num_key_value_heads, dropout=0.0, use_bias=True,
                 sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        name = "GroupQueryAttention"
        if kwargs.get("name") is None:  # Keras's default name comes from its class, GroupedQueryAttention
            kwargs["name"] = unique_name("grouped_query_attention")
        head_dim = _positive_int(name, "head_dim", head_dim)
        num_query_heads = _positive_int(name, "num_query_heads", num_query_heads)
        num_key_value_heads = _positive_int(name, "num_key_value_heads", num_key_value_heads)
        if num_query_heads % num_key_value_heads:
            raise ConfigError(f"{name}: num_query_heads ({num_query_heads}) must be a multiple of "
                              f"num_key_value_heads ({num_key_value_heads}).")
        if flash_attention:
            raise ConfigError(f"{name}: flash_attention is not supported (XLA fuses the attention), "
                              f"got {flash_attention!r}.")
        _rate(name, dropout)
        super().__init__(num_query_heads, head_dim, dropout=dropout, use_bias=use_bias, sliding_window=sliding_window,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         bias_constraint=bias_constraint, use_gate=use_gate, seed=seed, **kwargs)
        self._num_kv_heads = num_key_value_heads
        self.num_repeats = num_query_heads // num_key_value_heads

    head_dim = property(lambda self: self._key_dim)
    num_query_heads = property(lambda self: self._num_heads)
    num_key_value_heads = property(lambda self: self._num_kv_heads)

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections from the query, value and (optional) key shapes."""
        if value_shape is None and isinstance(query_shape, (list, tuple)) and query_shape \
                and isinstance(query_shape[0], (list, tuple)):
            query_shape, value_shape, *rest = list(query_shape) + [None]
            key_shape = rest[0]
        query_shape, value_shape, key_shape = self._shapes(query_shape, value_shape, key_shape)
        if len(query_shape) != 3:
            raise InputError(f"Layer {self.name!r} (GroupQueryAttention) takes (batch, time, features) inputs, "
                             f"got query shape {query_shape}.")
        if query_shape[-1] != value_shape[-1]:
            raise InputError(f"Layer {self.name!r} (GroupQueryAttention): query and value must have the same "
                             f"feature size, got shapes {query_shape} and {value_shape}.")
        hq, hkv, dim = self._num_heads, self._num_kv_heads, self._key_dim
        self._query_dense = self._projection("query", (hq, dim), 1)
        self._query_dense._maybe_build(query_shape)
        self._key_dense = self._projection("key", (hkv, dim), 1)
        self._key_dense._maybe_build(key_shape)
        if self._use_gate:
            self._gate_dense = self._projection("gate", (hq, dim), 1, activation=jax.nn.sigmoid)
            self._gate_dense._maybe_build(query_shape)
        self._value_dense = self._projection("value", (hkv, dim), 1)
        self._value_dense._maybe_build(value_shape)
        self._output_dense = self._projection("attention_output", (query_shape[-1],), 2)
        self._output_dense._maybe_build((None, None, hq, dim))
        for sub in self._layers:
            for var in sub.weights:
                var.path = f"{self.name}/{sub.name}/{var.name}"
        self._attention_axes = (1,)
        self._query_shape, self._value_shape, self._key_shape = query_shape, value_shape, key_shape
        self.built = True

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key = value if key is None else key
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                                    use_causal_mask)
        q = self._query_dense(query) * jnp.asarray(1.0 / math.sqrt(self._key_dim), query.dtype)
        k = jnp.repeat(self._key_dense(key), self.num_repeats, axis=2)  # (B, S, Hq, dim)
        v = jnp.repeat(self._value_dense(value), self.num_repeats, axis=2)
        fused = self._dropout == 0 and not return_attention_scores
        if mask is not None:  # (B|1, T|1, S|1) -> (B|1, 1, T|1, S|1): one mask for every head
            mask = mask.reshape((1,) * (3 - mask.ndim) + mask.shape)[:, None]
        if fused:  # as Keras: jax.nn.dot_product_attention when neither scores nor dropout are needed
            out = jax.nn.dot_product_attention(q, k, v, mask=mask, scale=1.0)
            scores = None
        else:
            logits = jnp.einsum("bquh,bkuh->buqk", q, k)
            if mask is not None:
                logits = jnp.where(mask, logits, _SOFTMAX_FILL)
            scores = jax.nn.softmax(logits.astype(jnp.float32), axis=-1).astype(q.dtype)
            if mask is not None:
                scores = jnp.where(mask, scores, 0.0)
            probs = _dropout(self, scores, self._dropout) if training and self._dropout > 0 else scores
            out = jnp.einsum("buqk,bkuh->bquh", probs, v)
        if self._use_gate:
            out = out * self._gate_dense(query)
        out = self._output_dense(out)
        return (out, scores) if return_attention_scores else out

    def get_config(self):
        # the base Layer config: MultiHeadAttention's own keys do not apply
        return {**Layer.get_config(self), "head_dim": self._key_dim, "num_query_heads": self._num_heads,
                "num_key_value_heads": self._num_kv_heads, "use_bias": self._use_bias, "use_gate": self._use_gate,
                "sliding_window": self._sliding_window, "dropout": self._dropout,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self._bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self._kernel_constraint),
                "bias_constraint": constraints.serialize(self._bias_constraint), "seed": self.seed}


# Keras 3 exports (and so names in configs) this class as GroupQueryAttention.
GroupedQueryAttention.__name__ = "GroupQueryAttention"
GroupQueryAttention = GroupedQueryAttention
registry.register_builtin(GroupedQueryAttention, "GroupQueryAttention")
