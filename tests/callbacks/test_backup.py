"""BackupAndRestore: a run killed with SIGKILL at any batch resumes to bitwise the same weights.

Every run is a fresh process (``scripts/backup_train.py``): the reference runs uninterrupted;
each interrupted run kills itself at a chosen batch, then the same command runs again and
resumes from the last backup. Weights, History, the CSV log and the epoch at which
EarlyStopping stopped training must all equal the reference's.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasish
from kerasish.callbacks.backup import BackupAndRestore

SCRIPT = Path(__file__).parent / "scripts" / "backup_train.py"
STEPS_PER_EPOCH = 13  # 200 samples, batch 16


def _run(tmp: Path, name: str, kill_at: int, backup: str, extra_env=None):
    out = tmp / f"{name}.npz"
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **(extra_env or {})}
    proc = subprocess.run([sys.executable, str(SCRIPT), str(out), str(tmp / backup), str(kill_at),
                           str(tmp / f"{name}.killed")], env=env, capture_output=True, text=True, timeout=300)
    return proc, out


def _result(out: Path):
    weights = np.load(out)
    return [weights[k] for k in sorted(weights, key=lambda k: int(k.split("_")[1]))], json.loads(
        Path(str(out) + ".json").read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backup_ref")
    proc, out = _run(tmp, "ref", 0, "backup")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (tmp / "backup").exists()  # delete_checkpoint=True removes it after a normal end
    weights, info = _result(out)
    assert info["epoch"] == [0, 1, 2]  # EarlyStopping stopped training after epoch 2 of 5
    assert info["history"]["learning_rate"][-1] < info["history"]["learning_rate"][0]  # ReduceLROnPlateau acted
    assert info["csv"].count("\n") == 4  # CSVLogger: a header and 3 rows
    return weights, info


# Kill points (batches counted from 1 over the whole run): in epoch 0 before any backup,
# mid-epoch 1, at the first batch after an epoch-end backup, and in epoch 2 after the
# EarlyStopping and ReduceLROnPlateau counters have moved (training stops at the end of epoch 2).
@pytest.mark.faults
@pytest.mark.parametrize("kill_at", [2, 20, 27, 33])
def test_sigkill_then_rerun_ends_bitwise_identical(tmp_path, reference, kill_at):
    proc, out = _run(tmp_path, "run", kill_at, "backup")
    assert proc.returncode == -9, (proc.returncode, proc.stderr[-3000:])  # SIGKILL: nothing ran after
    assert not out.exists()
    proc, out = _run(tmp_path, "run", kill_at, "backup")  # the same command again: resumes
    assert proc.returncode == 0, proc.stderr[-3000:]
    weights, info = _result(out)
    ref_weights, ref_info = reference
    assert len(weights) == len(ref_weights)
    for a, b in zip(weights, ref_weights):
        np.testing.assert_array_equal(a, b)
    assert info == ref_info


@pytest.mark.parametrize("kill_at", [20, 33])
def test_a_rerun_with_other_stateless_callbacks_resumes_bitwise_identical(tmp_path, reference, kill_at):
    # The rerun drops the (stateless) callback that killed the first run; the stateful ones
    # (EarlyStopping, ReduceLROnPlateau, CSVLogger, History) are matched by class.
    env = {"RERUN_CALLBACKS": "changed"}
    proc, out = _run(tmp_path, "run", kill_at, "backup", env)
    assert proc.returncode == -9, (proc.returncode, proc.stderr[-3000:])
    proc, out = _run(tmp_path, "run", kill_at, "backup", env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BackupAndRestore" not in proc.stderr  # nothing unmatched: no warning
    weights, info = _result(out)
    for a, b in zip(weights, reference[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert info == reference[1]


class Counter(kerasish.callbacks.Callback):
    """A stateful callback: counts epochs, and its count survives a resume."""

    def __init__(self):
        super().__init__()
        self.epochs = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1

    def get_state(self):
        return {"epochs": self.epochs}

    def set_state(self, state):
        self.epochs = state["epochs"]


def test_stateful_callbacks_are_matched_by_class_and_an_unmatched_one_is_named(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _fit(_small(), tmp_path, [Counter(), Crash(at_batch=10)])
    # the rerun: the Crash callback gone (stateless: ignored), the Counter matched, EarlyStopping new
    counter = Counter()
    with pytest.warns(UserWarning, match="holds no state for callback EarlyStopping") as record:
        _fit(_small(seed=9), tmp_path, [kerasish.callbacks.EarlyStopping(monitor="loss", patience=5), counter])
    assert counter.epochs == 3  # 1 epoch before the crash (restored) + 2 after
    assert not [w for w in record if "Counter" in str(w.message)]
    # a backup holding the state of a callback this fit does not have: dropped with a warning naming it
    with pytest.raises(KeyboardInterrupt):
        _fit(_small(), tmp_path / "two", [Counter(), Crash(at_batch=10)])
    with pytest.warns(UserWarning, match="state of a Counter callback that this fit does not have"):
        _fit(_small(seed=9), tmp_path / "two", [])


@pytest.mark.faults
def test_a_kill_during_a_save_leaves_the_previous_backup(tmp_path, reference):
    # A save that never committed (its temporary directory is all that is left) is ignored.
    proc, _ = _run(tmp_path, "run", 20, "backup")
    assert proc.returncode == -9
    backups = tmp_path / "backup"
    steps = sorted(int(p.name) for p in backups.iterdir() if p.name.isdigit())
    assert steps, list(backups.iterdir())
    (backups / f"{steps[-1] + 1}.orbax-checkpoint-tmp-1").mkdir()
    (backups / f"{steps[-1] + 1}.orbax-checkpoint-tmp-1" / "junk").write_text("half-written")
    proc, out = _run(tmp_path, "run", 20, "backup")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for a, b in zip(_result(out)[0], reference[0]):
        np.testing.assert_array_equal(a, b)


def test_a_backup_from_another_model_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")

    def model(units):
        m = kerasish.Sequential([kerasish.Input(shape=(4,)), kerasish.layers.Dense(units), kerasish.layers.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        return m

    backup = BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
    model(3).fit(x, y, epochs=1, verbose=0, callbacks=[backup])
    with pytest.raises(kerasish.FileFormatError, match="cannot be restored"):
        model(5).fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b")])


def test_bad_arguments():
    with pytest.raises(kerasish.ConfigError, match="save_freq"):
        BackupAndRestore("/tmp/x", save_freq="batch")
    with pytest.raises(kerasish.ConfigError, match="backup_dir"):
        BackupAndRestore("")


class Crash(kerasish.callbacks.Callback):
    """Raises at a chosen (run-wide) batch, or in on_train_end: an in-process stand-in for a kill."""

    def __init__(self, at_batch=None, at_train_end=False):
        super().__init__()
        self.at_batch, self.at_train_end, self.seen = at_batch, at_train_end, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.at_batch:
            raise KeyboardInterrupt("crash")

    def on_train_end(self, logs=None):
        if self.at_train_end:
            raise KeyboardInterrupt("crash at train end")


class Batches:
    """A re-iterable stream of 7 batches (the last one short): data without a length the engine knows."""

    def __init__(self):
        rng = np.random.default_rng(1)
        self.x = rng.normal(size=(100, 4)).astype("float32")
        self.y = (self.x[:, :1] * 2).astype("float32")

    def __iter__(self):
        return ((self.x[i:i + 16], self.y[i:i + 16]) for i in range(0, 100, 16))


def _small(seed=0):
    kerasish.utils.set_random_seed(seed)
    m = kerasish.Sequential([kerasish.Input(shape=(4,)), kerasish.layers.Dense(8, activation="relu"),
                             kerasish.layers.Dense(1)])
    m.compile(optimizer=kerasish.optimizers.SGD(0.1), loss="mse")
    return m


def _fit(model, tmp_path, extra, data=None, epochs=3):
    data = data if data is not None else Batches()
    scheduler = kerasish.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    return model.fit(data, epochs=epochs, verbose=0, callbacks=[
        BackupAndRestore(tmp_path / "b", save_freq=2), scheduler, *extra])


def _crash_then_resume(tmp_path, crash):
    with pytest.raises(KeyboardInterrupt):
        _fit(_small(), tmp_path, [crash])
    resumed = _small(seed=9)  # other initial weights: everything must come from the backup
    hist = _fit(resumed, tmp_path, [Crash()])
    return resumed, hist


@pytest.mark.parametrize("crash_at", [3, 7, 8, 12])
def test_streamed_data_and_a_rate_schedule_resume_exactly(tmp_path, crash_at):
    # 7 batches an epoch, a backup every 2: the end of epoch 2 (batch 14) comes right after a
    # mid-epoch backup at the same batch count; and a schedule of the current rate must apply
    # once per epoch even when a resume re-enters an epoch (on_epoch_begin runs again).
    reference = _small()
    ref_hist = _fit(reference, tmp_path / "ref", [Crash()])
    resumed, hist = _crash_then_resume(tmp_path, Crash(at_batch=crash_at))
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert hist.history == ref_hist.history


def test_a_run_stopped_by_a_callback_stays_stopped_after_a_crash_at_its_end(tmp_path):
    def run(extra):
        return _fit(_small(), tmp_path, [kerasish.callbacks.EarlyStopping(monitor="loss", min_delta=100,
                                                                          patience=1), *extra], epochs=6)

    reference = run([])
    assert reference.epoch == [0, 1]
    with pytest.raises(KeyboardInterrupt):
        run([Crash(at_train_end=True)])  # after the last backup, before BackupAndRestore cleans up
    hist = run([Crash()])
    assert hist.history == reference.history  # no extra epoch trained after the resume


def test_the_same_batch_count_backed_up_twice_does_not_fail(tmp_path):
    # save_freq=7 with 7 batches an epoch: the mid-epoch point and the epoch end share a step.
    model = _small()
    model.fit(Batches(), epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path / "b", save_freq=7,
                                                                          delete_checkpoint=False)])
    assert sorted(int(p.name) for p in (tmp_path / "b").iterdir() if p.name.isdigit())[-1] == 14
