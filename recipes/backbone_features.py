"""Feature extraction with a frozen ``kerasish.applications`` backbone, then a small classifier on the features.

The cheapest form of transfer learning: the headless backbone (``include_top=False, pooling="avg"``, never
trained) turns every training and test image into one feature vector, **once**, with ``predict``; a small
classifier is then trained on those vectors alone, so each epoch costs a few matrix products instead of a pass
through the backbone:

* **Dense head** (kerasish): ``Rescaling`` (one global scale, so that the tiny features of a randomly
  initialized deep network become O(1) in float32) -> ``Normalization`` (per-feature mean and variance,
  adapted on the training features) -> dropout -> softmax ``Dense``, trained with ``fit`` on the features.
* **Logistic regression** (scikit-learn, optional): on the same training features, standardized, as a
  reference for the Dense head.

The saved model joins the two halves (image -> backbone -> head), so it takes preprocessed images.

Weights: with ``model.weights: imagenet`` the backbone gets Keras's ImageNet weights **only when their file is
already in the kerasish dataset cache** (checked without downloading; see ``backbone_transfer.py``), else random
initialization; the first line of the output says which. Random features are still informative (the defaults
reach about 90% on colour digits), ImageNet ones much more so on natural images.

Data: "colour digits" (scikit-learn's digits upsampled to ``data.image_size`` and tinted, no download), or
CIFAR-10 with ``data.dataset: cifar10`` when it is in the cache; the loading and preprocessing are
``backbone_transfer.py``'s.

Sections:
    data.dataset: digits (default, offline) | cifar10 (from the cache; falls back to colour digits).
    data.image_size: side of the square input images, 32..512 (default 32).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.backbone: a ``kerasish.applications`` constructor name (default MobileNetV3Small: fast at 32x32).
    model.backbone_args: extra keyword arguments for it (e.g. ``{alpha: 0.35}`` for MobileNetV2).
    model.weights: imagenet (from the cache when there, else random) | null (random initialization).
    model.batch_size: batch size of the feature-extraction ``predict`` calls (default 64).
    head.dropout: dropout before the softmax layer of the Dense head (default 0.2).
    head.sklearn: also train scikit-learn's LogisticRegression on the features (default true).
    head.sklearn_c: its inverse regularization strength C (default 1.0).
    head.sklearn_max_iter: its iteration limit (default 300; reaching it is not an error).

The ``fit`` section trains the Dense head (epochs, batch size, validation split on the training features).

Metrics: ``test_accuracy`` / ``test_loss`` (Dense head), ``sklearn_test_accuracy`` and ``sklearn_seconds``
(with ``head.sklearn``), ``feature_dim``, ``extract_seconds`` (train and test features, first-call compilation
included) and ``extract_images_per_s``, ``head_train_seconds``, ``params`` (backbone and head),
``backbone_params``, ``head_params``, ``imagenet_weights`` (1.0 when loaded) and ``train_samples``.

The helpers here (:func:`extract_features`, :func:`train_on_features`, ...) are shared with
``backbone_comparison.py``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

import kerasish
from kerasish.runs import Section


def _shared():
    """``backbone_transfer.py`` (data, backbones, first line): the module its ``sibling()`` would give (``recipes/``
    is not a package, and that helper lives in the module this one needs first)."""
    from kerasish.runs.config import load_recipe

    module = sys.modules.get("kerasish_recipe_backbone_transfer")
    path = Path(__file__).with_name("backbone_transfer.py")
    if module is None or Path(getattr(module, "__file__", "")).resolve() != path.resolve():
        module = load_recipe(path)
    return module


bt = _shared()
CLASSES = bt.CLASSES
Data = bt.Data


class Model(Section):
    backbone: str = "MobileNetV3Small"
    backbone_args: dict[str, Any] = {}
    weights: Literal["imagenet"] | None = "imagenet"
    batch_size: int = Field(64, ge=1)

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, value):
        return bt.check_backbone(value)


class Head(Section):
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    sklearn: bool = True
    sklearn_c: float = Field(1.0, gt=0.0)
    sklearn_max_iter: int = Field(300, ge=1)


SECTIONS = {"data": Data, "model": Model, "head": Head}
DEFAULTS = {"compile": {"optimizer": "adam", "learning_rate": 0.001, "steps_per_execution": 1},
            "fit": {"epochs": 30, "batch_size": 32, "validation_split": 0.1}}
SMOKE = ["fit.epochs=1", "data.limit=128", "head.sklearn_max_iter=50", "callbacks.checkpoint=false",
         "callbacks.tensorboard=false", "output.save_model=false"]


# -- shared with backbone_comparison.py ------------------------------------------------------------------------
def extract_features(base, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``(n, feature_dim)`` float32 features of preprocessed images, from the frozen backbone in inference mode."""
    return np.asarray(base.predict(x, batch_size=batch_size, verbose=0), dtype="float32").reshape(len(x), -1)


