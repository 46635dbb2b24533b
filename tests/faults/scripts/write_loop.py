"""Writes model files over and over until it is killed; the fault tests SIGKILL it at a random moment.

Usage: write_loop.py KIND DIR
  KIND "save":       model.save to DIR/m.keras and DIR/m.kerasish, save_weights to DIR/m.weights.h5, in turn,
                     one optimizer step between rounds (so consecutive files differ);
  KIND "checkpoint": fit with ModelCheckpoint(DIR/ckpt.keras, save_freq=1) for many epochs;
  KIND "backup":     fit 3 epochs with BackupAndRestore(DIR/backup, save_freq=1), then the final weights to
                     DIR/final.npz (rerun after a kill, it resumes from the backup).

Prints ``ready`` once every file exists (complete), then ``round <seconds>`` after each round of writes,
so that the parent can aim its kill inside a write.
"""

import sys
import time

import numpy as np

import kerasish
from kerasish import layers

kind, out = sys.argv[1], sys.argv[2]
kerasish.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 32)).astype("float32")
y = rng.integers(0, 4, size=(64,))
# About 1.6 MB of weights, 5 MB with Adam's moments: a write takes long enough to be hit.
model = kerasish.Sequential([kerasish.Input(shape=(32,)), layers.Dense(512, activation="relu"),
                             layers.Dense(512, activation="relu"), layers.Dense(4)])
model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))
model.train_on_batch(x[:16], y[:16])


def say(*parts):
    print(*parts, flush=True)


if kind == "save":
    first = True
    while True:
        start = time.perf_counter()
        model.save(f"{out}/m.keras")
        model.save(f"{out}/m.kerasish")
        model.save_weights(f"{out}/m.weights.h5")
        if first:
            say("ready")
            first = False
        say("round", time.perf_counter() - start)
        model.train_on_batch(x[:16], y[:16])
elif kind == "checkpoint":
    class Ready(kerasish.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.last = None

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            say("ready" if self.last is None else "round", 0.0 if self.last is None else now - self.last)
            self.last = now

    model.fit(x, y, batch_size=16, epochs=10_000, verbose=0,
              callbacks=[kerasish.callbacks.ModelCheckpoint(f"{out}/ckpt.keras", save_freq=1), Ready()])
elif kind == "backup":
    class Steps(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            say("round", 0.0)

    model = kerasish.Sequential([kerasish.Input(shape=(32,)), layers.Dense(512, activation="relu"),
                                 layers.Dropout(0.3), layers.Dense(512, activation="relu"), layers.Dense(4)])
    model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))
    say("ready")
    model.fit(x, y, batch_size=16, epochs=3, verbose=0,
              callbacks=[kerasish.callbacks.BackupAndRestore(f"{out}/backup", save_freq=1), Steps()])
    np.savez(f"{out}/final.npz", *model.get_weights())
else:
    raise SystemExit(f"unknown kind {kind!r}")
