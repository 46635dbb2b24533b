"""The losses added to reach Keras 3's names (focal, hinge, generalized CE, Circle, CTC, Dice, Tversky), against Keras."""

import functools

import jax
import keras
import numpy as np
import pytest

from kerasish import losses
from kerasish.errors import ConfigError, InputError

TOL = {"rtol": 2e-5, "atol": 2e-6}
B, D, C = 6, 4, 4


@pytest.fixture(scope="module", autouse=True)
def _fast_compiles():
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


def _data(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    f32 = np.float32
    if kind == "binary":
        y_pred = rng.uniform(size=(B, D)).astype(f32)
        y_pred[0, :2] = [0.0, 1.0]
        return rng.integers(0, 2, size=(B, D)).astype(f32), y_pred
    if kind == "binary_logits":
        return rng.integers(0, 2, size=(B, D)).astype(f32), rng.normal(0, 3, size=(B, D)).astype(f32)
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=(B, D)).astype(f32), rng.normal(size=(B, D)).astype(f32)
    if kind == "onehot":
        y_pred = rng.uniform(0, 2, size=(B, C)).astype(f32)
        return np.eye(C, dtype=f32)[rng.integers(0, C, size=B)], y_pred
    if kind == "onehot_logits":
        return np.eye(C, dtype=f32)[rng.integers(0, C, size=B)], rng.normal(0, 3, size=(B, C)).astype(f32)
    if kind == "sparse_probs":
        logits = rng.normal(size=(B, C))
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        return rng.integers(0, C, size=B).astype(f32), probs.astype(f32)
    if kind == "masks":  # segmentation: (batch, h, w, 1)
        return (rng.uniform(size=(B, 3, 3, 1)) > 0.5).astype(f32), rng.uniform(size=(B, 3, 3, 1)).astype(f32)
    raise ValueError(kind)


# (class name, constructor kwargs, data kind)
CASES = [
    ("SquaredHinge", {}, "binary"),
    ("SquaredHinge", {}, "pm1"),
    ("CategoricalHinge", {}, "onehot"),
    ("BinaryFocalCrossentropy", {}, "binary"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 3.0}, "binary"),
    ("BinaryFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, "binary_logits"),
    ("CategoricalFocalCrossentropy", {}, "onehot"),
    ("CategoricalFocalCrossentropy", {"alpha": [0.1, 0.2, 0.3, 0.4], "gamma": 1.5}, "onehot"),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "onehot_logits"),
    ("CategoricalGeneralizedCrossEntropy", {}, "sparse_probs"),
    ("CategoricalGeneralizedCrossEntropy", {"q": 0.2}, "sparse_probs"),
    ("Dice", {}, "masks"),
    ("Dice", {"axis": (1, 2, 3)}, "masks"),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, "masks"),
    ("Tversky", {"axis": (1, 2, 3), "alpha": 0.2, "beta": 0.8}, "masks"),
]


@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight", "mean"])
def test_other_reductions_match_keras(reduction):
    sample_weight = np.linspace(0.0, 1.0, B).astype(np.float32)
    for name, kwargs, kind in (("BinaryFocalCrossentropy", {"gamma": 3.0}, "binary"),  # per-sample values
                               ("Dice", {"axis": (1, 2, 3)}, "masks")):  # and one value per image
        y_true, y_pred = _data(kind)
        ours = getattr(losses, name)(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight)
        theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)(y_true, y_pred, sample_weight)
        np.testing.assert_allclose(ours, np.asarray(theirs), **TOL)


def _ids(case):
    return f"{case[0]}-{case[2]}-{'-'.join(map(str, case[1]))}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", None])
def test_loss_objects_match_keras(case, reduction):
    name, kwargs, kind = case
    y_true, y_pred = _data(kind)
    sample_weight = np.random.default_rng(1).uniform(size=B).astype(np.float32)
    ours = getattr(losses, name)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, name)(reduction=reduction, **kwargs)
    np.testing.assert_allclose(ours(y_true, y_pred), np.asarray(theirs(y_true, y_pred)), **TOL)
    np.testing.assert_allclose(ours(y_true, y_pred, sample_weight=sample_weight),
                               np.asarray(theirs(y_true, y_pred, sample_weight=sample_weight)), **TOL)


FUNCTIONS = [
    ("squared_hinge", {}, "pm1"),
    ("categorical_hinge", {}, "onehot"),
    ("binary_focal_crossentropy", {"gamma": 1.0, "apply_class_balancing": True}, "binary"),
    ("categorical_focal_crossentropy", {"alpha": 0.5}, "onehot"),
    ("categorical_generalized_cross_entropy", {"q": 0.7}, "sparse_probs"),
    ("dice", {"axis": (1, 2)}, "masks"),
    ("tversky", {"alpha": 0.1, "beta": 0.9}, "masks"),
]


