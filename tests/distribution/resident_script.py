"""Run as a subprocess with 8 simulated CPU devices: fit, evaluate and predict under DataParallel and ModelParallel
with the arrays resident on the devices (``set_resident_data``) and on the host path; prints both runs as JSON."""

import json
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402
from dp_script import make_distribution  # noqa: E402  (this directory: the same two distributions)

import kerasish  # noqa: E402
from kerasish import layers  # noqa: E402
from kerasish.engine import resident  # noqa: E402

SEEN, PLACED, CALLS = [], [], []


class Probe(kerasish.layers.Layer):
    """The identity; records how its input is laid out inside the compiled step."""

    def call(self, inputs):
        jax.debug.inspect_array_sharding(inputs, callback=lambda s: SEEN.append(str(s.spec)))
        return inputs


class Calls(kerasish.callbacks.Callback):
    def on_run_call_end(self, run, steps):
        CALLS.append(steps)


def _place(original):
    def place(tree):
        out = original(tree)
        PLACED.append(sorted({len(a.sharding.device_set) for a in jax.tree.leaves(out)}))
        return out

    return place


def run(kind, fraction, spe):
    kerasish.config.set_resident_data(fraction)
    kerasish.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((456, 10)).astype("float32")  # 456 = 7 * 64 + 8: a short last batch
    y = rng.integers(0, 3, 456).astype("int32")
    weights = rng.uniform(0.5, 2.0, 456).astype("float32")
    model = kerasish.Sequential([kerasish.Input((10,)), Probe(), layers.Dense(32, activation="relu", name="hidden"),
                                 layers.BatchNormalization(), layers.Dropout(0.2), layers.Dense(3, name="logits")])
    model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=spe)
    kerasish.distribution.set_distribution(make_distribution(kind))
    PLACED.clear(), CALLS.clear(), SEEN.clear()
    history = model.fit(x, y, sample_weight=weights, batch_size=64, epochs=3, shuffle=True, verbose=0,
                        callbacks=[Calls()]).history
    evaluation = model.evaluate(x, y, sample_weight=weights, batch_size=64, verbose=0)
    predictions = model.predict(x, batch_size=64, verbose=0)
    kerasish.distribution.set_distribution(None)
    kerasish.config.set_resident_data(None)
    return {"history": {k: [float(v).hex() for v in vs] for k, vs in history.items()},
            "weights": [np.asarray(w).tobytes().hex() for w in model.get_weights()],
            "evaluate": [float(v) for v in evaluation], "predict": predictions.tolist(), "placed": list(PLACED), "calls": list(CALLS), "probe": sorted(set(SEEN))}


if __name__ == "__main__":
    assert len(jax.devices()) == 8, jax.devices()
    resident.place = _place(resident.place)
    out = {f"{kind}-{where}": run(kind, fraction, 3)
           for kind in ("data", "model") for where, fraction in (("host", 0.0), ("resident", 0.25))}
    print(json.dumps(out))
