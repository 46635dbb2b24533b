"""kerasish.metrics against Keras 3's stateful metrics (JAX backend) as the oracle."""

import functools
import os
import re

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.trainers import compile_utils  # noqa: E402

from kerasish import losses, metrics  # noqa: E402
from kerasish.engine.compile_utils import get_metric  # noqa: E402
from kerasish.errors import ConfigError  # noqa: E402

# Few distinct shapes: eager JAX compiles each op once per shape, for Keras and us.
B, C, L, T, D = 8, 3, 3, 3, 3
NUM_BATCHES = 3
f32 = np.float32


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    """These tests are bound by XLA compile time (every new op/shape compiles);
    full XLA optimization buys nothing for arrays this small."""
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


# --------------------------------------------------------------------------- data


def _batch(kind: str, rng: np.random.Generator):
    """(y_true, y_pred) of one batch of the given kind."""
    if kind == "values":
        return None, rng.normal(size=(B,)).astype(f32)
    if kind == "values_seq":
        return None, rng.normal(size=(B, T)).astype(f32)
    if kind == "exact":
        return rng.integers(0, 3, size=(B, 1)), rng.integers(0, 3, size=(B, 1)).astype(f32)
    if kind in ("binary_col", "binary_flat"):
        y_pred = rng.uniform(size=(B, 1)).astype(f32)
        # Values on the threshold grid and at the ends test the bucketing rules.
        y_pred[:4, 0] = rng.choice([0.0, 0.5, 1.0, 100 / 199, 0.7, 0.25], size=4)
        y_true = rng.integers(0, 2, size=(B, 1)).astype(f32)
        return (y_true[:, 0], y_pred) if kind == "binary_flat" else (y_true, y_pred)
    if kind == "binary_multi":
        y_pred = rng.uniform(size=(B, L)).astype(f32)
        y_pred[0] = [0.0, 0.5, 1.0]
        return rng.integers(0, 2, size=(B, L)).astype(f32), y_pred
    if kind == "logits":
        return rng.integers(0, 2, size=(B, 1)).astype(f32), rng.normal(0, 3, size=(B, 1)).astype(f32)
    if kind == "onehot":
        return np.eye(C, dtype=f32)[rng.integers(0, C, size=B)], rng.dirichlet(np.ones(C), size=B).astype(f32)
    if kind == "onehot_seq":
        y_true = np.eye(C, dtype=f32)[rng.integers(0, C, size=(B, T))]
        return y_true, rng.uniform(size=(B, T, C)).astype(f32)
    if kind == "sparse":
        return rng.integers(0, C, size=(B,)), rng.dirichlet(np.ones(C), size=B).astype(f32)
    if kind == "sparse_col":
        return rng.integers(0, C, size=(B, 1)), rng.normal(size=(B, C)).astype(f32)
    if kind == "sparse_seq":
        return rng.integers(0, C, size=(B, T)), rng.normal(size=(B, T, C)).astype(f32)
    if kind == "real":
        return rng.normal(size=(B, D)).astype(f32), rng.normal(size=(B, D)).astype(f32)
    if kind == "real_seq":
        return rng.normal(size=(B, T, D)).astype(f32), rng.normal(size=(B, T, D)).astype(f32)
    if kind == "positive":
        return rng.uniform(0, 3, size=(B, D)).astype(f32), rng.uniform(0.01, 3, size=(B, D)).astype(f32)
    if kind == "distribution":
        return rng.dirichlet(np.ones(C), size=B).astype(f32), rng.dirichlet(np.ones(C), size=B).astype(f32)
    raise ValueError(kind)


