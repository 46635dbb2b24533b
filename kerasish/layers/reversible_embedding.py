"""ReversibleEmbedding (Keras 3): an embedding that also maps hidden states back to vocabulary logits."""

from __future__ import annotations

import jax.numpy as jnp

from kerasish.errors import ConfigError
from kerasish.layers.core import Embedding


class ReversibleEmbedding(Embedding):
    """An :class:`Embedding` whose ``call(x, reverse=True)`` projects ``(..., output_dim)`` hidden states to
    ``(..., input_dim)`` logits, by the transposed embedding table (tied) or a separate table.

    Args:
        input_dim, output_dim, embeddings_initializer, embeddings_regularizer, embeddings_constraint,
            mask_zero: as :class:`Embedding`.
        tie_weights: reverse with ``embeddings.T`` (True, the default) or with a separate trainable
            ``reverse_embeddings`` ``(output_dim, input_dim)`` weight initialized like the embeddings.
        reverse_dtype: a dtype to compute the reverse matmul in (inputs and table cast to it), or None.
        logit_soft_cap: if set, reverse logits become ``tanh(logits / cap) * cap``.

    The ``mask_zero`` mask follows the forward (integer) call only, as Keras.
    """

    def __init__(self, input_dim, output_dim, tie_weights=True, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, reverse_dtype=None,
                 logit_soft_cap=None, **kwargs):
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        if reverse_dtype is not None:
            try:
                jnp.dtype(reverse_dtype)
            except TypeError:
                raise ConfigError(f"ReversibleEmbedding: reverse_dtype must be a dtype or None, "
                                  f"got {reverse_dtype!r}.") from None
        if logit_soft_cap is not None and (isinstance(logit_soft_cap, bool)
                                           or not isinstance(logit_soft_cap, (int, float)) or logit_soft_cap <= 0):
            raise ConfigError(f"ReversibleEmbedding: logit_soft_cap must be a positive number or None, "
                              f"got {logit_soft_cap!r}.")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = reverse_dtype
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape):
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(name="reverse_embeddings",
                                                      shape=(self.output_dim, self.input_dim),
                                                      initializer=self.embeddings_initializer)

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        kernel = self.embeddings.value.T if self.tie_weights else self.reverse_embeddings.value
        x = inputs
        if self.reverse_dtype is not None:
            x, kernel = x.astype(self.reverse_dtype), kernel.astype(self.reverse_dtype)
        else:
            kernel = kernel.astype(x.dtype)
        logits = jnp.matmul(x, kernel)
        if self.logit_soft_cap is not None:
            logits = jnp.tanh(logits / self.logit_soft_cap) * self.logit_soft_cap
        return logits

    def compute_mask(self, inputs, mask=None):
        if self.mask_zero and jnp.issubdtype(jnp.asarray(inputs).dtype, jnp.integer):
            return jnp.not_equal(inputs, 0)
        return None

    def get_config(self):
        return {**super().get_config(), "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}
