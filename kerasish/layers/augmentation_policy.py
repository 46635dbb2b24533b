"""Augmentation policies and the remaining image layers (Keras 3): AugMix, RandAugment,
ContrastLimitedAdaptiveHistogramEqualization and MaxNumBoundingBoxes.

AugMix and RandAugment pick their operations at random inside the jitted step: the choice is a
traced integer and ``jax.lax.switch`` runs the chosen operation (Keras picks with Python's ``random``
or computes every operation and selects). Like Keras, one choice is made per batch, not per image.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.layers.augmentation import (
    INTERPOLATIONS,
    RandomContrast,
    RandomRotation,
    RandomTranslation,
    _choice,
    _ImageAugmentation,
    _number,
    sample_beta,
)
from kerasish.layers.augmentation_color import (
    AutoContrast,
    Equalization,
    RandomBrightness,
    RandomColorDegeneration,
    RandomPosterization,
    RandomSharpness,
    Solarization,
    _ColorAugmentation,
    rescale,
)
from kerasish.layers.augmentation_geometry import RandomShear, keras_factor


class _OpPolicy(_ColorAugmentation):
    """A layer applying operations chosen at random from ``self._ops`` (name -> augmentation layer)."""

    def _make_ops(self, names, interpolation):
        lo, hi = self.factor
        vr = tuple(self.value_range)
        makers = {
            "random_shear": lambda: RandomShear(x_factor=(lo, hi), y_factor=(lo, hi), interpolation=interpolation),
            "random_translation": lambda: RandomTranslation((lo, hi), (lo, hi), interpolation=interpolation),
            "random_rotation": lambda: RandomRotation((lo, hi), interpolation=interpolation),
            "random_posterization": lambda: RandomPosterization(max(1, int(8 * hi)), value_range=vr),
            "solarization": lambda: Solarization((lo, hi), (lo, hi), value_range=vr),
            "auto_contrast": lambda: AutoContrast(value_range=vr),
            "equalization": lambda: Equalization(value_range=vr),
            "random_brightness": lambda: RandomBrightness((lo, hi), value_range=vr),
            "random_color_degeneration": lambda: RandomColorDegeneration((lo, hi), value_range=vr),
            "random_contrast": lambda: RandomContrast((lo, hi), value_range=vr),
            "random_sharpness": lambda: RandomSharpness((lo, hi), value_range=vr),
        }
        self._ops = {name: makers[name]() for name in names}

    def _op_params(self, key, shape) -> dict:
        keys = jax.random.split(key, len(self._ops))
        return {name: op.random_params(k, shape) for (name, op), k in zip(self._ops.items(), keys)}

    def _stacked_op_params(self, key, steps: tuple, shape) -> dict:
        """Every operation's params for each of ``steps`` (leading axes), drawn with ``vmap``."""
        keys = jax.random.split(key, steps)
        draw = lambda k: self._op_params(k, shape)  # noqa: E731
        for _ in steps:
            draw = jax.vmap(draw)
        return draw(keys)

    def _apply(self, index, images, op_params, with_identity: bool = False):
        """Run operation number ``index`` (traced) on ``images``; index ``len(ops)`` is the identity."""
        branches = [lambda x, p, op=op, name=name: op.transform(x, p[name]) for name, op in self._ops.items()]
        if with_identity:
            branches.append(lambda x, p: x)
        return jax.lax.switch(index, branches, images, op_params)


