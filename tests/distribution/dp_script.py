"""Run as a subprocess with 8 simulated CPU devices: DataParallel fit/evaluate/predict vs one device."""

import json
import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402

import kerasish  # noqa: E402
from kerasish import layers  # noqa: E402

SEEN = []


class Probe(kerasish.layers.Layer):
    """The identity; records how its input is laid out inside the compiled step."""

    def call(self, inputs):
        jax.debug.inspect_array_sharding(inputs, callback=lambda s: SEEN.append(str(s)))
        return inputs


def make_distribution(kind):
    if kind == "data":
        return kerasish.distribution.DataParallel()
    mesh = kerasish.distribution.DeviceMesh((2, 4), ["batch", "model"])
    layout = kerasish.distribution.LayoutMap(mesh)
    layout["hidden/kernel"] = (None, "model")  # the 32 output units split over 4 devices
    layout["hidden/bias"] = ("model",)
    return kerasish.distribution.ModelParallel(layout_map=layout, batch_dim_name="batch")


def run(distributed, steps_per_execution):
    kerasish.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 10)).astype("float32")  # 200 = 3 * 64 + 8: a padded last batch
    y = rng.integers(0, 3, 200).astype("int32")
    model = kerasish.Sequential([kerasish.Input((10,)), Probe(), layers.Dense(32, activation="relu", name="hidden"),
                                 layers.BatchNormalization(), layers.Dropout(0.2), layers.Dense(3, name="logits")])
    model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=steps_per_execution)
    dist = make_distribution(distributed) if distributed else None
    kerasish.distribution.set_distribution(dist)
    history = model.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0).history
    evaluation = model.evaluate(x, y, batch_size=64, verbose=0)
    predictions = model.predict(x, batch_size=64, verbose=0)
    kernel = model.layers[1].kernel.value
    info = {"losses": history["loss"], "evaluate": evaluation, "predict": predictions.tolist(),
            "weights": [w.tolist() for w in model.get_weights()],
            "kernel_devices": len(kernel.sharding.device_set), "kernel_spec": str(kernel.sharding.spec)
            if hasattr(kernel.sharding, "spec") else None,
            "kernel_shard_shape": list(kernel.addressable_shards[0].data.shape),
            # the optimizer's slots for the kernel (Adam's mu and nu) must be laid out like the kernel
            "kernel_slot_specs": sorted({str(getattr(a.sharding, "spec", None))
                                         for a in (v.value for v in model.optimizer.variables)
                                         if getattr(a, "shape", None) == (10, 32)})}
    info["probe"] = sorted(set(SEEN))
    SEEN.clear()
    if distributed:
        try:
            model.fit(x, y, batch_size=60, epochs=1, verbose=0)
        except kerasish.InputError as e:
            info["bad_batch_error"] = str(e)
    kerasish.distribution.set_distribution(None)
    return info


if __name__ == "__main__":
    assert len(jax.devices()) == 8, jax.devices()
    spe = json.loads(sys.argv[1])
    print(json.dumps({"single": run(None, spe), "data_parallel": run("data", spe), "model_parallel": run("model", spe)}))
