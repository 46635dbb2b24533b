"""Attention layers: MultiHeadAttention, Attention (Luong) and AdditiveAttention (Bahdanau)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from kerasish import constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer, shape_of

# Keras's fill values for masked logits: its Softmax layer (scores path) and jax.nn.dot_product_attention.
_SOFTMAX_FILL = -1e9
_FUSED_FILL = -0.7 * float(jnp.finfo(jnp.float32).max)



def _dropout(layer: Layer, x, rate: float):
    keep = jax.random.bernoulli(layer.random_key(x), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0).astype(x.dtype)


def _causal_mask(q_len: int, v_len: int):
    """``(1, q_len, v_len)``: position i sees positions j <= i."""
    return jnp.tril(jnp.ones((q_len, v_len), dtype=bool))[None]


class _Projection(Layer):
    """Keras's ``EinsumDense`` as MultiHeadAttention uses it: contracts the last ``contract`` input axes.

    The kernel is ``input_shape[-contract:] + out_shape`` and the bias ``out_shape``, as in Keras.
    """

    supports_masking = True  # projects each position alone, so the query's mask still holds

    def __init__(self, out_shape, contract, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, kernel_constraint, bias_constraint, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.out_shape = tuple(out_shape)
        self.contract = contract
        self.use_bias = use_bias
        self.activation = activation
        self._init = (kernel_initializer, bias_initializer)
        self._reg = (kernel_regularizer, bias_regularizer)
        self._cons = (kernel_constraint, bias_constraint)

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", tuple(input_shape[-self.contract:]) + self.out_shape, self._init[0],
                                      regularizer=self._reg[0], constraint=self._cons[0])
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight("bias", self.out_shape, self._init[1], regularizer=self._reg[1],
                                        constraint=self._cons[1])

    def call(self, inputs):
        axes = list(range(inputs.ndim - self.contract, inputs.ndim))
        out = jnp.tensordot(inputs, self.kernel.value, axes=(axes, list(range(self.contract))))
        if self.bias is not None:
            out = out + self.bias.value
        return out if self.activation is None else self.activation(out)


def _positive_int(layer: str, arg: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{layer}: {arg} must be a positive integer{' or None' if allow_none else ''}, "
                          f"got {value!r}.")
    return value


def _rate(layer: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{layer}: dropout must be a number in [0, 1), got {value!r}.")
    return float(value)


class MultiHeadAttention(Layer):
    """Multi-head (scaled dot-product) attention, as in "Attention is all you need".

    ``query``, ``key`` and ``value`` are projected to ``num_heads`` heads, each query attends
    over the key positions with ``softmax(q . k / sqrt(key_dim))``, and the heads' weighted
    values are projected back to the query's feature size (or to ``output_shape``).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key.
        value_dim: size of each head for value; ``None`` means ``key_dim``.
        dropout: dropout rate on the attention probabilities (training only).
        use_bias: whether the projections have biases.
        output_shape: the output's feature shape (int or tuple); ``None`` is the query's last dim.
        attention_axes: axes attended over (of the projected ``(batch, ..., heads, dim)`` tensors);
            ``None`` means all axes but batch, heads and features.
        sliding_window: if set, each query position only sees keys less than this far away.
        use_gate: whether a sigmoid gate (a projection of the query) multiplies the heads' outputs.
        kernel_initializer / bias_initializer: initializers of the projections.
        kernel_regularizer / bias_regularizer: regularizers of the projections.
        kernel_constraint / bias_constraint: constraints of the projections.
        seed: accepted for Keras compatibility; dropout keys come from the model's RNG stream.

    Call arguments: ``query`` ``(B, T, dim)``, ``value`` ``(B, S, dim_v)``, ``key`` (default ``value``),
    ``query_mask`` ``(B, T)``, ``value_mask`` / ``key_mask`` ``(B, S)``, ``attention_mask`` ``(B, T, S)``
    (True attends), ``return_attention_scores``, ``training``, ``use_causal_mask``.

    Output shape: ``(B, T, dim)`` (or ``(B, T, *output_shape)``); the scores are ``(B, heads, T, S)``.
    """

    supports_masking = True

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        name = "MultiHeadAttention"
        self._num_heads = _positive_int(name, "num_heads", num_heads)
        self._key_dim = _positive_int(name, "key_dim", key_dim)
        self._value_dim = _positive_int(name, "value_dim", value_dim, allow_none=True) or key_dim
        self._dropout = _rate(name, dropout)
        if output_shape is not None and output_shape != ():
            if isinstance(output_shape, int):
                output_shape = (output_shape,)
            if not isinstance(output_shape, (list, tuple)) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in output_shape):
                raise ConfigError(f"{name}: output_shape must be a positive int or a tuple/list of them, "
                                  f"got {output_shape!r}.")
            output_shape = tuple(output_shape)
        else:
            output_shape = None
        if isinstance(attention_axes, int) and not isinstance(attention_axes, bool):
            attention_axes = (attention_axes,)
        if attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)) or not attention_axes or not all(
                    isinstance(a, int) and not isinstance(a, bool) for a in attention_axes):
                raise ConfigError(f"{name}: attention_axes must be None, an int or a list/tuple of ints, "
                                  f"got {attention_axes!r}.")
            attention_axes = tuple(attention_axes)
        if flash_attention:
            raise ConfigError(f"{name}: flash_attention is not supported (XLA fuses the attention), "
                              f"got {flash_attention!r}.")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self._sliding_window = _positive_int(name, "sliding_window", sliding_window, allow_none=True)
        self._use_bias = bool(use_bias)
        self._use_gate = bool(use_gate)
        self._output_shape = output_shape
        self._attention_axes = attention_axes
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._kernel_constraint = constraints.get_argument(name, "kernel_constraint", kernel_constraint)
        self._bias_constraint = constraints.get_argument(name, "bias_constraint", bias_constraint)
        self.seed = seed

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    # -- building --------------------------------------------------------------------------------
    def _projection(self, name, out_shape, contract, activation=None):
        return _Projection(out_shape, contract, self._use_bias, self._kernel_initializer, self._bias_initializer,
                           self._kernel_regularizer, self._bias_regularizer, self._kernel_constraint,
                           self._bias_constraint, activation=activation, name=name, dtype=self.dtype_policy)

    def _shapes(self, query_shape, value_shape, key_shape):
        """Validate the three input shapes (batch first) and return them as tuples."""
        if value_shape is None:
            raise InputError(f"Layer {self.name!r} (MultiHeadAttention) needs a `value` input besides `query`.")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3 or shape[-1] is None:
                raise InputError(f"Layer {self.name!r} (MultiHeadAttention): {what} must have shape (batch, ..., "
                                 f"features) with a known feature size, got shape {shape}.")
        if len(value_shape) != len(query_shape) or len(key_shape) != len(query_shape):
            raise InputError(f"Layer {self.name!r} (MultiHeadAttention): query, value and key must have the same "
                             f"rank, got shapes {query_shape}, {value_shape}, {key_shape}.")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise InputError(f"Layer {self.name!r} (MultiHeadAttention): value and key must agree on all but the "
                             f"last dimension, got value shape {value_shape} and key shape {key_shape}.")
        return query_shape, value_shape, key_shape

    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the projections from the query, value and (optional) key shapes."""
        if value_shape is None and isinstance(query_shape, (list, tuple)) and query_shape \
                and isinstance(query_shape[0], (list, tuple)):
            query_shape, value_shape, *rest = list(query_shape) + [None]
            key_shape = rest[0]
        query_shape, value_shape, key_shape = self._shapes(query_shape, value_shape, key_shape)
        heads = self._num_heads
        # Weights in Keras's order: query, key, (gate), value, attention_output.
        self._query_dense = self._projection("query", (heads, self._key_dim), 1)
        self._query_dense._maybe_build(query_shape)
        self._key_dense = self._projection("key", (heads, self._key_dim), 1)
        self._key_dense._maybe_build(key_shape)
        if self._use_gate:
            self._gate_dense = self._projection("gate", (heads, self._value_dim), 1, activation=jax.nn.sigmoid)
            self._gate_dense._maybe_build(query_shape)
        self._value_dense = self._projection("value", (heads, self._value_dim), 1)
        self._value_dense._maybe_build(value_shape)
        out_shape = self._output_shape or (query_shape[-1],)
        self._output_dense = self._projection("attention_output", out_shape, 2)
        self._output_dense._maybe_build(query_shape[:-1] + (heads, self._value_dim))
        rank = len(query_shape) + 1  # of the projected (batch, ..., heads, dim) tensors
        axes = self._attention_axes
        if axes is None:
            axes = tuple(range(1, rank - 2))
        else:
            axes = tuple(a if a >= 0 else rank - 1 + a for a in axes)
            if any(not 1 <= a <= rank - 3 for a in axes) or len(set(axes)) != len(axes):
                raise InputError(f"Layer {self.name!r} (MultiHeadAttention): attention_axes "
                                 f"{self._attention_axes} must name distinct axes between the batch and the "
                                 f"features of inputs of shape {query_shape}.")
        self._attention_axes = tuple(sorted(axes))
        for sub in self._layers:
            for var in sub.weights:
                var.path = f"{self.name}/{sub.name}/{var.name}"
        self._query_shape = query_shape
        self._value_shape = value_shape
        self._key_shape = key_shape
        self.built = True

    def _check_shapes(self, query_shape, value_shape, key_shape) -> None:
        shapes = self._shapes(query_shape, value_shape, key_shape)
        for what, got, want in zip(("query", "value", "key"), shapes,
                                   (self._query_shape, self._value_shape, self._key_shape)):
            if len(got) != len(want) or got[-1] != want[-1]:
                raise InputError(f"Layer {self.name!r} (MultiHeadAttention) was built for {what} of shape "
                                 f"{want}, got {what} of shape {got}.")

    def _check_input(self, input_shape):
        """Shapes are checked in ``__call__``, which sees query, value and key together."""

    def __call__(self, query=None, value=None, key=None, **kwargs):
        if query is None:
            query = kwargs.pop("inputs", None)
        if query is None:
            raise InputError(f"Layer {self.name!r} (MultiHeadAttention) was called without a query.")
        shapes = (shape_of(query), None if value is None else shape_of(value),
                  None if key is None else shape_of(key))
        if not self.built:
            self._maybe_build(shapes)
        else:
            self._check_shapes(*shapes)
        return super().__call__(query, value, key, **kwargs)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None and isinstance(query_shape, (list, tuple)) and query_shape \
                and isinstance(query_shape[0], (list, tuple)):
            query_shape, value_shape, *rest = list(query_shape) + [None]
            key_shape = rest[0]
        query_shape, value_shape, key_shape = self._shapes(query_shape, value_shape, key_shape)
        return query_shape[:-1] + (self._output_shape or (query_shape[-1],))

    def compute_mask(self, inputs, mask=None):
        """The output is masked like the query (the first mask when given one per input)."""
        if isinstance(mask, (list, tuple)):
            return mask[0] if mask else None
        return mask

    # -- computing ---------------------------------------------------------------------------------
    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """AND of the padding masks ``(B, T, 1)`` / ``(B, 1, S)``, the causal/window masks and ``attention_mask``."""
        masks = []
        if query_mask is not None:
            masks.append(jnp.asarray(query_mask).astype(bool)[..., None])
        for m in (value_mask, key_mask):
            if m is not None:
                masks.append(jnp.asarray(m).astype(bool)[..., None, :])
        if use_causal_mask:
            masks.append(_causal_mask(query.shape[1], value.shape[1]))
        if self._sliding_window is not None:
            rows = jnp.arange(query.shape[1])[:, None]
            cols = jnp.arange(value.shape[1])[None, :]
            masks.append((jnp.abs(rows - cols) < self._sliding_window)[None])
        if attention_mask is not None:
            masks.append(jnp.asarray(attention_mask).astype(bool))
        if not masks:
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out & m
        return out

    def _equations(self, rank):
        """einsum equations for scores ``(key, query) -> scores`` and ``(scores, value) -> output``.

        The projected tensors are ``(batch, ..., heads, dim)``; the scores keep the non-attended
        axes (batch, other axes, heads) first, then the query's and the key's attended axes.
        """
        letters = "abcdefghijklmnopqrstuvwxyz"
        axes = self._attention_axes
        target = letters[:rank]
        source = list(target)
        for i, a in enumerate(axes):
            source[a] = letters[rank + i]
        source = "".join(source)
        kept = [target[i] for i in range(rank - 1) if i not in axes]
        scores = "".join(kept + [target[a] for a in axes] + [source[a] for a in axes])
        return f"{source},{target}->{scores}", f"{scores},{source}->{target}", len(scores)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key = value if key is None else key
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask,
                                    use_causal_mask)
        q = self._query_dense(query) * jnp.asarray(1.0 / math.sqrt(self._key_dim), query.dtype)
        k = self._key_dense(key)
        v = self._value_dense(value)
        fused = self._dropout == 0 and not return_attention_scores and q.ndim == 4
        if fused and tuple(self._attention_axes) == (1,) and v.shape[-1] == q.shape[-1]:
            # jax.nn.dot_product_attention, as Keras: XLA (or cuDNN on a GPU) fuses scores, softmax and sum
            if mask is not None:  # (B|1, T|1, S|1) -> (B|1, 1, T|1, S|1): one mask for every head
                mask = mask.reshape((1,) * (3 - mask.ndim) + mask.shape)[:, None]
            out = jax.nn.dot_product_attention(q, k, v, mask=mask, scale=1.0)
            if self._use_gate:
                out = out * self._gate_dense(query)
            return self._output_dense(out)
        score_eq, combine_eq, score_rank = self._equations(q.ndim)
        logits = jnp.einsum(score_eq, k, q)
        if mask is not None:
            n_attn = 2 * len(self._attention_axes)
            mask = mask.reshape(mask.shape[:-n_attn] + (1,) * (score_rank - mask.ndim) + mask.shape[-n_attn:])
        norm_axes = tuple(range(score_rank - len(self._attention_axes), score_rank))
        # Keras takes jax.nn.dot_product_attention for plain sequences when it needs no scores or
        # dropout (a fully masked row averages all values) and a masked Softmax otherwise (such a row
        # gets zero weights); the two agree on every row with at least one visible key.
        if mask is not None:
            logits = jnp.where(mask, logits, _FUSED_FILL if fused else _SOFTMAX_FILL)
        scores = jax.nn.softmax(logits.astype(jnp.float32), axis=norm_axes).astype(q.dtype)
        if mask is not None and not fused:
            scores = jnp.where(mask, scores, 0.0)
        probs = scores
        if training and self._dropout > 0:
            probs = _dropout(self, scores, self._dropout)
        out = jnp.einsum(combine_eq, probs, v)
        if self._use_gate:
            out = out * self._gate_dense(query)
        out = self._output_dense(out)
        return (out, scores) if return_attention_scores else out

    def get_build_config(self) -> dict | None:
        # Keras builds MultiHeadAttention from named shapes: build(query_shape, value_shape, key_shape=None).
        shapes = self._build_shape
        if not self.built or not isinstance(shapes, (list, tuple)) or len(shapes) < 2:
            return super().get_build_config()
        named = {"query_shape": shapes[0], "value_shape": shapes[1]}
        if len(shapes) > 2 and shapes[2] is not None:
            named["key_shape"] = shapes[2]
        return {"shapes_dict": named}

    def get_config(self):
        return {**super().get_config(), "num_heads": self._num_heads, "key_dim": self._key_dim,
                "value_dim": self._value_dim, "dropout": self._dropout, "use_bias": self._use_bias,
                "use_gate": self._use_gate,
                "output_shape": None if self._output_shape is None else list(self._output_shape),
                "attention_axes": None if self._attention_axes is None else list(self._attention_axes),
                "sliding_window": self._sliding_window,
                "kernel_initializer": initializers.serialize(self._kernel_initializer),
                "bias_initializer": initializers.serialize(self._bias_initializer),
                "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self._bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self._kernel_constraint),
                "bias_constraint": constraints.serialize(self._bias_constraint),
                "seed": self.seed}


