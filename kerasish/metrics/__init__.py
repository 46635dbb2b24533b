"""Metrics, split by family as Keras splits them (see each module), and their lookup by name.

- :mod:`.base`: the :class:`Metric` contract (stateful and stateless, over Variables);
- :mod:`.reduction`: ``Mean``, ``Sum``, ``MeanMetricWrapper``;
- :mod:`.accuracy`: ``Accuracy`` and the binary, categorical, sparse and top-k accuracies;
- :mod:`.regression`: mean squared / absolute / percentage / log errors, RMSE, log-cosh, cosine similarity, R²;
- :mod:`.probabilistic`: crossentropies, KL divergence, Poisson, the hinges;
- :mod:`.confusion`: ``Precision``, ``Recall``, ``AUC``;
- :mod:`.counts`: ``TruePositives`` & co., ``SensitivityAtSpecificity`` & co.;
- :mod:`.f_score`: ``FBetaScore``, ``F1Score``;
- :mod:`.iou`: ``IoU``, ``MeanIoU``, ``BinaryIoU``, ``OneHotIoU``, ``OneHotMeanIoU``;
- :mod:`.correlation`: ``PearsonCorrelation``, ``ConcordanceCorrelation``.

The numbers (sample weights included) follow Keras 3. As in Keras, the per-sample loss functions
(``binary_crossentropy``, ``hinge``, ``mean_squared_error``, ...) are metric functions too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerasish import losses as losses_lib
from kerasish.errors import ConfigError, unknown_identifier
from kerasish.losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
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
    squared_hinge,
)
from kerasish.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from kerasish.metrics.base import Metric
from kerasish.metrics.confusion import AUC, Precision, Recall, confusion_counts
from kerasish.metrics.correlation import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    concordance_correlation,
    pearson_correlation,
)
from kerasish.metrics.counts import (
    FalseNegatives,
    FalsePositives,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    TrueNegatives,
    TruePositives,
)
from kerasish.metrics.f_score import F1Score, FBetaScore
from kerasish.metrics.iou import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from kerasish.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from kerasish.metrics.reduction import Mean, MeanMetricWrapper, Sum
from kerasish.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)

__all__ = [
    "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU", "CategoricalAccuracy",
    "CategoricalCrossentropy", "CategoricalHinge", "ConcordanceCorrelation", "CosineSimilarity", "F1Score",
    "FBetaScore", "FalseNegatives", "FalsePositives", "Hinge", "IoU", "KLDivergence", "LogCoshError", "Mean",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanIoU", "MeanMetricWrapper", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Metric", "OneHotIoU", "OneHotMeanIoU", "PearsonCorrelation", "Poisson",
    "Precision", "PrecisionAtRecall", "R2Score", "Recall", "RecallAtPrecision", "RootMeanSquaredError",
    "SensitivityAtSpecificity", "SparseCategoricalAccuracy", "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy", "SpecificityAtSensitivity", "SquaredHinge", "Sum", "TopKCategoricalAccuracy",
    "TrueNegatives", "TruePositives", "accuracy", "binary_accuracy", "binary_crossentropy",
    "binary_focal_crossentropy", "categorical_accuracy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "concordance_correlation", "confusion_counts", "deserialize", "get", "hinge", "huber",
    "kl_divergence", "log_cosh", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "pearson_correlation", "poisson", "serialize", "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy", "sparse_top_k_categorical_accuracy", "squared_hinge",
    "top_k_categorical_accuracy",
]

_CLASSES: dict[str, type[Metric]] = {
    cls.__name__: cls
    for cls in (
        Mean,
        MeanMetricWrapper,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        Precision,
        Recall,
        AUC,
        FBetaScore,
        F1Score,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        RootMeanSquaredError,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        KLDivergence,
        Poisson,
        Hinge,
        Sum,
        TruePositives,
        FalsePositives,
        TrueNegatives,
        FalseNegatives,
        SensitivityAtSpecificity,
        SpecificityAtSensitivity,
        PrecisionAtRecall,
        RecallAtPrecision,
        IoU,
        BinaryIoU,
        MeanIoU,
        OneHotIoU,
        OneHotMeanIoU,
        PearsonCorrelation,
        ConcordanceCorrelation,
        SquaredHinge,
        CategoricalHinge,
        CosineSimilarity,
        LogCoshError,
        R2Score,
    )
}

_FUNCTIONS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
        pearson_correlation,
        concordance_correlation,
    )
} | losses_lib._FUNCTIONS

_ALIASES: dict[str, type[Metric]] = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "f_beta_score": FBetaScore,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "rmse": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "poisson": Poisson,
    "hinge": Hinge,
    "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge,
    "cosine_similarity": CosineSimilarity,
    "log_cosh_error": LogCoshError,
    "r2_score": R2Score,
    "pearson_correlation": PearsonCorrelation,
    "concordance_correlation": ConcordanceCorrelation,
    "true_positives": TruePositives,
    "false_positives": FalsePositives,
    "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives,
}

ALL_METRIC_NAMES: tuple[str, ...] = ("accuracy", "acc", *_ALIASES)
"""Every string alias :func:`get` accepts (class names such as ``"AUC"`` are accepted too)."""


def get(identifier) -> Metric:
    """Resolves a metric identifier to a :class:`Metric` (Keras's ``keras.metrics.get``).

    Args:
        identifier: a ``Metric`` (returned as is); a string alias from
            :data:`ALL_METRIC_NAMES` or a class name (``"AUC"``), the metric
            then being named by that string as Keras logs it (``"accuracy"`` is
            :class:`Accuracy` here; ``compile`` resolves it from the data's shapes,
            see ``kerasish.engine.compile_utils.get_metric``); a config dict
            ``{"class_name": ..., "config": {...}}``; a Metric class; or a function
            ``fn(y_true, y_pred) -> per-sample values`` (or a Loss object),
            wrapped in a :class:`MeanMetricWrapper` named after it.

    Returns:
        A Metric object.

    Raises:
        ConfigError: for an unknown name or an identifier of another kind.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return Accuracy(name=identifier)
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None or cls in (Mean, MeanMetricWrapper):
            valid = [*ALL_METRIC_NAMES, *(n for n in _CLASSES if n not in ("Mean", "MeanMetricWrapper"))]
            raise unknown_identifier("metric", identifier, valid)
        return cls(name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        name = getattr(identifier, "name", None) or getattr(identifier, "__name__", None)
        return MeanMetricWrapper(identifier, name=name)
    raise ConfigError(
        f"Could not interpret metric identifier {identifier!r}: expected a Metric, a name, a dict or a function."
    )


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a Metric (see :func:`deserialize`)."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Rebuilds a built-in Metric from :func:`serialize`'s output."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A metric config needs 'class_name' and 'config' keys, got {config!r}.")
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise unknown_identifier("metric class", config["class_name"], list(_CLASSES))
    return cls.from_config(dict(config.get("config") or {}))