def _batches(kind: str, seed: int = 0):
    """NUM_BATCHES of (y_true, y_pred, sample_weight); some weights are 0."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(NUM_BATCHES):
        y_true, y_pred = _batch(kind, rng)
        weights = rng.uniform(0, 2, size=(B,)).astype(f32)
        weights[rng.integers(0, B)] = 0.0
        out.append((y_true, y_pred, weights))
    return out


# name (same in kerasish and Keras), kwargs, data kind
CASES = [
    ("Mean", {}, "values_seq"),
    ("Accuracy", {}, "exact"),
    ("BinaryAccuracy", {}, "binary_col"),
    ("BinaryAccuracy", {"threshold": 0.7}, "binary_flat"),
    ("CategoricalAccuracy", {}, "onehot_seq"),
    ("SparseCategoricalAccuracy", {}, "sparse_col"),
    ("SparseCategoricalAccuracy", {}, "sparse_seq"),
    ("TopKCategoricalAccuracy", {"k": 2}, "onehot_seq"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse_seq"),
    # Thresholds: one default, three uneven (exact comparisons), three even (bucketed).
    ("Precision", {}, "binary_flat"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.7]}, "binary_multi"),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}, "binary_col"),
    ("Precision", {"top_k": 2, "class_id": 2}, "onehot"),
    ("Recall", {}, "binary_col"),
    ("Recall", {"class_id": 1}, "onehot"),
    ("AUC", {}, "binary_col"),
    ("AUC", {}, "binary_multi"),
    ("AUC", {"curve": "PR"}, "binary_col"),
    ("AUC", {"summation_method": "minoring"}, "binary_col"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "binary_col"),
    ("AUC", {"thresholds": [0.1, 0.35, 0.8]}, "binary_col"),  # uneven: exact comparisons
    ("AUC", {"from_logits": True}, "logits"),
    ("AUC", {"multi_label": True, "thresholds": [0.1, 0.35, 0.8]}, "binary_multi"),
    ("AUC", {"label_weights": [0.2, 1.0, 3.0]}, "binary_multi"),
    ("F1Score", {}, "onehot"),
    ("F1Score", {"average": "micro"}, "onehot"),
    ("F1Score", {"average": "macro", "threshold": 0.5}, "binary_multi"),
    ("F1Score", {"average": "weighted", "threshold": 0.5}, "binary_multi"),
    ("FBetaScore", {"beta": 2.0, "average": "macro"}, "onehot"),
    ("MeanSquaredError", {}, "real_seq"),
    ("MeanAbsoluteError", {}, "real"),
    ("RootMeanSquaredError", {}, "real_seq"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_col"),
    ("KLDivergence", {}, "distribution"),
    ("Poisson", {}, "positive"),
    ("Hinge", {}, "binary_col"),
]


def _case_id(case):
    name, kwargs, kind = case
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args})-{kind}"


CASE_IDS = [_case_id(c) for c in CASES]


def _tolerance(name):
    return {"rtol": 1e-5, "atol": 1e-5} if name == "AUC" else {"rtol": 1e-6, "atol": 1e-6}


def _update(metric, values, y_true, y_pred, sample_weight):
    """``stateless_update_state`` (Keras's form): the new values of the metric's variables."""
    if type(metric) is metrics.Mean:
        return metric.stateless_update_state(values, y_pred, sample_weight=sample_weight)
    return metric.stateless_update_state(values, y_true, y_pred, sample_weight=sample_weight)


def _keras_result(name, kwargs, batches, weighted, none_as_ones=False):
    """Keras's result after the same update_state calls.

    With ``none_as_ones`` the unweighted run passes weights of 1 instead of
    None: the same numbers in Keras, and it reuses the ops that the weighted
    run compiled (eager Keras compiles every op once per shape). The jitted
    test below compares against Keras's real None path.
    """
    metric = getattr(keras.metrics, name)(**kwargs)
    for y_true, y_pred, weights in batches:
        if not weighted:
            weights = np.ones_like(weights) if none_as_ones else None
        if name == "Mean":
            metric.update_state(y_pred, sample_weight=weights)
        else:
            metric.update_state(y_true, y_pred, sample_weight=weights)
    return np.asarray(metric.result())


@functools.cache
def _keras_case(case_index: int, weighted: bool) -> np.ndarray:
    name, kwargs, kind = CASES[case_index]
    return _keras_result(name, kwargs, _batches(kind), weighted, none_as_ones=True)


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case_index", range(len(CASES)), ids=CASE_IDS)
def test_metric_matches_keras(case_index, weighted):
    """Three updates against Keras's stateful metric: stateless (each update pure), then stateful."""
    name, kwargs, kind = CASES[case_index]
    batches = _batches(kind)
    metric = getattr(metrics, name)(**kwargs)
    config_before = metric.get_config()
    metric.build(batches[0][1].shape)
    attributes_before = set(vars(metric))
    state = metric.stateless_reset_state()
    zeros = [np.asarray(v) for v in state]
    for y_true, y_pred, weights in batches:
        weights = weights if weighted else None
        first = _update(metric, state, y_true, y_pred, weights)
        second = _update(metric, state, y_true, y_pred, weights)
        jax.tree.map(np.testing.assert_array_equal, first, second)
        state = first
    ours = metric.stateless_result(state)
    expected = _keras_case(case_index, weighted)
    assert ours.dtype == np.float32
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, **_tolerance(name))
    # The stateless calls left the metric as it was: its variables still read zero.
    assert metric.get_config() == config_before
    assert set(vars(metric)) == attributes_before
    for v, zero in zip(metric.variables, zeros, strict=True):
        np.testing.assert_array_equal(v.numpy(), zero)
        np.testing.assert_array_equal(zero, 0)
    assert all(np.asarray(x).dtype == np.float32 for x in state)
    # The stateful API gives the same numbers (Keras's update_state / result / reset_state).
    for y_true, y_pred, weights in batches:
        weights = weights if weighted else None
        if type(metric) is metrics.Mean:
            metric.update_state(y_pred, sample_weight=weights)
        else:
            metric.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(metric.result(), expected, **_tolerance(name))
    metric.reset_state()
    assert all(np.all(v.numpy() == 0) for v in metric.variables)


