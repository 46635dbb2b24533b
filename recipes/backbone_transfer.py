"""Transfer learning with a ``kerasish.applications`` backbone: a frozen base and a new head, then fine-tuning.

Keras's "transfer learning & fine-tuning" workflow on a real architecture (MobileNetV2 by default):

1. **Frozen**: the backbone (``include_top=False, pooling="avg"``) is frozen (``base.trainable = False``) and
   a new head (the features rescaled and standardized as measured on a sample of the training images, dropout,
   then a softmax Dense layer) is trained on top of it for ``fit.epochs`` epochs.
2. **Fine-tune**: the last ``transfer.finetune_layers`` layers of the backbone are unfrozen (but for their
   BatchNormalization layers, which stay frozen as in Keras's fine-tuning examples) and the network
   trains on for ``transfer.finetune_epochs`` epochs at ``compile.learning_rate * transfer.finetune_lr_factor``.

The backbone is always called with ``training=False``, so its BatchNormalization layers keep their moving
statistics in both phases (unfreezing them would let a few small batches wreck features learned on ImageNet).
Test accuracy is reported after each phase.

Weights: with ``model.weights: imagenet`` the backbone gets Keras's ImageNet weights **only when their file is
already in the kerasish dataset cache** (``<KERASISH_DATA_DIR>/models``; checked under
``kerasish.datasets.cache_only()``, nothing is downloaded), else random initialization. The first line of the
output says which, and how to get the file. Download it once with, e.g.,
``kerasish.applications.MobileNetV2(include_top=False, weights="imagenet")`` on a machine with network.

Data: "colour digits" (``recipes/cifar_cnn_augmented.py``'s ``color_digits``: scikit-learn's digits upsampled to
``data.image_size`` pixels and tinted, no download), or CIFAR-10 when ``data.dataset: cifar10`` and it is in the
cache (resized to ``data.image_size`` by nearest neighbour). Images go through the backbone family's
``preprocess_input`` (``kerasish.applications.mobilenet_v2.preprocess_input``, ...).

Sections:
    data.dataset: digits (default, offline) | cifar10 (from the cache; falls back to colour digits).
    data.image_size: side of the square input images, 32..512 (default 32; every default backbone accepts 32).
    data.limit: use only the first N training samples (null: all); for quick runs.
    model.backbone: a ``kerasish.applications`` constructor name (MobileNetV2, EfficientNetB0, ResNet50, ...).
    model.backbone_args: extra keyword arguments for it (e.g. ``{alpha: 0.35}`` for MobileNetV2).
    model.weights: imagenet (from the cache when there, else random) | null (random initialization).
    model.dropout: dropout before the new softmax layer (default 0.2).
    transfer.finetune_epochs: epochs of phase 2 (phase 1 runs fit.epochs).
    transfer.finetune_layers: how many of the backbone's last layers phase 2 unfreezes (null: all of them).
    transfer.finetune_lr_factor: phase 2's learning rate relative to compile.learning_rate, in (0, 1].

Metrics: ``test_accuracy_frozen`` / ``test_loss_frozen`` (after phase 1), ``test_accuracy_finetuned`` /
``test_loss_finetuned`` (after phase 2), ``params``, ``trainable_params_frozen``,
``trainable_params_finetune``, ``imagenet_weights`` (1.0 when the ImageNet weights were loaded) and
``train_samples``. The saved model is the fine-tuned network (it takes preprocessed images).

The helpers here (:func:`offline_images`, :func:`load_images`, :func:`make_backbone`, :func:`build_head`,
:func:`sibling`) are shared with ``backbone_features.py`` and ``backbone_comparison.py``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

import kerasish
from kerasish import layers
from kerasish.runs import Section

CLASSES = 10


def backbone_names() -> list[str]:
    """The constructors ``kerasish.applications`` exposes (``MobileNetV2``, ``ResNet50``, ...)."""
    return sorted(n for n in kerasish.applications.__all__ if n[:1].isupper())


def check_backbone(name: str) -> str:
    if name not in backbone_names():
        raise ValueError(f"unknown backbone {name!r}; kerasish.applications has {', '.join(backbone_names())}")
    return name


class Data(Section):
    dataset: Literal["digits", "cifar10"] = "digits"
    image_size: int = Field(32, ge=32, le=512)
    limit: int | None = Field(None, ge=1)


class Model(Section):
    backbone: str = "MobileNetV2"
    backbone_args: dict[str, Any] = {}
    weights: Literal["imagenet"] | None = "imagenet"
    dropout: float = Field(0.2, ge=0.0, lt=1.0)

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, value):
        return check_backbone(value)


class Transfer(Section):
    finetune_epochs: int = Field(5, ge=1)
    finetune_layers: int | None = Field(30, ge=1)
    finetune_lr_factor: float = Field(0.01, gt=0.0, le=1.0)  # 1e-5 with Adam at 1e-3, as Keras's guide


SECTIONS = {"data": Data, "model": Model, "transfer": Transfer}
DEFAULTS = {"compile": {"optimizer": "adam", "learning_rate": 0.001, "steps_per_execution": 1},
            "fit": {"epochs": 10, "batch_size": 32, "validation_split": 0.1}}
SMOKE = ["fit.epochs=1", "transfer.finetune_epochs=1", "transfer.finetune_layers=5", "data.limit=128",
         "callbacks.checkpoint=false", "callbacks.tensorboard=false", "output.save_model=false"]


# -- shared with backbone_features.py and backbone_comparison.py ----------------------------------------------
def sibling(name: str):
    """Another recipe of this folder as a module (``recipes/`` is not a package); imported once per process."""
    module = sys.modules.get(f"kerasish_recipe_{name}")
    path = Path(__file__).with_name(f"{name}.py")
    if module is None or Path(getattr(module, "__file__", "")).resolve() != path.resolve():
        from kerasish.runs.config import load_recipe

        module = load_recipe(path)
    return module


def resize_nearest(images: np.ndarray, size: int) -> np.ndarray:
    """``(n, h, w, c)`` images resized to ``size x size`` by nearest neighbour (no interpolation, any dtype)."""
    rows = (np.arange(size) * images.shape[1]) // size
    cols = (np.arange(size) * images.shape[2]) // size
    return images[:, rows][:, :, cols]


def offline_images(size: int, seed: int):
    """Colour digits at ``size x size x 3`` (uint8): cifar_cnn_augmented's offline set, made without a download."""
    return sibling("cifar_cnn_augmented").color_digits(size, seed)


