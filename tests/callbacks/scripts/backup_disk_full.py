"""A BackupAndRestore run that hits a file-size limit (as on a full disk) at epoch 2, then resumes without it.

Usage: backup_disk_full.py BACKUP_DIR KERAS_FILES(0|1). Prints one JSON line: the error's type and message,
the backup directory's entries after the failure and after the rerun, and the epochs the rerun trained.
The limit is RLIMIT_FSIZE (writes past it fail with EFBIG; SIGXFSZ is ignored so that they fail rather
than kill the process); it is lifted again before the rerun.
"""

import json
import os
import resource
import signal
import sys

import numpy as np

import kerasish
from kerasish.callbacks.backup import BackupAndRestore

backup_dir, keras_files = sys.argv[1], sys.argv[2] == "1"
rng = np.random.default_rng(0)
x = rng.normal(size=(32, 4)).astype("float32")
y = x[:, :1] * 2


class Limit(kerasish.callbacks.Callback):
    """At the start of epoch 2: the earlier backups committed, then no file may grow any more."""

    def __init__(self, backup):
        super().__init__()
        self.backup = backup

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            self.backup._checkpoints().wait_until_finished()
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def model():
    kerasish.utils.set_random_seed(0)
    m = kerasish.Sequential([kerasish.Input(shape=(4,)), kerasish.layers.Dense(8), kerasish.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    return m


signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
backup = BackupAndRestore(backup_dir, keras_files=keras_files)
result = {}
try:
    model().fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[backup, Limit(backup)])
except Exception as err:  # noqa: BLE001 - reported to the test
    result["error"] = [type(err).__name__, str(err), isinstance(err, OSError)]
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
result["after_failure"] = sorted(os.listdir(backup_dir))
ran = []
model().fit(x, y, batch_size=8, epochs=4, verbose=0,
            callbacks=[BackupAndRestore(backup_dir, delete_checkpoint=False),
                       kerasish.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: ran.append(epoch))])
result["rerun_epochs"] = ran
result["after_rerun"] = sorted(os.listdir(backup_dir))
print(json.dumps(result))
