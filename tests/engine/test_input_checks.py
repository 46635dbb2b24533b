"""Bad input refused before the first step (issue 16, part 4): NaN/inf in arrays (on by default), label values
against the loss, class_weight keys against the classes, target shapes against the outputs, nested Python lists."""

import numpy as np
import pytest

import kerasish
from kerasish import layers, losses
from kerasish.engine import batching, checks
from kerasish.errors import InputError
from kerasish.utils import PyDataset

N = 12
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 4)).astype("float32")
Y = np.arange(N) % 3


def _model(units=3, loss="sparse_categorical_crossentropy", activation="softmax", inputs=None):
    if inputs is None:
        m = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(units, activation=activation)])
    else:
        ins = [kerasish.Input(shape=(4,), name=n) for n in inputs]
        m = kerasish.Model(ins if len(ins) > 1 else ins[0],
                           layers.Dense(units, activation=activation)(layers.Concatenate()(ins) if len(ins) > 1
                                                                      else ins[0]))
    m.compile(optimizer="sgd", loss=loss)
    return m


def _unchanged(model, before):
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- NaN / inf -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_non_finite_counts_and_first_sample_match_numpy(monkeypatch, chunk):
    monkeypatch.setattr(checks, "_FINITE_CHUNK", chunk)  # 7: many chunks, rows split over chunk edges
    a = RNG.normal(size=(50, 3, 2)).astype("float32")
    a[17, 2, 1], a[17, 0, 0], a[31, 1, 1], a[49, 0, 1] = np.nan, np.inf, -np.inf, np.nan
    bad = ~np.isfinite(a)
    assert checks.non_finite(a) == (int(bad.sum()), int(np.argmax(bad.reshape(50, -1).any(axis=1))))
    strided = a[1::2, :, ::-1]  # not contiguous
    bad = ~np.isfinite(strided)
    assert checks.non_finite(strided) == (int(bad.sum()), int(np.argmax(bad.reshape(25, -1).any(axis=1))))
    assert checks.non_finite(np.ones((5, 2), "float32")) == (0, -1)
    assert checks.non_finite(np.arange(6).reshape(3, 2)) == (0, -1)  # ints are never checked


@pytest.mark.parametrize("where, match", [
    ("x", r"^x contains 2 NaN or infinite value\(s\); the first is in sample 5\."),
    ("y", r"^y contains 2 NaN or infinite value\(s\); the first is in sample 5\."),
    ("sample_weight", r"^sample_weight contains 2 NaN or infinite value\(s\); the first is in sample 5\."),
])
def test_nan_and_inf_refused_before_training(where, match):
    data = {"x": X.copy(), "y": RNG.normal(size=(N, 2)).astype("float32"), "sample_weight": np.ones(N, "float32")}
    arr = data[where]
    arr[5] = np.nan if arr.ndim == 1 else arr[5]
    if arr.ndim > 1:
        arr[5, 0] = np.nan
    arr[9] = np.inf if arr.ndim == 1 else arr[9]
    if arr.ndim > 1:
        arr[9, 1] = -np.inf
    model = _model(units=2, loss="mse", activation=None)
    model.build((None, 4))
    before = model.get_weights()
    with pytest.raises(InputError, match=match + r" Fix the data, or pass check_finite=False"):
        model.fit(data["x"], data["y"], sample_weight=data["sample_weight"], verbose=0)
    _unchanged(model, before)
    with pytest.raises(InputError, match=match):  # evaluate and predict check only when asked
        model.evaluate(data["x"], data["y"], sample_weight=data["sample_weight"], check_finite=True, verbose=0)
    with pytest.raises(InputError, match=match):
        model.train_on_batch(data["x"], data["y"], sample_weight=data["sample_weight"])
    _unchanged(model, before)
    model.fit(data["x"], data["y"], sample_weight=data["sample_weight"], check_finite=False, verbose=0)
    assert not np.isfinite(model.evaluate(data["x"], data["y"], sample_weight=data["sample_weight"], verbose=0))


