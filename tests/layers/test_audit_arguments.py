"""Issue 16's audit, layer and model arguments: what Keras 3 refuses is refused early in kerasish's own errors
(direct model calls of the wrong rank, impossible Input shapes, windows larger than their input, empty
embeddings, non-numeric set_weights values), and the legitimate calls beside them still work. Keras 3 is the
oracle where it refuses the same input; the rest are hand-written expectations."""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError

from .helpers import keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _refused_by_keras(make) -> bool:
    try:
        make()
    except (ValueError, TypeError):
        return True
    return False


# -- direct calls of functional and Sequential models check the inputs' shapes (case 155, 157, 158) ------------

def _models(lib, n_in=4):
    seq = lib.Sequential([lib.Input((n_in,)), lib.layers.Dense(1)])
    x = lib.Input((n_in,))
    func = lib.Model(x, lib.layers.Dense(2)(x))
    return {"sequential": seq, "functional": func}


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (4,), (2, 5)])
def test_direct_model_call_of_wrong_shape_is_refused_as_keras(kind, shape):
    assert _refused_by_keras(lambda: _models(keras)[kind](np.zeros(shape, "float32")))
    model = _models(kerasish)[kind]
    with pytest.raises(InputError, match=rf"model '{model.name}' expects shape \(None, 4\).*called on shape "
                                         rf"{re_shape(shape)}"):
        model(np.zeros(shape, "float32"))


def re_shape(shape) -> str:
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_dense_on_unbatched_input_is_refused_as_keras():
    assert _refused_by_keras(lambda: keras.layers.Dense(3)(np.zeros(4, "float32")))
    with pytest.raises(InputError, match=r"'my_dense' \(Dense\) expects inputs of rank >= 2.*\(4,\)"):
        layers.Dense(3, name="my_dense")(np.zeros(4, "float32"))
    built = layers.Dense(3)
    built(np.zeros((2, 4), "float32"))
    with pytest.raises(InputError, match="rank >= 2"):
        built(np.zeros(4, "float32"))
    assert layers.Dense(3)(np.zeros((2, 5, 4), "float32")).shape == (2, 5, 3)  # rank > 2 stays allowed


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("input_shape, x_shape", [((3, 1), (2, 3)), ((4,), (2, 4, 1)), ((4,), (7, 4))])
def test_direct_model_calls_keras_accepts_still_work(kind, input_shape, x_shape):
    """A missing or extra trailing axis of size 1 (Keras adjusts the rank), another batch size."""
    def build(lib):
        x = lib.Input(input_shape)
        if kind == "sequential":
            return lib.Sequential([x, lib.layers.Dense(2)])
        return lib.Model(x, lib.layers.Dense(2)(x))

    want = build(keras)(np.ones(x_shape, "float32")).shape
    got = build(kerasish)(np.ones(x_shape, "float32")).shape
    assert tuple(got) == tuple(want)


def test_models_as_layers_with_compatible_symbolic_shapes_still_work():
    inner = _models(kerasish)["functional"]
    assert tuple(inner(kerasish.Input((4,))).shape) == (None, 2)
    seq = kerasish.Sequential([layers.Dense(3)])  # built by its first (symbolic) call
    assert tuple(seq(kerasish.Input((4,))).shape) == (None, 3)
    t = kerasish.Input((None, 4))
    outer = kerasish.Model(t, layers.TimeDistributed(inner)(t))
    assert outer(np.ones((2, 5, 4), "float32")).shape == (2, 5, 2)
    x = kerasish.Input((None, 4))  # None in the caller, a known size in the model: allowed, as Keras
    y = kerasish.Input((3, 4))
    assert tuple(kerasish.Model(y, layers.Dense(2)(y))(x).shape) == (None, None, 2)
    with pytest.raises(InputError, match=r"expects shape \(None, 4\).*\(None, 5\)"):
        inner(kerasish.Input((5,)))


def test_multi_input_model_call_checks_count_names_and_each_shape():
    a, b = kerasish.Input((2,), name="a"), kerasish.Input((3,), name="b")
    model = kerasish.Model({"a": a, "b": b}, layers.Concatenate()([a, b]))
    xa, xb = np.ones((4, 2), "float32"), np.ones((4, 3), "float32")
    assert model({"a": xa, "b": xb}).shape == (4, 5)
    assert model([xa, xb]).shape == (4, 5)
    with pytest.raises(InputError, match=r"expects 2 input\(s\) \['a', 'b'\], but was called with 1"):
        model([xa])
    with pytest.raises(InputError, match=r"inputs named \['a', 'b'\].*keys \['a', 'c'\]"):
        model({"a": xa, "c": xb})
    with pytest.raises(InputError, match=r"Input 'b' of model .* expects shape \(None, 3\).*\(4, 2\)"):
        model({"a": xa, "b": xa})


