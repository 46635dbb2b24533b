"""Issue 16's audit of bad input, engine side: batch sizes beyond the data, integer widths and dtypes,
sample_weight against the outputs, fit/evaluate/predict arguments, validation_data kinds, non-numeric nested
lists, callbacks given as one object."""

import tracemalloc

import jax
import ml_dtypes
import numpy as np
import pytest

import kerasish
from kerasish import distribution as distribution_mod
from kerasish import layers
from kerasish.engine import adapters
from kerasish.errors import ConfigError, InputError

RNG = np.random.default_rng(0)
X = RNG.random((8, 4)).astype("float32")
Y = RNG.random((8, 1)).astype("float32")


def _model(units=1, loss="mse", seed_from=None):
    m = kerasish.Sequential([kerasish.Input((4,)), layers.Dense(units)])
    m.compile("sgd", loss)
    if seed_from is not None:
        m.set_weights(seed_from.get_weights())
    return m


# -- 1. batch_size beyond the data ---------------------------------------------------------------------------

def test_huge_batch_size_is_one_batch_of_all_samples():
    start = _model()
    a, b = _model(seed_from=start), _model(seed_from=start)
    ha = a.fit(X, Y, batch_size=8, shuffle=False, verbose=0, validation_data=(X, Y))
    tracemalloc.start()
    hb = b.fit(X, Y, batch_size=4 * 10**6, shuffle=False, verbose=0, validation_data=(X, Y),
               validation_batch_size=4 * 10**6)
    pb = b.predict(X, batch_size=4 * 10**6, verbose=0)
    eb = b.evaluate(X, Y, batch_size=4 * 10**6, verbose=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20  # (padding 8 rows to 4e6 would take 64 MB for x alone; 10**9: 15 GiB)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert ha.history["val_loss"] == pytest.approx(hb.history["val_loss"], rel=1e-6)
    np.testing.assert_allclose(pb, a.predict(X, batch_size=8, verbose=0), rtol=1e-6, atol=1e-7)
    assert eb == pytest.approx(a.evaluate(X, Y, batch_size=8, verbose=0), rel=1e-6)


def test_array_data_batch_size_is_clamped_to_the_samples(monkeypatch):
    data = adapters.ArrayData(X, Y, batch_size=10**9)
    assert (data.batch_size, data.steps, data.decision_key()[0]) == (8, 1, 8)
    assert adapters.ArrayData(X, Y, batch_size=3).batch_size == 3

    class FourDevices:  # a distribution splitting each batch over 4 devices: batches stay multiples of 4
        batch_shards = 4

        def check_batch_size(self, size):
            assert size % 4 == 0

    monkeypatch.setattr(distribution_mod, "distribution", lambda: FourDevices())
    assert adapters.ArrayData(X[:6], Y[:6], batch_size=64).batch_size == 8
    assert adapters.ArrayData(X[:6], Y[:6], batch_size=4).batch_size == 4


def test_huge_batch_size_under_a_one_device_distribution():
    dist = distribution_mod.DataParallel(devices=jax.devices()[:1])
    start = _model()
    a, b = _model(seed_from=start), _model(seed_from=start)
    a.fit(X, Y, batch_size=8, shuffle=False, verbose=0)
    with dist.scope():
        b.fit(X, Y, batch_size=4 * 10**6, shuffle=False, verbose=0)
        assert b.predict(X, batch_size=4 * 10**6, verbose=0).shape == (8, 1)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


# -- 2. dtypes: wide integers, complex, bfloat16 -----------------------------------------------------------------

def test_int64_beyond_int32_keeps_its_magnitude():
    m = kerasish.Sequential([kerasish.Input((4,)), layers.Dense(1, kernel_initializer="ones", use_bias=False)])
    for dtype in (np.int64, np.uint64):
        out = m.predict(np.full((1, 4), 2**40, dtype), verbose=0)
        assert out[0, 0] == pytest.approx(4 * 2.0**40, rel=1e-6)  # (wrapped to int32 it was 0)
    small = np.array([[1, -2, 3, 4]], np.int64)
    assert adapters.to_numpy_struct(small, "x").dtype == np.int32
    assert adapters.to_numpy_struct(np.array([[2**40]], np.int64), "x").dtype == np.float32


def test_sparse_labels_beyond_int32_are_refused_not_wrapped():
    m = _model(units=3, loss="sparse_categorical_crossentropy")
    y = np.array([0, 1, 2, 0, 1, 2**32 + 1, 0, 1], np.int64)  # 2**32 + 1 wraps to 1 as int32
    with pytest.raises(InputError, match=r"sparse labels must be in \[0, 2\].*4294967296"):
        m.fit(X, y, verbose=0)


def test_complex_input_is_refused():
    with pytest.raises(InputError, match="x must be numeric.*complex64.*imaginary"):
        _model().fit(X.astype(np.complex64), Y, verbose=0)


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16])
def test_half_precision_input_trains_like_float32(dtype):
    xh = X.astype(dtype)
    start = _model()
    a, b = _model(seed_from=start), _model(seed_from=start)
    a.fit(xh.astype(np.float32), Y, batch_size=4, shuffle=False, verbose=0)  # the same values, in float32
    b.fit(xh, Y, batch_size=4, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


# -- 4. sample_weight against the outputs ---------------------------------------------------------------------

def _two_outputs():
    inp = kerasish.Input((4,))
    m = kerasish.Model(inp, [layers.Dense(1, name="o1")(inp), layers.Dense(1, name="o2")(inp)])
    m.compile("sgd", ["mse", "mse"])
    return m


@pytest.mark.parametrize("sw, match", [
    ([np.ones(8)] * 3, r"list of 3 arrays, but model .* has 2 output"),
    ([np.ones(8)], r"list of 1 arrays, but model .* has 2 output"),
    ({"o1": np.ones(8), "o3": np.ones(8)}, r"unknown: \['o3'\]"),
    ([np.ones(8), np.ones((8, 3))], r"Output 'o2' has outputs of shape \(None, 1\).*shape \(8, 3\)"),
])
def test_sample_weight_structure_is_checked_before_any_step(sw, match):
    m = _two_outputs()
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(InputError, match=match):
        m.fit(X, [Y, Y], sample_weight=sw, verbose=0)
    for w0, w1 in zip(before, m.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_sample_weight_structures_keras_accepts():
    m = _two_outputs()
    m.fit(X, [Y, Y], sample_weight={"o1": np.ones(8)}, verbose=0)  # o2 unweighted
    m.fit(X, [Y, Y], sample_weight=[np.ones(8), np.ones((8, 1))], verbose=0)
    single = _model()
    for sw in ([np.ones(8)], np.ones((8, 1, 1)), np.ones(8)):
        single.fit(X, Y, sample_weight=sw, verbose=0)
    temporal = kerasish.Sequential([kerasish.Input((5, 4)), layers.Dense(2)])
    temporal.compile("sgd", "mse")
    xt, yt = RNG.random((8, 5, 4)).astype("float32"), RNG.random((8, 5, 2)).astype("float32")
    for sw in (np.ones((8, 5)), np.ones((8, 5, 1)), np.ones((8, 1)), np.ones(8)):  # what Keras 3 accepts
        temporal.fit(xt, yt, sample_weight=sw, verbose=0)
    for sw in (np.ones((8, 5, 2)), np.ones((8, 3))):  # what Keras 3 refuses
        with pytest.raises(InputError, match=r"sample_weight must have shape \(None,\) or \(None, 1\) or "
                                             r"\(None, 5\)"):
            temporal.fit(xt, yt, sample_weight=sw, verbose=0)


@pytest.mark.parametrize("call", ["evaluate", "validation", "train_on_batch"])
def test_sample_weight_shape_is_checked_everywhere(call):
    m, bad = _model(), np.ones((8, 3))
    with pytest.raises(InputError, match=r"Output 'dense.*' has outputs of shape \(None, 1\).*\(8, 3\)"):
        if call == "evaluate":
            m.evaluate(X, Y, sample_weight=bad, verbose=0)
        elif call == "validation":
            m.fit(X, Y, validation_data=(X, Y, bad), verbose=0)
        else:
            m.train_on_batch(X, Y, sample_weight=bad)


# -- 7. fit's, evaluate's and predict's step and epoch arguments -----------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"steps_per_epoch": 0}, "steps_per_epoch must be a positive integer or None, got 0"),
    ({"steps_per_epoch": -1}, "steps_per_epoch must be a positive integer or None, got -1"),
    ({"steps_per_epoch": 1.5}, "steps_per_epoch must be a positive integer or None, got 1.5"),
    ({"validation_steps": 0, "validation_data": (X, Y)}, "validation_steps must be a positive integer"),
    ({"validation_freq": 0, "validation_data": (X, Y)}, "validation_freq must be a positive integer"),
    ({"validation_freq": [0, 2], "validation_data": (X, Y)}, "validation_freq must be a positive integer"),
    ({"validation_freq": 1.0, "validation_data": (X, Y)}, "validation_freq must be a positive integer"),
    ({"validation_batch_size": 0, "validation_data": (X, Y)}, "validation_batch_size must be a positive integer"),
    ({"initial_epoch": -1}, "initial_epoch must be a non-negative integer, got -1"),
    ({"initial_epoch": 0.5}, "initial_epoch must be a non-negative integer, got 0.5"),
    ({"verbose": "loud"}, r"verbose must be 'auto', 0, 1 or 2, got 'loud'"),
    ({"verbose": -1}, r"verbose must be 'auto', 0, 1 or 2, got -1"),
    ({"validation_split": "0.2"}, r"validation_split must be a number in \[0, 1\), got '0.2'"),
])
def test_bad_fit_arguments_are_config_errors(kwargs, match):
    m = _model()
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(ConfigError, match=match):
        m.fit(X, Y, **{"verbose": 0, **kwargs})
    for w0, w1 in zip(before, m.get_weights()):
        np.testing.assert_array_equal(w0, w1)


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps must be a positive integer or None, got 0"),
    ({"steps": 2.5}, "steps must be a positive integer or None, got 2.5"),
    ({"verbose": "loud"}, "verbose must be 'auto', 0, 1 or 2"),
])
def test_bad_evaluate_predict_arguments(method, kwargs, match):
    m = _model()
    args = (X, Y) if method == "evaluate" else (X,)
    with pytest.raises(ConfigError, match=match):
        getattr(m, method)(*args, **{"verbose": 0, **kwargs})


