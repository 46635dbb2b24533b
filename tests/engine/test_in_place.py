"""Arrays read where they lie on the CPU (kerasish.engine.in_place).

On the CPU, fused calls over rows in order, and resident placement, hand JAX a view of the arrays' own memory from
the 64-byte boundary at or before the first element they need, so nothing is copied. The oracles: NumPy's own
indexing of the array for the rows a view gives; the copying path (staging buffers, ``in_place.ENABLED = False``)
for fit, validation, evaluate and predict, to the bit; the array's own address for "not copied".
"""

import gc

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import in_place, resident, staging


def _at(shift: int, shape=(37, 5), dtype="float32", seed=0):
    """An array of ``shape`` whose data starts ``shift`` bytes after a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = staging.aligned_empty((nbytes + 128,), np.uint8)
    a = raw[shift:shift + nbytes].view(dtype).reshape(shape)
    a[...] = np.random.default_rng(seed).normal(size=shape) * 100
    assert a.ctypes.data % 64 == shift
    return a


def _rows_and_block(placed, rows, start, size):
    rows = jax.jit(lambda p, r: p.rows(r))(placed, jax.numpy.asarray(rows, "int32"))
    block = jax.jit(lambda p, s: p.block(s, size))(placed, np.int32(start))
    return np.asarray(rows), np.asarray(block)


@pytest.mark.parametrize("shift", [0, 4, 16, 20, 60])
def test_a_placed_array_is_its_own_memory_and_gives_its_rows(shift):
    a = _at(shift)
    placed = resident.place(a)
    assert isinstance(placed, in_place.InPlace)
    assert placed.flat.unsafe_buffer_pointer() == a.ctypes.data - shift  # not a copy: the array's own memory
    assert int(placed.offset) == shift // 4
    rows = [36, 0, 5, 5, 17]
    got_rows, got_block = _rows_and_block(placed, rows, 11, 9)
    assert got_rows.tobytes() == a[rows].tobytes()
    assert got_block.tobytes() == a[11:20].tobytes()


def _odd_address():
    raw = staging.aligned_empty((37 * 5 * 4 + 64,), np.uint8)
    a = np.ndarray((37, 5), np.float32, buffer=raw.data, offset=3)  # 3 bytes past a boundary: no whole element
    a[...] = np.arange(37 * 5, dtype=np.float32).reshape(37, 5)
    return a


@pytest.mark.parametrize("make", [
    _odd_address,                                                # an address not a multiple of 4
    lambda: _at(16, shape=(37, 10))[:, ::2],                     # not contiguous
    lambda: _at(8, dtype="float64"),                             # converted by JAX (no float64 without x64)
    lambda: _at(24, shape=(37,), dtype="int64") // 7,            # labels, one number a row
    lambda: _at(44, shape=(37, 2, 3)),                           # rows of two dimensions
])
def test_any_array_gives_its_rows(make):
    a = make()
    placed = resident.place(a)
    rows = [3, 36, 0, 9]
    got_rows, got_block = _rows_and_block(placed, rows, 30, 7)
    expected = np.asarray(jax.numpy.asarray(a))  # the values JAX keeps (float64 -> float32, int64 -> int32)
    np.testing.assert_array_equal(got_rows, expected[rows])
    np.testing.assert_array_equal(got_block, expected[30:37])


def test_a_placed_array_keeps_the_memory_it_reads_alive():
    placed = resident.place(_at(20, seed=3))  # nothing else refers to the array
    expected = _at(20, seed=3).copy()
    gc.collect()
    garbage = [np.full((37, 5), -1.0, np.float32) for _ in range(50)]  # memory freed now would be reused here
    _, block = _rows_and_block(placed, [0], 0, 37)
    assert block.tobytes() == expected.tobytes()
    del garbage


def test_unshuffled_order_is_none_on_one_device_and_shuffled_order_a_vector():
    assert resident.order_on_device(None, 10) is None
    np.testing.assert_array_equal(resident.order_on_device(np.array([2, 0, 1]), 3), [2, 0, 1])


@pytest.fixture
def views(monkeypatch):
    """The views fused calls take (each one's flat length)."""
    taken = []
    original = in_place.view

    def view(a, *args, **kwargs):
        out = original(a, *args, **kwargs)
        if out is not None:
            taken.append((a.ctypes.data, out.flat.shape[0], out.lead, out.flat.unsafe_buffer_pointer()))
        return out

    monkeypatch.setattr(in_place, "view", view)
    return taken


def _run(enabled, monkeypatch, x, y, **fit_kwargs):
    """fit (with validation), evaluate with sample weights and predict, fused calls over views (``enabled``) or
    over copies (the host path's staging: the oracle)."""
    monkeypatch.setattr(in_place, "ENABLED", enabled)
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([layers.Input((5,)), layers.Dense(8, activation="relu"), layers.Dense(3)])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], steps_per_execution=4)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x[:120], y[:120]),
                        **fit_kwargs).history
    weights = np.linspace(0.2, 3.0, len(x)).astype("float32")
    evaluation = model.evaluate(x, y, sample_weight=weights, batch_size=16, verbose=0, return_dict=True)
    return history, evaluation, model.predict(x, batch_size=16, verbose=0)


