"""BackupAndRestore resumed by a fit over other data or batching: never trains on different data than it says.

Every sample's x carries its id (1..n); a batch augmentation records the ids each training step sees
(padded rows, id 0, are left out), so each test counts how often each sample was trained on per epoch.
A run is interrupted (in-process) right after a mid-epoch backup, then resumed by a fit whose batch
size, dataset, shuffle flag, steps or epochs differ.
"""

import errno
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest

import kerasish
from kerasish.callbacks.backup import BackupAndRestore
from kerasish.engine import progress


class IdLog:
    """A batch augmentation that records the sample ids of every training step."""

    def __init__(self):
        self.ids: list[int] = []

    def augment_batch(self, x, y, key, sample_mask=None):
        mask = jax.numpy.ones(x.shape[:1]) if sample_mask is None else sample_mask
        jax.debug.callback(lambda ids, m: self.ids.extend(int(i) for i, k in zip(ids, m) if k > 0 and i > 0),
                           x[:, 0], mask, ordered=True)
        return x, y


class Epochs(kerasish.callbacks.Callback):
    """Sorts the ids its IdLog recorded by epoch; raises KeyboardInterrupt before batch ``stop_at`` of ``stop_epoch``."""

    def __init__(self, stop_epoch=None, stop_at=None):
        super().__init__()
        self.log, self.stop_epoch, self.stop_at = _LOG, stop_epoch, stop_at
        self.log.ids.clear()
        self.epoch, self.seen = None, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == (self.stop_epoch, self.stop_at):
            raise KeyboardInterrupt("interrupted")

    def on_train_batch_end(self, batch, logs=None):
        jax.effects_barrier()
        self.seen.setdefault(self.epoch, []).extend(self.log.ids)
        self.log.ids.clear()


def _data(n):
    x = np.zeros((n, 3), "float32")
    x[:, 0] = np.arange(1, n + 1)
    x[:, 1:] = np.random.default_rng(0).normal(size=(n, 2))
    return x, (x[:, 1:2] * 0.5).astype("float32")


_LOG = IdLog()


@pytest.fixture(scope="module")
def model():
    """One model for every fit here (each fit's state comes from the backup or does not matter; its
    compiled steps are reused)."""
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(3,)), kerasish.layers.Dense(4), kerasish.layers.Dense(1)])
    model.compile(optimizer=kerasish.optimizers.SGD(0.01), loss="mse", batch_augmentation=_LOG)
    return model


def _fit(model, tmp_path, n=60, batch_size=10, watch=None, epochs=2, shuffle=True, steps_per_epoch=None, data=None):
    """A fit with a backup every 3 batches; returns {epoch: ids seen}."""
    kerasish.utils.set_random_seed(0)
    watch = watch or Epochs()
    x, y = _data(n) if data is None else (data, None)
    model.fit(x, y, batch_size=None if data is not None else batch_size, epochs=epochs, shuffle=shuffle,
              steps_per_epoch=steps_per_epoch, verbose=0,
              callbacks=[BackupAndRestore(tmp_path / "b", save_freq=3), watch])
    return watch.seen


def _interrupted(model, tmp_path, **kw):
    """The first run, interrupted before batch 3 of epoch 0 (right after the backup of its first 3 batches)."""
    watch = Epochs(0, 3)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path, watch=watch, **kw)
    return watch.seen


def _once(ids, n):
    return sorted(ids) == list(range(1, n + 1))


def test_the_same_data_resumes_at_its_batch_without_a_word(model, tmp_path):
    before = _interrupted(model, tmp_path)
    assert len(before[0]) == 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        after = _fit(model, tmp_path)
    assert sorted(after) == [0, 1]
    assert _once(before[0] + after[0], 60) and _once(after[1], 60)


@pytest.mark.parametrize("batch_size", [20, 7])
def test_another_batch_size_continues_at_the_exact_sample(model, tmp_path, batch_size):
    before = _interrupted(model, tmp_path)
    with pytest.warns(UserWarning, match=rf"resuming epoch 1 at sample 30 of 60 \(the backup used batch_size=10, "
                                         rf"this fit uses {batch_size}\)") as record:
        after = _fit(model, tmp_path, batch_size=batch_size)
    assert len([w for w in record if "BackupAndRestore" in str(w.message)]) == 1  # one line
    assert len(after[0]) == 30  # the rest of the epoch: 30 of 60 samples
    assert _once(before[0] + after[0], 60), "every sample of the interrupted epoch exactly once"
    assert _once(after[1], 60)


@pytest.mark.parametrize("change, said", [
    ({"n": 70}, "the dataset has 70 samples, the backup's had 60"),
    ({"shuffle": False}, "the backup used shuffle=True, this fit uses False"),
    ({"batch_size": 20, "steps_per_epoch": 1}, "so the epoch has 20 samples, all trained on before the backup"),
])
def test_other_data_restarts_the_epoch_and_says_so(model, tmp_path, change, said):
    _interrupted(model, tmp_path)
    n = change.get("n", 60)
    with pytest.warns(UserWarning, match=r"restarting epoch 1 from its first batch: .*" + said.replace("(", r"\(")
                      + r".*; the 30 samples already trained on in this epoch will be trained on again"):
        after = _fit(model, tmp_path, **change)
    per_epoch = min(n, 20 * change["steps_per_epoch"]) if "steps_per_epoch" in change else n
    assert len(after[0]) == per_epoch and len(set(after[0])) == per_epoch  # the whole epoch, each sample once
    if per_epoch == n:
        assert _once(after[0], n)


