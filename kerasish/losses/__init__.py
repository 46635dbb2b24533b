"""Losses: Keras-named loss objects over pure `jax.numpy` functions.

Every loss comes in two forms, as in Keras:

* a *function* ``fn(y_true, y_pred, **options) -> per-sample losses``, reduced
  over the last (feature) axis, so a ``(batch, d)`` input gives ``(batch,)``
  and a ``(batch, T, d)`` input gives ``(batch, T)``;
* a :class:`Loss` object that calls that function, weights the per-sample
  values by ``sample_weight`` and reduces them to a scalar.

All of it is pure and jittable: a ``Loss`` object holds only static
configuration, so a jitted step can close over it.

Example:

>>> loss = get("sparse_categorical_crossentropy")
>>> loss(jnp.array([0, 2]), jnp.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8]]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerasish.errors import ConfigError, unknown_identifier
from kerasish.losses.base import (  # noqa: F401 - re-exported, shared with metrics
    EPSILON,
    REDUCTIONS,
    Loss,
    LossFunctionWrapper,
    _align_weights,
    _snake_case,
    divide_no_nan,
    match_rank,
    reduce_weighted_values,
)
from kerasish.losses.classes import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
)
from kerasish.losses.ctc import CTC, ctc
from kerasish.losses.focal import (
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    binary_focal_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
)
from kerasish.losses.functions import (
    binary_crossentropy,
    categorical_crossentropy,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
)
from kerasish.losses.margin import CategoricalHinge, Circle, SquaredHinge, categorical_hinge, circle, squared_hinge
from kerasish.losses.overlap import Dice, Tversky, dice, tversky

# --------------------------------------------------------------------------- lookup

_CLASSES: dict[str, type[Loss]] = {
    cls.__name__: cls
    for cls in (
        Loss,
        LossFunctionWrapper,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        Huber,
        LogCosh,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        KLDivergence,
        Hinge,
        Poisson,
        CosineSimilarity,
        SquaredHinge,
        CategoricalHinge,
        BinaryFocalCrossentropy,
        CategoricalFocalCrossentropy,
        CategoricalGeneralizedCrossEntropy,
        Circle,
        CTC,
        Dice,
        Tversky,
    )
}

_FUNCTIONS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        huber,
        log_cosh,
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        kl_divergence,
        hinge,
        poisson,
        cosine_similarity,
        squared_hinge,
        categorical_hinge,
        binary_focal_crossentropy,
        categorical_focal_crossentropy,
        categorical_generalized_cross_entropy,
        circle,
        ctc,
        dice,
        tversky,
    )
}

# String alias -> the class it builds. The object is named after the alias,
# as Keras's compile names a loss given by string.
_ALIASES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "huber": Huber,
    "log_cosh": LogCosh,
    "logcosh": LogCosh,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "hinge": Hinge,
    "poisson": Poisson,
    "cosine_similarity": CosineSimilarity,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "categorical_generalized_cross_entropy": CategoricalGeneralizedCrossEntropy,
    "circle": Circle,
    "ctc": CTC,
    "dice": Dice,
    "tversky": Tversky,
}

ALL_LOSS_NAMES: tuple[str, ...] = tuple(_ALIASES)
"""Every string alias :func:`get` accepts (class names are accepted too)."""


def get(identifier) -> Loss:
    """Resolves a loss identifier to a :class:`Loss` object.

    Args:
        identifier: a ``Loss`` (returned as is); a string alias from
            :data:`ALL_LOSS_NAMES` (e.g. ``"mse"``) or a class name
            (``"MeanSquaredError"``); a config dict
            ``{"class_name": ..., "config": {...}}``; or a function
            ``fn(y_true, y_pred) -> per-sample losses``, wrapped in a
            :class:`LossFunctionWrapper` named ``fn.__name__``.

    Returns:
        A Loss object.

    Raises:
        ConfigError: for an unknown name or an identifier of another type.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _ALIASES:
            return _ALIASES[identifier](name=identifier)
        if identifier in _CLASSES and identifier not in ("Loss", "LossFunctionWrapper"):
            return _CLASSES[identifier]()
        raise unknown_identifier("loss", identifier, list(ALL_LOSS_NAMES))
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ConfigError(f"Could not interpret loss identifier {identifier!r}: expected a Loss, a name, a dict or a function.")


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a Loss (see :func:`deserialize`)."""
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Rebuilds a built-in Loss from :func:`serialize`'s output."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A loss config needs 'class_name' and 'config' keys, got {config!r}.")
    class_name = config["class_name"]
    cls = _CLASSES.get(class_name)
    if cls is None or cls is Loss:
        raise unknown_identifier("loss class", class_name, [n for n in _CLASSES if n != "Loss"])
    return cls.from_config(dict(config.get("config") or {}))


# --------------------------------------------------------------------------- kinds


def _loss_function(loss) -> Callable | None:
    if isinstance(loss, str):
        try:
            loss = get(loss)
        except ConfigError:
            return None
    if isinstance(loss, LossFunctionWrapper):
        return loss.fn
    return loss if callable(loss) else None


def is_binary(loss) -> bool:
    """Whether ``loss`` (object, function or name) is binary crossentropy."""
    return _loss_function(loss) is binary_crossentropy


def is_categorical(loss) -> bool:
    """Whether ``loss`` (object, function or name) is categorical crossentropy."""
    return _loss_function(loss) is categorical_crossentropy


def is_sparse_categorical(loss) -> bool:
    """Whether ``loss`` (object, function or name) is sparse categorical crossentropy."""
    return _loss_function(loss) is sparse_categorical_crossentropy