def _run_all(metric, stacked, y_pred_shape):
    """stateless_reset_state, a scan of stateless_update_state over the batches, and stateless_result,
    for both weightings: what a jitted train/test step does with a metric."""
    results = []
    for weighted in (False, True):

        def step(state, batch, weighted=weighted):
            y_true, y_pred, weights = batch
            return _update(metric, state, y_true, y_pred, weights if weighted else None), None

        metric.build(y_pred_shape)
        state, _ = jax.lax.scan(step, metric.stateless_reset_state(), stacked)
        results.append(metric.stateless_result(state))
    return results


def _stack(batches):
    return jax.tree.map(lambda *xs: np.stack(xs), *batches)


@pytest.mark.parametrize("case_index", range(len(CASES)), ids=CASE_IDS)
def test_metric_traces_under_jit(case_index):
    """Every case traces as one jittable function (tracing only: XLA compiles are slow)."""
    name, kwargs, kind = CASES[case_index]
    batches = _batches(kind)
    metric = getattr(metrics, name)(**kwargs)
    shape = batches[0][1].shape
    out = jax.eval_shape(lambda stacked: _run_all(metric, stacked, shape), _stack(batches))
    for weighted, struct in zip((False, True), out, strict=True):
        assert struct.shape == _keras_case(case_index, weighted).shape
        assert struct.dtype == np.float32


# Compiling and running under jit: one representative case per code path.
JIT_CASES = [
    ("Mean", {}, "values_seq"),
    ("SparseCategoricalAccuracy", {}, "sparse_seq"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.7]}, "binary_multi"),
    ("Recall", {"top_k": 2}, "onehot"),
    ("AUC", {}, "binary_col"),
    # Keras's multi-label bucketing runs a vmap that eager mode re-traces on
    # every call (seconds); this case is only run here, jitted.
    ("AUC", {"multi_label": True, "curve": "PR", "num_labels": L, "label_weights": [0.2, 1.0, 3.0]}, "binary_multi"),
    ("F1Score", {"average": "weighted", "threshold": 0.5}, "binary_multi"),
    ("RootMeanSquaredError", {}, "real_seq"),
]


@pytest.mark.parametrize("case", JIT_CASES, ids=[_case_id(c) for c in JIT_CASES])
def test_metric_matches_keras_under_jit(case):
    name, kwargs, kind = case
    batches = _batches(kind, seed=1)
    metric = getattr(metrics, name)(**kwargs)
    shape = batches[0][1].shape
    results = jax.jit(lambda stacked: _run_all(metric, stacked, shape))(_stack(batches))
    for weighted, ours in zip((False, True), results, strict=True):
        expected = _keras_result(name, kwargs, batches, weighted)
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, expected, **_tolerance(name), err_msg=f"weighted={weighted}")


def test_mean_scalar_values_count_once():
    """The loss tracker feeds scalars: each counts as one sample (or its weight)."""
    metric = metrics.Mean(name="loss")
    for value in (1.0, 2.0, 6.0):
        metric.update_state(jnp.asarray(value))
    np.testing.assert_allclose(metric.result(), 3.0)
    metric.reset_state()
    metric.update_state(4.0, sample_weight=0.5)
    np.testing.assert_allclose(metric.result(), 4.0)


