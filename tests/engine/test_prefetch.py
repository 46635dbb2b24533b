"""The background prefetch of streamed inputs (kerasish.engine.prefetch).

The oracle is the same fit with prefetching off (``kerasish.config.set_prefetch(0)``): the same weights, bit for
bit, on generators, re-iterables and PyDatasets, single and fused steps; then errors, early ends and threads.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import prefetch
from kerasish.errors import ConfigError, InputError
from kerasish.utils import PyDataset

D, K, B = 3, 3, 8
MAIN = threading.main_thread().name


@pytest.fixture(autouse=True)
def _depth(monkeypatch):
    monkeypatch.setattr(kerasish.config, "_PREFETCH", 2)  # (the default is 0 on the CPU: see test_settings)


def _batch(i: int, rows: int = B):
    rng = np.random.default_rng(i)
    x = rng.normal(size=(rows, D)).astype("float32")
    return x, (np.argmax(x, axis=1) + i) % K


class Source:
    """A one-shot iterator of batch ``i`` after ``i``: records who pulled each and how many were pulled; refuses
    to be run by two threads at once. ``fail``: ``{i: exception}`` raised instead of batch ``i``; ``hook(i)``
    runs before batch ``i`` is made."""

    def __init__(self, n=None, fail=None, hook=None, rows=None):
        self.n, self.fail, self.hook, self.rows = n, fail or {}, hook, rows or {}
        self.pulled, self.threads, self._busy = 0, [], threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        if not self._busy.acquire(blocking=False):
            raise AssertionError("the iterator was run by two threads at once")
        try:
            i = self.pulled
            if self.n is not None and i >= self.n:
                raise StopIteration
            if self.hook is not None:
                self.hook(i)
            self.pulled += 1
            self.threads.append(threading.current_thread().name)
            if i in self.fail:
                raise self.fail[i]
            return _batch(i, self.rows.get(i, B))
        finally:
            self._busy.release()


class Reiterable:
    """A dataset that starts again at each ``iter`` (the 5th batch short: padded)."""

    def __init__(self, batches):
        self.batches, self.threads = batches, []

    def __iter__(self):
        for b in self.batches:
            self.threads.append(threading.current_thread().name)
            yield b


class Batches(PyDataset):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n, self.threads = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.threads.append(threading.current_thread().name)
        return _batch(i)


def _model(spe=1):
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(D,)), layers.Dense(8, activation="relu"), layers.Dense(K)])
    model.compile(optimizer=kerasish.optimizers.Adam(learning_rate=0.05),
                  loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True), steps_per_execution=spe)
    return model


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


def _same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def _fit(make_data, depth, spe=1, **kwargs):
    kerasish.config.set_prefetch(depth)
    model, data = _model(spe), make_data()
    hist = model.fit(data, verbose=0, **kwargs)
    return model, data, hist


class Recorder(kerasish.callbacks.Callback):
    """What the source had pulled when each batch ended; ``at``: ``{batch: fn}`` run at that batch's end."""

    def __init__(self, source=None, at=None):
        super().__init__()
        self.source, self.at, self.pulled = source, at or {}, []

    def on_train_batch_end(self, batch, logs=None):
        if self.source is not None:
            self.pulled.append(self.source.pulled)
        if batch in self.at:
            self.at[batch](self)


SOURCES = {
    "generator": (lambda: Source(), {"steps_per_epoch": 4, "epochs": 3}),
    "one-shot to its end": (lambda: Source(n=11), {"epochs": 2}),
    "re-iterable": (lambda: Reiterable([_batch(i, B if i < 4 else 5) for i in range(5)]), {"epochs": 2}),
    "PyDataset": (lambda: Batches(6), {"epochs": 2, "shuffle": True}),
    "PyDataset with workers": (lambda: Batches(6, workers=3, max_queue_size=3), {"epochs": 2, "shuffle": True}),
}


