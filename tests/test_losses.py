"""kerasish.losses against Keras 3 (JAX backend) as the oracle."""

import functools
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from kerasish import losses  # noqa: E402
from kerasish.errors import ConfigError  # noqa: E402

B, D, C, T = 6, 4, 4, 3
TOL = {"rtol": 1e-6, "atol": 1e-6}


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    """These tests are bound by XLA compile time (every new op/shape compiles);
    full XLA optimization buys nothing for arrays this small."""
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


# --------------------------------------------------------------------------- data


def _data(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    if kind == "real":
        return rng.normal(size=(B, D)).astype(f32), rng.normal(size=(B, D)).astype(f32)
    if kind == "real_seq":
        return rng.normal(size=(B, T, D)).astype(f32), rng.normal(size=(B, T, D)).astype(f32)
    if kind == "real_col":  # (batch,) labels against (batch, 1) predictions
        return rng.normal(size=(B,)).astype(f32), rng.normal(size=(B, 1)).astype(f32)
    if kind == "positive":
        y_true = rng.uniform(0, 3, size=(B, D)).astype(f32)
        y_true[0, 0] = 0.0  # exercises the epsilon guards
        return y_true, rng.uniform(0.01, 3, size=(B, D)).astype(f32)
    if kind == "binary":
        y_pred = rng.uniform(size=(B, D)).astype(f32)
        y_pred[0, :2] = [0.0, 1.0]  # exercises the clipping
        return rng.integers(0, 2, size=(B, D)).astype(f32), y_pred
    if kind == "binary_logits":
        return rng.integers(0, 2, size=(B, D)).astype(f32), rng.normal(0, 3, size=(B, D)).astype(f32)
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=(B, D)).astype(f32), rng.normal(size=(B, D)).astype(f32)
    if kind == "onehot":
        y_true = np.eye(C, dtype=f32)[rng.integers(0, C, size=B)]
        y_pred = rng.uniform(0, 2, size=(B, C)).astype(f32)  # unnormalized on purpose
        y_pred[0, 0] = 0.0
        return y_true, y_pred
    if kind == "onehot_logits":
        return np.eye(C, dtype=f32)[rng.integers(0, C, size=B)], rng.normal(0, 3, size=(B, C)).astype(f32)
    if kind == "onehot_seq":
        y_true = np.eye(C, dtype=f32)[rng.integers(0, C, size=(B, T))]
        return y_true, rng.uniform(0.01, 1, size=(B, T, C)).astype(f32)
    if kind == "sparse":
        return rng.integers(0, C, size=(B,)), rng.uniform(0, 1, size=(B, C)).astype(f32)
    if kind == "sparse_col":
        return rng.integers(0, C, size=(B, 1)), rng.normal(size=(B, C)).astype(f32)
    if kind == "sparse_logits":
        return rng.integers(0, C, size=(B,)), rng.normal(0, 3, size=(B, C)).astype(f32)
    if kind == "sparse_seq":
        return rng.integers(0, C, size=(B, T)), rng.normal(size=(B, T, C)).astype(f32)
    if kind == "sparse_ignore":
        y_true = rng.integers(0, C, size=(B,))
        y_true[[1, 4]] = -1
        return y_true, rng.normal(size=(B, C)).astype(f32)
    if kind == "sparse_seq_ignore":
        y_true = rng.integers(0, C, size=(B, T))
        y_true[0, :] = 0
        return y_true, rng.normal(size=(B, T, C)).astype(f32)
    if kind == "distribution":
        y_true = rng.dirichlet(np.ones(C), size=B).astype(f32)
        return y_true, rng.dirichlet(np.ones(C), size=B).astype(f32)
    raise ValueError(kind)


def _weights(y_pred: np.ndarray, kind: str | None, seed: int = 1):
    """Sample weights of the given layout, for kerasish and for Keras."""
    if kind is None:
        return None, None
    rng = np.random.default_rng(seed)
    per_sample = rng.uniform(0, 2, size=(y_pred.shape[0],)).astype(np.float32)
    if kind == "batch":
        # Keras 3 cannot broadcast (batch,) weights against (batch, T) losses;
        # its (batch, 1) form is the same weighting.
        keras_w = per_sample[:, None] if y_pred.ndim == 3 else per_sample
        return per_sample, keras_w
    if kind == "column":
        return per_sample[:, None], per_sample[:, None]
    if kind == "full":  # one weight per per-sample loss entry
        w = rng.uniform(0, 2, size=y_pred.shape[:-1]).astype(np.float32)
        return w, w
    raise ValueError(kind)