def load_images(data: Data, seed: int):
    """``((x, y), (x_test, y_test), description)``: float32 images 0..255 and int32 labels 0..9."""
    colour = (f"colour digits ({data.image_size}x{data.image_size}x3: scikit-learn digits upsampled and tinted, "
              "offline)")
    if data.dataset == "cifar10":
        try:
            with kerasish.datasets.cache_only():
                (x, y), (xt, yt) = kerasish.datasets.cifar10.load_data()
            x, xt = resize_nearest(x, data.image_size), resize_nearest(xt, data.image_size)
            name = f"cifar10 (from the cache, resized to {data.image_size}x{data.image_size})"
        except kerasish.datasets.DatasetNotCachedError:
            (x, y), (xt, yt) = offline_images(data.image_size, seed)
            name = (f"{colour} -- fallback, because cifar10 is not in the cache {kerasish.datasets.data_dir()} "
                    "(download it once with kerasish.datasets.cifar10.load_data())")
    else:
        (x, y), (xt, yt) = offline_images(data.image_size, seed)
        name = colour
    if data.limit:
        x, y = x[:data.limit], y[:data.limit]
    return ((x.astype("float32"), y.astype("int32").ravel()), (xt.astype("float32"), yt.astype("int32").ravel()),
            name)


def family(backbone: str):
    """The backbone's ``kerasish.applications`` submodule (for its ``preprocess_input``)."""
    return importlib.import_module(getattr(kerasish.applications, backbone).__module__)


def preprocess(backbone: str, images: np.ndarray) -> np.ndarray:
    """Images 0..255 as the family's ImageNet weights expect them (each family scales its own way)."""
    return np.asarray(family(backbone).preprocess_input(images.copy()), dtype="float32")


def make_backbone(backbone: str, shape: tuple, weights: str | None, backbone_args: dict | None = None,
                  pooling: str | None = "avg"):
    """``(model, loaded, note)``: the headless backbone with ImageNet weights when their file is cached.

    ``weights="imagenet"`` is tried under ``kerasish.datasets.cache_only()``, so a missing file raises at once
    (nothing is downloaded); the backbone is then built again with random weights. ``loaded`` says whether the
    ImageNet weights were loaded; ``note`` says so in words, with how to get the file when it was missing.
    """
    build = getattr(kerasish.applications, backbone)
    args = dict(include_top=False, input_shape=tuple(shape), pooling=pooling, **(backbone_args or {}))
    if weights == "imagenet":
        try:
            # the constructors warn about mismatched input sizes before looking for the file: keep those warnings
            # off the console (its first line must be the "Data:" line) and in the note, when the weights load
            with warnings.catch_warnings(record=True) as caught, kerasish.datasets.cache_only():
                warnings.simplefilter("always")
                model = build(weights="imagenet", **args)
            said = "; ".join(dict.fromkeys(str(w.message) for w in caught))
            return model, True, "ImageNet weights from the cache" + (f" ({said})" if said else "")
        except kerasish.datasets.DatasetNotCachedError as e:
            missing = str(e).split(" is not in the cache")[0]
            note = (f"random initialization (ImageNet weights not in the cache: {missing} is missing; download it "
                    f"once with kerasish.applications.{backbone}(include_top=False, weights='imagenet') on a "
                    "machine with network)")
            return build(weights=None, **args), False, note
    return build(weights=None, **args), False, "random initialization (model.weights is null)"


