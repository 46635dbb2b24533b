"""Transfer learning in three phases: pretrain a CNN on one task, reuse it frozen, then fine-tune it.

1. **Pretrain**: a small CNN base (Conv2D/MaxPooling blocks, flattened) and a head (Dense ReLU layer,
   softmax layer, dropout before each) are trained on task A, the digits 0-4 (``fit.epochs`` epochs, ``compile.learning_rate``).
2. **Frozen**: ``base.trainable = False``; a new head is trained on task B, the digits 5-9 (relabelled
   0-4), for ``transfer.frozen_epochs`` epochs: only the head learns, on the base's features.
3. **Fine-tune**: ``base.trainable = True`` and the whole network trains on task B for
   ``transfer.finetune_epochs`` epochs at ``compile.learning_rate * transfer.finetune_lr_factor``.

Test accuracy is reported after each phase. Each ``ctx.fit`` gets its own backup, TensorBoard folder
(``tensorboard/fit0``, ``fit1``, ...), history (``history.csv``, ``history-1.csv``, ``history-2.csv``) and best
checkpoint (``checkpoints/best.kerasish``, ``best-1``, ``best-2``). With ``transfer.scratch_baseline`` the
same network is also trained from scratch on task B (frozen + fine-tune epochs) for comparison.

Data: MNIST (28x28) when it is in the kerasish.datasets cache, else scikit-learn's 8x8 digits (offline;
the default here is ``data.dataset: digits``, which never needs a download).

Sections:
    data.dataset: digits | mnist (mnist falls back to digits when it is not in the cache).
    data.limit: use only the first N training samples of each task (null: all); for quick runs.
    data.task_b_samples: training samples of task B (null: all of them); transfer helps most when few.
    model.filters: filters of each Conv2D block (3x3, ReLU, same padding, then 2x2 max pooling when the
        image is still at least 4 pixels wide).
    model.units: size of each head's hidden Dense layer; model.dropout: dropout before each head layer.
    transfer.frozen_epochs / transfer.finetune_epochs: epochs of phases 2 and 3 (phase 1: fit.epochs).
    transfer.finetune_lr_factor: phase 3's learning rate relative to compile.learning_rate, in (0, 1].
    transfer.scratch_baseline: also train a fresh network on task B alone (adds test_accuracy_b_scratch).

Metrics: ``test_accuracy_a`` (phase 1, task A), ``test_accuracy_b_frozen`` (phase 2),
``test_accuracy_b_finetuned`` (phase 3), ``test_accuracy_a_after`` (task A with the fine-tuned base and
the first head: how much of task A survives), the matching ``test_loss_*``, and ``base_frozen_ok`` (1.0 when
phase 2 left the base's weights unchanged). The saved model is the
task-B network after fine-tuning.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

import kerasish
from kerasish import layers
from kerasish.runs import Section


class Data(Section):
    dataset: Literal["digits", "mnist"] = "digits"
    limit: int | None = Field(None, ge=1)
    task_b_samples: int | None = Field(None, ge=1)


class Model(Section):
    filters: list[int] = Field([32, 64], min_length=1)
    units: int = Field(64, ge=1)
    dropout: float = Field(0.25, ge=0.0, lt=1.0)


class Transfer(Section):
    frozen_epochs: int = Field(20, ge=1)
    finetune_epochs: int = Field(20, ge=1)
    finetune_lr_factor: float = Field(0.1, gt=0.0, le=1.0)
    scratch_baseline: bool = False


SECTIONS = {"data": Data, "model": Model, "transfer": Transfer}
DEFAULTS = {"fit": {"epochs": 15, "batch_size": 32, "validation_split": 0.1}}
SMOKE = ["fit.epochs=1", "transfer.frozen_epochs=1", "transfer.finetune_epochs=1", "data.limit=200",
         "model.filters=[8]", "model.units=16", "transfer.scratch_baseline=false"]

CLASSES = 5  # each task: five digits


def digits():
    return kerasish.datasets.digits.load_data()


def load(ctx, data: Data):
    if data.dataset == "digits":
        ctx.log("Data: scikit-learn digits (offline, shipped with scikit-learn); task A = 0-4, task B = 5-9.")
        (x, y), (xt, yt) = digits()
    else:
        (x, y), (xt, yt) = ctx.load_dataset("mnist", fallback=digits, fallback_name="scikit-learn digits")
    scale = 16.0 if x.shape[1] == 8 else 255.0
    x = x[..., None].astype("float32") / scale
    xt = xt[..., None].astype("float32") / scale
    y, yt = y.astype("int32"), yt.astype("int32")

    def task(lo, limit):
        tr, te = (y >= lo) & (y < lo + CLASSES), (yt >= lo) & (yt < lo + CLASSES)
        xa, ya = x[tr], y[tr] - lo
        if limit:
            xa, ya = xa[:limit], ya[:limit]
        return (xa, ya), (xt[te], yt[te] - lo)

    limit_b = min(filter(None, (data.limit, data.task_b_samples)), default=None)
    return task(0, data.limit), task(5, limit_b)


def build_base(shape, m: Model):
    stack = [kerasish.Input(shape)]
    side = shape[0]
    for f in m.filters:
        stack.append(layers.Conv2D(f, 3, padding="same", activation="relu"))
        if side >= 4:
            stack.append(layers.MaxPooling2D(2))
            side //= 2
    stack.append(layers.Flatten())
    return kerasish.Sequential(stack, name="base")


def with_head(base, shape, m: Model, name: str):
    inputs = kerasish.Input(shape)
    hidden = layers.Dense(m.units, activation="relu", name=f"{name}_hidden")(layers.Dropout(m.dropout)(base(inputs)))
    outputs = layers.Dense(CLASSES, activation="softmax", name=f"{name}_out")(layers.Dropout(m.dropout)(hidden))
    return kerasish.Model(inputs, outputs, name=name)


def evaluate(model, x, y):
    out = model.evaluate(x, y, verbose=0, return_dict=True)
    return float(out["accuracy"]), float(out["loss"])


def run(config, ctx):
    ((xa, ya), (xa_t, ya_t)), ((xb, yb), (xb_t, yb_t)) = load(ctx, config.data)
    ctx.log(f"Task A (digits 0-4): {len(xa)} train / {len(xa_t)} test; "
            f"task B (digits 5-9): {len(xb)} train / {len(xb_t)} test.")
    shape = xa.shape[1:]
    m, t = config.model, config.transfer
    loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    out = {}

    ctx.log("Phase 1: pretrain base + head A on task A.")
    base = build_base(shape, m)
    model_a = with_head(base, shape, m, "task_a")
    ctx.compile(model_a, loss=loss, metrics=metrics)
    ctx.fit(model_a, xa, ya)
    out["test_accuracy_a"], out["test_loss_a"] = evaluate(model_a, xa_t, ya_t)
    ctx.log(f"Phase 1 test accuracy (task A): {out['test_accuracy_a']:.4f}")

    ctx.log("Phase 2: freeze the base, train a new head on task B.")
    base.trainable = False
    model_b = with_head(base, shape, m, "task_b")
    ctx.compile(model_b, loss=loss, metrics=metrics)
    before = base.get_weights()
    ctx.fit(model_b, xb, yb, epochs=t.frozen_epochs)
    out["base_frozen_ok"] = float(all(np.array_equal(a, b) for a, b in zip(before, base.get_weights())))
    out["test_accuracy_b_frozen"], out["test_loss_b_frozen"] = evaluate(model_b, xb_t, yb_t)
    ctx.log(f"Phase 2 test accuracy (task B, frozen base): {out['test_accuracy_b_frozen']:.4f}")

    lr = config.compile.learning_rate * t.finetune_lr_factor
    ctx.log(f"Phase 3: unfreeze the base, fine-tune everything on task B at learning rate {lr:g}.")
    base.trainable = True
    ctx.compile(model_b, loss=loss, metrics=metrics)
    model_b.optimizer.learning_rate = lr
    ctx.fit(model_b, xb, yb, epochs=t.finetune_epochs)
    out["test_accuracy_b_finetuned"], out["test_loss_b_finetuned"] = evaluate(model_b, xb_t, yb_t)
    ctx.log(f"Phase 3 test accuracy (task B, fine-tuned): {out['test_accuracy_b_finetuned']:.4f}")
    out["test_accuracy_a_after"], out["test_loss_a_after"] = evaluate(model_a, xa_t, ya_t)
    ctx.log(f"Task A test accuracy with the fine-tuned base: {out['test_accuracy_a_after']:.4f}")

    if t.scratch_baseline:
        ctx.log("Baseline: the same network trained from scratch on task B.")
        scratch = with_head(build_base(shape, m), shape, m, "scratch")
        ctx.compile(scratch, loss=loss, metrics=metrics)
        ctx.fit(scratch, xb, yb, epochs=t.frozen_epochs + t.finetune_epochs)
        out["test_accuracy_b_scratch"], out["test_loss_b_scratch"] = evaluate(scratch, xb_t, yb_t)
        ctx.log(f"Baseline test accuracy (task B, from scratch): {out['test_accuracy_b_scratch']:.4f}")

    ctx.log("Summary: " + ", ".join(f"{k}={v:.4f}" for k, v in out.items() if "accuracy" in k))
    out["train_samples_a"], out["train_samples_b"] = int(len(xa)), int(len(xb))
    return model_b, out