# name, kwargs, data kind
CASES = [
    ("MeanSquaredError", {}, "real"),
    ("MeanSquaredError", {}, "real_seq"),
    ("MeanSquaredError", {}, "real_col"),
    ("MeanAbsoluteError", {}, "real"),
    ("MeanAbsoluteError", {}, "real_seq"),
    ("MeanAbsolutePercentageError", {}, "positive"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("Huber", {}, "real"),
    ("Huber", {"delta": 0.3}, "real_seq"),
    ("LogCosh", {}, "real"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"label_smoothing": 0.2}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "binary_logits"),
    ("CategoricalCrossentropy", {}, "onehot"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}, "onehot"),
    ("CategoricalCrossentropy", {"from_logits": True}, "onehot_logits"),
    ("CategoricalCrossentropy", {"from_logits": True, "label_smoothing": 0.3}, "onehot_logits"),
    ("CategoricalCrossentropy", {}, "onehot_seq"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_col"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_logits"),
    ("SparseCategoricalCrossentropy", {"from_logits": True}, "sparse_seq"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": -1}, "sparse_ignore"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 0}, "sparse_seq_ignore"),
    ("KLDivergence", {}, "distribution"),
    ("Hinge", {}, "binary_logits"),  # 0/1 labels are mapped to -1/1
    ("Hinge", {}, "pm1"),
    ("Poisson", {}, "positive"),
    ("CosineSimilarity", {}, "real"),
    ("CosineSimilarity", {"axis": 1}, "real_seq"),
]


def _case_id(case):
    name, kwargs, kind = case
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args})-{kind}"


WEIGHTS = [None, "batch", "column", "full"]


def _weight_kinds(name):
    # CosineSimilarity's per-sample losses do not follow the y_pred.shape[:-1]
    # layout that "full" weights assume.
    return WEIGHTS[:-1] if name == "CosineSimilarity" else WEIGHTS


def _all_inputs(side: int):
    """(y_true, y_pred, [weights per layout]) for every case; side 0 = ours, 1 = Keras."""
    inputs = []
    for name, _, kind in CASES:
        y_true, y_pred = _data(kind)
        inputs.append((y_true, y_pred, [_weights(y_pred, w)[side] for w in _weight_kinds(name)]))
    return inputs


def _evaluate_all(loss_module, side: int) -> list[dict]:
    """Every case under every weighting, in ONE jitted function.

    XLA compilation dominates these tests; one program for all cases costs a
    fraction of one compilation per case.
    """
    objects = [getattr(loss_module, name)(**kwargs) for name, kwargs, _ in CASES]

    @jax.jit
    def run(inputs):
        return [[loss(t, p, sample_weight=w) for w in ws] for loss, (t, p, ws) in zip(objects, inputs, strict=True)]

    results = run(_all_inputs(side))
    return [
        {w: np.asarray(v) for w, v in zip(_weight_kinds(name), values, strict=True)}
        for (name, _, _), values in zip(CASES, results, strict=True)
    ]


@functools.cache
def _keras_results() -> list[dict]:
    return _evaluate_all(keras.losses, side=1)


@functools.cache
def _jitted_results() -> list[dict]:
    return _evaluate_all(losses, side=0)


# --------------------------------------------------------------------------- numbers

CASE_IDS = [_case_id(c) for c in CASES]


# Eager mode runs op by op (each new op/shape compiles): one case per class.
EAGER_CASES = [i for i, case in enumerate(CASES) if case[0] not in {c[0] for c in CASES[:i]}]


@pytest.mark.parametrize("case_index", EAGER_CASES, ids=[CASE_IDS[i] for i in EAGER_CASES])
def test_loss_matches_keras_eager(case_index):
    """Outside jit, with (batch,) weights (the jitted test covers every case and layout)."""
    weights = "batch"
    name, kwargs, kind = CASES[case_index]
    y_true, y_pred = _data(kind)
    ours_w, _ = _weights(y_pred, weights)
    ours = getattr(losses, name)(**kwargs)(y_true, y_pred, sample_weight=ours_w)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.asarray(ours), _keras_results()[case_index][weights], **TOL)


@pytest.mark.parametrize("case_index", range(len(CASES)), ids=CASE_IDS)
def test_loss_matches_keras_under_jit(case_index):
    """Every weighting layout (none, (batch,), (batch, 1), per entry), jitted."""
    ours, expected = _jitted_results()[case_index], _keras_results()[case_index]
    for weights in _weight_kinds(CASES[case_index][0]):
        assert ours[weights].dtype == np.float32
        np.testing.assert_allclose(ours[weights], expected[weights], **TOL, err_msg=f"weights={weights}")


