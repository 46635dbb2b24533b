"""An LSTM encoder-decoder with attention that translates ISO dates to spelled-out dates, character by character.

``"2024-03-05"`` -> ``"05 March 2024"``. The encoder (Embedding -> LSTM with ``return_sequences`` and
``return_state``) reads the source characters; the decoder (Embedding(mask_zero=True) -> LSTM started from the
encoder's final states) reads the target shifted right (``<start>`` first) and, at every step, attends over all
encoder outputs (``layers.AdditiveAttention`` (Bahdanau) or ``layers.Attention`` (Luong, dot product)); the
decoder output and the attention context are concatenated and a softmax Dense predicts the next character.

Training uses teacher forcing: a functional model of two inputs ``[source, decoder_input]`` fitted to the
target shifted left. The decoder input's padding mask reaches the output, so padded steps are left out of the
loss and the accuracy. Inference is greedy: the decoder input starts as ``<start>`` followed by padding, and
for each target position the same fixed-shape model is run (``predict`` compiles once) and its argmax at that
position is written into the next slot.

Data: ``kerasish.datasets.synthetic.translation_pairs`` generated on the fly from ``config.seed`` (offline
always; distinct dates, so no test date is seen in training).

Sections:
    data.samples: number of date pairs (train + test), at most the number of days in the year range.
    data.test_split: fraction of the pairs held out for testing.
    data.first_year / data.last_year: the range dates are drawn from (inclusive).
    data.limit: use only the first N training pairs (null: all); for quick runs.
    model.embedding_dim: character embedding size (encoder and decoder).
    model.units: LSTM units of the encoder and of the decoder (the decoder starts from the encoder's states).
    model.attention: ``additive`` (AdditiveAttention) | ``dot`` (Attention, scaled by a learned scalar).
Metrics: ``test_exact_accuracy`` (the whole decoded string equals the target), ``test_char_accuracy``
(greedy-decoded characters equal to the target's, over the target's characters and its ``<end>``),
``test_teacher_forced_accuracy`` (next-character accuracy with the true previous characters), ``test_loss``
and ``train_samples``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.datasets import synthetic
from kerasish.runs import Section


class Data(Section):
    samples: int = Field(10_000, ge=10)
    test_split: float = Field(0.2, gt=0.0, lt=1.0)
    first_year: int = Field(1950, ge=1, le=9999)
    last_year: int = Field(2049, ge=1, le=9999)
    limit: int | None = Field(None, ge=1)


class Model(Section):
    embedding_dim: int = Field(32, ge=1)
    units: int = Field(128, ge=1)
    attention: Literal["additive", "dot"] = "additive"


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"fit": {"epochs": 20, "batch_size": 64, "validation_split": 0.1}}
SMOKE = ["fit.epochs=1", "data.samples=400", "fit.batch_size=32", "model.units=16",
         "compile.steps_per_execution=1"]


def build(vocab_size: int, source_length: int, target_length: int, m: Model):
    source = kerasish.Input((source_length,), dtype="int32", name="source")
    decoder_input = kerasish.Input((target_length,), dtype="int32", name="decoder_input")
    enc = layers.Embedding(vocab_size, m.embedding_dim, name="source_embedding")(source)
    enc_seq, h, c = layers.LSTM(m.units, return_sequences=True, return_state=True, name="encoder")(enc)
    dec = layers.Embedding(vocab_size, m.embedding_dim, mask_zero=True, name="target_embedding")(decoder_input)
    dec_seq = layers.LSTM(m.units, return_sequences=True, name="decoder")(dec, initial_state=[h, c])
    if m.attention == "additive":
        attention = layers.AdditiveAttention(name="attention")
    else:
        attention = layers.Attention(use_scale=True, name="attention")
    context = attention([dec_seq, enc_seq])
    merged = layers.Concatenate(name="decoder_and_context")([dec_seq, context])
    out = layers.Dense(vocab_size, activation="softmax", name="next_char")(merged)
    return kerasish.Model([source, decoder_input], out, name="seq2seq_attention")


def whole_batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """The first ``len(x) - len(x) % batch_size`` pairs (all of them when there is less than one batch)."""
    n = len(x) - len(x) % batch_size if len(x) >= batch_size else len(x)
    return x[:n], y[:n]


def greedy_decode(model, source: np.ndarray, target_length: int, start_id: int, batch_size: int) -> np.ndarray:
    """Predicted target ids ``(n, target_length)`` (``<start>`` excluded), one position per ``predict`` call.

    The decoder input keeps one fixed shape, so the model compiles once; step ``t`` reads position ``t``
    of the prediction and writes it into slot ``t + 1``.
    """
    decoder_input = np.zeros((len(source), target_length), np.int32)
    decoder_input[:, 0] = start_id
    out = np.zeros((len(source), target_length), np.int32)
    for t in range(target_length):
        probs = model.predict([source, decoder_input], batch_size=batch_size, verbose=0)
        out[:, t] = np.argmax(np.asarray(probs)[:, t], axis=-1)
        if t + 1 < target_length:
            decoder_input[:, t + 1] = out[:, t]
    return out


def sequence_metrics(predicted: np.ndarray, target: np.ndarray, vocab, end_id: int) -> dict:
    """Exact-string accuracy (decoded strings) and per-character accuracy over the target's real steps."""
    exact = np.mean([synthetic.decode(p, vocab) == synthetic.decode(t, vocab) for p, t in zip(predicted, target)])
    # Real steps: the characters and <end>; positions after <end> are padding.
    real = np.cumsum(target == end_id, axis=1) - (target == end_id) == 0
    chars = np.sum((predicted == target) & real) / np.sum(real)
    return {"exact_accuracy": float(exact), "char_accuracy": float(chars)}


