"""steps_per_execution="auto": decisions persisted beside the compilation cache, and no probe a fit cannot repay."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.engine import compilation_cache, jit
from kerasish.engine import state as engine_state
from kerasish.engine.fused import AutoSteps, persisted_key

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A decision store of the test's own (whatever the user's compilation cache holds)."""
    path = tmp_path / compilation_cache.DECISIONS_FILE
    monkeypatch.setattr(compilation_cache, "decisions_path", lambda: path)
    return path


def _model(width=16, optimizer="adam"):
    model = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(width, activation="relu"), layers.Dense(3)])
    model.compile(optimizer=optimizer, loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _data(n):
    x = np.random.default_rng(0).normal(size=(n, 6)).astype("float32")
    return x, np.argmax(x[:, :3], axis=1).astype("int32")


def _entry(model):
    (entry,) = engine_state.of(model).steps_decisions.values()
    return entry


# -- no probe when the fit cannot repay it ----------------------------------------------------------------


def test_short_fit_does_not_compile_the_fused_program(store, monkeypatch):
    monkeypatch.setattr(AutoSteps, "slow_step_s", 1.0)  # however loaded the machine, a step counts as short
    x, y = _data(48)  # 6 steps: the 5 the probe times single leave 1, which cannot repay any compilation
    model = _model()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    policy = _entry(model)
    assert isinstance(policy, AutoSteps) and policy.phase == "waiting" and policy.k == 1 and policy.candidate > 1
    assert jit.program(model, "train").fused._cache_size() == 0
    assert policy.compile_s > 0 and policy.single_step_s > 0
    # Kept on disk as measurements, not as a decision: the next short run of the same fit times nothing.
    (record,) = json.loads(store.read_bytes())["entries"].values()
    assert record["phase"] == "waiting"
    again = _model()
    again.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert _entry(again).phase == "waiting" and _entry(again)._single == []
    assert jit.program(again, "train").fused._cache_size() == 0


def _waiting(single_step_s=1e-4, compile_s=0.5):
    policy = AutoSteps(max_steps=1000)
    policy._single, policy._first_s = [single_step_s] * policy.probe_single, compile_s + single_step_s
    policy.start(100)
    policy._steps = 5
    policy._decide_single()
    return policy


def test_a_long_step_saves_at_most_max_saving_s_a_step():
    # a 10 ms step (an LSTM's) is not fused for 90% of its time: 1 ms a step at most, so the first call's 95 steps
    # left and a second call's 200 (0.3 s) cannot repay 80% of a 0.5 s compilation, while 900 more can
    policy = _waiting(single_step_s=0.01)
    assert policy.phase == "waiting"
    policy.start(200)
    assert policy.phase == "waiting"
    policy.start(900)
    assert policy.phase == "fused"


def test_a_fit_long_enough_to_repay_probes():
    policy = _waiting()  # at best 90% of 0.1 ms saved on 95 steps: far from 80% of 0.5 s
    assert policy.phase == "waiting" and not policy.probing and policy.k == 1
    policy.start(100_000)  # 9 s at best, against 0.4 s
    assert policy.phase == "fused" and policy.k == policy.candidate > 1 and policy.probing
    long = AutoSteps(max_steps=1000)
    long._single, long._first_s = [1e-4] * long.probe_single, 0.5
    long.start(100_000)
    long._steps = 5
    long._decide_single()
    assert long.phase == "fused"
    unknown = AutoSteps()  # a stream of unknown length: probed as before
    unknown._single, unknown._first_s = [1e-4] * unknown.probe_single, 0.5
    unknown.start(None)
    unknown._decide_single()
    assert unknown.phase == "fused"


def test_short_calls_that_keep_coming_probe_in_the_end():
    # 100-step calls: each alone saves at most 9 ms against 0.4 s; the steps that ran unfused count too
    policy = _waiting()
    calls = 1
    while policy.phase == "waiting":
        policy.start(100)
        calls += 1
    assert policy.phase == "fused"
    # 0.9 * 0.1 ms * (95 + 44 * 100 steps) >= 0.8 * 0.5 s: as one rents until the rent has paid the price
    assert calls == 45


def test_slow_steps_are_a_decision_whatever_the_fit_length():
    policy = _waiting(single_step_s=0.03)  # (over AutoSteps.slow_step_s)
    assert policy.phase == "done" and policy.k == 1 and policy.measured and policy.unsaved


# -- the persisted decision -------------------------------------------------------------------------------

_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import kerasish
    from kerasish import layers
    from kerasish.engine import jit, trainer
    from kerasish.engine.fused import AutoSteps

    first = sys.argv[1] == "first"
    if first:  # a deterministic probe: it pays, fuses 4 steps, and keeps fused for one model and not the other
        AutoSteps.fused_compile_ratio, AutoSteps.probe_single, AutoSteps.probe_fused, AutoSteps.max_k = 0.0, 2, 1, 4
    starts, auto = [], trainer.Trainer._auto

    def spy(self, kind, data, total_steps):
        policy = auto(self, kind, data, total_steps)
        starts.append([policy.phase, policy.k])
        return policy

    trainer.Trainer._auto = spy
    x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    y = np.argmax(x[:, :3], axis=1).astype("int32")
    out = {}
    for name, width, min_gain in (("fused", 8, 100.0), ("single", 12, 0.0)):
        if first:
            AutoSteps.min_gain = min_gain
        model = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(width, activation="relu"),
                                     layers.Dense(3)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=4, verbose=0)  # 8 steps an epoch
        program = jit.program(model, "train")
        fused = program.fused._cache_size() + program.resident.jitted._cache_size()  # host or device-resident data
        out[name] = {"start": starts[-1], "programs": [program.single._cache_size(), fused]}
    print("RESULT", json.dumps(out))
