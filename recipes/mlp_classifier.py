"""An MLP classifier on MNIST (784-H-...-10, softmax), the classic Keras tutorial.

Data: MNIST when it is in the kerasish.datasets cache, else scikit-learn's 8x8 digits (offline).
Sections:
    data.dataset: mnist | fashion_mnist | digits (digits never needs a download).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.units: hidden layer sizes; model.activation; model.dropout (after each hidden layer).
Metrics: test loss and accuracy.
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
    units: list[int] = [512, 512]
    activation: Literal["relu", "tanh", "gelu", "elu", "sigmoid"] = "relu"
    dropout: float = Field(0.2, ge=0.0, lt=1.0)


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"fit": {"epochs": 10, "batch_size": 128}}
SMOKE = ["fit.epochs=1", "data.limit=256", "model.units=[32]"]


def digits():
    (x, y), (xt, yt) = kerasish.datasets.digits.load_data()
    return (x, y), (xt, yt)


def load(ctx, data: Data):
    if data.dataset == "digits":
        ctx.log("Data: scikit-learn digits (offline, shipped with scikit-learn).")
        (x, y), (xt, yt) = digits()
        scale = 16.0
    else:
        (x, y), (xt, yt) = ctx.load_dataset(data.dataset, fallback=digits, fallback_name="scikit-learn digits")
        scale = 16.0 if x.shape[1:] == (8, 8) else 255.0
    x = x.reshape(len(x), -1).astype("float32") / scale
    xt = xt.reshape(len(xt), -1).astype("float32") / scale
    if data.limit:
        x, y = x[:data.limit], y[:data.limit]
    return (x, y.astype("int32")), (xt, yt.astype("int32"))


def build(input_dim: int, classes: int, m: Model):
    stack = [kerasish.Input((input_dim,))]
    for units in m.units:
        stack += [layers.Dense(units, activation=m.activation), layers.Dropout(m.dropout)]
    stack.append(layers.Dense(classes, activation="softmax"))
    return kerasish.Sequential(stack, name="mlp_classifier")


def run(config, ctx):
    (x, y), (xt, yt) = load(ctx, config.data)
    model = build(x.shape[1], int(max(y.max(), yt.max())) + 1, config.model)
    ctx.compile(model, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ctx.fit(model, x, y)
    metrics = model.evaluate(xt, yt, verbose=0, return_dict=True)
    ctx.log(f"Test accuracy: {metrics['accuracy']:.4f}")
    return model, {f"test_{k}": float(v) for k, v in metrics.items()} | {"train_samples": int(len(x))}


