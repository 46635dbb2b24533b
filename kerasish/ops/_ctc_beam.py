"""CTC prefix beam search (``ops.ctc_decode(strategy="beam_search")``).

Each beam entry is a label prefix with two log-probabilities: of the paths that end in a blank, and of those that
end in its last label. At every time step each prefix either stays (a blank, or its last label repeated) or grows
by one label; prefixes that become equal are merged (their probabilities summed), and the ``beam_width`` most
probable are kept. With a beam that holds every prefix the result is the exact probability of each labelling.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

_PAD = -1


def _logsumexp_segments(values, segments, count):
    top = jnp.max(values)
    top = jnp.where(jnp.isfinite(top), top, 0.0)
    summed = jax.ops.segment_sum(jnp.exp(values - top), segments, count)
    return jnp.log(summed) + top


def _one(log_probs, length, beam_width, top_paths, blank):
    steps, classes = log_probs.shape
    paths = jnp.full((beam_width, steps), _PAD, jnp.int32)
    sizes = jnp.zeros((beam_width,), jnp.int32)
    ninf = jnp.asarray(-jnp.inf, log_probs.dtype)
    log_b = jnp.full((beam_width,), ninf).at[0].set(0.0)  # the empty prefix, before any step
    log_nb = jnp.full((beam_width,), ninf)
    labels = jnp.arange(classes)

    def step(carry, inputs):
        paths, sizes, log_b, log_nb = carry
        lp, active = inputs
        last = jnp.where(sizes > 0, paths[jnp.arange(beam_width), jnp.maximum(sizes - 1, 0)], _PAD)
        total = jnp.logaddexp(log_b, log_nb)
        # staying: a blank after anything, or the last label repeated (collapsed)
        stay_b = total + lp[blank]
        stay_nb = jnp.where(last >= 0, log_nb + lp[jnp.maximum(last, 0)], ninf)
        # growing by label c: after a blank always; after the same label only through a blank
        grow = jnp.where(labels[None, :] == last[:, None], log_b[:, None], total[:, None]) + lp[None, :]
        grow = jnp.where(labels[None, :] == blank, ninf, grow)
        grown = jnp.repeat(paths, classes, axis=0)
        at = jnp.repeat(sizes, classes)
        grown = grown.at[jnp.arange(beam_width * classes), jnp.minimum(at, steps - 1)].set(
            jnp.tile(labels, beam_width))
        cand_paths = jnp.concatenate([paths, grown])
        cand_sizes = jnp.concatenate([sizes, at + 1])
        cand_b = jnp.concatenate([stay_b, jnp.full((beam_width * classes,), ninf)])
        cand_nb = jnp.concatenate([stay_nb, grow.reshape(-1)])
        count = cand_paths.shape[0]
        unique, inverse = jnp.unique(cand_paths, axis=0, return_inverse=True, size=count, fill_value=_PAD)
        inverse = inverse.reshape(-1)
        merged_b = _logsumexp_segments(cand_b, inverse, count)
        merged_nb = _logsumexp_segments(cand_nb, inverse, count)
        merged_sizes = jax.ops.segment_max(cand_sizes, inverse, count)
        valid = jax.ops.segment_sum(jnp.ones_like(inverse), inverse, count) > 0
        score = jnp.where(valid, jnp.logaddexp(merged_b, merged_nb), ninf)
        keep = jnp.argsort(-score, stable=True)[:beam_width]
        new = (unique[keep], merged_sizes[keep], jnp.where(valid[keep], merged_b[keep], ninf),
               jnp.where(valid[keep], merged_nb[keep], ninf))
        return jax.tree.map(lambda n, o: jnp.where(active, n, o), new, (paths, sizes, log_b, log_nb)), None

    active = jnp.arange(steps) < length
    (paths, sizes, log_b, log_nb), _ = jax.lax.scan(step, (paths, sizes, log_b, log_nb), (log_probs, active))
    score = jnp.logaddexp(log_b, log_nb)
    order = jnp.argsort(-score, stable=True)[:top_paths]
    return paths[order], score[order]


def beam_search(inputs, lengths, beam_width, top_paths, mask_index):
    """``(paths (top_paths, batch, time), scores (batch, top_paths))``: the most probable labellings (-1
    padded) and their log-probabilities; ``inputs`` are scores, normalized with a log-softmax as Keras does."""
    from kerasish.errors import InputError

    batch, steps, classes = inputs.shape
    if top_paths > beam_width:
        raise InputError(f"ops.ctc_decode: top_paths ({top_paths}) must be at most beam_width ({beam_width}).")
    log_probs = jax.nn.log_softmax(inputs.astype(jnp.result_type(inputs.dtype, jnp.float32)), axis=-1)
    paths, scores = jax.vmap(lambda lp, n: _one(lp, n, beam_width, top_paths, mask_index))(log_probs, lengths)
    return jnp.transpose(paths, (1, 0, 2)), scores