def test_nan_named_in_dict_and_list_inputs_and_predict():
    bad = X.copy()
    bad[7, 2] = np.nan
    model = _model(inputs=["a", "b"])
    with pytest.raises(InputError, match=r"^x\['b'\] contains 1 NaN .* sample 7"):
        model.fit({"a": X, "b": bad}, Y, verbose=0)
    with pytest.raises(InputError, match=r"^x\[1\] contains 1 NaN .* sample 7"):
        model.fit([X, bad], Y, verbose=0)
    with pytest.raises(InputError, match=r"^x\['b'\] contains 1 NaN .* sample 7"):
        model.predict({"a": X, "b": bad}, check_finite=True, verbose=0)
    out = model.predict({"a": X, "b": bad}, verbose=0)  # off by default: the NaN shows in its row only
    assert np.isnan(out[7]).all() and np.isfinite(np.delete(out, 7, axis=0)).all()


def test_nan_in_validation_data_and_split():
    model = _model()
    bad_y = Y.astype("float32")
    bad_y[10] = np.nan
    with pytest.raises(InputError, match=r"^validation y contains 1 NaN .* sample 10"):
        model.fit(X, Y, validation_data=(X, bad_y), verbose=0)
    with pytest.raises(InputError, match=r"^y contains 1 NaN .* sample 10"):  # the user's index, not the split's
        model.fit(X, bad_y, validation_split=0.25, verbose=0)


def test_streams_are_checked_only_when_asked():
    bad = X.copy()
    bad[8, 0] = np.nan

    def gen():
        for i in range(0, N, 4):
            yield bad[i:i + 4], Y[i:i + 4]

    model = _model()
    model.fit(gen(), verbose=0)  # not checked by default: trains on it
    assert np.isnan(model.get_weights()[0]).any()
    with pytest.raises(InputError, match=r"^x of a data batch contains 1 NaN .* sample 0"):
        _model().fit(gen(), check_finite=True, verbose=0)

    class Batches(PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return bad[4 * i:4 * i + 4], Y[4 * i:4 * i + 4]

    with pytest.raises(InputError, match=r"^x of Batches\[2\] contains 1 NaN .* sample 0"):
        _model().fit(Batches(), check_finite=True, shuffle=False, verbose=0)


# -- label values against the loss ------------------------------------------------------------------------

def test_fractional_sparse_labels_refused_int_valued_floats_fine():
    model = _model()
    with pytest.raises(InputError, match=r"Output 'dense.*' \(loss 'sparse_categorical_crossentropy'\) takes integer "
                                         r"class labels, but y has 2 fractional value\(s\), e.g. \[0.5, 1.7"):
        model.fit(X, np.array([0, 1, 2, 0.5, 1.7, 0, 1, 2, 0, 1, 2, 0], "float32"), verbose=0)
    model.fit(X, Y.astype("float32"), verbose=0)  # 0.0, 1.0, 2.0: Keras users do that
    ignoring = _model(loss=losses.SparseCategoricalCrossentropy(ignore_class=-1))
    ignoring.fit(X, np.where(Y == 0, -1, Y), verbose=0)  # the ignored label is not a class
    with pytest.raises(InputError, match=r"fractional value\(s\), e.g. \[0.25\]"):
        ignoring.fit(X, np.array([-1, 0.25] + [1] * (N - 2), "float32"), verbose=0)
    with pytest.raises(InputError, match=r"sparse labels must be in \[0, 2\], but y has labels in \[0, 3\] "
                                         r"\(loss 'sparse_categorical_crossentropy'\)"):
        model.fit(X, np.where(Y == 2, 3, Y), verbose=0)


@pytest.mark.parametrize("loss", ["binary_crossentropy", "binary_focal_crossentropy",
                                  losses.BinaryCrossentropy(label_smoothing=0.1, name="bce_smooth")])
def test_binary_labels_outside_0_1_refused_soft_targets_fine(loss):
    model = _model(units=1, loss=loss, activation="sigmoid")
    name = loss if isinstance(loss, str) else "bce_smooth"
    with pytest.raises(InputError, match=rf"\(loss '{name}'\) takes binary targets in \[0, 1\] .* but y has 4 "
                                         r"value\(s\) outside it, e.g. \[2"):
        model.fit(X, (np.arange(N) % 3).reshape(-1, 1), verbose=0)
    with pytest.raises(InputError, match=r"outside it, e.g. \[-1.0\]"):
        model.evaluate(X, -np.ones((N, 1), "float32"), verbose=0)
    model.fit(X, RNG.uniform(size=(N, 1)).astype("float32"), verbose=0)  # soft targets in [0, 1]
    model.fit(X, (np.arange(N) % 2).astype("float32"), verbose=0)  # (n,) for (n, 1): Keras adds the axis


# -- class_weight -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("class_weight, match", [
    ({0: 1.0, -1: 2.0}, r"class_weight keys must be class indices in \[0, 2\] \(output 'dense.*' has shape "
                        r"\(None, 3\)\), but it has -1\."),
    ({0: 1.0, 3: 2.0, 7: 1.0}, r"in \[0, 2\].*but it has 3, 7\."),
    ({"1": 2.0}, r"but it has '1'\."),
    ({1.5: 2.0}, r"but it has 1.5\."),
    ({1: "heavy"}, r"class_weight\[1\] must be a finite non-negative number, got 'heavy'"),
    ({1: -2.0}, r"class_weight\[1\] must be a finite non-negative number, got -2.0"),
    ({1: float("nan")}, r"class_weight\[1\] must be a finite non-negative number"),
    ([1.0, 2.0, 3.0], r"class_weight must be a dict"),
])
def test_bad_class_weight_refused_before_training(class_weight, match):
    model = _model()
    model.build((None, 4))
    before = model.get_weights()
    with pytest.raises(InputError, match=match):
        model.fit(X, Y, class_weight=class_weight, verbose=0)
    with pytest.raises(InputError, match=match):
        model.train_on_batch(X, Y, class_weight=class_weight)
    _unchanged(model, before)