@pytest.mark.parametrize("name,kwargs,kind", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_loss_functions_match_keras(name, kwargs, kind):
    y_true, y_pred = _data(kind, seed=3)
    ours = getattr(losses, name)(y_true, y_pred, **kwargs)
    theirs = getattr(keras.losses, name)(y_true, y_pred, **kwargs)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours, np.asarray(theirs), **TOL)


@pytest.mark.parametrize("case", CASES[::2] + [("Circle", {"gamma": 10.0, "margin": 0.3}, None), ("CTC", {}, None)],
                         ids=_ids)
def test_config_round_trip_matches_keras(case):
    name, kwargs, _ = case
    ours = getattr(losses, name)(name="my_loss", **kwargs)
    theirs = getattr(keras.losses, name)(name="my_loss", **kwargs)
    config = ours.get_config()
    assert config == theirs.get_config()
    again = losses.deserialize(losses.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == config
    assert losses.get(name).name == theirs.__class__(**kwargs).name  # Keras's default names


def _embeddings(seed=0, n=8, dim=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32), rng.integers(0, 3, size=n)


def _jitted(fn, *args):
    """``fn(*args)`` traced as one program (Keras's Circle and CTC run slowly op by op in eager JAX);
    ``fn`` takes the losses module, kerasish's or Keras's."""
    return jax.tree.map(np.asarray, (jax.jit(lambda *a: fn(losses, *a))(*args),
                                     jax.jit(lambda *a: fn(keras.losses, *a))(*args)))


@pytest.mark.parametrize("kwargs", [{}, {"gamma": 4.0, "margin": 0.25, "remove_diagonal": False}])
def test_circle_matches_keras(kwargs):
    y_pred, labels = _embeddings()
    sample_weight = np.linspace(0.1, 1.0, len(labels)).astype(np.float32)

    def run(module, labels, y_pred, sample_weight):
        weighted = [module.Circle(reduction=r, **kwargs)(labels, y_pred, sample_weight)
                    for r in ("sum_over_batch_size", None)]
        return [*weighted, module.Circle(**kwargs)(labels, y_pred)]

    ours, theirs = _jitted(run, labels, y_pred, sample_weight)
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-5), ours, theirs)


def test_circle_masks_zero_losses_out_of_the_mean():
    # A query whose class appears once has no positive: its loss is softplus(-inf) = 0 and it is left out.
    y_pred, _ = _embeddings(seed=2, n=4)
    labels = np.array([0, 0, 1, 2])
    per_query = np.asarray(losses.circle(labels, y_pred))
    assert per_query[2] == 0 and per_query[3] == 0
    np.testing.assert_allclose(losses.Circle()(labels, y_pred), per_query[:2].mean(), rtol=1e-6)


def test_circle_function_with_references_matches_keras():
    y_pred, labels = _embeddings(seed=4, n=5)
    refs, ref_labels = _embeddings(seed=5, n=7)
    ours, theirs = _jitted(lambda m, *a: m.circle(*a, gamma=16.0), labels, y_pred, ref_labels, refs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


def test_ctc_matches_keras():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 7, 5)).astype(np.float32)
    labels = np.array([[1, 2, 2, 0], [3, 0, 0, 0], [4, 1, 3, 2]], np.int32)
    weights = np.array([1.0, 0.5, 2.0], np.float32)
    ours, theirs = _jitted(lambda m, y, p, w: (m.ctc(y, p), m.CTC()(y, p, w)), labels, logits, weights)
    jax.tree.map(functools.partial(np.testing.assert_allclose, rtol=1e-5), ours, theirs)


def test_ctc_rejects_wrong_ranks():
    with pytest.raises(InputError, match="y_true"):
        losses.ctc(np.zeros((2, 3, 1)), np.zeros((2, 4, 5)))
    with pytest.raises(InputError, match="y_pred"):
        losses.ctc(np.zeros((2, 3)), np.zeros((2, 5)))


@pytest.mark.parametrize("q", [0, 1, 1.5, -0.1])
def test_generalized_cross_entropy_rejects_q_out_of_range(q):
    with pytest.raises(ConfigError, match="q"):
        losses.CategoricalGeneralizedCrossEntropy(q=q)


@pytest.mark.parametrize("alias,cls", [("squared_hinge", "SquaredHinge"), ("categorical_hinge", "CategoricalHinge"),
                                       ("binary_focal_crossentropy", "BinaryFocalCrossentropy"), ("dice", "Dice"),
                                       ("ctc", "CTC"), ("Tversky", "Tversky")])
def test_get_resolves_new_names(alias, cls):
    loss = losses.get(alias)
    assert type(loss).__name__ == cls


def test_new_loss_trains_in_compile_and_fit():
    import kerasish

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    model = kerasish.Sequential([kerasish.Input((3,)), kerasish.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=losses.BinaryFocalCrossentropy(gamma=1.0))
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    expected = keras.losses.BinaryFocalCrossentropy(gamma=1.0)(y, np.asarray(model.predict(x, verbose=0)))
    assert np.isfinite(history.history["loss"][0])
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.asarray(expected), rtol=1e-4)