class AugMix(_OpPolicy):
    """AugMix (Hendrycks et al., 2020): a random mixture of augmentation chains, blended with the input.

    Each of ``num_chains`` chains applies ``chain_depth`` steps, each a random operation or nothing;
    the chains are mixed with Dirichlet(``alpha``) weights and the mixture blended with the original
    image by a Beta(``alpha``, ``alpha``) weight, then clipped to ``value_range``.

    Args:
        value_range, num_chains (3), chain_depth (3), factor (the operations' strength, ``f`` ->
        ``(0, f)``), alpha (1.0), all_ops (also brightness, color degeneration, contrast, sharpness),
        interpolation, seed, data_format.

    ``params = {"chain_mixing_weights": (num_chains,), "weight_sample": (), "ops": (num_chains, chain_depth)
    int (``len(ops)`` = skip), "op_params": every operation's params, stacked on (num_chains, chain_depth)}``.
    """

    _BASE_OPS = ("random_shear", "random_translation", "random_rotation", "random_posterization", "solarization",
                 "auto_contrast", "equalization")
    _EXTRA_OPS = ("random_brightness", "random_color_degeneration", "random_contrast", "random_sharpness")

    def __init__(self, value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3, alpha=1.0, all_ops=True,
                 interpolation="bilinear", seed=None, data_format=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        for arg, v in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ConfigError(f"AugMix: {arg} must be a positive integer, got {v!r}.")
        if not (_number(alpha) and alpha > 0):
            raise ConfigError(f"AugMix: alpha must be a positive number, got {alpha!r}.")
        self.num_chains, self.chain_depth, self.alpha = int(num_chains), int(chain_depth), float(alpha)
        self.factor = keras_factor("AugMix", "factor", factor)
        self.all_ops = bool(all_ops)
        self.interpolation = _choice("AugMix", "interpolation", interpolation, tuple(INTERPOLATIONS))
        self._make_ops(self._BASE_OPS + (self._EXTRA_OPS if self.all_ops else ()), self.interpolation)

    def random_params(self, key, shape):
        kd, kw, ko, kp = jax.random.split(key, 4)
        chains, depth = self.num_chains, self.chain_depth
        return {"chain_mixing_weights": jax.random.dirichlet(kd, jnp.full((chains,), self.alpha)),
                "weight_sample": sample_beta(kw, self.alpha, self.alpha, ()),
                "ops": jax.random.randint(ko, (chains, depth), 0, len(self._ops) + 1),
                "op_params": self._stacked_op_params(kp, (chains, depth), shape)}

    def transform(self, images, params):
        def step(x, choice):
            index, op_params = choice
            return self._apply(index, x, op_params, with_identity=True), None

        def chain(carry, choices):
            return carry, jax.lax.scan(step, images, choices)[0]

        # One traced copy of each operation however many chains and steps (lax.scan, not Python loops).
        _, outputs = jax.lax.scan(chain, None, (jnp.asarray(params["ops"]), params["op_params"]))
        mixed = jnp.tensordot(jnp.asarray(params["chain_mixing_weights"], images.dtype), outputs, axes=1)
        w = jnp.asarray(params["weight_sample"], images.dtype)
        return self._clip(w * images + (1 - w) * mixed)

    def get_config(self):
        return {**super().get_config(), "num_chains": self.num_chains, "chain_depth": self.chain_depth,
                "factor": list(self.factor), "alpha": self.alpha, "all_ops": self.all_ops,
                "interpolation": self.interpolation}


class RandAugment(_OpPolicy):
    """RandAugment (Cubuk et al., 2019): ``num_ops`` operations drawn at random and applied in sequence.

    The operations (shear, translation, rotation, brightness, color degeneration, contrast, sharpness,
    posterization, solarization, auto-contrast, equalization) all take their strength from ``factor``.

    Args:
        value_range, num_ops (2), factor (``f`` -> ``(0, f)``, default 0.5), interpolation, seed, data_format.

    ``params = {"layer_idxes": (num_ops,) int, "transforms": every operation's params, stacked on (num_ops,)}``.
    """

    _OPS = ("random_shear", "random_translation", "random_rotation", "random_brightness", "random_color_degeneration",
            "random_contrast", "random_sharpness", "random_posterization", "solarization", "auto_contrast",
            "equalization")

    def __init__(self, value_range=(0, 255), num_ops=2, factor=0.5, interpolation="bilinear", seed=None,
                 data_format=None, **kwargs):
        super().__init__(value_range=value_range, seed=seed, data_format=data_format, **kwargs)
        if isinstance(num_ops, bool) or not isinstance(num_ops, numbers.Integral) or num_ops < 0:
            raise ConfigError(f"RandAugment: num_ops must be a non-negative integer, got {num_ops!r}.")
        self.num_ops = int(num_ops)
        self.factor = keras_factor("RandAugment", "factor", factor)
        self.interpolation = _choice("RandAugment", "interpolation", interpolation, tuple(INTERPOLATIONS))
        self._make_ops(self._OPS, self.interpolation)

    def random_params(self, key, shape):
        ki, kp = jax.random.split(key)
        return {"layer_idxes": jax.random.randint(ki, (self.num_ops,), 0, len(self._ops)),
                "transforms": self._stacked_op_params(kp, (self.num_ops,), shape)}

    def transform(self, images, params):
        if self.num_ops == 0:
            return images

        def step(x, choice):
            return self._apply(choice[0], x, choice[1]), None

        return jax.lax.scan(step, images, (jnp.asarray(params["layer_idxes"]), params["transforms"]))[0]

    def get_config(self):
        return {**super().get_config(), "num_ops": self.num_ops, "factor": list(self.factor),
                "interpolation": self.interpolation}


class ContrastLimitedAdaptiveHistogramEqualization(_ColorAugmentation):
    """CLAHE: histogram equalization per image tile, with clipped histograms, blended between tiles.

    The image (on the 0..255 scale) is cut into a ``tile_grid_size`` grid (padded symmetrically to a
    whole number of tiles); each tile's 256-bin histogram is clipped at ``clip_limit`` times the mean
    bin count (the excess spread evenly), and each pixel is mapped through the four nearest tiles'
    equalization curves, bilinearly weighted. Applied in every mode, as Keras.

    Args:
        value_range: the pixels' range. clip_limit: the histogram clip (4.0; <= 0 for none).
        tile_grid_size: ``(rows, columns)`` of tiles (``(8, 8)``).
    """

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8), data_format=None, **kwargs):
        super().__init__(value_range=value_range, data_format=data_format, **kwargs)
        if not _number(clip_limit):
            raise ConfigError(f"ContrastLimitedAdaptiveHistogramEqualization: clip_limit must be a number, "
                              f"got {clip_limit!r}.")
        if not (isinstance(tile_grid_size, (list, tuple)) and len(tile_grid_size) == 2 and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in tile_grid_size)):
            raise ConfigError(f"ContrastLimitedAdaptiveHistogramEqualization: tile_grid_size must be a pair of "
                              f"positive ints, got {tile_grid_size!r}.")
        self.clip_limit = float(clip_limit)
        self.tile_grid_size = [int(v) for v in tile_grid_size]

    def random_params(self, key, shape):
        return {}

    def _curves(self, tiles, tile_area):
        """``(N, gh, gw, C, 256)`` equalization curves from the tiles' pixels ``(N, gh, gw, C, area)``."""
        levels = jnp.clip(tiles.astype(jnp.int32), 0, 255)
        hist = jnp.sum(jax.nn.one_hot(levels, 256, dtype=jnp.float32), axis=-2)
        if self.clip_limit > 0:
            limit = jnp.float32(self.clip_limit * tile_area / 256.0)
            clipped = jnp.clip(hist, 0, limit)
            hist = clipped + jnp.sum(hist - clipped, axis=-1, keepdims=True) / 256.0
        cdf = jnp.cumsum(hist, axis=-1)
        low = jnp.min(cdf, axis=-1, keepdims=True)
        span = tile_area - low
        return jnp.clip((cdf - low) * 255.0 / jnp.where(span == 0, 1.0, span), 0, 255)

    def transform(self, images, params=None):
        x = rescale(images.astype(jnp.float32), self.value_range, (0, 255))
        n, h, w, c = x.shape
        gh, gw = self.tile_grid_size
        th, tw = -(-h // gh), -(-w // gw)
        x = jnp.pad(x, ((0, 0), (0, th * gh - h), (0, tw * gw - w), (0, 0)), mode="symmetric")
        tiles = x.reshape(n, gh, th, gw, tw, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, gh, gw, c, th * tw)
        curves = jnp.pad(self._curves(tiles, th * tw), ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)), mode="edge")

        def neighbours(size, tile, grid):
            pos = (jnp.arange(size, dtype=jnp.float32) - tile / 2.0) / tile + 1.0
            first = jnp.floor(pos)
            weight = pos - first
            return (jnp.clip(first, 0, grid + 1).astype(jnp.int32), jnp.clip(first + 1, 0, grid + 1).astype(jnp.int32),
                    weight)

        y0, y1, wy = neighbours(th * gh, th, gh)
        x0, x1, wx = neighbours(tw * gw, tw, gw)
        levels = jnp.clip(x, 0, 255).astype(jnp.int32)  # (N, H', W', C)
        b = jnp.arange(n)[:, None, None, None]
        ch = jnp.arange(c)[None, None, None, :]

        def read(ys, xs):
            return curves[b, ys[None, :, None, None], xs[None, None, :, None], ch, levels]

        wx_, wy_ = wx[None, None, :, None], wy[None, :, None, None]
        top = read(y0, x0) * (1 - wx_) + read(y0, x1) * wx_
        bottom = read(y1, x0) * (1 - wx_) + read(y1, x1) * wx_
        out = (top * (1 - wy_) + bottom * wy_)[:, :h, :w, :]
        return rescale(out, (0, 255), self.value_range).astype(images.dtype)

    def inference(self, images):
        return self.transform(images)

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)
        return {**config, "clip_limit": self.clip_limit, "tile_grid_size": list(self.tile_grid_size)}