build_head = bt.build_head


def sklearn_accuracy(f, y, ft, yt, c: float, max_iter: int) -> float:
    """Test accuracy of scikit-learn's LogisticRegression on standardized features."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(f.astype("float64"), y)
    return float(clf.score(ft.astype("float64"), yt))


def join(base, head, shape: tuple, name: str):
    """Image -> frozen backbone (inference mode) -> head, as one model."""
    inputs = kerasish.Input(tuple(shape))
    return kerasish.Model(inputs, head(base(inputs, training=False)), name=name)


def images_per_second(model, x: np.ndarray, batch_size: int, repeats: int) -> float:
    """Inference throughput of ``model.predict`` on ``x``: one warm-up call (compilation), then the best of
    ``repeats`` timed calls."""
    model.predict(x, batch_size=batch_size, verbose=0)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(x, batch_size=batch_size, verbose=0)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def train_on_features(ctx, backbone: str, base, data, head: Head, batch_size: int, prefix: str = ""):
    """Extract features once, train the Dense head (and LogisticRegression) on them.

    ``data`` is ``((x, y), (x_test, y_test))`` with preprocessed images. Returns ``(model, metrics)``: the
    joined image classifier and the metrics, their names starting with ``prefix``.
    """
    (x, y), (xt, yt) = data
    start = time.perf_counter()
    f, ft = extract_features(base, x, batch_size), extract_features(base, xt, batch_size)
    extract = time.perf_counter() - start
    ctx.log(f"{prefix}features: {f.shape[1]} per image, {len(x) + len(xt)} images in {extract:.1f} s "
            f"({(len(x) + len(xt)) / extract:.0f} images/s, first-call compilation included).")
    out = {"feature_dim": int(f.shape[1]), "extract_seconds": extract,
           "extract_images_per_s": (len(x) + len(xt)) / extract}

    model_head = build_head(f, head.dropout, name=f"{backbone.lower()}_head")
    ctx.compile(model_head, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    ctx.fit(model_head, f, y)
    out["head_train_seconds"] = time.perf_counter() - start
    out["test_accuracy"], out["test_loss"] = bt.accuracy(model_head, ft, yt)
    ctx.log(f"{prefix}Dense head ({model_head.count_params():,} parameters): test accuracy "
            f"{out['test_accuracy']:.4f}, trained in {out['head_train_seconds']:.1f} s.")
    if head.sklearn:
        start = time.perf_counter()
        out["sklearn_test_accuracy"] = sklearn_accuracy(f, y, ft, yt, head.sklearn_c, head.sklearn_max_iter)
        out["sklearn_seconds"] = time.perf_counter() - start
        ctx.log(f"{prefix}scikit-learn LogisticRegression (C={head.sklearn_c:g}): test accuracy "
                f"{out['sklearn_test_accuracy']:.4f}, trained in {out['sklearn_seconds']:.1f} s.")
    model = join(base, model_head, x.shape[1:], name=f"{backbone.lower()}_features")
    out |= {"params": int(model.count_params()), "backbone_params": int(base.count_params()),
            "head_params": int(model_head.count_params())}
    return model, out


# -- this recipe ----------------------------------------------------------------------------------------------
def run(config, ctx):
    m = config.model
    (x, y), (xt, yt), data_name = bt.load_images(config.data, config.seed)
    base, loaded, note = bt.make_backbone(m.backbone, x.shape[1:], m.weights, m.backbone_args)
    ctx.log(bt.first_line(data_name, {m.backbone: note}))
    base.trainable = False
    x, xt = bt.preprocess(m.backbone, x), bt.preprocess(m.backbone, xt)
    ctx.log(f"Backbone: {m.backbone} ({base.count_params():,} parameters, frozen); {len(x)} training and "
            f"{len(xt)} test images of shape {x.shape[1:]}.")
    model, out = train_on_features(ctx, m.backbone, base, ((x, y), (xt, yt)), config.head, m.batch_size)
    out |= {"imagenet_weights": float(loaded), "train_samples": int(len(x))}
    return model, out