@pytest.mark.parametrize("spe", [1, 2])
@pytest.mark.parametrize("kind", list(SOURCES))
def test_the_same_weights_as_without_prefetch(kind, spe):
    make, kwargs = SOURCES[kind]
    off, off_data, off_hist = _fit(make, 0, spe, **kwargs)
    on, on_data, on_hist = _fit(make, 2, spe, **kwargs)
    _same(_weights(on), _weights(off))
    assert on_hist.history == off_hist.history
    threads = getattr(on_data, "threads", None)
    if threads is not None:  # the batches were made on the prefetch thread (a pool's by its workers)
        assert "kerasish-prefetch" not in set(off_data.threads)
        assert ("kerasish-prefetch" in set(threads)) == ("workers" not in kind)


def test_evaluate_and_predict_prefetch_too():
    model = _model()
    model.fit(Source(), steps_per_epoch=3, verbose=0)
    results = {}
    for depth in (0, 2):
        kerasish.config.set_prefetch(depth)
        source, pred_source = Source(n=5), Source(n=5)
        loss = model.evaluate(source, verbose=0)
        pred = model.predict((x for x, _ in pred_source), verbose=0)
        results[depth] = (loss, pred, set(source.threads[1:]), set(pred_source.threads[1:]))
    assert results[0][0] == results[2][0]
    np.testing.assert_array_equal(results[0][1], results[2][1])
    assert results[0][2] == results[0][3] == {MAIN}
    assert results[2][2] == results[2][3] == {"kerasish-prefetch"}


# -- errors surface on the fit's thread, at their batch ---------------------------------------------------------


@pytest.mark.parametrize("spe", [1, 2])
def test_a_generator_error_is_raised_after_the_batches_before_it(spe):
    trained = {}
    for depth in (0, 2):
        source, rec = Source(fail={5: ValueError("no batch 5 today")}), Recorder()
        kerasish.config.set_prefetch(depth)
        model = _model(spe)
        rec.ended = []
        rec.at = {i: (lambda r, i=i: r.ended.append(i)) for i in range(10)}
        with pytest.raises(ValueError, match="no batch 5 today"):
            model.fit(source, steps_per_epoch=8, epochs=1, verbose=0, callbacks=[rec])
        trained[depth] = (rec.ended, _weights(model))
    assert trained[2][0] == trained[0][0] == ([0, 1, 2, 3, 4] if spe == 1 else [0, 1, 2, 3])
    _same(trained[2][1], trained[0][1])


def _nan_at(i):
    x, y = _batch(i)
    x[1, 2] = np.nan
    return x, y


@pytest.mark.parametrize("bad, error, message", [
    (_nan_at, InputError, "NaN"),
    (lambda i: (np.zeros((B, D + 2), "float32"), _batch(i)[1]), InputError, "shape"),
])
def test_a_bad_batch_is_the_same_error_at_its_batch(bad, error, message):
    class Bad(Source):
        def __next__(self):
            item = super().__next__()
            return bad(self.pulled - 1) if self.pulled == 4 else item

    messages = {}
    for depth in (0, 2):
        kerasish.config.set_prefetch(depth)
        rec = Recorder()
        rec.ended = []
        rec.at = {i: (lambda r, i=i: r.ended.append(i)) for i in range(10)}
        with pytest.raises(error, match=message) as info:
            _model().fit(Bad(), steps_per_epoch=6, verbose=0, check_finite=True, callbacks=[rec])
        assert rec.ended == [0, 1, 2]
        messages[depth] = re.sub(r"_\d+'", "'", str(info.value))  # (the model's name is numbered)
    assert messages[0] == messages[2]


def test_a_pydataset_error_stays_an_input_error():
    class Broken(Batches):
        def __getitem__(self, i):
            if i == 3:
                raise KeyError("lost")
            return super().__getitem__(i)

    with pytest.raises(InputError, match=r"Broken.__getitem__\(3\) raised KeyError"):
        _model().fit(Broken(5), shuffle=False, verbose=0)


# -- one-shot generators, how far ahead, and the thread's end ---------------------------------------------------


def test_epochs_of_a_one_shot_generator_pull_only_their_batches():
    results = {}
    for depth in (0, 2):
        kerasish.config.set_prefetch(depth)
        source = Source()
        rec = Recorder(source)
        _model().fit(source, steps_per_epoch=3, epochs=3, verbose=0, callbacks=[rec])
        assert rec.pulled[2::3] == [3, 6, 9]  # nothing pulled beyond an epoch's end: nothing lost to the next
        second = _model()  # a second fit continues where the first stopped
        second.fit(source, steps_per_epoch=2, verbose=0)
        results[depth] = (_weights(second), source.pulled)
    _same(results[0][0], results[2][0])
    assert results[0][1] == results[2][1] == 11


