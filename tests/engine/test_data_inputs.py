"""Every kind of input to fit/evaluate/predict gives what the same data as NumPy arrays gives.

The oracle is the array path (shuffle=False, same batches, same initial weights): PyDataset
(one thread and a thread pool), grain MapDataset/IterDataset, a re-iterable of batches, torch
DataLoader and pandas DataFrame/Series, with sample_weight and class_weight; then the errors.
"""

import threading

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError
from kerasish.utils import PyDataset

N, D, K, B, EPOCHS = 36, 3, 3, 8, 2  # 5 batches, the last one partial (4 rows)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype("float32")
    y = np.argmax(x[:, :K] + 0.3 * rng.normal(size=(N, K)), axis=1).astype("int32")
    sw = rng.uniform(0.2, 2.0, size=(N,)).astype("float32")
    return x, y, sw


X, Y, SW = _data()
CLASS_WEIGHT = {0: 0.5, 1: 2.0, 2: 1.0}


def _model():
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(D,)), layers.Dense(K)])
    model.compile(optimizer=kerasish.optimizers.SGD(learning_rate=0.2),
                  loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=1)
    return model


def _batches(x, y=None, sw=None):
    out = []
    for i in range(0, len(x), B):
        s = slice(i, i + B)
        out.append(tuple(a[s] for a in (x, y, sw) if a is not None))
    return out


_ORACLE = {}


def _oracle(weighting: str):
    """History, evaluate logs and predictions of the array path (computed once per weighting)."""
    if weighting not in _ORACLE:
        model = _model()
        sw = SW if weighting == "sample" else None
        cw = CLASS_WEIGHT if weighting == "class" else None
        hist = model.fit(X, Y, batch_size=B, epochs=EPOCHS, shuffle=False, sample_weight=sw, class_weight=cw,
                         verbose=0)
        logs = model.evaluate(X, Y, batch_size=B, sample_weight=sw, return_dict=True, verbose=0)
        _ORACLE[weighting] = (hist.history, logs, model.predict(X, batch_size=B, verbose=0))
    return _ORACLE[weighting]


class Batches(PyDataset):
    """Batches of the module's data by index, counting the hooks and recording fetches."""

    def __init__(self, x, y=None, sw=None, **kwargs):
        super().__init__(**kwargs)
        self.items = _batches(x, y, sw)
        self.begins = self.ends = 0
        self.fetched = []  # (index, thread name)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        self.fetched.append((index, threading.current_thread().name))
        item = self.items[index]
        return item[0] if len(item) == 1 else item

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


class Reiterable:
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


def _make(kind: str, x, y=None, sw=None):
    """``kind`` input holding the batches of (x, y, sw) in order."""
    if kind == "pydataset":
        return Batches(x, y, sw)
    if kind == "pydataset_workers":
        return Batches(x, y, sw, workers=3, max_queue_size=2)
    if kind == "iterable":
        return Reiterable(_batches(x, y, sw))
    if kind in ("grain_map", "grain_iter"):
        grain = pytest.importorskip("grain", reason="grain is an optional dependency (test extra)")
        items = _batches(x, y, sw)
        ds = grain.MapDataset.source(items) if y is not None else grain.MapDataset.source([b[0] for b in items])
        return ds if kind == "grain_map" else ds.to_iter_dataset()
    if kind == "torch":
        torch = pytest.importorskip("torch", reason="torch is optional: DataLoader support is tested where installed")
        from torch.utils.data import DataLoader, TensorDataset

        tensors = [torch.from_numpy(a) for a in (x, y, sw) if a is not None]
        return DataLoader(TensorDataset(*tensors), batch_size=B, shuffle=False)
    raise AssertionError(kind)


KINDS = ["pydataset", "pydataset_workers", "iterable", "grain_map", "grain_iter", "torch"]