def test_good_step_arguments_still_work():
    m = _model()
    seen = []

    class Count(kerasish.callbacks.Callback):
        def on_test_end(self, logs=None):
            seen.append(self.model.name)

    h = m.fit(X, Y, batch_size=2, steps_per_epoch=np.int64(2), epochs=4, validation_data=(X, Y),
              validation_freq=[2, 4], validation_batch_size=np.int32(4), initial_epoch=1, verbose=2,
              callbacks=Count(), validation_split=0)
    assert len(h.history["loss"]) == 3 and len(h.history["val_loss"]) == 2 and len(seen) == 2
    assert m.fit(X, Y, validation_freq=np.int64(1), validation_data=(X, Y), verbose=0).history["val_loss"]


# -- 8. validation_data of the wrong kind --------------------------------------------------------------------

@pytest.mark.parametrize("vd, what", [(X, "ndarray"), ({"x": X, "y": Y}, "dict"), ((X,), "tuple of 1 items"),
                                      ([X, Y, Y, Y], "list")])
def test_validation_data_of_the_wrong_kind(vd, what):
    with pytest.raises(InputError, match=rf"validation_data must be a tuple \(x_val, y_val.*got a {what}"):
        _model().fit(X, Y, validation_data=vd, verbose=0)


def test_validation_data_as_a_list_is_unpacked_like_a_tuple():
    start = _model()
    a, b = _model(seed_from=start), _model(seed_from=start)
    va = a.fit(X, Y, validation_data=(X[:4], Y[:4]), shuffle=False, verbose=0).history["val_loss"]
    vb = b.fit(X, Y, validation_data=[X[:4], Y[:4]], shuffle=False, verbose=0).history["val_loss"]
    assert va == pytest.approx(vb)