def test_class_weight_classes_of_binary_and_unknown_outputs():
    binary = _model(units=1, loss="binary_crossentropy", activation="sigmoid")
    with pytest.raises(InputError, match=r"class indices in \[0, 1\].*but it has 2\."):
        binary.fit(X, (Y > 0).astype("float32"), class_weight={0: 1.0, 2: 3.0}, verbose=0)
    binary.fit(X, (Y > 0).astype("float32"), class_weight={0: 1.0, 1: 3.0}, verbose=0)
    regression = _model(units=1, loss="mse", activation=None)  # one value per sample, classes not known:
    regression.fit(X, Y.astype("float32"), class_weight={0: 1.0, 5: 2.0}, verbose=0)  # only non-negative keys
    with pytest.raises(InputError, match=r"keys must be non-negative integers .* but it has -1\."):
        regression.fit(X, Y.astype("float32"), class_weight={-1: 2.0}, verbose=0)


def test_class_weights_match_keras():
    from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights

    cases = [
        (np.array([0, 2, 1, 2, 0]), {0: 0.5, 1: 2.0, 2: 3.0}),
        (np.array([0, 2, 1, 2, 0]), {0.0: 0.5, np.int64(2): 3.0}),  # int-valued floats, NumPy ints, a class left out
        (np.eye(3, dtype="float32")[[0, 2, 1, 1]], {0: 0.5, 1: 2.0, 2: 3.0}),  # one-hot
        (np.array([[0.2], [0.7], [1.0], [0.0]], "float32"), {0: 0.5, 1: 4.0}),  # soft binary targets, rounded
        (np.array([-1, 0, 1, 4]), {0: 0.5, 1: 2.0}),  # an ignored label and one not named weigh 1
    ]
    for y, cw in cases:
        np.testing.assert_allclose(batching.class_weights(cw, y, 1), class_weight_to_sample_weights(y, cw))
    with pytest.raises(InputError, match="non-negative"):
        batching.class_weights({-1: 2.0}, np.array([0, 1, 2]), 1)  # never the last class's weight


# -- target shapes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [N, 3])  # n == 3: Keras broadcasts the batch axis against the outputs, silently
def test_mse_target_missing_an_axis_refused(n):
    model = _model(loss="mse", activation=None)
    with pytest.raises(InputError, match=r"Output 'dense.*' \(loss 'mse'\) has outputs of shape \(None, 3\), but y "
                                         rf"has shape \({n},\): the targets must have the outputs' shape"):
        model.fit(X[:n], Y[:n].astype("float32"), verbose=0)


