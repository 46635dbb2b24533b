"""A subprocess for test_multi_process.py: one process of a 2-process run (2 CPU devices each), or the
single-process reference (1 device).

Usage: mp_script.py single OUT | mp_script.py worker OUT PROCESS_ID PORT [crash|resume]

``worker`` trains the main workload and then the backup workload; ``crash`` runs the backup workload
only, ending the process (every process, as a lost job would) in the middle of epoch 2; ``resume``
reruns it, and BackupAndRestore continues it. Results go to OUT/<role>.json.
"""

import json
import os
import sys

role, out = sys.argv[1], sys.argv[2]
os.environ["JAX_PLATFORMS"] = "cpu"
if role == "worker":
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import numpy as np  # noqa: E402

import kerasish  # noqa: E402
from kerasish import layers  # noqa: E402
from kerasish.engine import batching  # noqa: E402

READ = {"rows_read": 0, "rows_in_batches": 0}  # host rows this process gathered from the arrays


def _counting_take_local(tree, index, local, start, stop):
    out = _take_local(tree, index, local, start, stop)
    READ["rows_read"] += int(np.count_nonzero(local < stop - start))
    READ["rows_in_batches"] += stop - start
    return out


_take_local, batching.take_local = batching.take_local, _counting_take_local

if role == "worker":
    process_id, port = int(sys.argv[3]), int(sys.argv[4])
    phase = sys.argv[5] if len(sys.argv) > 5 else "main"
    kerasish.distribution.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
    kerasish.distribution.set_distribution(kerasish.distribution.DataParallel())
    # Process 1 seeds differently: its initial weights and draws differ from process 0's, and the run
    # must still be process 0's (the state is placed from process 0, the shuffling seed is process 0's).
    seed = 0 if process_id == 0 else 1
    name = f"worker{process_id}"
else:
    phase, seed, name = "main", 0, "single"

data = np.random.default_rng(0)  # the same data on every process, whatever the seed
x = data.standard_normal((200, 10)).astype("float32")  # 200 = 6 * 32 + 8: a padded last batch
y = data.integers(0, 3, 200).astype("int32")


def build():
    model = kerasish.Sequential([kerasish.Input((10,)), layers.Dense(16, activation="relu", name="hidden"),
                                 layers.BatchNormalization(), layers.Dropout(0.2), layers.Dense(3, name="logits")])
    model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


class Batches(kerasish.utils.PyDataset):
    """The same data as batches by index (each process draws every global batch, feeds its rows)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]


def flat(weights):
    return np.concatenate([np.ravel(w) for w in weights]).tolist()


def main_workload(result):
    kerasish.utils.set_random_seed(seed)
    model = build()
    logs = os.path.join(out, name)
    callbacks = [kerasish.callbacks.CSVLogger(os.path.join(logs, "log.csv")),
                 kerasish.callbacks.TensorBoard(os.path.join(logs, "tb")),
                 kerasish.callbacks.ModelCheckpoint(os.path.join(out, f"ckpt-{role}-orbax"), save_freq="epoch")]
    os.makedirs(logs, exist_ok=True)
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=2, validation_data=(x[:64], y[:64]),
                        callbacks=callbacks).history
    result["history"] = history
    result["read"] = dict(READ)
    result["weights_after_fit"] = flat(model.get_weights())
    result["evaluate"] = model.evaluate(x, y, batch_size=32, verbose=0)
    result["predict"] = model.predict(x, batch_size=32, verbose=0).tolist()
    model.fit(Batches(), epochs=1, verbose=0)  # a PyDataset: every process draws the same batches
    result["weights_after_pydataset"] = flat(model.get_weights())


def model_parallel_workload(result):
    """Tensor parallelism across the processes: the hidden layer's units split over a "model" axis whose two
    halves are the two processes (each holds half of the kernel), batches split over "batch" within each."""
    kerasish.utils.set_random_seed(seed)
    if role == "worker":
        mesh = kerasish.distribution.DeviceMesh((2, 2), ["model", "batch"])  # rows: process 0's, process 1's
        layout = kerasish.distribution.LayoutMap(mesh)
        layout["hidden/kernel"] = (None, "model")
        layout["hidden/bias"] = ("model",)
        kerasish.distribution.set_distribution(kerasish.distribution.ModelParallel(layout, batch_dim_name="batch"))
    model = build()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    kernel = model.get_layer("hidden").kernel.value
    result["mp_kernel"] = {"spec": str(getattr(kernel.sharding, "spec", None)),
                           "fully_addressable": kernel.is_fully_addressable,
                           "local_shard_shapes": sorted({tuple(s.data.shape) for s in kernel.addressable_shards})}
    result["mp_weights"] = flat(model.get_weights())  # gathered from both processes
    result["mp_predict"] = model.predict(x, batch_size=32, verbose=0).tolist()
    if role == "worker":
        kerasish.distribution.set_distribution(kerasish.distribution.DataParallel())


class Crash(kerasish.callbacks.Callback):
    """Ends the process in epoch 2 after batch 3 when active (the resumed run has an inactive one: a
    backup holds the state of each callback, so a resumed fit must have the same callbacks)."""

    def __init__(self, active):
        super().__init__()
        self.active, self.epoch, self.batches_run = active, 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.batches_run += 1
        if self.active and self.epoch == 1 and batch == 3:
            os._exit(17)  # no clean-up at all, as a killed job


def backup_workload(result, crash):
    kerasish.utils.set_random_seed(seed)
    model = build()
    crasher = Crash(active=crash)
    callbacks = [kerasish.callbacks.BackupAndRestore(os.path.join(out, f"backup-{role}"), save_freq=2), crasher]
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=callbacks)
    result["backup_weights"] = flat(model.get_weights())
    result["batches_run"] = crasher.batches_run
    result["epochs_in_history"] = model.history.epoch


result = {"process_count": kerasish.distribution.process_count(), "devices": kerasish.distribution.list_devices()}
if phase == "main":
    main_workload(result)
    model_parallel_workload(result)
backup_workload(result, crash=phase == "crash")
with open(os.path.join(out, f"{name}-{phase}.json"), "w") as f:
    json.dump(result, f)
