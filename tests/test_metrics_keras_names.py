"""The metrics added to reach Keras 3's names (counts, rate-at-rate, IoU, correlation, R², hinge, Sum, ...).

Each is run through several updates, statelessly (as the engine's jitted step does) and statefully,
with and without sample weights, against Keras's own metric on the same batches.
"""

import functools
import re

import jax
import keras
import numpy as np
import pytest

from kerasish import losses, metrics
from kerasish.errors import ConfigError, InputError

B, C, D = 8, 3, 3
NUM_BATCHES = 3
f32 = np.float32


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


def _batch(kind: str, rng: np.random.Generator):
    if kind == "values":
        return None, rng.normal(size=(B, D)).astype(f32)
    if kind == "binary":
        y_pred = rng.uniform(size=(B, 1)).astype(f32)
        y_pred[:4, 0] = rng.choice([0.0, 0.5, 1.0, 100 / 199, 0.25], size=4)  # on the threshold grid
        return rng.integers(0, 2, size=(B, 1)).astype(f32), y_pred
    if kind == "onehot":
        return np.eye(C, dtype=f32)[rng.integers(0, C, size=B)], rng.dirichlet(np.ones(C), size=B).astype(f32)
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=(B, D)).astype(f32), rng.normal(size=(B, D)).astype(f32)
    if kind == "real":
        y_true = rng.normal(size=(B, D)).astype(f32)
        return y_true, (y_true + rng.normal(0, 0.7, size=(B, D))).astype(f32)
    if kind == "classes":  # class indices, some out of range (-1, C) that IoU leaves out
        return rng.integers(-1, C + 1, size=(B,)), rng.integers(0, C, size=(B,))
    raise ValueError(kind)


def _batches(kind: str, seed: int = 0, int_weights: bool = False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(NUM_BATCHES):
        y_true, y_pred = _batch(kind, rng)
        weights = rng.integers(0, 3, size=(B,)).astype(np.int32) if int_weights \
            else rng.uniform(0, 2, size=(B,)).astype(f32)
        weights[rng.integers(0, B)] = 0
        out.append((y_true, y_pred, weights))
    return out


# name (the same in kerasish and Keras), kwargs, data kind
CASES = [
    ("Sum", {}, "values"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.5, 0.9]}, "binary"),
    ("TrueNegatives", {"thresholds": [0.0, 0.5, 1.0]}, "binary"),  # evenly spaced: bucketed
    ("FalseNegatives", {"thresholds": 0.3}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.6}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.4, "num_thresholds": 7}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.5, "class_id": 1}, "onehot"),
    ("RecallAtPrecision", {"precision": 0.6, "num_thresholds": 1}, "binary"),
    ("RecallAtPrecision", {"precision": 0.3, "num_thresholds": 2}, "binary"),
    ("IoU", {"num_classes": C, "target_class_ids": [0, 2]}, "classes"),
    ("IoU", {"num_classes": C, "target_class_ids": [1], "ignore_class": 0, "dtype": "float32"}, "classes"),
    ("MeanIoU", {"num_classes": C}, "classes"),
    ("MeanIoU", {"num_classes": C, "sparse_y_true": False, "sparse_y_pred": False}, "onehot"),
    ("BinaryIoU", {}, "binary"),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary"),
    ("OneHotIoU", {"num_classes": C, "target_class_ids": [0, 1]}, "onehot"),
    ("OneHotMeanIoU", {"num_classes": C}, "onehot"),
    ("PearsonCorrelation", {}, "real"),
    ("ConcordanceCorrelation", {}, "real"),
    ("SquaredHinge", {}, "pm1"),
    ("CategoricalHinge", {}, "onehot"),
    ("CosineSimilarity", {}, "real"),
    ("LogCoshError", {}, "real"),
    ("R2Score", {}, "real"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, "real"),
    ("R2Score", {"class_aggregation": None}, "real"),
]


def _case_id(case):
    name, kwargs, kind = case
    return f"{name}({','.join(f'{k}={v}' for k, v in kwargs.items())})-{kind}"


def _int_weights(name, kwargs):
    return "IoU" in name and kwargs.get("dtype") is None  # an int confusion matrix truncates float weights


def _update(metric, name, state, y_true, y_pred, weights):
    if name == "Sum":
        return metric.stateless_update_state(state, y_pred, sample_weight=weights)
    return metric.stateless_update_state(state, y_true, y_pred, sample_weight=weights)