@pytest.mark.parametrize("shuffle", [True, False])
def test_fused_calls_over_ordered_arrays_read_them_in_place_bitwise_the_copying_path(shuffle, views, monkeypatch):
    x, y = _at(16, shape=(200, 5)), (np.arange(200) % 3).astype("int32")
    history, evaluation, predictions = _run(True, monkeypatch, x, y, shuffle=shuffle)
    assert views, "no fused call took a view"
    of_x = [pointer for address, _, _, pointer in views if address == x.ctypes.data]
    # validation, evaluate and predict (and an unshuffled fit's epochs) read x itself: every view lies in its memory
    assert len(of_x) == (2 + 3 + 3 + (6 if not shuffle else 0))  # 120/16 -> 1 call of 4 (x2); 200/16 -> 3 calls
    assert all(x.ctypes.data - 64 < p <= x.ctypes.data + x.nbytes for p in of_x)
    assert {lead for _, _, lead, _ in views} == {(4, 16)}  # whole k-step calls of full batches only
    taken = len(views)
    host = _run(False, monkeypatch, x, y, shuffle=shuffle)
    assert len(views) == taken  # the oracle took none
    assert history == host[0] and evaluation == host[1]
    assert predictions.tobytes() == host[2].tobytes()


def test_a_views_length_depends_on_the_call_not_on_the_data(views):
    # (so predict on a new number of samples compiles nothing new: tests/engine/test_infer_speedpaths.py)
    for shift in (0, 4, 16, 60):
        for n in (64, 100, 131):
            a = _at(shift, shape=(n, 5))
            for first in range(0, n - 15, 16):
                assert in_place.view(a, first, first + 16, (2, 8)) is not None
    lengths = {length for _, length, _, _ in views}
    assert len(lengths) <= 2 and min(lengths) >= 16 * 5 and max(lengths) <= 16 * 5 + 2 * 16


def test_nothing_is_kept_across_calls_an_array_changed_between_them_is_read_anew():
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([layers.Input((5,)), layers.Dense(3)])
    model.compile(loss="mse", steps_per_execution=4)
    x, y = _at(20, shape=(128, 5)), np.zeros((128, 3), np.float32)
    first = model.predict(x, batch_size=16, verbose=0)
    x *= 2.0  # in place, between the calls
    second = model.predict(x, batch_size=16, verbose=0)
    np.testing.assert_allclose(second - model.layers[-1].bias.numpy(), 2 * (first - model.layers[-1].bias.numpy()),
                               rtol=1e-5, atol=1e-4)
    assert model.evaluate(x, y, batch_size=16, verbose=0) == pytest.approx(float(np.mean(second ** 2)), rel=1e-5)
