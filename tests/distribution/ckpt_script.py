"""A subprocess for test_checkpoints.py: save an orbax ModelCheckpoint on 8 devices (ModelParallel) or on 1,
or restore one into a fresh model and train on. Usage: ckpt_script.py many|one DIRECTORY save|load."""

import os
import sys

mode, directory = sys.argv[1], sys.argv[2]
if mode == "many":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"
import numpy as np  # noqa: E402

import kerasish  # noqa: E402
from kerasish import layers  # noqa: E402

kerasish.utils.set_random_seed(0)


def build():
    m = kerasish.Sequential([kerasish.Input((10,)), layers.Dense(32, name="hidden"), layers.Dense(3, name="logits")])
    m.compile(optimizer="adam", loss="mse")
    return m


def model_parallel():
    mesh = kerasish.distribution.DeviceMesh((2, 4), ["batch", "model"])
    layout = kerasish.distribution.LayoutMap(mesh)
    layout["hidden/kernel"] = (None, "model")
    return kerasish.distribution.ModelParallel(layout)


x = np.random.default_rng(0).standard_normal((64, 10)).astype("float32")
y = np.zeros((64, 3), "float32")
action = sys.argv[3]
if mode == "many":
    kerasish.distribution.set_distribution(model_parallel())
m = build()
if action == "save":
    m.fit(x, y, batch_size=16, epochs=1, verbose=0,
          callbacks=[kerasish.callbacks.ModelCheckpoint(directory, save_freq="epoch")])
    np.save(directory + ".npy", np.concatenate([w.ravel() for w in m.get_weights()]))
    print("saved", len(m.layers[0].kernel.value.sharding.device_set))
else:
    m(x[:2])
    kerasish.callbacks.load_checkpoint(m, directory)
    w = np.concatenate([w.ravel() for w in m.get_weights()])
    print("restored equal:", np.array_equal(w, np.load(directory + ".npy")))
    m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    print("trained on", len(m.layers[0].kernel.value.sharding.device_set), "devices")