@functools.cache
def _keras_results(case_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Keras's (unweighted, weighted) results after the same three updates, run through its stateless API
    under jit: the same numbers as its eager update_state at a fraction of the compile time. The
    unweighted run passes weights of 1 (the same numbers as None in Keras) to reuse the one trace."""
    name, kwargs, kind = CASES[case_index]
    metric = getattr(keras.metrics, name)(**kwargs)
    batches = _batches(kind, 0, _int_weights(name, kwargs))
    if name == "R2Score":  # Keras adds R2Score's variables on first use
        metric._build(np.shape(batches[0][0]), np.shape(batches[0][1]))
    update = jax.jit(metric.stateless_update_state)
    results = []
    for weighted in (False, True):
        state = [v.value for v in metric.variables]
        for y_true, y_pred, weights in batches:
            args = (y_pred,) if name == "Sum" else (y_true, y_pred)
            state = update(state, *args, sample_weight=weights if weighted else np.ones_like(weights))
        results.append(np.asarray(metric.stateless_result(state)))  # eager: R2Score(num_regressors) uses Python ifs
    return tuple(results)


def _keras_result(case_index: int, weighted: bool) -> np.ndarray:
    return _keras_results(case_index)[weighted]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case_index", range(len(CASES)), ids=[_case_id(c) for c in CASES])
def test_metric_matches_keras(case_index, weighted):
    name, kwargs, kind = CASES[case_index]
    batches = _batches(kind, int_weights=_int_weights(name, kwargs))
    expected = _keras_result(case_index, weighted)
    metric = getattr(metrics, name)(**kwargs)
    metric.build(batches[0][1].shape)
    state = metric.stateless_reset_state()
    for y_true, y_pred, weights in batches:
        state = _update(metric, name, state, y_true, y_pred, weights if weighted else None)
    ours = metric.stateless_result(state)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    assert all(np.all(np.asarray(v.numpy()) == 0) for v in metric.variables)  # stateless left them alone
    if not weighted:
        return
    # The stateful API (the same code, run on the metric's variables): the same numbers, then reset.
    for y_true, y_pred, weights in batches:
        metric.update_state(*((y_pred,) if name == "Sum" else (y_true, y_pred)), sample_weight=weights)
    np.testing.assert_allclose(metric.result(), expected, rtol=1e-5, atol=1e-6)
    metric.reset_state()
    assert all(np.all(np.asarray(v.numpy()) == 0) for v in metric.variables)


JIT_CASES = [i for i, c in enumerate(CASES) if _case_id(c) in {
    "SensitivityAtSpecificity(specificity=0.6)-binary", "MeanIoU(num_classes=3)-classes", "FalseNegatives(thresholds=0.3)-binary",
    "R2Score(class_aggregation=variance_weighted_average,num_regressors=2)-real", "Sum()-values"}]


@pytest.mark.parametrize("case_index", JIT_CASES, ids=[_case_id(CASES[i]) for i in JIT_CASES])
def test_metric_matches_keras_under_jit(case_index):
    """A scan of stateless updates inside one jitted function, as the engine's steps use metrics."""
    name, kwargs, kind = CASES[case_index]
    batches = _batches(kind, int_weights=_int_weights(name, kwargs))
    metric = getattr(metrics, name)(**kwargs)
    metric.build(batches[0][1].shape)
    stacked = jax.tree.map(lambda *xs: np.stack(xs), *batches)

    @jax.jit
    def run(stacked):
        def step(state, batch):
            y_true, y_pred, weights = batch
            return _update(metric, name, state, y_true, y_pred, weights), None

        state, _ = jax.lax.scan(step, metric.stateless_reset_state(), stacked)
        return metric.stateless_result(state)

    np.testing.assert_allclose(run(stacked), _keras_result(case_index, True), rtol=1e-5, atol=1e-6)


CONFIG_CASES = [c for c in CASES if c[0] != "CosineSimilarity"] + [("IoU", {"num_classes": 4, "target_class_ids": [3],
                                                                          "name": "iou3"}, None)]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[_case_id(c) for c in CONFIG_CASES])
