"""Merging layers (Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot) against Keras 3."""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError
from kerasish.layers import merging

from .helpers import assert_close, keras, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.mark.parametrize("kwargs, input_shapes, out_shape", [
    ({}, [(2, 3), (2, 4)], (2, 7)),
    ({"axis": 1}, [(2, 3, 4), (2, 2, 4)], (2, 5, 4)),
    ({"axis": -2}, [(2, 3, 4), (2, 3, 4)], (2, 6, 4)),
    ({}, [(2, 3), (2, 3), (2, 2)], (2, 8)),
], ids=["last_axis", "axis1", "negative_axis", "three_inputs"])
def test_concatenate(kwargs, input_shapes, out_shape):
    run_layer_test(layers.Concatenate, kwargs, input_shapes, expected_output_shape=out_shape,
                   expected_num_weights=0)


@pytest.mark.parametrize("input_shapes, out_shape", [
    ([(2, 3), (2, 3)], (2, 3)),
    ([(2, 3, 4), (2, 3, 4)], (2, 3, 4)),
    ([(2, 3), (2, 3), (2, 3)], (2, 3)),
    ([(2, 1, 4), (2, 3, 4)], (2, 3, 4)),  # Keras broadcasts dimensions of size 1
], ids=["two", "rank3", "three", "broadcast"])
def test_add(input_shapes, out_shape):
    run_layer_test(layers.Add, {}, input_shapes, expected_output_shape=out_shape, expected_num_weights=0)


def test_merging_rejects_mismatched_shapes():
    a, b = kerasish.Input(shape=(3,)), kerasish.Input(shape=(4,))
    with pytest.raises(InputError, match="same shape"):
        layers.Add()([a, b])
    a, b = kerasish.Input(shape=(3, 4)), kerasish.Input(shape=(2, 5))
    with pytest.raises(InputError, match="every other axis"):
        layers.Concatenate(axis=1)([a, b])
    with pytest.raises(InputError, match="list of at least 2"):
        layers.Add()(kerasish.Input(shape=(3,)))


def test_merging_in_a_functional_model_with_weighted_branches():
    """Two Inputs through Dense branches, then Add and Concatenate: one model, outputs as computed by hand."""
    a_in, b_in = kerasish.Input(shape=(16,), name="a"), kerasish.Input(shape=(16,), name="b")
    da, db = layers.Dense(16, name="da"), layers.Dense(16, name="db")
    a, b = da(a_in), db(b_in)
    out = layers.Concatenate()([layers.Add()([a, b]), a_in])
    model = kerasish.Model([a_in, b_in], out)
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((2, 16)).astype("float32"), rng.standard_normal((2, 16)).astype("float32")
    (ka, ba), (kb, bb) = da.get_weights(), db.get_weights()
    want = np.concatenate([xa @ ka + ba + xb @ kb + bb, xa], axis=-1)
    np.testing.assert_allclose(np.asarray(model([xa, xb])), want, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model({"a": xa, "b": xb})), want, atol=1e-5, rtol=1e-5)


# -- Subtract, Multiply, Average, Maximum, Minimum, Dot ------------------------------------------------