def build_head(features: np.ndarray, dropout: float, name: str = "head"):
    """A feature-vector classifier whose input scaling is fitted to ``features`` (the training features).

    A global ``Rescaling`` first brings the features to unit overall spread (randomly initialized deep
    backbones give features around 1e-12, below what ``Normalization``'s epsilon can standardize), then
    ``Normalization`` standardizes each feature.
    """
    spread = float(np.std(features.astype("float64")))
    scale = 1.0 / spread if spread > 0 and np.isfinite(spread) else 1.0
    norm = layers.Normalization(name=f"{name}_normalize")
    norm.adapt((features.astype("float64") * scale).astype("float32"))
    inputs = kerasish.Input((features.shape[1],))
    h = norm(layers.Rescaling(scale, name=f"{name}_rescale")(inputs))
    outputs = layers.Dense(CLASSES, activation="softmax", name=f"{name}_softmax")(layers.Dropout(dropout)(h))
    return kerasish.Model(inputs, outputs, name=name)


def first_line(data_name: str, notes: dict[str, str]) -> str:
    """The run's first line: which data, and which weights each backbone uses."""
    if len(set(notes.values())) == 1:
        return f"Data: {data_name}; weights: {next(iter(notes.values()))}."
    return f"Data: {data_name}; weights: " + "; ".join(f"{k}: {v}" for k, v in notes.items()) + "."


def accuracy(model, x, y) -> tuple[float, float]:
    out = model.evaluate(x, y, verbose=0, return_dict=True)
    return float(out["accuracy"]), float(out["loss"])


def count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


# -- this recipe ----------------------------------------------------------------------------------------------
def run(config, ctx):
    m, t = config.model, config.transfer
    (x, y), (xt, yt), data_name = load_images(config.data, config.seed)
    shape = x.shape[1:]
    base, loaded, note = make_backbone(m.backbone, shape, m.weights, m.backbone_args)
    ctx.log(first_line(data_name, {m.backbone: note}))
    x, xt = preprocess(m.backbone, x), preprocess(m.backbone, xt)
    ctx.log(f"Backbone: {m.backbone} ({base.count_params():,} parameters, {len(base.layers)} layers); "
            f"{len(x)} training and {len(xt)} test images of shape {shape}.")

    # The head's input scaling is fitted to the backbone's features on a sample of the training images
    # (randomly initialized backbones give features around 1e-12; ImageNet ones are left near unit spread).
    head = build_head(base.predict(x[:512], verbose=0), m.dropout)
    inputs = kerasish.Input(shape)
    outputs = head(base(inputs, training=False))  # BatchNormalization stays in inference mode, frozen or not
    model = kerasish.Model(inputs, outputs, name=f"{m.backbone.lower()}_transfer")
    loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    out = {}

    base.trainable = False
    ctx.compile(model, loss=loss, metrics=metrics)
    out["trainable_params_frozen"] = count(model.trainable_weights)
    ctx.log(f"Phase 1: frozen backbone, training the new head ({out['trainable_params_frozen']:,} trainable "
            "parameters).")
    ctx.fit(model, x, y)
    out["test_accuracy_frozen"], out["test_loss_frozen"] = accuracy(model, xt, yt)
    ctx.log(f"Phase 1 test accuracy (frozen backbone): {out['test_accuracy_frozen']:.4f}")

    base.trainable = True
    top = len(base.layers) if t.finetune_layers is None else min(t.finetune_layers, len(base.layers))
    for i, layer in enumerate(base.layers):
        # BatchNormalization layers stay frozen (as in Keras's fine-tuning examples): their shifts and scales
        # would move the features the head's input scaling was fitted to.
        layer.trainable = i >= len(base.layers) - top and not isinstance(layer, layers.BatchNormalization)
    lr = config.compile.learning_rate * t.finetune_lr_factor
    ctx.compile(model, loss=loss, metrics=metrics, learning_rate=lr)
    out["trainable_params_finetune"] = count(model.trainable_weights)
    ctx.log(f"Phase 2: fine-tuning the backbone's last {top} layers (from {base.layers[-top].name!r}) with the "
            f"head at learning rate {lr:g} ({out['trainable_params_finetune']:,} trainable parameters).")
    ctx.fit(model, x, y, epochs=t.finetune_epochs)
    out["test_accuracy_finetuned"], out["test_loss_finetuned"] = accuracy(model, xt, yt)
    ctx.log(f"Phase 2 test accuracy (fine-tuned): {out['test_accuracy_finetuned']:.4f}")

    out |= {"params": int(model.count_params()), "imagenet_weights": float(loaded), "train_samples": int(len(x))}
    return model, out