# -- 10. nested lists of non-numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad, where", [(None, r"x\[3\]\[1\] \(None\)"), ("a", r"x\[3\]\[1\] \('a'\)")])
def test_non_numeric_nested_list_names_the_value(bad, where):
    rows = X.tolist()
    rows[3][1] = bad
    with pytest.raises(InputError, match=rf"x is a nested list holding a non-number at {where}"):
        _model().fit(rows, Y, verbose=0)


def test_non_numeric_nested_list_in_y():
    ys = Y.tolist()
    ys[5][0] = None
    with pytest.raises(InputError, match=r"y is a nested list holding a non-number at y\[5\]\[0\] \(None\)"):
        _model().fit(X, ys, verbose=0)


# -- 11a. callbacks as one object ------------------------------------------------------------------------------

def test_a_single_callback_is_accepted_and_nested_lists_flattened():
    seen = []

    class Count(kerasish.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    _model().fit(X, Y, epochs=2, callbacks=Count(), verbose=0)
    _model().fit(X, Y, epochs=1, callbacks=[[Count()], (Count(),)], verbose=0)
    assert seen == [0, 1, 0, 0]


@pytest.mark.parametrize("cbs, match", [([3], r"callbacks\[0\] is a builtins.int"),
                                        ([[None]], r"callbacks\[0\]\[0\] is a builtins.NoneType"),
                                        ("history", "callbacks must be a Callback or a list of them, got str")])
def test_callbacks_that_are_not_callbacks(cbs, match):
    with pytest.raises(ConfigError, match=match):
        _model().fit(X, Y, callbacks=cbs, verbose=0)
