"""A CIFAR-10 CNN with data augmentation inside the model (Keras's "cifar10_cnn" with augmentation layers).

Architecture: ``Rescaling(1/255)`` -> ``RandomFlip("horizontal")`` -> ``RandomRotation(factor)``, then
blocks of [conv 3x3 (same, relu) -> conv 3x3 (relu) -> max-pool 2 -> dropout], flatten, a dense relu
layer, dropout and a 10-way softmax. The augmentation layers transform the images only in training
(a fresh random flip and rotation of every image at every step) and are the identity in
``evaluate``/``predict``, so the saved model takes raw 0..255 pixels and needs no separate pipeline.

Data: CIFAR-10 (32x32x3, 50,000 training images) when it is in the kerasish.datasets cache. Offline:
"color digits", scikit-learn's 8x8 digits upsampled (nearest neighbour) to ``data.offline_size`` pixels
a side and turned into RGB images by a random color tint per image (drawn from ``config.seed``): a
small 3-channel image set on which the flips and rotations still act, made without a download.

Sections:
    data.dataset: cifar10 | digits (digits never needs a download; cifar10 falls back to it offline).
    data.offline_size: side of the color-digit images, 8..32 (default 16).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.flip: RandomFlip mode: horizontal (default) | vertical | horizontal_and_vertical | none.
    model.rotation: RandomRotation factor, a fraction of a full turn (0.1: up to +-36 degrees; 0: off).
    model.filters: filters of the two convolutions of each block (default [32, 64]: two blocks).
    model.dense_units: units of the hidden dense layer (default 512).
    model.conv_dropout: dropout after each block (default 0.25); model.dropout: before the output (0.5).
Metrics: test loss and test accuracy.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section


class Data(Section):
    dataset: Literal["cifar10", "digits"] = "cifar10"
    offline_size: int = Field(16, ge=8, le=32)
    limit: int | None = Field(None, ge=1)


class Model(Section):
    flip: Literal["horizontal", "vertical", "horizontal_and_vertical", "none"] = "horizontal"
    rotation: float = Field(0.1, ge=0.0, le=0.5)
    filters: list[int] = Field([32, 64], min_length=1, max_length=4)
    dense_units: int = Field(512, ge=1)
    conv_dropout: float = Field(0.25, ge=0.0, lt=1.0)
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"compile": {"optimizer": "adam", "learning_rate": 0.001}, "fit": {"epochs": 30, "batch_size": 64}}
# Small images and one thin block: a cold XLA compile of the full model alone takes ~20 s of CPU.
SMOKE = ["fit.epochs=1", "data.limit=200", "data.offline_size=8", "model.filters=[8]", "model.dense_units=32",
         "model.conv_dropout=0", "compile.steps_per_execution=1"]


def color_digits(size: int, seed: int):
    """scikit-learn's digits as ``(n, size, size, 3)`` uint8 RGB images: upsampled and tinted."""
    (x, y), (xt, yt) = kerasish.datasets.digits.load_data()
    rng = np.random.default_rng(seed)

    def convert(images):
        grey = images.astype("float32") / 16.0
        rows = (np.arange(size) * 8) // size  # nearest-neighbour upsampling indices
        grey = grey[:, rows][:, :, rows]
        tint = rng.uniform(0.35, 1.0, (len(images), 1, 1, 3)).astype("float32")
        return np.round(grey[..., None] * tint * 255.0).astype("uint8")

    return (convert(x), y), (convert(xt), yt)


def load(ctx, config):
    data = config.data
    name = f"color digits ({data.offline_size}x{data.offline_size}x3: scikit-learn digits upsampled and tinted)"

    def offline():
        return color_digits(data.offline_size, config.seed)

    if data.dataset == "digits":
        ctx.log(f"Data: {name} (offline, no download).")
        (x, y), (xt, yt) = offline()
    else:
        (x, y), (xt, yt) = ctx.load_dataset("cifar10", fallback=offline, fallback_name=name)
    if data.limit:
        x, y = x[:data.limit], y[:data.limit]
    return (x.astype("float32"), y.astype("int32").ravel()), (xt.astype("float32"), yt.astype("int32").ravel())


def build(input_shape: tuple, classes: int, m: Model, seed: int):
    stack = [kerasish.Input(input_shape), layers.Rescaling(1.0 / 255)]
    if m.flip != "none":
        stack.append(layers.RandomFlip(m.flip, seed=seed))
    if m.rotation > 0:
        stack.append(layers.RandomRotation(m.rotation, fill_mode="nearest", seed=seed + 1))
    for filters in m.filters:
        stack += [layers.Conv2D(filters, 3, padding="same", activation="relu"),
                  layers.Conv2D(filters, 3, padding="same", activation="relu"),
                  layers.MaxPooling2D(2, padding="same"), layers.Dropout(m.conv_dropout)]
    stack += [layers.Flatten(), layers.Dense(m.dense_units, activation="relu"), layers.Dropout(m.dropout),
              layers.Dense(classes, activation="softmax")]
    return kerasish.Sequential(stack, name="cifar_cnn_augmented")


def run(config, ctx):
    (x, y), (xt, yt) = load(ctx, config)
    m = config.model
    ctx.log(f"Augmentation in the model: flip={m.flip}, rotation=+-{m.rotation * 360:.0f} degrees "
            f"(training only); {len(x)} training images of shape {x.shape[1:]}.")
    model = build(x.shape[1:], 10, m, config.seed)
    ctx.compile(model, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ctx.fit(model, x, y)
    scores = model.evaluate(xt, yt, verbose=0, return_dict=True)
    ctx.log(f"Test accuracy: {scores['accuracy']:.4f}")
    return model, {f"test_{k}": float(v) for k, v in scores.items()} | {"train_samples": int(len(x))}