def test_shape_check_runs_at_trace_time_only():
    """A jitted predict traces the model once per input shape; the check adds nothing per step."""
    model = _models(kerasish)["functional"]
    calls = []
    original = type(model)._check_input

    def counting(self, input_shape):
        calls.append(input_shape)
        return original(self, input_shape)

    type(model)._check_input = counting
    try:
        model.predict(np.ones((64, 4), "float32"), batch_size=8, verbose=0)
    finally:
        type(model)._check_input = original
    assert 1 <= len(calls) <= 2  # traced once (twice if the last batch were partial); never 8 steps


# -- Input, Conv, Pooling, Embedding arguments (cases 201, 203, 205, 187, 275, 193, 194, 277, 272, 281) ------

@pytest.mark.parametrize("shape", [(-1,), ("4",), (2.5,), (4, -2), (True,), "4"])
def test_input_shape_must_be_non_negative_ints_or_none(shape):
    if shape != (True,):  # Keras takes True as 1
        assert _refused_by_keras(lambda: keras.Input(shape=shape))
    with pytest.raises(ConfigError, match=r"shape must be a tuple of non-negative ints or None.*got"):
        kerasish.Input(shape=shape)
    with pytest.raises(ConfigError, match="batch_shape must be"):
        kerasish.Input(batch_shape=(None,) + (tuple(shape) if isinstance(shape, tuple) else (shape,)))


def test_input_shapes_that_stay_accepted():
    assert kerasish.Input(shape=(np.int64(3), None)).shape == (None, 3, None)
    assert kerasish.Input(shape=(0,)).shape == (None, 0)  # as Keras
    assert kerasish.Input(shape=4).shape == (None, 4)
    assert kerasish.Input(batch_shape=[8, 4]).shape == (8, 4)
    assert kerasish.Input(shape=(4,), batch_size=np.int32(2)).shape == (2, 4)


@pytest.mark.parametrize("batch_size", [0, -3, 2.0, True, "8"])
def test_input_batch_size_must_be_a_positive_int(batch_size):
    with pytest.raises(ConfigError, match=rf"batch_size must be a positive integer or None, got {batch_size!r}"):
        kerasish.Input(shape=(4,), batch_size=batch_size)


def test_input_batch_size_and_batch_shape_together_refused_as_keras():
    assert _refused_by_keras(lambda: keras.Input(batch_size=2, batch_shape=(2, 4)))
    with pytest.raises(ConfigError, match="not both"):
        kerasish.Input(batch_size=2, batch_shape=(2, 4))


@pytest.mark.parametrize("make, in_shape, what", [
    (lambda lib: lib.layers.Conv2D(2, 7), (4, 4, 1), r"kernel_size=\(7, 7\)"),
    (lambda lib: lib.layers.Conv2D(2, 3, dilation_rate=2), (4, 4, 1), r"kernel_size=\(3, 3\), dilation_rate=\(2, 2\)"),
    (lambda lib: lib.layers.Conv1D(2, 5), (3, 2), r"kernel_size=\(5,\)"),
    (lambda lib: lib.layers.DepthwiseConv2D(5), (4, 4, 1), r"kernel_size=\(5, 5\)"),
    (lambda lib: lib.layers.SeparableConv2D(2, (1, 5)), (4, 4, 1), r"kernel_size=\(1, 5\)"),
    (lambda lib: lib.layers.Conv2D(2, 5, data_format="channels_first"), (1, 4, 9), r"kernel_size=\(5, 5\)"),
    (lambda lib: lib.layers.MaxPooling2D(4), (2, 2, 1), r"pool_size=\(4, 4\)"),
    (lambda lib: lib.layers.AveragePooling1D(3), (2, 5), r"pool_size=\(3,\)"),
])
def test_valid_window_larger_than_the_input_is_refused_as_keras(make, in_shape, what):
    assert _refused_by_keras(lambda: keras.Sequential([keras.Input(in_shape), make(keras)]))
    spatial = in_shape[1:] if "channels_first" in repr(make(kerasish).get_config()) else in_shape[:-1]
    with pytest.raises(InputError, match=rf"{what} with padding='valid' does not fit the input's spatial size "
                                         rf"{re_shape(spatial)}.*output size would be zero"):
        kerasish.Sequential([kerasish.Input(in_shape), make(kerasish)])
    layer = make(kerasish)  # built on a fitting input, then called on a too small one
    layer(np.zeros((1,) + tuple(max(d, 12) for d in in_shape[:-1]) + in_shape[-1:], "float32"))
    with pytest.raises(InputError, match="output size would be zero"):
        layer(np.zeros((1,) + in_shape, "float32"))