""")


def _run(which, cache):
    env = {**os.environ, "KERASISH_COMPILATION_CACHE": str(cache), "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, which], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    return json.loads(line[len("RESULT "):])


def test_second_process_neither_probes_nor_compiles_the_loser(tmp_path):
    first = _run("first", tmp_path)
    assert first["fused"] == {"start": ["single", 1], "programs": [1, 1]}  # probed: both programs compiled
    assert first["single"] == {"start": ["single", 1], "programs": [1, 1]}
    entries = json.loads((tmp_path / compilation_cache.DECISIONS_FILE).read_bytes())["entries"]
    assert sorted(e["k"] for e in entries.values()) == [1, 4]
    second = _run("second", tmp_path)  # no probe settings: every decision comes from the file
    assert second["fused"] == {"start": ["done", 4], "programs": [0, 1]}  # the single program never built
    assert second["single"] == {"start": ["done", 1], "programs": [1, 0]}  # nor the fused one


def test_remembered_decision_in_process(store, monkeypatch):
    monkeypatch.setattr(AutoSteps, "fused_compile_ratio", 0.0)
    monkeypatch.setattr(AutoSteps, "probe_single", 2)
    monkeypatch.setattr(AutoSteps, "probe_fused", 1)
    x, y = _data(64)
    model = _model()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    decided = _entry(model)
    assert isinstance(decided, int)
    (record,) = json.loads(store.read_bytes())["entries"].values()
    assert record["phase"] == "done" and record["k"] == decided
    monkeypatch.setattr(AutoSteps, "_decide_single", lambda self: pytest.fail("probed again"))
    twin = _model()  # another model of the same structure: its automatic layer names differ, the key does not
    twin.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert _entry(twin) == decided


def test_damaged_or_unwritable_store_never_breaks_training(store, monkeypatch):
    monkeypatch.setattr(AutoSteps, "probe_single", 2)
    monkeypatch.setattr(AutoSteps, "slow_step_s", 1.0)  # each fit ends waiting: too short to probe
    x, y = _data(48)
    for damage in (b"\x00\xffnot json", b"[1, 2]", b'{"format": 1, "entries": {"k": 3}}',
                   b'{"format": 1, "entries": {}}'):
        store.write_bytes(damage)
        model = _model()
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert json.loads(store.read_bytes())["format"] == compilation_cache.DECISIONS_FORMAT
    key = next(iter(json.loads(store.read_bytes())["entries"]))
    for bad in ({"phase": "done", "k": "4"}, {"phase": "done", "k": 0, "candidate": 1, "single_step_s": 1e-4,
                                               "compile_s": 0.1}, {"phase": "odd"}, None, [1]):
        store.write_text(json.dumps({"format": 1, "entries": {key: bad}}))
        model = _model()
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert isinstance(_entry(model), AutoSteps)  # measured afresh
    missing = store.parent / "gone" / compilation_cache.DECISIONS_FILE
    monkeypatch.setattr(compilation_cache, "decisions_path", lambda: missing)
    _model().fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not missing.parent.exists()


def test_store_keeps_the_newest_entries(store, monkeypatch):
    monkeypatch.setattr(compilation_cache, "MAX_DECISIONS", 3)
    for i in range(5):
        compilation_cache.save_decision(f"key{i}", {"phase": "done", "k": i + 1})
    entries = json.loads(store.read_bytes())["entries"]
    assert list(entries) == ["key2", "key3", "key4"]
    compilation_cache.save_decision("key2", {"phase": "done", "k": 9})  # saved again: now the newest
    assert list(json.loads(store.read_bytes())["entries"]) == ["key3", "key4", "key2"]
    assert compilation_cache.load_decision("key2")["k"] == 9 and compilation_cache.load_decision("key0") is None


def test_nothing_is_kept_with_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setattr(compilation_cache, "_state", {"decided": True})
    previous = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        assert compilation_cache.decisions_path() is None
        compilation_cache.save_decision("key", {"phase": "done", "k": 2})  # a no-op
        assert compilation_cache.load_decision("key") is None
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)


def test_key_follows_structure_settings_kind_and_data():
    def key(model, kind="train", data=(8, ((6,),), "cpu")):
        return persisted_key(model, engine_state.of(model).setup, kind, data)

    base = key(_model())
    assert key(_model()) == base  # same structure, other automatic names
    assert key(_model(width=17)) != base
    assert key(_model(optimizer="sgd")) != base
    assert key(_model(), kind="test") != base
    assert key(_model(), data=(16, ((6,),), "cpu")) != base

    class Custom(kerasish.Model):  # subclassed, without get_config
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    custom = Custom()
    custom.compile(optimizer="adam", loss="mse")
    custom.build((None, 6))
    assert len(key(custom)) == 64 and key(custom) != base


def test_an_uncompiled_model_predicts_and_its_decision_is_keyed(store):
    # predict needs no compile: the key then describes no compile settings (it used to fail on them)
    class Sub(kerasish.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x):
            return self.d(x)

    x, _ = _data(16)
    sequential = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(2)])
    for model in (sequential, Sub()):
        assert model.predict(x, verbose=0).shape == (16, 2)
    assert persisted_key(sequential, None, "predict", (8, ((6,),), "cpu")) is not None
