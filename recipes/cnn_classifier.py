"""The classic MNIST convolutional network (TensorFlow's "Deep MNIST" / layers tutorial).

Architecture: conv 5x5x32 (same, relu) -> max-pool 2 -> conv 5x5x64 (same, relu) -> max-pool 2 ->
flatten -> dense 1024 relu -> dropout 0.4 -> dense 10 softmax; Adam 1e-3, batch 128 (about 99.2% test
accuracy on MNIST). Pooling uses ``padding="same"`` so that the 8x8 offline images still pool cleanly
(8 -> 4 -> 2); on 28x28 MNIST it gives the tutorial's 28 -> 14 -> 7.

Data: MNIST (28x28x1) when it is in the kerasish.datasets cache, else scikit-learn's 8x8 digits
(8x8x1, 1,797 images; offline, no download). Pixels are scaled to [0, 1].

Sections:
    data.dataset: mnist | fashion_mnist | digits (digits never needs a download).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.filters: the two convolutions' filter counts (default [32, 64]).
    model.kernel_size: their square kernel size (default 5).
    model.dense_units: units of the hidden dense layer (default 1024).
    model.dropout: dropout rate before the output layer (default 0.4).
Metrics: test loss and test accuracy.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section


class Data(Section):
    dataset: Literal["mnist", "fashion_mnist", "digits"] = "mnist"
    limit: int | None = Field(None, ge=1)


class Model(Section):
    filters: list[int] = Field([32, 64], min_length=1, max_length=4)
    kernel_size: int = Field(5, ge=1, le=11)
    dense_units: int = Field(1024, ge=1)
    dropout: float = Field(0.4, ge=0.0, lt=1.0)


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"compile": {"optimizer": "adam", "learning_rate": 0.001}, "fit": {"epochs": 20, "batch_size": 128}}
SMOKE = ["fit.epochs=1", "data.limit=200", "model.dense_units=64", "compile.steps_per_execution=1"]


def digits():
    return kerasish.datasets.digits.load_data()


def load(ctx, data: Data):
    """Channels-last float32 images in [0, 1] and int32 labels."""
    if data.dataset == "digits":
        ctx.log("Data: scikit-learn digits (offline, shipped with scikit-learn).")
        (x, y), (xt, yt) = digits()
    else:
        (x, y), (xt, yt) = ctx.load_dataset(data.dataset, fallback=digits, fallback_name="scikit-learn digits")
    scale = 16.0 if x.shape[1:] == (8, 8) else 255.0  # digits pixels are 0..16, MNIST's 0..255
    x = x[..., None].astype("float32") / scale
    xt = xt[..., None].astype("float32") / scale
    if data.limit:
        x, y = x[:data.limit], y[:data.limit]
    return (x, y.astype("int32").ravel()), (xt, yt.astype("int32").ravel())


def build(input_shape: tuple, classes: int, m: Model):
    stack = [kerasish.Input(input_shape)]
    for filters in m.filters:
        stack += [layers.Conv2D(filters, m.kernel_size, padding="same", activation="relu"),
                  layers.MaxPooling2D(2, padding="same")]
    stack += [layers.Flatten(), layers.Dense(m.dense_units, activation="relu"), layers.Dropout(m.dropout),
              layers.Dense(classes, activation="softmax")]
    return kerasish.Sequential(stack, name="cnn_classifier")


def run(config, ctx):
    (x, y), (xt, yt) = load(ctx, config.data)
    model = build(x.shape[1:], 10, config.model)
    ctx.compile(model, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ctx.fit(model, x, y)
    scores = model.evaluate(xt, yt, verbose=0, return_dict=True)
    ctx.log(f"Test accuracy: {scores['accuracy']:.4f}")
    return model, {f"test_{k}": float(v) for k, v in scores.items()} | {"train_samples": int(len(x))}
