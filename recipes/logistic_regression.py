"""Logistic regression on MNIST: one softmax ``Dense`` layer on the flattened pixels, trained by SGD.

This is the classic first tutorial (softmax regression, SGD, 100 epochs, about 91-92% test accuracy
on MNIST): no hidden layer, so the model is a linear classifier ``softmax(W x + b)`` fit with the
cross-entropy. The recipe default is the tutorial's learning rate 0.01; ``configs/logistic_regression.yaml``
uses 0.5 (TensorFlow's softmax-regression tutorial), because the small digits set gives only 13 steps an
epoch and reaches just 87% with 0.01 in 100 epochs (96% with 0.5).

Data: MNIST (28x28 grey images, 784 pixels) when it is in the kerasish.datasets cache, else
scikit-learn's 8x8 digits (64 pixels, 1,797 images; offline, no download). Pixels are scaled to [0, 1].

Sections:
    data.dataset: mnist | fashion_mnist | digits (digits never needs a download).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.l2: L2 penalty on the weights (0: plain logistic regression).
Metrics: test loss (cross-entropy) and test accuracy.
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
    l2: float = Field(0.0, ge=0.0)


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"compile": {"optimizer": "sgd", "learning_rate": 0.01}, "fit": {"epochs": 100, "batch_size": 100}}
SMOKE = ["fit.epochs=1", "data.limit=200"]


def digits():
    return kerasish.datasets.digits.load_data()


def load(ctx, data: Data):
    """Flattened float32 pixels in [0, 1] and int32 labels."""
    if data.dataset == "digits":
        ctx.log("Data: scikit-learn digits (offline, shipped with scikit-learn).")
        (x, y), (xt, yt) = digits()
    else:
        (x, y), (xt, yt) = ctx.load_dataset(data.dataset, fallback=digits, fallback_name="scikit-learn digits")
    scale = 16.0 if x.shape[1:] == (8, 8) else 255.0  # digits pixels are 0..16, MNIST's 0..255
    x = x.reshape(len(x), -1).astype("float32") / scale
    xt = xt.reshape(len(xt), -1).astype("float32") / scale
    if data.limit:
        x, y = x[:data.limit], y[:data.limit]
    return (x, y.astype("int32").ravel()), (xt, yt.astype("int32").ravel())


def build(input_dim: int, classes: int, m: Model):
    regularizer = kerasish.regularizers.L2(m.l2) if m.l2 > 0 else None
    return kerasish.Sequential([kerasish.Input((input_dim,)),
                                layers.Dense(classes, activation="softmax", kernel_regularizer=regularizer,
                                             name="softmax_regression")], name="logistic_regression")


def run(config, ctx):
    (x, y), (xt, yt) = load(ctx, config.data)
    model = build(x.shape[1], 10, config.model)
    ctx.compile(model, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ctx.fit(model, x, y)
    scores = model.evaluate(xt, yt, verbose=0, return_dict=True)
    ctx.log(f"Test accuracy: {scores['accuracy']:.4f}")
    return model, {f"test_{k}": float(v) for k, v in scores.items()} | {"train_samples": int(len(x))}