def _wait_for(predicate, what: str):
    deadline = time.monotonic() + 20
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited 20 s for {what}")
        time.sleep(0.005)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_it_works_ahead_by_its_depth_and_no_further(depth):
    kerasish.config.set_prefetch(depth)
    source = Source()
    rec = Recorder(source)

    def at_batch(i):
        def check(r):
            _wait_for(lambda: source.pulled >= i + 1 + depth, f"{depth} batches made ahead")  # it does work ahead
            time.sleep(0.05)
            assert source.pulled == i + 1 + depth  # and no further
        return check

    rec.at = {i: at_batch(i) for i in range(5)}
    _model().fit(source, steps_per_epoch=12, verbose=0, callbacks=[rec])


def test_a_pydataset_works_ahead_by_its_max_queue_size():
    kerasish.config.set_prefetch(2)
    data = Batches(12, max_queue_size=5)
    rec = Recorder(at={0: lambda r: _wait_for(lambda: len(data.threads) >= 1 + 1 + 5, "5 batches ahead")})
    _model().fit(data, shuffle=False, verbose=0, callbacks=[rec])
    kerasish.config.set_prefetch(0)  # off: for PyDatasets too
    data = Batches(4, max_queue_size=5)
    _model().fit(data, shuffle=False, verbose=0)
    assert set(data.threads) == {MAIN}


def _stop(r):
    r.model.stop_training = True


def _raise(error):
    def at(r):
        raise error
    return at


@pytest.mark.parametrize("end", ["stop_training", "error", "ctrl-c"])
def test_the_thread_stops_with_the_fit(end):
    before = threading.active_count()
    source = Source()
    action = {"stop_training": _stop, "error": _raise(RuntimeError("a callback failed")),
              "ctrl-c": _raise(KeyboardInterrupt())}[end]
    rec = Recorder(source, at={2: action})
    if end == "stop_training":
        _model().fit(source, steps_per_epoch=100, verbose=0, callbacks=[rec])
    else:
        with pytest.raises((RuntimeError, KeyboardInterrupt)):
            _model().fit(source, steps_per_epoch=100, verbose=0, callbacks=[rec])
    assert threading.active_count() == before  # joined: no thread left behind
    pulled = source.pulled
    assert pulled <= 3 + 2
    time.sleep(0.05)
    assert source.pulled == pulled  # and nothing pulls the iterator any more


def test_ctrl_c_while_the_thread_waits_for_a_slow_generator():
    def slow(i):
        if i == 4:  # Ctrl-C while the prefetch thread is inside the user's generator
            released = threading.Event()
            threading.Timer(0.3, released.set).start()
            os.kill(os.getpid(), signal.SIGINT)
            released.wait()

    before = threading.active_count()
    source = Source(hook=slow)
    with pytest.raises(KeyboardInterrupt):
        _model().fit(source, steps_per_epoch=100, verbose=0)
    assert threading.active_count() == before  # the fit waited for the generator to return, then the thread ended
    assert source.pulled == 5  # and it pulled nothing more


def test_one_iterator_as_training_and_validation_data_is_never_run_by_two_threads():
    results = {}
    for depth in (0, 2):
        kerasish.config.set_prefetch(depth)
        source = Source()
        model = _model()
        hist = model.fit(source, steps_per_epoch=4, epochs=3, validation_data=source, validation_steps=2, verbose=0)
        results[depth] = (_weights(model), hist.history, source.pulled)
    _same(results[0][0], results[2][0])
    assert results[0][1] == results[2][1] and results[0][2] == results[2][2] == 3 * 6