def run(config, ctx):
    d = config.data
    if d.first_year > d.last_year:
        raise kerasish.ConfigError(f"data.first_year ({d.first_year}) must be <= data.last_year ({d.last_year}).")
    ctx.log(f"Data: kerasish.datasets.synthetic.translation_pairs ({d.samples} ISO -> spelled-out date pairs, "
            f"years {d.first_year}-{d.last_year}; offline, generated on the fly).")
    (x, y), (xt, yt), vocab = synthetic.translation_pairs(
        n_samples=d.samples, seed=config.seed, test_split=d.test_split, first_year=d.first_year,
        last_year=d.last_year)
    if d.limit:
        x, y = x[:d.limit], y[:d.limit]
    start_id, end_id = vocab.index(synthetic.START), vocab.index(synthetic.END)
    target_length = y.shape[1] - 1
    ctx.log(f"Example: {synthetic.decode(xt[0], vocab)!r} -> {synthetic.decode(yt[0], vocab)!r}; "
            f"{len(x)} train / {len(xt)} test pairs, vocabulary {len(vocab)}.")

    model = build(len(vocab), x.shape[1], target_length, config.model)
    ctx.compile(model, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Workaround (kerasish): with a mask on the output, a last partial batch (padded to the batch size) gets
    # its masked-mean loss scaled by batch_size / real rows. So the validation split is made here as Keras
    # makes it (the last fraction) and both parts are cut to whole batches; the test loss is one batch.
    bs = config.fit.batch_size
    split_at = int(len(x) * (1.0 - config.fit.validation_split))
    (x, y), (xv, yv) = whole_batches(x[:split_at], y[:split_at], bs), whole_batches(x[split_at:], y[split_at:], bs)
    validation = ([xv, yv[:, :-1]], yv[:, 1:]) if len(xv) >= bs else None
    if validation is None and config.fit.validation_split:
        ctx.log(f"No validation: the split holds {len(xv)} pairs, less than one batch of {bs}.")
    ctx.fit(model, [x, y[:, :-1]], y[:, 1:], validation_data=validation)
    forced = model.evaluate([xt, yt[:, :-1]], yt[:, 1:], batch_size=len(xt), verbose=0, return_dict=True)

    predicted = greedy_decode(model, xt, target_length, start_id, batch_size=max(config.fit.batch_size, 256))
    metrics = sequence_metrics(predicted, yt[:, 1:], vocab, end_id)
    for i in range(min(3, len(xt))):
        ctx.log(f"  {synthetic.decode(xt[i], vocab)} -> {synthetic.decode(predicted[i], vocab)!r} "
                f"(target {synthetic.decode(yt[i], vocab)!r})")
    ctx.log(f"Test exact-sequence accuracy: {metrics['exact_accuracy']:.4f}, "
            f"per-character accuracy: {metrics['char_accuracy']:.4f}")
    return model, {
        "test_exact_accuracy": metrics["exact_accuracy"],
        "test_char_accuracy": metrics["char_accuracy"],
        "test_teacher_forced_accuracy": float(forced["accuracy"]),
        "test_loss": float(forced["loss"]),
        "train_samples": int(len(x)),
    }
