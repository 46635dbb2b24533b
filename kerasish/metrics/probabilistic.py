"""Probabilistic metrics (crossentropies, KL divergence, Poisson) and the hinge metrics."""

from __future__ import annotations

from kerasish import losses as losses_lib
from kerasish.metrics.reduction import MeanMetricWrapper


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary crossentropy over samples (see ``losses.binary_crossentropy``)."""

    _config_keys = ("from_logits", "label_smoothing")

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(
            losses_lib.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical crossentropy over samples."""

    _config_keys = ("from_logits", "label_smoothing", "axis")

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(
            losses_lib.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical crossentropy over samples."""

    _config_keys = ("from_logits", "axis")

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(
            losses_lib.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            axis=axis,
        )
        self.from_logits = from_logits
        self.axis = axis


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence over samples."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(losses_lib.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss over samples."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(losses_lib.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss over samples."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(losses_lib.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss over samples (see ``losses.squared_hinge``)."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(losses_lib.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss over samples (see ``losses.categorical_hinge``)."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(losses_lib.categorical_hinge, name=name, dtype=dtype)