def _assert_history(got, expected):
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("weighting", ["none", "sample", "class"])
def test_fit_evaluate_predict_match_arrays(kind, weighting):
    hist_ref, logs_ref, pred_ref = _oracle(weighting)
    sw = SW if weighting == "sample" else None
    data = _make(kind, X, Y, sw)
    model = _model()
    cw = CLASS_WEIGHT if weighting == "class" else None
    hist = model.fit(data, epochs=EPOCHS, shuffle=False, class_weight=cw, verbose=0)
    _assert_history(hist.history, hist_ref)
    logs = model.evaluate(_make(kind, X, Y, sw), return_dict=True, verbose=0)
    for key, value in logs_ref.items():
        assert logs[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    if weighting == "none":
        pred = model.predict(_make(kind, X), verbose=0)
        np.testing.assert_allclose(pred, pred_ref, rtol=1e-5, atol=1e-6)


def test_pydataset_hooks_once_per_pass_and_threads():
    data = Batches(X, Y, workers=3, max_queue_size=2)
    model = _model()
    model.fit(data, epochs=3, shuffle=False, verbose=0)
    assert (data.begins, data.ends) == (3, 3)
    # peek fetches batch 0 once in the caller's thread; the epochs fetch in the pool's threads, in order
    epochs = data.fetched[1:]
    assert [i for i, _ in epochs] == list(range(5)) * 3
    assert all("worker" in name for _, name in epochs)
    val = Batches(X, Y)
    model.fit(data, epochs=2, validation_data=val, shuffle=False, verbose=0)
    assert (data.ends, val.ends) == (5, 2)
    model.predict(Batches(X), verbose=0)
    pred_data = Batches(X)
    model.predict(pred_data, verbose=0)
    assert pred_data.ends == 1


def test_pydataset_shuffle_visits_every_batch_in_a_seeded_order():
    def run():
        data = Batches(X, Y)
        hist = _model().fit(data, epochs=3, verbose=0)  # shuffle=True (the default), as Keras 3
        return [i for i, _ in data.fetched[1:]], hist.history["loss"]

    order, losses = run()
    epochs = [order[i * 5:(i + 1) * 5] for i in range(3)]
    assert all(sorted(e) == list(range(5)) for e in epochs)
    assert any(e != list(range(5)) for e in epochs)
    assert run() == (order, losses)  # set_random_seed fixes the order


def test_infinite_pydataset_needs_steps_and_keeps_counting():
    class Endless(PyDataset):
        def __init__(self):
            super().__init__()
            self.seen = []

        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            self.seen.append(index)
            i = index % 4
            return X[i * B:(i + 1) * B], Y[i * B:(i + 1) * B]

    with pytest.raises(InputError, match="Endless is infinite"):
        _model().fit(Endless(), verbose=0)
    data = Endless()
    _model().fit(data, steps_per_epoch=3, epochs=2, verbose=0)
    assert data.seen[1:] == [0, 1, 2, 3, 4, 5]


def test_dataframe_and_series_match_arrays():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2].astype("float64")})
    labels, weights = pd.Series(Y, name="label"), pd.Series(SW, name="w")
    hist_ref, logs_ref, pred_ref = _oracle("sample")
    model = _model()
    hist = model.fit(frame, labels, sample_weight=weights, batch_size=B, epochs=EPOCHS, shuffle=False, verbose=0)
    _assert_history(hist.history, hist_ref)
    logs = model.evaluate(frame, labels, sample_weight=weights, batch_size=B, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(logs_ref["loss"], rel=1e-6)
    hist_cw = _model().fit(frame, labels, class_weight=CLASS_WEIGHT, batch_size=B, epochs=EPOCHS, shuffle=False,
                           verbose=0)
    _assert_history(hist_cw.history, _oracle("class")[0])
    np.testing.assert_allclose(_model().predict(frame, batch_size=B, verbose=0),
                               _model().predict(X, batch_size=B, verbose=0), rtol=1e-6)


def test_dataframe_validation_split_equals_manual_split():
    pd = pytest.importorskip("pandas")
    frame, labels = pd.DataFrame(X, columns=list("abc")), pd.Series(Y)
    model = _model()
    hist = model.fit(frame, labels, batch_size=B, epochs=2, validation_split=0.25, shuffle=False, verbose=0)
    ref = _model()
    ref_hist = ref.fit(X[:27], Y[:27], batch_size=B, epochs=2, validation_data=(X[27:], Y[27:]), shuffle=False,
                       verbose=0)
    _assert_history(hist.history, ref_hist.history)


def test_dict_of_dataframes_feeds_named_inputs():
    pd = pytest.importorskip("pandas")
    a, b = kerasish.Input(shape=(1,), name="a"), kerasish.Input(shape=(2,), name="b")
    kerasish.utils.set_random_seed(0)
    out = layers.Dense(K)(layers.Concatenate()([a, b]))
    model = kerasish.Model([a, b], out)
    model.compile(optimizer="sgd", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))
    frame = pd.DataFrame(X, columns=["a", "b1", "b2"])
    pred = model.predict({"a": frame[["a"]], "b": frame[["b1", "b2"]]}, verbose=0)
    np.testing.assert_allclose(pred, model.predict({"a": X[:, :1], "b": X[:, 1:]}, verbose=0), rtol=1e-6)