class MaxNumBoundingBoxes(_ImageAugmentation):
    """Pads or truncates the bounding boxes of a batch to ``max_number`` per image (images unchanged).

    Call it on ``{"images": ..., "bounding_boxes": {"boxes": (N, B, 4), "labels": (N, B)}}``; the
    result has ``(N, max_number, 4)`` boxes and ``(N, max_number)`` labels, padded with ``fill_value``.
    Plain images pass through. Works in every mode.

    Args:
        max_number: the number of boxes per image. fill_value: the padding (-1).
    """

    def __init__(self, max_number, fill_value=-1, bounding_box_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_number, bool) or not isinstance(max_number, numbers.Integral) or max_number < 1:
            raise ConfigError(f"MaxNumBoundingBoxes: max_number must be a positive integer, got {max_number!r}.")
        self.max_number = int(max_number)
        self.fill_value = int(fill_value)
        self.bounding_box_format = bounding_box_format

    def _pad(self, x, trailing):
        x = jnp.asarray(x)[:, :self.max_number]
        pad = [(0, 0), (0, self.max_number - x.shape[1])] + [(0, 0)] * trailing
        return jnp.pad(x, pad, constant_values=self.fill_value)

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict):
            return jnp.asarray(inputs)
        out = dict(inputs)
        boxes = inputs.get("bounding_boxes")
        if boxes is not None:
            if not (isinstance(boxes, dict) and "boxes" in boxes and "labels" in boxes):
                raise InputError(f"Layer {self.name!r} (MaxNumBoundingBoxes): 'bounding_boxes' must be a dict with "
                                 f"'boxes' and 'labels', got {type(boxes).__name__}.")
            out["bounding_boxes"] = {**boxes, "boxes": self._pad(boxes["boxes"], 1),
                                     "labels": self._pad(boxes["labels"], 0)}
        return out

    def get_config(self):
        config = super().get_config()
        config.pop("seed", None)
        config = {**config, "max_number": self.max_number}  # Keras writes no fill_value
        if self.bounding_box_format is not None:
            config["bounding_box_format"] = self.bounding_box_format
        return config


__all__ = ["AugMix", "ContrastLimitedAdaptiveHistogramEqualization", "MaxNumBoundingBoxes", "RandAugment"]