# "mean" shares the code path of "sum_over_batch_size", and "none" that of None.
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight", None])
@pytest.mark.parametrize(
    "case",
    [
        ("MeanSquaredError", {}, "real_seq"),
        ("BinaryCrossentropy", {"from_logits": True}, "binary_logits"),
        ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 0}, "sparse_seq_ignore"),
    ],
    ids=_case_id,
)
@pytest.mark.parametrize("weights", [None, "full"])
def test_reductions_match_keras(case, reduction, weights):
    name, kwargs, kind = case
    y_true, y_pred = _data(kind, seed=3)
    ours_w, keras_w = _weights(y_pred, weights)
    ours = getattr(losses, name)(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight=ours_w)
    expected = getattr(keras.losses, name)(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight=keras_w)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), **TOL)


FUNCTION_CASES = [
    ("mean_squared_error", {}, "real"),
    ("mean_absolute_error", {}, "real_seq"),
    ("mean_absolute_percentage_error", {}, "positive"),
    ("mean_squared_logarithmic_error", {}, "positive"),
    ("huber", {"delta": 2.0}, "real"),
    ("log_cosh", {}, "real"),
    ("binary_crossentropy", {"label_smoothing": 0.1}, "binary"),
    ("binary_crossentropy", {"from_logits": True}, "binary_logits"),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, "onehot"),
    ("categorical_crossentropy", {"from_logits": True}, "onehot_logits"),
    ("sparse_categorical_crossentropy", {}, "sparse"),
    ("sparse_categorical_crossentropy", {"from_logits": True, "ignore_class": -1}, "sparse_ignore"),
    ("kl_divergence", {}, "distribution"),
    ("hinge", {}, "pm1"),
    ("poisson", {}, "positive"),
    ("cosine_similarity", {"axis": -1}, "real"),
]


@pytest.mark.parametrize("case", FUNCTION_CASES, ids=_case_id)
def test_function_forms_match_keras(case):
    name, kwargs, kind = case
    y_true, y_pred = _data(kind, seed=5)
    ours = getattr(losses, name)(y_true, y_pred, **kwargs)
    expected = getattr(keras.losses, name)(y_true, y_pred, **kwargs)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(np.asarray(ours), np.asarray(expected), **TOL)


def test_batch_weights_broadcast_over_time():
    """(batch,) weights weight whole sequences (Keras 3 raises here)."""
    y_true, y_pred = _data("real_seq")
    w = np.arange(B, dtype=np.float32)
    loss = losses.MeanSquaredError()
    np.testing.assert_allclose(loss(y_true, y_pred, w), loss(y_true, y_pred, w[:, None]), **TOL)
    per_sample = np.mean((y_true - y_pred) ** 2, axis=-1)
    np.testing.assert_allclose(loss(y_true, y_pred, w), np.sum(per_sample * w[:, None]) / per_sample.size, rtol=1e-5)


def test_gradients_are_finite_with_ignore_class():
    y_true, y_pred = _data("sparse_ignore")
    loss = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    probs = jax.nn.softmax(y_pred)
    grad = jax.jit(jax.grad(lambda p: loss(y_true, p)))(probs)
    assert np.all(np.isfinite(grad))
    assert np.all(np.asarray(grad)[[1, 4]] == 0)


# --------------------------------------------------------------------------- names, config, lookup

CLASS_NAMES = sorted({name for name, _, _ in CASES})


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_default_names_and_config_match_keras(name):
    ours, theirs = getattr(losses, name)(), getattr(keras.losses, name)()
    assert ours.name == theirs.name
    assert ours.reduction == theirs.reduction == "sum_over_batch_size"
    # Keras omits CosineSimilarity's axis from its config (a Keras bug); we keep it.
    assert set(theirs.get_config()) <= set(ours.get_config())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_serialize_round_trip(case):
    name, kwargs, _ = case
    loss = getattr(losses, name)(reduction="sum", name="custom", **kwargs)
    config = losses.serialize(loss)
    assert config["class_name"] == name
    rebuilt = losses.deserialize(config)
    assert type(rebuilt) is type(loss)
    assert rebuilt.get_config() == loss.get_config()
    assert losses.get(config).get_config() == loss.get_config()