@pytest.mark.parametrize("make, in_shape, out_shape", [
    (lambda lib: lib.layers.Conv2D(2, 4), (4, 4, 1), (None, 1, 1, 2)),  # exactly fits
    (lambda lib: lib.layers.Conv2D(2, 7, padding="same"), (4, 4, 1), (None, 4, 4, 2)),
    (lambda lib: lib.layers.Conv2D(2, 7), (None, None, 1), (None, None, None, 2)),  # unknown sizes
    (lambda lib: lib.layers.Conv2DTranspose(2, 7), (2, 2, 1), (None, 8, 8, 2)),
    (lambda lib: lib.layers.MaxPooling2D(4, padding="same"), (2, 2, 1), (None, 1, 1, 1)),
])
def test_windows_keras_accepts_still_work(make, in_shape, out_shape):
    want = keras.Sequential([keras.Input(in_shape), make(keras)]).output_shape
    got = kerasish.Sequential([kerasish.Input(in_shape), make(kerasish)]).output_shape
    assert tuple(want) == tuple(got) == out_shape


@pytest.mark.parametrize("input_dim, output_dim, arg", [
    (10, 0, "output_dim"), (-5, 4, "input_dim"), (0, 4, "input_dim"), (10, -1, "output_dim"), (2.5, 4, "input_dim"),
    (True, 4, "input_dim"),
])
def test_embedding_dims_must_be_positive_ints_as_keras(input_dim, output_dim, arg):
    if not isinstance(input_dim, bool):  # Keras takes True as 1
        assert _refused_by_keras(lambda: keras.layers.Embedding(input_dim, output_dim))
    with pytest.raises(ConfigError, match=rf"Embedding 'emb': {arg} must be a positive integer"):
        layers.Embedding(input_dim, output_dim, name="emb")
    assert layers.Embedding(np.int64(10), 4)(np.zeros((2, 3), "int32")).shape == (2, 3, 4)


@pytest.mark.parametrize("units", [True, 0, -1, 2.5, "8", None])
def test_dense_units_must_be_a_positive_int(units):
    with pytest.raises(ConfigError, match=rf"Dense: units must be a positive integer, got {units!r}"):
        layers.Dense(units)


def test_dense_units_numpy_integer_accepted():
    layer = layers.Dense(np.int64(3))
    assert type(layer.units) is int and layer(np.zeros((2, 4), "float32")).shape == (2, 3)
    assert layer.get_config()["units"] == 3


# -- set_weights with values that are not numbers (case 212) -------------------------------------------------

@pytest.mark.parametrize("kernel, match", [
    (np.array([["a"], ["b"]]), r"weight 'dense_w/kernel' \(float32\) needs numbers.*dtype <U1"),
    ([[1.0], [None]], r"weight 'dense_w/kernel' \(float32\) needs numbers.*dtype object"),
    ([[1.0], [2.0, 3.0]], r"for weight 'dense_w/kernel' is not an array"),
    (np.ones((2, 1), complex), r"needs numbers.*complex128"),
])
def test_set_weights_with_non_numeric_values_names_the_weight(kernel, match):
    model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1, name="dense_w")], name="m_w")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(InputError, match=rf"Layer 'm_w': .*{match}"):
        model.set_weights([kernel, np.zeros(1)])
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # nothing assigned


def test_set_weights_numeric_values_of_other_dtypes_still_work():
    model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1)])
    model.set_weights([[[1], [2]], np.array([True])])  # nested ints, a bool: cast as NumPy casts them
    np.testing.assert_array_equal(model.get_weights()[0], [[1.0], [2.0]])
    np.testing.assert_array_equal(model.get_weights()[1], [1.0])


# -- optimizer clipping arguments (case 150) ----------------------------------------------------------------

@pytest.mark.parametrize("arg", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("value", [-1, 0, float("nan"), float("inf"), "1", True])
def test_optimizer_clipping_must_be_a_positive_number(arg, value):
    with pytest.raises(ConfigError, match=rf"SGD: {arg} must be a positive number \(or None: no clipping\), got"):
        kerasish.optimizers.SGD(**{arg: value})
    assert getattr(kerasish.optimizers.Adam(**{arg: np.float32(0.5)}), arg) == 0.5