# -- errors ---------------------------------------------------------------------------------------------

def test_pydataset_errors_name_the_dataset_and_index():
    class Broken(Batches):
        def __getitem__(self, index):
            if index == 2:
                raise KeyError("missing file")
            return super().__getitem__(index)

    with pytest.raises(InputError, match=r"Broken.__getitem__\(2\) raised KeyError: 'missing file'"):
        _model().fit(Broken(X, Y, workers=2), shuffle=False, verbose=0)

    class Four(Batches):
        def __getitem__(self, index):
            return [X[:B], Y[:B], SW[:B], SW[:B]]

    with pytest.raises(InputError, match=r"Four\[0\] must be \(x,\), \(x, y\) or \(x, y, sample_weight\); "
                                         r"got a list of 4 items"):
        _model().fit(Four(X, Y), verbose=0)

    class Strings(Batches):
        def __getitem__(self, index):
            return X[:B], np.array(["a"] * B)

    with pytest.raises(InputError, match="y must be numeric"):
        _model().fit(Strings(X, Y), verbose=0)


def test_pydataset_constructor_errors():
    with pytest.raises(ConfigError, match="use_multiprocessing=True is not supported"):
        Batches(X, Y, use_multiprocessing=True)
    with pytest.raises(ConfigError, match="workers must be a non-negative integer, got -1"):
        Batches(X, Y, workers=-1)
    with pytest.raises(ConfigError, match="max_queue_size must be a positive integer, got 0"):
        Batches(X, Y, max_queue_size=0)

    class NoSuper(PyDataset):
        def __init__(self):  # forgets super().__init__()
            self.items = [(X, Y)]

        def __len__(self):
            return 1

    with pytest.warns(UserWarning, match="NoSuper should call super"):
        assert NoSuper().workers == 1


@pytest.mark.parametrize("kind, name", [("pydataset", "PyDataset"), ("grain_map", "grain"),
                                        ("iterable", "Reiterable"), ("torch", "torch DataLoader")])
def test_validation_split_and_extra_args_name_the_input_type(kind, name):
    model = _model()
    with pytest.raises(InputError, match=f"validation_split is only supported for array inputs, but x is .*{name}"):
        model.fit(_make(kind, X, Y), validation_split=0.2, verbose=0)
    if kind != "iterable":
        with pytest.raises(InputError, match=f"{name}.*y must be None"):
            model.fit(_make(kind, X, Y), Y, verbose=0)
    with pytest.raises(InputError, match="sample_weight must be None"):
        model.fit(_make(kind, X, Y), sample_weight=SW, verbose=0)


def test_bad_dataframes():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": X[:, 0], "city": ["x"] * N, "b": X[:, 1]})
    with pytest.raises(InputError, match=r"x is a DataFrame with non-numeric column\(s\) 'city' \((str|object)\)"):
        _model().fit(frame, Y, verbose=0)
    with pytest.raises(InputError, match=r"y is a Series 'label' of non-numeric dtype"):
        _model().fit(X, pd.Series(["a"] * N, name="label"), verbose=0)
    with pytest.raises(InputError, match="non-numeric column"):
        _model().fit(frame, Y, validation_split=0.2, verbose=0)


def test_grain_batches_must_be_tuples():
    grain = pytest.importorskip("grain", reason="grain is an optional dependency (test extra)")
    ds = grain.MapDataset.source([{"x": X[:B]}])
    with pytest.raises(InputError, match=r"A batch of a grain dataset \(.*\) must be a tuple"):
        _model().fit(ds, verbose=0)

