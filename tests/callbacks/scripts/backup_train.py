"""Trains a small model with BackupAndRestore; kills itself (SIGKILL) at a chosen batch on its first run.

Usage: backup_train.py OUT.npz BACKUP_DIR KILL_AT MARKER (KILL_AT 0: never).
With ``RERUN_CALLBACKS=changed`` the rerun (after the kill) drops the Killer, a stateless callback that
only existed to end the first run: a shorter callback list."""

import json
import os
import signal
import sys

import numpy as np

import kerasish
from kerasish import layers
from kerasish.callbacks.backup import BackupAndRestore

out, backup_dir, kill_at, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
kerasish.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(200, 6)).astype("float32")
y = np.argmax(x[:, :3], axis=1).astype("int32")
model = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                             layers.BatchNormalization(), layers.Dense(3)])
model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])


class Killer(kerasish.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == kill_at and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)


rerun = os.path.exists(marker)
if rerun and os.environ.get("RERUN_CALLBACKS") == "changed":
    watchers = []
else:
    watchers = [Killer()]
hist = model.fit(x, y, batch_size=16, epochs=5, validation_data=(x[:50], y[:50]), verbose=0,
                 callbacks=[BackupAndRestore(backup_dir, save_freq=3), *watchers,
                            # min_delta=10 never counts as an improvement after epoch 0: the counters
                            # move every epoch, the rate halves after epoch 1, training stops after epoch 2.
                            kerasish.callbacks.ReduceLROnPlateau(monitor="loss", min_delta=10, patience=1,
                                                                 factor=0.5),
                            kerasish.callbacks.EarlyStopping(monitor="loss", min_delta=10, patience=2),
                            kerasish.callbacks.CSVLogger(out + ".csv")])
np.savez(out, *model.get_weights())
with open(out + ".json", "w") as f:
    json.dump({"history": hist.history, "epoch": hist.epoch, "csv": open(out + ".csv").read()}, f)