def test_state_shapes_needing_output_width():
    f1 = metrics.F1Score()
    assert f1.variables == []  # one entry per class: made from the first predictions
    with pytest.raises(ConfigError, match="seen no data"):
        f1.result()
    with pytest.raises(ConfigError, match="first predictions"):
        f1.build(None)
    assert metrics.F1Score(average="micro").variables[0].shape == ()
    f1.build((None, 7))
    assert [v.path for v in f1.variables][0] == "f1_score/true_positives" and f1.variables[0].shape == (7,)
    lazy = metrics.F1Score()
    lazy.update_state(np.eye(3, dtype="float32"), np.eye(3, dtype="float32"))  # built from y_pred's shape
    assert lazy.variables[0].shape == (3,)
    auc = metrics.AUC(multi_label=True)
    assert auc.variables == []
    with pytest.raises(ConfigError, match="num_labels"):
        auc.build(None)
    auc.build((None, 4))
    assert auc.variables[0].shape == (200, 4)
    assert metrics.AUC(num_thresholds=7).variables[3].shape == (7,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: metrics.AUC(curve="XY"), "curve"),
        (lambda: metrics.AUC(summation_method="simpson"), "summation_method"),
        (lambda: metrics.AUC(num_thresholds=1), "num_thresholds"),
        (lambda: metrics.Precision(thresholds=[0.5, 1.5]), "Threshold"),
        (lambda: metrics.F1Score(average="median"), "average"),
        (lambda: metrics.F1Score(threshold=1), "threshold"),
        (lambda: metrics.FBetaScore(beta=2), "beta"),
    ],
)
def test_invalid_arguments_raise_config_error(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


# --------------------------------------------------------------------------- names, config, lookup


@pytest.mark.parametrize("name", sorted({c[0] for c in CASES}))
def test_default_names_match_keras(name):
    # Keras suffixes auto-generated names with a counter ("auc_3") after the first.
    theirs = re.sub(r"_\d+$", "", getattr(keras.metrics, name)().name)
    assert getattr(metrics, name)().name == theirs


@pytest.mark.parametrize("case", CASES + JIT_CASES, ids=CASE_IDS + [_case_id(c) for c in JIT_CASES])
def test_serialize_round_trip(case):
    name, kwargs, _ = case
    metric = getattr(metrics, name)(name="custom", **kwargs)
    config = metrics.serialize(metric)
    assert config["class_name"] == name
    rebuilt = metrics.deserialize(config)
    assert type(rebuilt) is type(metric)
    assert rebuilt.get_config() == metric.get_config()
    assert metrics.get(config).get_config() == metric.get_config()


EXPECTED_ALIAS_CLASSES = {
    "binary_accuracy": "BinaryAccuracy",
    "categorical_accuracy": "CategoricalAccuracy",
    "sparse_categorical_accuracy": "SparseCategoricalAccuracy",
    "top_k_categorical_accuracy": "TopKCategoricalAccuracy",
    "sparse_top_k_categorical_accuracy": "SparseTopKCategoricalAccuracy",
    "precision": "Precision",
    "recall": "Recall",
    "auc": "AUC",
    "f1_score": "F1Score",
    "fbeta_score": "FBetaScore",
    "f_beta_score": "FBetaScore",
    "mse": "MeanSquaredError",
    "mean_squared_error": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mean_absolute_error": "MeanAbsoluteError",
    "mape": "MeanAbsolutePercentageError",
    "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
    "msle": "MeanSquaredLogarithmicError",
    "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
    "rmse": "RootMeanSquaredError",
    "root_mean_squared_error": "RootMeanSquaredError",
    "binary_crossentropy": "BinaryCrossentropy",
    "bce": "BinaryCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "kl_divergence": "KLDivergence",
    "kld": "KLDivergence",
    "poisson": "Poisson",
    "hinge": "Hinge",
    "squared_hinge": "SquaredHinge",
    "categorical_hinge": "CategoricalHinge",
    "cosine_similarity": "CosineSimilarity",
    "log_cosh_error": "LogCoshError",
    "r2_score": "R2Score",
    "pearson_correlation": "PearsonCorrelation",
    "concordance_correlation": "ConcordanceCorrelation",
    "true_positives": "TruePositives",
    "false_positives": "FalsePositives",
    "true_negatives": "TrueNegatives",
    "false_negatives": "FalseNegatives",
}
NOT_IN_KERAS = {"rmse", "fbeta_score", "kld"}  # our extra aliases


def test_all_metric_names_listed():
    assert set(metrics.ALL_METRIC_NAMES) == {"accuracy", "acc", *EXPECTED_ALIAS_CLASSES}


@pytest.mark.parametrize("alias", sorted(EXPECTED_ALIAS_CLASSES))
def test_get_string_alias_as_keras_compile(alias):
    metric = metrics.get(alias)
    assert type(metric).__name__ == EXPECTED_ALIAS_CLASSES[alias]
    assert metric.name == alias  # Keras logs a string metric under that string
    if alias not in NOT_IN_KERAS:
        theirs = compile_utils.get_metric(alias, np.zeros((2, 1)), np.zeros((2, 1)))
        assert type(theirs).__name__ == type(metric).__name__
        assert theirs.name == metric.name


@pytest.mark.parametrize("class_name", ["AUC", "MeanSquaredError", "F1Score", "SparseTopKCategoricalAccuracy"])
def test_get_class_name_string(class_name):
    metric = metrics.get(class_name)
    theirs = compile_utils.get_metric(class_name, np.zeros((2, 1)), np.zeros((2, 1)))
    assert type(metric).__name__ == type(theirs).__name__ == class_name
    assert metric.name == theirs.name == class_name


def test_get_unknown_name_raises_with_valid_names():
    with pytest.raises(ConfigError) as info:
        metrics.get("acuracy")
    message = str(info.value)
    assert "acuracy" in message
    assert "accuracy" in message and "auc" in message and "root_mean_squared_error" in message


def test_get_rejects_non_identifiers():
    with pytest.raises(ConfigError):
        metrics.get(1.5)
    with pytest.raises(ConfigError):
        metrics.deserialize({"class_name": "Nope", "config": {}})


def test_get_instance_class_and_callable():
    metric = metrics.AUC()
    assert metrics.get(metric) is metric
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)

    def my_error(y_true, y_pred):
        return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)

    wrapped = metrics.get(my_error)
    assert isinstance(wrapped, metrics.MeanMetricWrapper)
    assert wrapped.name == "my_error"
    (y_true, y_pred, weights), *_ = _batches("real")
    wrapped.update_state(y_true, y_pred, weights)
    theirs = keras.metrics.MeanAbsoluteError()
    theirs.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(wrapped.result(), theirs.result(), rtol=1e-6)

    loss_metric = metrics.get(losses.MeanSquaredError())  # a Loss works as a metric too
    assert loss_metric.name == "mean_squared_error"
    loss_metric.update_state(y_true, y_pred)
    np.testing.assert_allclose(loss_metric.result(), np.mean((y_true - y_pred) ** 2), rtol=1e-6)