def test_a_longer_epoch_continues_at_the_sample_position(model, tmp_path):
    _interrupted(model, tmp_path, steps_per_epoch=5)  # 50 of the 60 samples an epoch
    with pytest.warns(UserWarning, match=r"resuming epoch 1 at sample 30 of 60 \(the backup used steps_per_epoch=5"):
        after = _fit(model, tmp_path)
    assert len(after[0]) == 30 and len(after[1]) == 60


def test_a_stream_batched_differently_restarts_the_epoch(model, tmp_path):
    x, _ = _data(60)

    class batches:  # a re-iterable stream of batches of `size`
        def __init__(self, size):
            self.size = size

        def __len__(self):
            return -(-60 // self.size)

        def __iter__(self):
            return ((x[i:i + self.size], x[i:i + self.size, 1:2] * 0.5) for i in range(0, 60, self.size))

    before = _interrupted(model, tmp_path, data=batches(10))
    assert len(before[0]) == 30
    with pytest.warns(UserWarning, match=r"restarting epoch 1 .* the backup used batch_size=10, this fit uses 15; "
                                         r"the dataset has 4 batches, the backup's had 6; the 30 samples already"):
        after = _fit(model, tmp_path, data=batches(15))
    assert _once(after[0], 60)


def test_an_old_backup_without_its_data_resumes_at_its_batch_with_a_warning(model, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(progress.TrainingRun, "position", lambda self: {})  # as an older kerasish wrote
        before = _interrupted(model, tmp_path)
    with pytest.warns(UserWarning, match=r"resuming epoch 1 at batch 3: the backup in .* \(written by an older "
                                         r"kerasish\) does not record its data or batch size"):
        after = _fit(model, tmp_path)
    assert _once(before[0] + after[0], 60)


def test_a_backup_beyond_the_last_epoch_trains_nothing_and_says_so(model, tmp_path):
    _interrupted(model, tmp_path)
    with pytest.warns(UserWarning, match=r"the backup is at epoch 1, batch 3, beyond this fit's epochs=0: nothing "
                                         "left to train"):
        after = _fit(model, tmp_path, epochs=0)
    assert after == {}


# -- a full disk during a backup ---------------------------------------------------------------------------
@pytest.mark.faults
def test_a_full_disk_during_a_backup_is_a_storage_error_and_the_rerun_resumes(tmp_path):
    # A subprocess whose file-size limit drops to 0 at epoch 2 (the backups of epochs 0 and 1 committed):
    # the orbax write fails in the background and surfaces at the next backup.
    script = Path(__file__).parent / "scripts" / "backup_disk_full.py"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "b"), "0"],
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    kind, message, is_os_error = result["error"]
    assert kind == "StorageError" and is_os_error
    assert message.startswith("Cannot write a backup into")
    assert f"{str(tmp_path / 'b')!r}: no space left" in message
    assert "The backups committed before are intact (the newest after 8 batches); a rerun resumes from it" in message
    assert {"4", "8"} <= set(result["after_failure"])  # the earlier backups are there ...
    assert any(".orbax-checkpoint-tmp" in p for p in result["after_failure"])  # ... beside the failed one's start
    assert result["rerun_epochs"] == [2, 3]  # the rerun resumed from the backup of epoch 1's end
    assert not [p for p in result["after_rerun"] if "tmp" in p]  # and removed the failed save's directory


@pytest.mark.faults
def test_tensorstore_s_no_space_error_is_a_storage_error(tmp_path, monkeypatch):
    # The error orbax raises when the disk is full (observed on a full tmpfs), from the second save on.
    import orbax.checkpoint as ocp

    real_save, calls = ocp.CheckpointManager.save, []

    def save(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) > 1:
            raise ValueError(f'RESOURCE_EXHAUSTED: Error writing "w/0" in OCDBT database at local file "{self.directory}'
                             f'/{step}.orbax-checkpoint-tmp/state/": Failed to write 166 bytes to file 11: No space left '
                             "on device [os_error_code='28']")
        return real_save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", save)
    x, y = _data(16)
    cases = [(BackupAndRestore(tmp_path / "b", delete_checkpoint=False), "a backup", "b", "4"),
             (kerasish.callbacks.OrbaxCheckpoint(tmp_path / "o", save_freq=2, max_to_keep=None),
              "an orbax checkpoint (OrbaxCheckpoint)", "o", "2")]
    for callback, what, folder, first in cases:
        calls.clear()
        m = kerasish.Sequential([kerasish.Input(shape=(3,)), kerasish.layers.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        with pytest.raises(kerasish.errors.StorageError, match=rf"Cannot write {re.escape(what)} into .*: no space "
                                                                r"left on the device\. The .* committed before are intact"):
            m.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[callback])
        assert [p.name for p in (tmp_path / folder).iterdir() if p.name.isdigit()] == [first]  # the first save


@pytest.mark.faults
def test_a_full_disk_while_writing_keras_s_backup_files_is_a_storage_error(tmp_path, monkeypatch):
    from kerasish.saving import keras_file

    def save_weights(model, path):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(keras_file, "save_weights", save_weights)
    x, y = _data(16)
    m = kerasish.Sequential([kerasish.Input(shape=(3,)), kerasish.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(kerasish.errors.StorageError, match=r"Cannot write Keras's backup files \(keras_files=True\) "
                                                            r"into .*: no space left on the device"):
        m.fit(x, y, batch_size=4, epochs=3, verbose=0,
              callbacks=[BackupAndRestore(tmp_path / "b", keras_files=True, delete_checkpoint=False)])
    assert [p.name for p in (tmp_path / "b").iterdir() if p.name.isdigit()] == ["4"]  # epoch 0's orbax backup
