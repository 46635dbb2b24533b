"""A convolutional text classifier for sentiment (Kim, 2014): parallel n-gram filters over word embeddings.

Model: Embedding(num_words, 128) -> three parallel Conv1D branches (kernel widths ``model.kernel_sizes``,
default 3/4/5, ReLU), each followed by GlobalMaxPooling1D -> Concatenate -> Dropout -> Dense(1, sigmoid).
Loss: binary cross-entropy; metric: accuracy.

Data: IMDb movie reviews (``kerasish.datasets.imdb``, 25,000 train / 25,000 test) when they are in the
kerasish cache, keeping the ``data.num_words`` most frequent words; every review is cut or padded with zeros
(at the end) to ``data.maxlen`` tokens. Offline fallback (no network needed): a synthetic sentiment-like token
task generated in this recipe, deterministically from ``config.seed``: "reviews" of random filler words
holding 1-3 sentiment phrases that all carry the review's polarity, each either a plain polar word
("good" / "bad") or a negated word of the other polarity ("not bad" / "not good"); stray "not"s before
fillers are distractors. Positive and negative words occur in both classes, so a bag of words cannot solve it:
the model must read bigrams, which is what the width-3/4/5 filters do.

Sections:
    data.dataset: ``imdb`` (from the cache, else the synthetic fallback) | ``synthetic`` (always offline).
    data.num_words: vocabulary size: IMDb keeps the words ranked below it; the synthetic task uses this many
        token ids (0 padding, 1 "not", 10 positive, 10 negative, the rest fillers); >= 64.
    data.maxlen: padded length of every sequence (longer IMDb reviews are truncated, keeping the start);
        synthetic reviews have lengths uniform in ``[maxlen // 4, maxlen]``.
    data.synthetic_samples: number of synthetic reviews (train + test).
    data.test_split: fraction of the synthetic reviews held out for testing (IMDb has its own test set).
    data.label_noise: fraction of synthetic labels flipped at random (0: a clean task).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.embedding_dim: embedding size (128).
    model.filters: filters per branch.
    model.kernel_sizes: the widths of the parallel branches (one branch each).
    model.dropout: dropout rate before the output layer.
Metrics: test loss and accuracy (``test_loss``, ``test_accuracy``) and ``train_samples``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section
from kerasish.utils import pad_sequences

NOT, N_POLAR = 1, 10  # token 1 is "not"; 10 positive words (2..11), 10 negative words (12..21)
POSITIVE = np.arange(2, 2 + N_POLAR)
NEGATIVE = np.arange(2 + N_POLAR, 2 + 2 * N_POLAR)
FIRST_FILLER = 2 + 2 * N_POLAR


class Data(Section):
    dataset: Literal["imdb", "synthetic"] = "imdb"
    num_words: int = Field(10_000, ge=64)
    maxlen: int = Field(200, ge=16)
    synthetic_samples: int = Field(6000, ge=10)
    test_split: float = Field(0.2, gt=0.0, lt=1.0)
    label_noise: float = Field(0.0, ge=0.0, lt=0.5)
    limit: int | None = Field(None, ge=1)


class Model(Section):
    embedding_dim: int = Field(128, ge=1)
    filters: int = Field(64, ge=1)
    kernel_sizes: list[int] = Field([3, 4, 5], min_length=1)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"fit": {"epochs": 5, "batch_size": 64, "validation_split": 0.1}}
SMOKE = ["fit.epochs=1", "data.dataset=synthetic", "data.synthetic_samples=400", "data.maxlen=48",
         "model.filters=16", "data.num_words=500", "compile.steps_per_execution=1"]



def synthetic_reviews(n: int, maxlen: int, num_words: int, label_noise: float, seed: int):
    """The offline sentiment-like task described in the module docstring: ``(x (n, maxlen), y (n,))``."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, maxlen), np.int32)
    y = rng.integers(0, 2, n).astype(np.int32)
    for i in range(n):
        length = int(rng.integers(maxlen // 4, maxlen + 1))
        phrases = []
        for _ in range(int(rng.integers(1, 4))):
            same, other = (POSITIVE, NEGATIVE) if y[i] else (NEGATIVE, POSITIVE)
            if rng.random() < 0.5:
                phrases.append([int(rng.choice(same))])
            else:
                phrases.append([NOT, int(rng.choice(other))])
        n_fill = max(length - sum(len(p) for p in phrases), 0)
        fillers = rng.integers(FIRST_FILLER, num_words, n_fill)
        # Distractor "not"s before fillers (never before a sentiment word: phrases are inserted after).
        fillers[rng.random(n_fill) < 0.05] = NOT
        tokens = list(fillers)
        for phrase in phrases:
            at = int(rng.integers(0, len(tokens) + 1))
            tokens[at:at] = phrase
        tokens = tokens[:maxlen]
        x[i, :len(tokens)] = tokens
    if label_noise > 0:
        flip = rng.random(n) < label_noise
        y[flip] = 1 - y[flip]
    return x, y


def load(ctx, config):
    d = config.data

    def synthetic():
        x, y = synthetic_reviews(d.synthetic_samples, d.maxlen, d.num_words, d.label_noise, config.seed)
        n_test = max(1, int(round(len(x) * d.test_split)))
        return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])

    name = f"synthetic sentiment-like token task ({d.synthetic_samples} reviews, generated in this recipe)"
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


def build(num_words: int, maxlen: int, m: Model):
    tokens = kerasish.Input((maxlen,), dtype="int32", name="tokens")
    embedded = layers.Embedding(num_words, m.embedding_dim, name="embedding")(tokens)
    branches = []
    for width in m.kernel_sizes:
        h = layers.Conv1D(m.filters, width, activation="relu", name=f"conv{width}")(embedded)
        branches.append(layers.GlobalMaxPooling1D(name=f"max_pool{width}")(h))
    h = layers.Concatenate(name="concat")(branches) if len(branches) > 1 else branches[0]
    h = layers.Dropout(m.dropout)(h)
    out = layers.Dense(1, activation="sigmoid", name="sentiment")(h)
    return kerasish.Model(tokens, out, name="text_cnn_sentiment")


def run(config, ctx):
    (x, y), (xt, yt) = load(ctx, config)
    if max(config.model.kernel_sizes) > x.shape[1]:
        raise kerasish.ConfigError(f"model.kernel_sizes: widths {config.model.kernel_sizes} exceed the sequence "
                                   f"length {x.shape[1]} (data.maxlen).")
    num_words = max(config.data.num_words, int(max(x.max(), xt.max())) + 1)
    model = build(num_words, x.shape[1], config.model)
    ctx.compile(model, loss="binary_crossentropy", metrics=["accuracy"])
    ctx.fit(model, x, y)
    metrics = model.evaluate(xt, yt, verbose=0, return_dict=True)
    ctx.log(f"Test accuracy: {metrics['accuracy']:.4f} ({len(xt)} test samples)")
    return model, {f"test_{k}": float(v) for k, v in metrics.items()} | {"train_samples": int(len(x))}
