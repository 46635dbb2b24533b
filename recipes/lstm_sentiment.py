"""A recurrent sentiment classifier: Embedding(mask_zero=True) -> LSTM (optionally Bidirectional) -> Dense(sigmoid).

The embedding marks token 0 as padding, and its mask reaches the LSTM, which skips the padded steps.
Loss: binary cross-entropy; metric: accuracy.

Data: IMDb movie reviews (``kerasish.datasets.imdb``, 25,000 train / 25,000 test) when they are in the
kerasish cache, keeping the ``data.num_words`` most frequent words; every review is cut to its first
``data.maxlen`` tokens and zero-padded at the end. Offline fallback (no network needed): the order task
``kerasish.datasets.synthetic.sequences`` (random filler tokens holding one token 1 and one token 2; the label
is 1 iff 1 comes first), generated from ``config.seed``: both classes hold the same tokens, so only a model
that reads the order solves it.

Sections:
    data.dataset: ``imdb`` (from the cache, else the synthetic fallback) | ``synthetic`` (always offline).
    data.num_words: IMDb vocabulary size (words ranked below it are kept); >= 4.
    data.maxlen: IMDb padded length (longer reviews are truncated).
    data.synthetic_samples: number of synthetic sequences (train + test).
    data.synthetic_length: longest synthetic sequence (its padded length); the shortest is 5 tokens.
    data.synthetic_vocab: token ids of the synthetic task, including 0 (padding), 1 and 2; >= 4.
    data.test_split: fraction of the synthetic sequences held out for testing (IMDb has its own test set).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.embedding_dim: embedding size.
    model.units: LSTM units (per direction).
    model.bidirectional: wrap the LSTM in Bidirectional (concatenated directions).
    model.dropout: dropout rate after the LSTM.
Metrics: test loss and accuracy (``test_loss``, ``test_accuracy``) and ``train_samples``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section
from kerasish.utils import pad_sequences


class Data(Section):
    dataset: Literal["imdb", "synthetic"] = "imdb"
    num_words: int = Field(10_000, ge=4)
    maxlen: int = Field(200, ge=2)
    synthetic_samples: int = Field(10_000, ge=10)
    synthetic_length: int = Field(20, ge=5)
    synthetic_vocab: int = Field(20, ge=4)
    test_split: float = Field(0.2, gt=0.0, lt=1.0)
    limit: int | None = Field(None, ge=1)


class Model(Section):
    embedding_dim: int = Field(32, ge=1)
    units: int = Field(32, ge=1)
    bidirectional: bool = True
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"fit": {"epochs": 10, "batch_size": 64, "validation_split": 0.1}}
SMOKE = ["fit.epochs=1", "data.dataset=synthetic", "data.synthetic_samples=400", "model.units=8",
         "compile.steps_per_execution=1"]



def load(ctx, config):
    d = config.data

    def synthetic():
        return kerasish.datasets.synthetic.sequences(
            n_samples=d.synthetic_samples, max_length=d.synthetic_length, vocab_size=d.synthetic_vocab,
            seed=config.seed, test_split=d.test_split)

    name = (f"kerasish.datasets.synthetic.sequences (order task, {d.synthetic_samples} sequences of up to "
            f"{d.synthetic_length} tokens)")
    if d.dataset == "synthetic":
        ctx.log(f"Data: {name} -- offline, as configured (data.dataset=synthetic).")
        (x, y), (xt, yt) = synthetic()
    else:
        (x, y), (xt, yt) = ctx.load_dataset("imdb", fallback=synthetic, fallback_name=name, num_words=d.num_words)
        if x.dtype == object:
            x, xt = pad_sequences(x, d.maxlen, padding="post", truncating="post"), \
                pad_sequences(xt, d.maxlen, padding="post", truncating="post")
    if d.limit:
        x, y = x[:d.limit], y[:d.limit]
    return (x, y.astype("float32")), (xt, yt.astype("float32"))


def build(vocab: int, m: Model):
    lstm = layers.LSTM(m.units, name="lstm")
    stack = [
        kerasish.Input((None,), dtype="int32"),
        layers.Embedding(vocab, m.embedding_dim, mask_zero=True, name="embedding"),
        layers.Bidirectional(lstm, name="bidirectional") if m.bidirectional else lstm,
    ]
    if m.dropout:
        stack.append(layers.Dropout(m.dropout))
    stack.append(layers.Dense(1, activation="sigmoid", name="sentiment"))
    return kerasish.Sequential(stack, name="lstm_sentiment")


def run(config, ctx):
    (x, y), (xt, yt) = load(ctx, config)
    model = build(int(max(x.max(), xt.max())) + 1, config.model)
    ctx.compile(model, loss="binary_crossentropy", metrics=["accuracy"])
    ctx.fit(model, x, y)
    metrics = model.evaluate(xt, yt, verbose=0, return_dict=True)
    ctx.log(f"Test accuracy: {metrics['accuracy']:.4f} ({len(xt)} test samples)")
    return model, {f"test_{k}": float(v) for k, v in metrics.items()} | {"train_samples": int(len(x))}