EXPECTED_ALIAS_CLASSES = {
    "mse": "MeanSquaredError",
    "mean_squared_error": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
    "mean_absolute_error": "MeanAbsoluteError",
    "mape": "MeanAbsolutePercentageError",
    "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
    "msle": "MeanSquaredLogarithmicError",
    "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError",
    "huber": "Huber",
    "log_cosh": "LogCosh",
    "logcosh": "LogCosh",
    "binary_crossentropy": "BinaryCrossentropy",
    "categorical_crossentropy": "CategoricalCrossentropy",
    "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
    "kl_divergence": "KLDivergence",
    "kld": "KLDivergence",
    "kullback_leibler_divergence": "KLDivergence",
    "hinge": "Hinge",
    "poisson": "Poisson",
    "cosine_similarity": "CosineSimilarity",
    "squared_hinge": "SquaredHinge",
    "categorical_hinge": "CategoricalHinge",
    "binary_focal_crossentropy": "BinaryFocalCrossentropy",
    "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
    "categorical_generalized_cross_entropy": "CategoricalGeneralizedCrossEntropy",
    "circle": "Circle",
    "ctc": "CTC",
    "dice": "Dice",
    "tversky": "Tversky",
}


def test_all_loss_names_listed():
    assert set(losses.ALL_LOSS_NAMES) == set(EXPECTED_ALIAS_CLASSES)


@pytest.mark.parametrize("alias", sorted(EXPECTED_ALIAS_CLASSES))
def test_get_string_alias(alias):
    loss = losses.get(alias)
    assert type(loss).__name__ == EXPECTED_ALIAS_CLASSES[alias]
    assert loss.name == alias  # Keras's compile names a string loss after the string
    assert isinstance(loss, losses.Loss)


def test_get_class_name_instance_and_class():
    assert isinstance(losses.get("Huber"), losses.Huber)
    assert losses.get("Huber").name == "huber_loss"
    loss = losses.BinaryCrossentropy()
    assert losses.get(loss) is loss
    assert isinstance(losses.get(losses.Poisson), losses.Poisson)


def test_get_unknown_name_raises_with_valid_names():
    with pytest.raises(ConfigError) as info:
        losses.get("mean_sqared_eror")
    message = str(info.value)
    assert "mean_sqared_eror" in message
    assert "mse" in message and "sparse_categorical_crossentropy" in message


def test_get_rejects_non_identifiers():
    with pytest.raises(ConfigError):
        losses.get(3)
    with pytest.raises(ConfigError):
        losses.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(ConfigError):
        losses.MeanSquaredError(reduction="average")


def test_get_callable_wraps_function():
    def my_loss(y_true, y_pred):
        return jax.numpy.mean(abs(y_true - y_pred), axis=-1)

    loss = losses.get(my_loss)
    assert isinstance(loss, losses.LossFunctionWrapper)
    assert loss.name == "my_loss"
    y_true, y_pred = _data("real")
    expected = keras.losses.MeanAbsoluteError()(y_true, y_pred)
    np.testing.assert_allclose(loss(y_true, y_pred), expected, **TOL)


def test_function_wrapper_round_trip_for_builtin_function():
    loss = losses.LossFunctionWrapper(losses.huber, delta=0.5)
    rebuilt = losses.deserialize(losses.serialize(loss))
    y_true, y_pred = _data("real")
    np.testing.assert_allclose(rebuilt(y_true, y_pred), loss(y_true, y_pred), **TOL)
    custom = losses.LossFunctionWrapper(lambda t, p: (t - p) ** 2)
    with pytest.raises(ConfigError):
        losses.deserialize(losses.serialize(custom))


@pytest.mark.parametrize(
    ("identifier", "kind"),
    [
        (losses.BinaryCrossentropy(from_logits=True), "binary"),
        (losses.binary_crossentropy, "binary"),
        ("binary_crossentropy", "binary"),
        (losses.LossFunctionWrapper(losses.binary_crossentropy), "binary"),
        (losses.CategoricalCrossentropy(), "categorical"),
        (losses.categorical_crossentropy, "categorical"),
        ("categorical_crossentropy", "categorical"),
        (losses.SparseCategoricalCrossentropy(), "sparse"),
        (losses.sparse_categorical_crossentropy, "sparse"),
        ("sparse_categorical_crossentropy", "sparse"),
        (losses.MeanSquaredError(), None),
        ("mse", None),
        ("not_a_loss", None),
        (None, None),
    ],
)
def test_kind_helpers(identifier, kind):
    assert losses.is_binary(identifier) is (kind == "binary")
    assert losses.is_categorical(identifier) is (kind == "categorical")
    assert losses.is_sparse_categorical(identifier) is (kind == "sparse")
