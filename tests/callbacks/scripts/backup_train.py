"""Trains a small model with BackupAndRestore; kills itself (SIGKILL) at a chosen batch on its first run.

Usage: backup_train.py OUT.npz BACKUP_DIR KILL_AT MARKER (KILL_AT 0: never)."""

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


class Patience(kerasish.callbacks.Callback):
    """Stops once the loss has failed to drop by 10 for 2 epochs (so it stops at epoch 2)."""

    def on_train_begin(self, logs=None):
        self.wait, self.best = 0, None

    def on_epoch_end(self, epoch, logs=None):
        if self.best is None or logs["loss"] < self.best - 10:
            self.best, self.wait = logs["loss"], 0
        else:
            self.wait += 1
            if self.wait >= 2:
                self.model.stop_training = True

    def get_state(self):
        return {"wait": self.wait, "best": self.best}

    def set_state(self, state):
        self.wait, self.best = state["wait"], state["best"]


hist = model.fit(x, y, batch_size=16, epochs=5, validation_data=(x[:50], y[:50]), verbose=0,
                 callbacks=[BackupAndRestore(backup_dir, save_freq=3), Killer(), Patience()])
np.savez(out, *model.get_weights())
with open(out + ".json", "w") as f:
    json.dump({"history": hist.history, "epoch": hist.epoch}, f)