def test_config_matches_keras_and_round_trips(case):
    name, kwargs, _ = case
    ours = getattr(metrics, name)(**kwargs)
    theirs = getattr(keras.metrics, name)(**kwargs)
    assert ours.name == re.sub(r"_\d+$", "", theirs.name)  # Keras numbers repeated default names
    assert ours.get_config() == {**theirs.get_config(), "name": ours.name}
    again = metrics.deserialize(metrics.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


def test_cosine_similarity_keeps_its_axis_in_the_config():
    m = metrics.CosineSimilarity(axis=0)
    assert m.get_config() == {**keras.metrics.CosineSimilarity().get_config(), "axis": 0}
    assert metrics.deserialize(metrics.serialize(m)).axis == 0


@pytest.mark.parametrize("name,kind", [("pearson_correlation", "real"), ("concordance_correlation", "real"),
                                       ("squared_hinge", "pm1"), ("categorical_hinge", "onehot"),
                                       ("binary_focal_crossentropy", "binary"), ("log_cosh", "real")])
def test_metric_functions_match_keras(name, kind):
    y_true, y_pred = _batch(kind, np.random.default_rng(5))
    np.testing.assert_allclose(getattr(metrics, name)(y_true, y_pred),
                               np.asarray(getattr(keras.metrics, name)(y_true, y_pred)), rtol=1e-5, atol=1e-6)


def test_correlation_along_the_batch_axis_matches_keras():
    y_true, y_pred = _batch("real", np.random.default_rng(6))
    for name in ("pearson_correlation", "concordance_correlation"):
        np.testing.assert_allclose(getattr(metrics, name)(y_true, y_pred, axis=0),
                                   np.asarray(getattr(keras.metrics, name)(y_true, y_pred, axis=0)), rtol=1e-5)


def test_loss_functions_are_metric_functions_as_in_keras():
    for name in ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge",
                 "huber", "kl_divergence", "mean_squared_error", "poisson", "categorical_focal_crossentropy"):
        assert getattr(metrics, name) is getattr(losses, name)


@pytest.mark.parametrize("make,message", [
    (lambda: metrics.SensitivityAtSpecificity(1.5), "specificity"),
    (lambda: metrics.PrecisionAtRecall(0.5, num_thresholds=0), "num_thresholds"),
    (lambda: metrics.IoU(3, target_class_ids=[3]), "target_class_ids"),
    (lambda: metrics.MeanIoU(0), "num_classes"),
    (lambda: metrics.R2Score(class_aggregation="median"), "class_aggregation"),
    (lambda: metrics.R2Score(num_regressors=-1), "num_regressors"),
])
def test_invalid_arguments_raise_config_error(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_r2_score_needs_2d_inputs():
    with pytest.raises((ConfigError, InputError), match="2-D"):
        metrics.R2Score().update_state(np.zeros((2, 3, 1), f32), np.zeros((2, 3, 1), f32))


def test_iou_warns_that_float_weights_are_truncated():
    m = metrics.MeanIoU(2)
    with pytest.warns(UserWarning, match="truncated"):
        m.update_state([0, 1, 1], [0, 1, 0], sample_weight=np.array([1.0, 0.5, 2.0], f32))
    m2 = keras.metrics.MeanIoU(2)
    with pytest.warns(UserWarning):
        m2.update_state([0, 1, 1], [0, 1, 0], sample_weight=np.array([1.0, 0.5, 2.0], f32))
    np.testing.assert_allclose(m.result(), np.asarray(m2.result()))


@pytest.mark.parametrize("alias", ["squared_hinge", "categorical_hinge", "cosine_similarity", "log_cosh_error",
                                   "r2_score", "pearson_correlation", "concordance_correlation", "true_positives",
                                   "false_negatives"])
def test_get_resolves_names_as_keras_compile(alias):
    from keras.src.trainers import compile_utils

    ours = metrics.get(alias)
    theirs = compile_utils.get_metric(alias, np.zeros((2, 1)), np.zeros((2, 1)))
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.name == theirs.name == alias


def test_new_metrics_in_compile_evaluate_and_fit():
    """The engine calls metrics statelessly inside its jitted steps; a padded last batch must not count."""
    import kerasish

    kerasish.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(f32)
    y = (x[:, :1] + 0.5 * rng.normal(size=(40, 1)) > 0).astype(f32)
    model = kerasish.Sequential([kerasish.Input((3,)), kerasish.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[metrics.TruePositives(), metrics.PrecisionAtRecall(0.5), metrics.BinaryIoU(),
                           metrics.R2Score(), "squared_hinge"])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["true_positives"][0])
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)  # last batch: 8 real rows of 16
    y_pred = np.asarray(model.predict(x, verbose=0))
    for key, oracle in [("true_positives", keras.metrics.TruePositives()),
                        ("precision_at_recall", keras.metrics.PrecisionAtRecall(0.5)),
                        ("binary_io_u", keras.metrics.BinaryIoU()), ("r2_score", keras.metrics.R2Score()),
                        ("squared_hinge", keras.metrics.SquaredHinge())]:
        oracle.update_state(y, y_pred)
        np.testing.assert_allclose(logs[key], np.asarray(oracle.result()), rtol=1e-4, atol=1e-5, err_msg=key)
