"""Image classification with several ``kerasish.applications`` architectures, compared on the same data.

Every backbone in ``model.backbones`` is trained **the same way, as a frozen feature extractor**: the headless
backbone (``include_top=False, pooling="avg"``) computes the features of the training and test images once
with ``predict``, and a small Dense head is trained on them with ``fit`` (``backbone_features.py``'s method:
global rescaling, per-feature normalization, dropout, softmax). The backbones are never updated, which keeps a
comparison of large networks affordable on a CPU and is the usual first step with ImageNet weights; full
training of each network is ``backbone_transfer.py``'s job.

For each backbone the run measures test accuracy, parameters (backbone and head), training time (feature
extraction plus head training) and inference throughput: images per second of the joined model (image ->
backbone -> head) over ``benchmark.images`` test images, the best of ``benchmark.repeats`` timed ``predict``
calls after one warm-up call. The table is logged and written to ``comparison.csv`` in the run directory;
the saved model is the most accurate backbone with its head (it takes images preprocessed for its family).

Weights: with ``model.weights: imagenet`` each backbone gets Keras's ImageNet weights **only when their file is
already in the kerasish dataset cache** (nothing is downloaded), else random initialization; the first line of
the output says which, per backbone when they differ. With random weights the comparison ranks the
architectures' random features, which says little about how they rank with ImageNet weights.

Data: "colour digits" (scikit-learn's digits upsampled to ``data.image_size`` and tinted, no download), or
CIFAR-10 with ``data.dataset: cifar10`` when it is in the cache (``backbone_transfer.py``'s loading). Each
backbone sees the images through its own family's ``preprocess_input``.

Sections:
    data.dataset: digits (default, offline) | cifar10 (from the cache; falls back to colour digits).
    data.image_size: side of the square input images, 32..512 (default 32; every default backbone accepts 32).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.backbones: the ``kerasish.applications`` constructor names to compare, 1..8 distinct (default
        MobileNetV2, MobileNetV3Small, DenseNet121: the fast ones at 32x32 on a CPU).
    model.backbone_args: backbone name -> extra keyword arguments for it (e.g. ``{MobileNetV2: {alpha: 0.35}}``).
    model.weights: imagenet (from the cache when there, else random) | null (random initialization).
    model.batch_size: batch size of the feature-extraction ``predict`` calls (default 64).
    head.dropout, head.sklearn, head.sklearn_c, head.sklearn_max_iter: as in ``backbone_features.py`` (here
        ``head.sklearn`` defaults to false; when true, the table gains a LogisticRegression accuracy column).
    benchmark.images: how many test images each throughput measurement predicts (default 256).
    benchmark.repeats: timed ``predict`` calls after the warm-up; the best one counts (default 3).
    benchmark.batch_size: their batch size (default 64).

The ``fit`` section trains each head (epochs, batch size, validation split on the training features).

Metrics, per backbone ``<name>`` (as spelled in ``model.backbones``): ``<name>_test_accuracy``,
``<name>_params`` (backbone and head), ``<name>_train_seconds`` (extraction and head training),
``<name>_images_per_s``, ``<name>_feature_dim`` (and ``<name>_sklearn_test_accuracy`` with ``head.sklearn``);
overall: ``best_backbone``, ``best_test_accuracy``, ``backbones``, ``imagenet_weights`` (how many backbones
loaded them) and ``train_samples``.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from kerasish.runs import Section


def _backbone_features():
    """``backbone_features.py`` (which loads ``backbone_transfer.py``), as ``backbone_transfer.sibling`` would."""
    from kerasish.runs.config import load_recipe

    module = sys.modules.get("kerasish_recipe_backbone_features")
    path = Path(__file__).with_name("backbone_features.py")
    if module is None or Path(getattr(module, "__file__", "")).resolve() != path.resolve():
        module = load_recipe(path)
    return module


bf = _backbone_features()
bt = bf.bt
Data = bt.Data


class Model(Section):
    backbones: list[str] = Field(["MobileNetV2", "MobileNetV3Small", "DenseNet121"], min_length=1, max_length=8)
    backbone_args: dict[str, dict[str, Any]] = {}
    weights: Literal["imagenet"] | None = "imagenet"
    batch_size: int = Field(64, ge=1)

    @field_validator("backbones")
    @classmethod
    def _known_backbones(cls, value):
        for name in value:
            bt.check_backbone(name)
        if len(set(value)) != len(value):
            raise ValueError(f"each backbone once, got {value}")
        return value

    @field_validator("backbone_args")
    @classmethod
    def _args_for_listed(cls, value, info):
        listed = info.data.get("backbones", [])
        extra = sorted(set(value) - set(listed))
        if extra:
            raise ValueError(f"{', '.join(extra)} not in model.backbones {listed}")
        return value


class Head(bf.Head):
    sklearn: bool = False


class Benchmark(Section):
    images: int = Field(256, ge=1)
    repeats: int = Field(3, ge=1, le=100)
    batch_size: int = Field(64, ge=1)


SECTIONS = {"data": Data, "model": Model, "head": Head, "benchmark": Benchmark}
DEFAULTS = {"compile": {"optimizer": "adam", "learning_rate": 0.001, "steps_per_execution": 1},
            "fit": {"epochs": 30, "batch_size": 32, "validation_split": 0.1}}
SMOKE = ["model.backbones=[MobileNetV3Small,MobileNetV2]", "model.backbone_args.MobileNetV2.alpha=0.35",
         "fit.epochs=1", "data.limit=128", "benchmark.images=32", "benchmark.repeats=1",
         "callbacks.checkpoint=false", "callbacks.tensorboard=false", "output.save_model=false"]

COLUMNS = [("backbone", "backbone", "{}"), ("test_accuracy", "test acc", "{:.4f}"),
           ("sklearn_test_accuracy", "sklearn acc", "{:.4f}"), ("params", "params", "{:,}"),
           ("feature_dim", "features", "{}"), ("train_seconds", "train s", "{:.1f}"),
           ("images_per_s", "images/s", "{:.0f}"), ("weights", "weights", "{}")]


def table(rows: list[dict]) -> list[str]:
    """The comparison as aligned text lines (a column only when some row has it)."""
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    cells = [[title for _, title, _ in cols]] + [[fmt.format(r[k]) if k in r else "-" for k, _, fmt in cols]
                                                 for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cols))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
            for line in cells]


def run(config, ctx):
    m, b = config.model, config.benchmark
    (x0, y), (xt0, yt), data_name = bt.load_images(config.data, config.seed)
    shape = x0.shape[1:]
    bases, notes, loaded, built = {}, {}, {}, {}
    for name in m.backbones:  # all built first: the first line says which weights each one got
        start = time.perf_counter()
        bases[name], loaded[name], notes[name] = bt.make_backbone(name, shape, m.weights, m.backbone_args.get(name))
        bases[name].trainable = False
        built[name] = time.perf_counter() - start
    ctx.log(bt.first_line(data_name, notes))
    ctx.log(f"Comparing {len(m.backbones)} frozen backbones ({', '.join(m.backbones)}) on {len(x0)} training and "
            f"{len(xt0)} test images of shape {shape}; each gets a Dense head trained on its features.")

    rows, models, out = [], {}, {}
    for name in m.backbones:
        base = bases[name]
        ctx.log(f"-- {name} ({base.count_params():,} parameters, built in {built[name]:.1f} s)")
        x, xt = bt.preprocess(name, x0), bt.preprocess(name, xt0)
        model, res = bf.train_on_features(ctx, name, base, ((x, y), (xt, yt)), config.head, m.batch_size,
                                          prefix=f"{name}: ")
        ips = bf.images_per_second(model, xt[:b.images], b.batch_size, b.repeats)
        ctx.log(f"{name}: inference {ips:.0f} images/s (image -> backbone -> head, {min(b.images, len(xt))} images, "
                f"batch {b.batch_size}).")
        row = {"backbone": name, "test_accuracy": res["test_accuracy"], "params": res["params"],
               "feature_dim": res["feature_dim"], "train_seconds": res["extract_seconds"] + res["head_train_seconds"],
               "images_per_s": ips, "weights": "imagenet" if loaded[name] else "random"}
        if "sklearn_test_accuracy" in res:
            row["sklearn_test_accuracy"] = res["sklearn_test_accuracy"]
        rows.append(row)
        models[name] = model
        out |= {f"{name}_{k}": v for k, v in row.items() if k not in ("backbone", "weights")}

    ctx.log("Comparison (frozen backbones, Dense heads on their features; comparison.csv):")
    for line in table(rows):
        ctx.log("  " + line)
    keys = [k for k, _, _ in COLUMNS if any(k in r for r in rows)]
    with open(ctx.path("comparison.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys, restval="")
        writer.writeheader()
        writer.writerows(rows)
    best = max(rows, key=lambda r: r["test_accuracy"])
    ctx.log(f"Most accurate: {best['backbone']} ({best['test_accuracy']:.4f}); the saved model is its network.")
    out |= {"best_backbone": best["backbone"], "best_test_accuracy": best["test_accuracy"],
            "backbones": len(rows), "imagenet_weights": float(sum(loaded.values())), "train_samples": int(len(x0))}
    return models[best["backbone"]], out