def test_backup_and_restore_resumes_a_stream_at_its_batch(tmp_path):
    batches = Reiterable([_batch(i) for i in range(6)])

    class Crash(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.params_epoch == 1 and batch == 3:
                raise RuntimeError("crash")

        def on_epoch_begin(self, epoch, logs=None):
            self.params_epoch = epoch

    results = {}
    for depth in (0, 2):
        kerasish.config.set_prefetch(depth)
        backup = str(tmp_path / f"backup{depth}")
        model = _model()
        with pytest.raises(RuntimeError, match="crash"):
            model.fit(batches, epochs=3, verbose=0, callbacks=[
                kerasish.callbacks.BackupAndRestore(backup, save_freq=1), Crash()])
        model = _model()
        model.fit(batches, epochs=3, verbose=0, callbacks=[kerasish.callbacks.BackupAndRestore(backup, save_freq=1)])
        results[depth] = _weights(model)
    _same(results[0], results[2])
    kerasish.config.set_prefetch(0)
    _same(results[0], _weights(_fit(lambda: batches, 0, epochs=3)[0]))


# -- placement and settings ------------------------------------------------------------------------------------


def test_a_call_is_placed_as_the_distribution_splits_batches(monkeypatch):
    batch = (np.ones((B, D), "float32"), np.zeros((B,), "int32")), np.ones((B,), "float32")
    placed = prefetch.place(prefetch.Call(batch, 1, False, B))
    assert all(isinstance(a, jax.Array) for a in jax.tree.leaves(placed.batch))
    dist = kerasish.distribution.DataParallel()
    with dist.scope():
        single = prefetch.place(prefetch.Call(batch, 1, False, B))
        stacked = prefetch.place(prefetch.Call(jax.tree.map(lambda a: np.stack([a, a]), batch), 2, True, 2 * B))
    assert {a.sharding for a in jax.tree.leaves(single.batch)} == {dist.batch_sharding(stacked=False)}
    assert {a.sharding for a in jax.tree.leaves(stacked.batch)} == {dist.batch_sharding(stacked=True)}
    monkeypatch.setattr(prefetch, "hold", prefetch.place)  # placed as on an accelerator (the CPU keeps NumPy)
    with dist.scope():  # and a fit under it trains as without prefetch
        off = _fit(lambda: Source(), 0, 2, steps_per_epoch=4, epochs=2)[0]
        on = _fit(lambda: Source(), 2, 2, steps_per_epoch=4, epochs=2)[0]
    _same(_weights(on), _weights(off))


def test_settings(monkeypatch):
    kerasish.config.set_prefetch(5)
    assert kerasish.config.prefetch() == 5 == prefetch.depth()
    kerasish.config.set_prefetch(0)
    assert kerasish.config.prefetch() == 0 == prefetch.depth()
    kerasish.config.set_prefetch(None)  # the default: on accelerators only
    assert kerasish.config.prefetch() is None and prefetch.depth() == (0 if jax.default_backend() == "cpu" else 2)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="set_prefetch takes None or an integer >= 0"):
            kerasish.config.set_prefetch(bad)
    monkeypatch.setenv("KERASISH_PREFETCH", "0")
    assert kerasish.config._env_prefetch() == 0
    monkeypatch.setenv("KERASISH_PREFETCH", "")
    assert kerasish.config._env_prefetch() is None
    for bad in ("two", "-1"):
        monkeypatch.setenv("KERASISH_PREFETCH", bad)
        with pytest.raises(ConfigError, match="KERASISH_PREFETCH must be an integer"):
            kerasish.config._env_prefetch()


_TWO_DEVICES = """
import os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"
import json, numpy as np, kerasish
from kerasish.engine import prefetch
from tests.engine import test_prefetch as t

dist = kerasish.distribution.DataParallel()
kerasish.distribution.set_distribution(dist)
placed = prefetch.place(prefetch.Call((np.ones((8, 3), "float32"), None), 1, False, 8))
out = {"devices": len(placed.batch[0].sharding.device_set)}
prefetch.hold = prefetch.place  # placed as on an accelerator (the CPU keeps NumPy)
for depth in (0, 2):
    kerasish.config.set_prefetch(depth)
    model = t._model(2)
    model.fit(t.Source(), steps_per_epoch=4, epochs=2, verbose=0)
    out[depth] = [w.tolist() for w in t._weights(model)]
print(json.dumps(out))
"""


def test_on_two_devices_the_batches_are_split_as_without_prefetch():
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True, timeout=300, cwd=root)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 2
    assert result["0"] == result["2"]
