"""A GAN on handwritten digits, trained with a custom ``train_step`` (two optimizers, one jitted step).

The model subclasses ``kerasish.Model`` and overrides ``train_step(state, data) -> (logs, state)``,
Keras 3's stateless JAX contract: each step updates the discriminator on real and generated images
(binary cross-entropy on logits), then the generator against the updated discriminator (the
non-saturating loss), each with its own optimizer (``model.optimizer`` for the generator, a second
one held as an attribute, whose variables follow the first's in ``optimizer_variables``). Both are
small Dense nets; images are scaled to [-1, 1] and the generator ends in ``tanh``. ``jax.grad``,
the sub-models' ``stateless_call`` and ``kerasish.random`` write the step, as in README's "Custom
training steps".

Data: MNIST (28x28) when it is in the kerasish.datasets cache, else scikit-learn's 8x8 digits
(offline, the default here: ``data.dataset: digits``). The test split is not used (a GAN has no
test labels); both splits are pooled into the training images.

Sections:
    data.dataset: digits | mnist (mnist falls back to digits when it is not in the cache).
    data.limit: use only the first N training images (null: all); for quick runs.
    data.digit: train on one class only (0..9), or null for all classes.
    model.latent_dim: size of the generator's noise vector.
    model.generator_units: hidden layer sizes of the generator (ReLU).
    model.discriminator_units: hidden layer sizes of the discriminator (LeakyReLU, slope 0.2).
    model.dropout: dropout after each hidden layer of the discriminator.
    model.d_learning_rate: learning rate of the discriminator's optimizer (null: compile.learning_rate).
    model.label_smoothing: one-sided label smoothing of the real labels (0: none).
    samples.rows / samples.cols: the grid of generated digits saved as ``samples.png``.

The generator uses ``compile.optimizer``/``compile.learning_rate``; the discriminator the same optimizer.
``fit.validation_split`` is ignored (no validation for a GAN), so ``callbacks.checkpoint`` is off by
default (it would monitor ``loss``, which a GAN does not log); BackupAndRestore, TensorBoard and the CSV
log work as usual. The saved ``model.kerasish`` is the generator (noise -> image).

The epoch logs of a custom step are its last batch's losses; a small callback keeps every batch's.
Images are cut to whole batches (a short last batch would compile the custom step a second time).

Metrics: ``final_d_loss``, ``final_g_loss`` (means over the last epoch's batches), ``max_abs_loss`` (the
largest |loss| of any batch; the check that training stayed bounded), ``losses_finite`` (1.0 if every
batch's losses are finite),
and ``mean_pixel_gap`` (|mean generated pixel - mean real pixel|, in [0, 2]).
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section


class Data(Section):
    dataset: Literal["digits", "mnist"] = "digits"
    limit: int | None = Field(None, ge=1)
    digit: int | None = Field(None, ge=0, le=9)


class Model(Section):
    latent_dim: int = Field(16, ge=1)
    generator_units: list[int] = [128, 128]
    discriminator_units: list[int] = [128, 64]
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    d_learning_rate: float | None = Field(None, gt=0)
    label_smoothing: float = Field(0.1, ge=0.0, lt=0.5)


class Samples(Section):
    rows: int = Field(8, ge=1, le=32)
    cols: int = Field(8, ge=1, le=32)


SECTIONS = {"data": Data, "model": Model, "samples": Samples}
DEFAULTS = {"fit": {"epochs": 200, "batch_size": 64, "validation_split": 0.0},
            "compile": {"optimizer": "adam", "learning_rate": 2e-4},
            "callbacks": {"checkpoint": False}}
SMOKE = ["fit.epochs=1", "data.limit=256"]


class GAN(kerasish.Model):
    """Generator and discriminator with their own optimizers; ``call`` is the discriminator."""

    def __init__(self, image_dim: int, m: Model):
        super().__init__(name="gan")
        self.latent_dim, self.label_smoothing = m.latent_dim, m.label_smoothing
        g = [kerasish.Input((m.latent_dim,))]
        g += [layers.Dense(u, activation="relu") for u in m.generator_units]
        self.generator = kerasish.Sequential([*g, layers.Dense(image_dim, activation="tanh")], name="generator")
        d = [kerasish.Input((image_dim,))]
        for u in m.discriminator_units:
            d += [layers.Dense(u), layers.LeakyReLU(negative_slope=0.2), layers.Dropout(m.dropout)]
        self.discriminator = kerasish.Sequential([*d, layers.Dense(1)], name="discriminator")
        self.seed_generator = kerasish.random.SeedGenerator()

    def call(self, x, training=False):
        return self.discriminator(x, training=training)

    def compile(self, optimizer="adam", d_optimizer=None, **kwargs):
        for unused in ("loss", "metrics"):  # the step computes its own losses
            kwargs.pop(unused, None)
        super().compile(optimizer=optimizer, **kwargs)  # model.optimizer: the generator's
        if d_optimizer is None:  # the same kind of optimizer, with a state of its own
            d_optimizer = type(self.optimizer).from_config(self.optimizer.get_config())
        self.d_optimizer = kerasish.optimizers.get(d_optimizer)
        self.optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        real, _, _ = kerasish.utils.unpack_x_y_sample_weight(data)
        bce = kerasish.losses.BinaryCrossentropy(from_logits=True)
        n, k = len(self.generator.trainable_variables), len(self.optimizer.variables)
        g_vars, d_vars = trainable[:n], trainable[n:]
        g_opt, d_opt = optimizer_variables[:k], optimizer_variables[k:]
        g_nt, d_nt = [], []  # neither net has non-trainable variables (Dense, LeakyReLU, Dropout)
        z = kerasish.random.normal((real.shape[0], self.latent_dim), seed=self.seed_generator)
        real_target = 1.0 - self.label_smoothing

        def d_loss_fn(d_vars):
            fake, _ = self.generator.stateless_call(g_vars, g_nt, z, training=True)
            real_logits, _ = self.discriminator.stateless_call(d_vars, d_nt, real, training=True)
            fake_logits, _ = self.discriminator.stateless_call(d_vars, d_nt, jax.lax.stop_gradient(fake),
                                                               training=True)
            return (bce(jnp.full_like(real_logits, real_target), real_logits)
                    + bce(jnp.zeros_like(fake_logits), fake_logits))

        d_loss, d_grads = jax.value_and_grad(d_loss_fn)(d_vars)
        d_vars, d_opt = self.d_optimizer.stateless_apply(d_opt, d_grads, d_vars)

        def g_loss_fn(g_vars):
            fake, _ = self.generator.stateless_call(g_vars, g_nt, z, training=True)
            logits, _ = self.discriminator.stateless_call(d_vars, d_nt, fake, training=True)
            return bce(jnp.ones_like(logits), logits)

        g_loss, g_grads = jax.value_and_grad(g_loss_fn)(g_vars)
        g_vars, g_opt = self.optimizer.stateless_apply(g_opt, g_grads, g_vars)
        logs = {"d_loss": d_loss, "g_loss": g_loss}
        return logs, (list(g_vars) + list(d_vars), non_trainable, list(g_opt) + list(d_opt), metrics_variables)


class LossTracker(kerasish.callbacks.Callback):
    """Keeps every batch's d_loss and g_loss (a custom step's epoch logs are its last batch's)."""

    def __init__(self):
        super().__init__()
        self.d, self.g, self.epoch_ends = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.d.append(float(logs["d_loss"]))
        self.g.append(float(logs["g_loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_ends.append(len(self.d))


def digits():
    return kerasish.datasets.digits.load_data()


def load(ctx, data: Data, batch_size: int):
    if data.dataset == "digits":
        ctx.log("Data: scikit-learn digits (offline, shipped with scikit-learn), train and test pooled.")
        (x, y), (xt, yt) = digits()
    else:
        (x, y), (xt, yt) = ctx.load_dataset("mnist", fallback=digits, fallback_name="scikit-learn digits")
    side = x.shape[1]
    scale = 16.0 if side == 8 else 255.0
    x, y = np.concatenate([x, xt]), np.concatenate([y, yt])
    if data.digit is not None:
        x = x[y == data.digit]
    if data.limit:
        x = x[:data.limit]
    if len(x) >= batch_size:  # whole batches only: a custom step would compile again for a short last one
        x = x[:len(x) // batch_size * batch_size]
    x = (x.reshape(len(x), -1).astype("float32") / scale) * 2.0 - 1.0
    return x, side


def save_grid(path, images, side, rows, cols):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.8, rows * 0.8), squeeze=False)
    for ax, img in zip(axes.flat, images):
        ax.imshow(img.reshape(side, side), cmap="gray_r", vmin=-1.0, vmax=1.0)
        ax.axis("off")
    fig.suptitle("GAN samples")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(config, ctx):
    x, side = load(ctx, config.data, config.fit.batch_size)
    ctx.log(f"Training images: {len(x)} of {side}x{side} pixels in [-1, 1].")
    m = config.model
    gan = GAN(x.shape[1], m)
    d_opt = ctx.optimizer()
    if m.d_learning_rate is not None:
        d_opt = type(d_opt)(learning_rate=m.d_learning_rate)
    ctx.compile(gan, d_optimizer=d_opt)
    tracker = LossTracker()
    history = ctx.fit(gan, x, validation_split=0.0, callbacks=[tracker])
    # every batch this process trained (after a --resume: those since the resume) plus the epoch logs
    d_all = np.asarray(tracker.d + list(history.history["d_loss"]), dtype="float64")
    g_all = np.asarray(tracker.g + list(history.history["g_loss"]), dtype="float64")
    finite = bool(np.all(np.isfinite(d_all)) and np.all(np.isfinite(g_all)))
    max_abs = float(np.max(np.abs(np.concatenate([d_all, g_all]))))
    ends = tracker.epoch_ends
    last = slice(ends[-2] if len(ends) > 1 else 0, ends[-1]) if ends else slice(-1, None)
    final_d = float(np.mean(tracker.d[last])) if tracker.d else float(history.history["d_loss"][-1])
    final_g = float(np.mean(tracker.g[last])) if tracker.g else float(history.history["g_loss"][-1])

    s = config.samples
    z = np.random.default_rng(config.seed).normal(size=(s.rows * s.cols, m.latent_dim)).astype("float32")
    fake = np.asarray(gan.generator.predict(z, verbose=0))
    path = ctx.path("samples.png")
    save_grid(path, fake, side, s.rows, s.cols)
    ctx.log(f"Saved {s.rows}x{s.cols} generated samples to {path}")
    metrics = {"final_d_loss": final_d, "final_g_loss": final_g, "max_abs_loss": max_abs,
               "losses_finite": float(finite), "mean_pixel_gap": float(abs(fake.mean() - x.mean())),
               "epochs": int(len(history.history["d_loss"]))}
    ctx.log(f"d_loss {metrics['final_d_loss']:.4f}, g_loss {metrics['final_g_loss']:.4f}, "
            f"max |loss| {max_abs:.4f}, finite: {finite}")
    return gan.generator, metrics