def test_builtin_function_wrapper_round_trip():
    metric = metrics.MeanMetricWrapper(metrics.sparse_top_k_categorical_accuracy, k=2)
    rebuilt = metrics.deserialize(metrics.serialize(metric))
    assert rebuilt.get_config() == metric.get_config()
    with pytest.raises(ConfigError):
        metrics.deserialize(metrics.serialize(metrics.MeanMetricWrapper(lambda t, p: t - p)))


# Keras 3 resolves "accuracy" from the label and prediction shapes alone.
SHAPE_CASES = [
    ((B, 1), (B, 1)),
    ((B,), (B, 1)),
    ((B, 5), (B,)),
    ((B, 5), (B, 1)),
    ((B, 5), (B, 5)),
    ((B, T, 5), (B, T)),
    ((B, T, 5), (B, T, 1)),
    ((B, T, 5), (B, T, 5)),
    ((B, T, 1), (B, T, 1)),
]


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy"])
@pytest.mark.parametrize(("output_shape", "target_shape"), SHAPE_CASES)
@pytest.mark.parametrize("loss", [None, "binary_crossentropy", "sparse_categorical_crossentropy"])
def test_accuracy_resolution_matches_keras(identifier, output_shape, target_shape, loss):
    theirs = compile_utils.get_metric(identifier, np.zeros(target_shape), np.zeros(output_shape))
    ours = get_metric(identifier, loss=loss, output_shape=output_shape, target_shape=target_shape)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name == identifier


