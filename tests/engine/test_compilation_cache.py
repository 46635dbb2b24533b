"""The persistent compilation cache is on by default: a second process loads the compiled steps."""

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, jax, numpy as np
events = {"hits": 0, "misses": 0}
def on_event(name, **kw):
    if name == "/jax/compilation_cache/cache_hits":
        events["hits"] += 1
    elif name == "/jax/compilation_cache/cache_misses":
        events["misses"] += 1
jax.monitoring.register_event_listener(on_event)
import kerasish
from kerasish import layers
kerasish.utils.set_random_seed(0)
model = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dense(3)])
model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))
x = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
model.fit(x, np.zeros(64, "int32"), batch_size=16, epochs=1, verbose=0)
print(json.dumps({**events, "cache_dir": jax.config.jax_compilation_cache_dir}))
"""


def _run(env_value, tmp_path):
    env = {**os.environ, "KERASISH_COMPILATION_CACHE": env_value, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_run_loads_compiled_programs_from_the_cache(tmp_path):
    cache = tmp_path / "cache"
    first = _run(str(cache), tmp_path)
    assert first["cache_dir"] == str(cache) and any(cache.iterdir())
    assert first["misses"] >= 1 and first["hits"] == 0
    second = _run(str(cache), tmp_path)
    assert second["misses"] == 0 and second["hits"] == first["misses"]  # every program came from the cache


def test_cache_can_be_turned_off(tmp_path):
    result = _run("0", tmp_path)
    assert result["cache_dir"] is None and result["hits"] == 0