class Attention(Layer):
    """Dot-product (Luong-style) attention over ``[query, value]`` or ``[query, value, key]``.

    Scores are ``query . key`` (``score_mode="dot"``) or ``sum(tanh(query + key))``
    (``"concat"``), softmaxed over the value positions and used to average ``value``.

    Args:
        use_scale: whether to learn a scalar ``scale`` multiplying the scores.
        score_mode: ``"dot"`` or ``"concat"`` (which adds a scalar ``concat_score_weight``).
        dropout: dropout rate on the attention weights (training only).
        seed: accepted for Keras compatibility; dropout keys come from the model's RNG stream.

    Call arguments: ``inputs=[query (B, Tq, dim), value (B, Tv, dim_v), key (B, Tv, dim)]``,
    ``mask=[query_mask (B, Tq), value_mask (B, Tv)]``, ``training``, ``return_attention_scores``,
    ``use_causal_mask``.

    Output shape: ``(B, Tq, dim_v)``; the scores are ``(B, Tq, Tv)``.
    """

    supports_masking = True

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        kind = type(self).__name__
        if score_mode not in ("dot", "concat"):
            raise ConfigError(f"{kind}: score_mode must be 'dot' or 'concat', got {score_mode!r}.")
        self.dropout = _rate(kind, dropout)
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.seed = seed

    def _split_shapes(self, input_shape):
        kind = type(self).__name__
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) not in (2, 3) or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise InputError(f"Layer {self.name!r} ({kind}) must be called on a list [query, value] or "
                             f"[query, value, key], got input shape {input_shape}.")
        query, value = tuple(input_shape[0]), tuple(input_shape[1])
        key = tuple(input_shape[2]) if len(input_shape) == 3 else value
        if query[-1] != key[-1] or key[:-1] != value[:-1] or not (len(query) == len(key) >= 3):
            raise InputError(f"Layer {self.name!r} ({kind}): query (batch, Tq, dim) and key (batch, Tv, dim) need the "
                             f"same last dimension, and key and value the same (batch, Tv), got query {query}, "
                             f"value {value}, key {key}.")
        return query, value, key

    def _check_input(self, input_shape):
        self._split_shapes(input_shape)

    def build(self, input_shape):
        self._split_shapes(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones")

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = jnp.einsum("...qd,...vd->...qv", query, key)
            return scores if self.scale is None else scores * self.scale.value
        pre = query[..., :, None, :] + key[..., None, :, :]
        if self.scale is not None:
            pre = self.scale.value * pre
        return self.concat_score_weight.value * jnp.sum(jnp.tanh(pre), axis=-1)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = self._split_mask(mask)
        scores = self._scores(query, key)
        visible = None if value_mask is None else jnp.asarray(value_mask).astype(bool)[..., None, :]
        if use_causal_mask:
            causal = _causal_mask(scores.shape[-2], scores.shape[-1])
            visible = causal if visible is None else visible & causal
        if visible is not None:
            scores = jnp.where(visible, scores, scores - 1e9)
        weights = jax.nn.softmax(scores, axis=-1)
        probs = weights
        if training and self.dropout > 0:
            probs = _dropout(self, weights, self.dropout)
        out = jnp.einsum("...qv,...vd->...qd", probs, value)
        if query_mask is not None:
            out = jnp.where(jnp.asarray(query_mask).astype(bool)[..., None], out, 0.0)
        return (out, weights) if return_attention_scores else out

    def _split_mask(self, mask):
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}): mask must be a list [query_mask, "
                             f"value_mask], got {type(mask).__name__} of shape {getattr(mask, 'shape', None)}.")
        return mask[0], mask[1]

    def compute_mask(self, inputs, mask=None):
        """The output is masked like the query."""
        return self._split_mask(mask)[0]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores are ``sum(scale * tanh(query + key))``.

    Args:
        use_scale: whether to learn a per-feature ``scale`` of shape ``(dim,)`` (glorot-uniform init).
        dropout: dropout rate on the attention weights (training only).
        seed: accepted for Keras compatibility; dropout keys come from the model's RNG stream.

    Call arguments and shapes as :class:`Attention`.
    """

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        query, _, _ = self._split_shapes(input_shape)
        self.scale = None
        self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight("scale", (query[-1],), "glorot_uniform")

    def _scores(self, query, key):
        pre = jnp.tanh(query[..., :, None, :] + key[..., None, :, :])
        if self.scale is not None:
            pre = self.scale.value * pre
        return jnp.sum(pre, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