@pytest.mark.parametrize("loss, y_shape, out_units, ok", [
    ("mse", (N, 1), 3, True),  # an axis of 1 broadcasts, as in Keras
    ("mse", (N, 3), 1, True),
    ("mse", (N, 2), 3, False),
    ("mae", (N, 3, 1), 3, True),  # Keras drops the extra trailing axis of 1
    ("mae", (N, 3, 2), 3, False),
    ("binary_crossentropy", (N,), 1, True),
    ("binary_crossentropy", (N, 1), 3, False),  # Keras: target and output must have the same shape
    ("sparse_categorical_crossentropy", (N, 1), 3, True),
    ("sparse_categorical_crossentropy", (N, 2), 3, False),
    ("sparse_categorical_crossentropy", (N, 3), 3, False),
    ("categorical_crossentropy", (N, 2), 3, False),
    ("kl_divergence", (N, 4), 3, False),
])
def test_target_shapes_against_outputs(loss, y_shape, out_units, ok):
    model = _model(units=out_units, loss=loss, activation="sigmoid")
    y = (np.arange(np.prod(y_shape)) % 2).reshape(y_shape).astype("float32")
    if ok:
        model.fit(X, y, verbose=0)
    else:
        with pytest.raises(InputError, match=rf"\(loss '{loss}'\) has outputs of shape \(None, {out_units}\).*"
                                             rf"y has shape \({', '.join(map(str, y_shape))}\)"):
            model.fit(X, y, verbose=0)


def test_broadcast_target_gives_keras_loss():
    import keras

    model = _model(loss="mse", activation=None)
    y = RNG.normal(size=(N, 1)).astype("float32")
    want = float(keras.losses.MeanSquaredError()(y, model.predict(X, verbose=0)))
    np.testing.assert_allclose(model.evaluate(X, y, verbose=0), want, rtol=1e-5)


def test_target_shapes_checked_in_streamed_batches_and_custom_losses_left_alone():
    def gen():
        yield X[:4], Y[:4].astype("float32")[:, None]
        yield X[4:8], np.zeros((4, 2), "float32")  # the second batch's targets do not fit

    with pytest.raises(InputError, match=r"y has shape \(4, 2\)"):
        _model(loss="mse", activation=None).fit(gen(), verbose=0)

    def first_column(y_true, y_pred):  # a custom loss may read its targets in its own way
        return (y_true[:, 0] - y_pred[:, 0]) ** 2

    _model(units=1, loss=first_column, activation=None).fit(X, np.zeros((N, 5), "float32"), verbose=0)


# -- nested Python lists -----------------------------------------------------------------------------------

def test_rectangular_nested_lists_are_arrays():
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    a.fit(X, Y, batch_size=4, shuffle=False, verbose=0)
    b.fit(X.tolist(), Y.tolist(), batch_size=4, shuffle=False, sample_weight=[1.0] * N, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    np.testing.assert_allclose(a.predict(X.tolist(), verbose=0), a.predict(X, verbose=0))
    np.testing.assert_allclose(a.evaluate(X.tolist(), Y.tolist(), verbose=0), a.evaluate(X, Y, verbose=0))
    assert a.predict_on_batch([[1.0, 2.0, 3.0, 4.0]]).shape == (1, 3)


def test_list_of_arrays_is_still_several_inputs():
    model = _model(inputs=["a", "b"])
    np.testing.assert_allclose(model.predict([X, X], verbose=0), model.predict({"a": X, "b": X}, verbose=0))
    model.fit([X, X], Y.tolist(), verbose=0)


def test_ragged_lists_refused_with_row_lengths():
    model = _model()
    ragged = [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]]
    with pytest.raises(InputError, match=r"^x is a ragged nested list: its rows have lengths \[4, 3, 4\] \(3 rows; "
                                         r"row 1 is the first"):
        model.fit(ragged, [0, 1, 2], verbose=0)
    with pytest.raises(InputError, match=r"lengths \[4, 4, 4, 4, 4, 4, 4, 4, 4, 4, …\] \(30 rows; row 29"):
        model.predict([[0.0] * 4] * 29 + [[0.0] * 5], verbose=0)
    with pytest.raises(InputError, match=r"^y is a nested list that mixes numbers and lists in its rows \(entry 1\)"):
        model.fit(X[:3], [0, [1], 2], verbose=0)
    with pytest.raises(InputError, match=r"rows at depth 2 have lengths \[1, 2\]"):
        model.fit([[[1.0], [1.0, 2.0]]], [0], verbose=0)