MERGE_CUSTOM = {name: getattr(merging, name) for name in
                ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot")}

ELEMWISE = [merging.Add, merging.Subtract, merging.Multiply, merging.Average, merging.Maximum, merging.Minimum]

ELEMWISE_SHAPES = [
    ([(2, 3), (2, 3)], (2, 3)),
    ([(2, 3, 4), (2, 3, 4)], (2, 3, 4)),
    ([(2, 1, 4), (2, 3, 4)], (2, 3, 4)),
    ([(2, 4), (2, 3, 4)], (2, 3, 4)),  # lower rank: Keras inserts axes after the batch axis
    ([(2, 3, 1), (2, 1, 4)], (2, 3, 4)),
]


@pytest.mark.parametrize("cls", ELEMWISE, ids=lambda c: c.__name__)
@pytest.mark.parametrize("input_shapes, out_shape", ELEMWISE_SHAPES,
                         ids=["two", "rank3", "broadcast", "lower_rank", "both_broadcast"])
def test_elementwise_merges(cls, input_shapes, out_shape):
    run_layer_test(cls, {}, input_shapes, expected_output_shape=out_shape, expected_num_weights=0,
                   custom_objects=MERGE_CUSTOM)


@pytest.mark.parametrize("cls", [c for c in ELEMWISE if c is not merging.Subtract], ids=lambda c: c.__name__)
def test_elementwise_merges_of_three(cls):
    run_layer_test(cls, {}, [(2, 3), (2, 3), (2, 1)], expected_output_shape=(2, 3), expected_num_weights=0,
                   custom_objects=MERGE_CUSTOM)


DOT_CASES = [
    ({"axes": 1}, [(2, 4), (2, 4)], (2, 1)),
    ({"axes": -1}, [(2, 3, 4), (2, 5, 4)], (2, 3, 5)),
    ({"axes": (1, 2)}, [(2, 3, 5), (2, 4, 3)], (2, 5, 4)),
    ({"axes": [2, 1]}, [(2, 3, 4), (2, 4, 5)], (2, 3, 5)),
    ({"axes": (1, 1)}, [(2, 4), (2, 4, 3)], (2, 3)),
    ({"axes": (2, 1)}, [(2, 3, 4), (2, 4)], (2, 3)),
    ({"axes": (3, 1)}, [(2, 2, 3, 4), (2, 4, 5, 2)], (2, 2, 3, 5, 2)),
    ({"axes": 1, "normalize": True}, [(2, 4), (2, 4)], (2, 1)),
    ({"axes": (1, 2), "normalize": True}, [(2, 3, 5), (2, 4, 3)], (2, 5, 4)),
]


@pytest.mark.parametrize("kwargs, input_shapes, out_shape", DOT_CASES,
                         ids=["vectors", "last", "pair", "list", "rank2_rank3", "rank3_rank2", "rank4",
                              "cosine", "cosine_pair"])
def test_dot(kwargs, input_shapes, out_shape):
    run_layer_test(merging.Dot, kwargs, input_shapes, expected_output_shape=out_shape, expected_num_weights=0,
                   custom_objects=MERGE_CUSTOM)


@pytest.mark.parametrize("cls, kwargs", [(c, {}) for c in ELEMWISE] + [(merging.Dot, {"axes": (2, 1)}),
                                                                      (merging.Dot, {"axes": -1, "normalize": True})],
                         ids=[c.__name__ for c in ELEMWISE] + ["Dot", "Dot_normalize"])
def test_eager_values_and_config_match_keras(cls, kwargs):
    shapes = [(3, 2, 4), (3, 4, 5)] if kwargs.get("axes") == (2, 1) else [(3, 2, 4), (3, 1, 4)]
    x = make_inputs(shapes, seed=5)
    ours, theirs = cls(**kwargs), getattr(keras.layers, cls.__name__)(**kwargs)
    assert_close(np.asarray(ours(x)), np.asarray(theirs(x)), cls.__name__)
    drop = ("name", "dtype", "trainable")

    def norm(v):
        return list(v) if isinstance(v, tuple) else v

    assert ({k: norm(v) for k, v in ours.get_config().items() if k not in drop}
            == {k: norm(v) for k, v in theirs.get_config().items() if k not in drop})


@pytest.mark.parametrize("make", [
    lambda: merging.Dot(axes=0),
    lambda: merging.Dot(axes=(1, 0)),
    lambda: merging.Dot(axes=(1, 2, 3)),
    lambda: merging.Dot(axes="last"),
    lambda: merging.Dot(axes=(1.0, 2)),
    lambda: merging.Subtract(bogus=1),
], ids=["batch_axis", "batch_axis_pair", "triple", "string", "float", "unknown_kwarg"])
def test_bad_arguments_raise_config_error(make):
    with pytest.raises(ConfigError):
        make()


@pytest.mark.parametrize("layer, shapes, match", [
    (merging.Multiply(), [(3,), (4,)], "same shape"),
    (merging.Maximum(), [(3, 4), (2, 4)], "same shape"),
    (merging.Subtract(), [(3,), (3,), (3,)], "exactly 2"),
    (merging.Average(), [(3,)], "list of at least 2"),
    (merging.Dot(axes=1), [(3,), (4,)], "same size"),
    (merging.Dot(axes=(1, 2)), [(3, 4), (4, 5)], "same size"),
    (merging.Dot(axes=3), [(3, 4), (3, 4)], "out of range"),
    (merging.Dot(axes=1), [(3,), (3,), (3,)], "exactly 2"),
], ids=["multiply", "maximum", "subtract3", "average1", "dot", "dot_pair", "dot_range", "dot3"])
def test_bad_input_shapes_raise_input_error(layer, shapes, match):
    inputs = [kerasish.Input(shape=s) for s in shapes]
    with pytest.raises(InputError, match=match) as info:
        layer(inputs if len(inputs) > 1 else inputs[0] if match.startswith("list") else inputs)
    assert layer.name in str(info.value)
    assert str(shapes[0]) in str(info.value) or str((None,) + shapes[0]) in str(info.value)


def test_merges_reject_different_batch_sizes_eagerly():
    a, b = np.zeros((2, 3), "float32"), np.zeros((3, 3), "float32")
    for layer in (merging.Multiply(), merging.Dot(axes=1)):
        with pytest.raises(InputError, match="batch sizes"):
            layer([a, b])


def test_all_merges_in_one_functional_model():
    """Dense branches merged by every layer, in kerasish and Keras with the same weights: same outputs."""
    def build(m, L):
        a_in, b_in = m.Input(shape=(6,)), m.Input(shape=(3, 6))
        a, b = L["Dense"](6)(a_in), L["Dense"](6)(b_in)
        s = L["Subtract"]()([a, b])  # (3, 6), broadcast over the lower-rank a
        p = L["Multiply"]()([s, b, b])
        v = L["Average"]()([p, a])
        mx = L["Maximum"]()([v, s])
        mn = L["Minimum"]()([mx, p])
        d = L["Dot"](axes=(2, 1), normalize=True)([mn, a])  # (3,)
        e = L["Dot"](axes=-1)([mn, b])  # (3, 3)
        return m.Model([a_in, b_in], L["Concatenate"]()([L["Flatten"]()(e), d, L["Add"]()([a, a])]))

    names = ("Dense", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot", "Concatenate", "Flatten", "Add")
    ns_ours = {**MERGE_CUSTOM, "Dense": layers.Dense, "Concatenate": layers.Concatenate, "Flatten": layers.Flatten}
    ours, theirs = build(kerasish, ns_ours), build(keras, {n: getattr(keras.layers, n) for n in names})
    assert tuple(ours.outputs[0].shape) == tuple(theirs.outputs[0].shape) == (None, 9 + 3 + 6)
    ours.set_weights(theirs.get_weights())
    x = make_inputs([(4, 6), (4, 3, 6)], seed=6)
    assert_close(np.asarray(ours(x)), np.asarray(theirs(x)), "functional model of all merges")
    assert_close(np.asarray(ours.predict(x, verbose=0)), np.asarray(theirs(x)), "predict")