@pytest.mark.parametrize(
    ("loss", "output_shape", "expected"),
    [
        (losses.BinaryCrossentropy(), None, "BinaryAccuracy"),
        (losses.binary_crossentropy, None, "BinaryAccuracy"),
        (losses.CategoricalCrossentropy(from_logits=True), None, "CategoricalAccuracy"),
        ("sparse_categorical_crossentropy", None, "SparseCategoricalAccuracy"),
        (losses.SparseCategoricalCrossentropy(), (None, 10), "SparseCategoricalAccuracy"),
        (losses.CategoricalCrossentropy(), (None, 10), "CategoricalAccuracy"),
        ("mse", (None, 1), "BinaryAccuracy"),
        # Keras 3 ignores the loss: multi-label BCE over 10 outputs is categorical.
        (losses.BinaryCrossentropy(), (None, 10), "CategoricalAccuracy"),
    ],
)
def test_accuracy_resolution_without_label_shape(loss, output_shape, expected):
    assert type(get_metric("accuracy", loss=loss, output_shape=output_shape)).__name__ == expected


def test_accuracy_resolution_needs_some_information():
    with pytest.raises(ConfigError, match="accuracy"):
        get_metric("accuracy")
    with pytest.raises(ConfigError, match="accuracy"):
        get_metric("acc", loss="mse")
    # without shapes, metrics.get names Keras's Accuracy (exact match), as keras.metrics.get does
    assert type(metrics.get("accuracy")).__name__ == type(keras.metrics.get("accuracy")).__name__ == "Accuracy"


# --------------------------------------------------------------------------- Keras-style custom metrics


def _custom_metric(metrics_module):
    class WeightedHits(metrics_module.Metric):
        """Keras's custom-metric recipe: add_variable in __init__, assign in update_state."""

        def __init__(self, name="weighted_hits", **kwargs):
            super().__init__(name=name, **kwargs)
            self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
            self.seen = self.add_variable(shape=(), initializer="zeros", name="seen")

        def update_state(self, y_true, y_pred, sample_weight=None):
            hits = jnp.asarray(jnp.argmax(y_pred, -1) == y_true, "float32")
            weights = jnp.ones_like(hits) if sample_weight is None else jnp.asarray(sample_weight, "float32")
            self.hits.assign(self.hits + jnp.sum(hits * weights))
            self.seen.assign_add(jnp.sum(weights))

        def result(self):
            return self.hits / jnp.maximum(self.seen.value, 1.0)

        def reset_state(self):
            self.hits.assign(0.0)
            self.seen.assign(0.0)

    return WeightedHits()


def test_a_keras_style_custom_metric_statefully_and_statelessly():
    (y_true, y_pred, weights), *_ = _batches("sparse")
    ours, theirs = _custom_metric(metrics), _custom_metric(keras.metrics)
    assert [v.name for v in ours.variables] == [v.name for v in theirs.variables] == ["hits", "seen"]
    ours.update_state(y_true, y_pred, sample_weight=weights)
    theirs.update_state(y_true, y_pred, sample_weight=weights)
    np.testing.assert_allclose(ours.result(), theirs.result(), rtol=1e-6)
    # stateless, under jit: the same numbers, the variables untouched
    values = jax.jit(ours.stateless_update_state)(ours.stateless_reset_state(), y_true, y_pred, weights)
    np.testing.assert_allclose(ours.stateless_result(values), theirs.result(), rtol=1e-6)
    np.testing.assert_allclose(ours.result(), theirs.result(), rtol=1e-6)
    ours.reset_state()
    assert float(ours.result()) == 0.0
    with pytest.raises(Exception, match="StatelessScope"):  # assigning a tracer outside a scope
        jax.jit(lambda t, p: ours.update_state(t, p))(y_true, y_pred)


def test_a_custom_metric_in_compile_runs_inside_the_step():
    import kerasish

    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input((4,)), kerasish.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[_custom_metric(metrics), "sparse_categorical_accuracy"])
    x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
    y = np.random.default_rng(1).integers(0, 3, 40)
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)  # padded last batch: 8 of 16 real
    np.testing.assert_allclose(logs["weighted_hits"], logs["sparse_categorical_accuracy"], rtol=1e-6)
