"""BackupAndRestore: survive a crash (even SIGKILL) and resume training exactly where it stopped.

A backup holds everything the rest of training depends on: the whole state pytree
(weights, non-trainable state, optimizer state, metric accumulators, RNG key, step
counter), the epoch and the batch within it, the shuffling generator's state at the
start of that epoch (so the epoch's data order is drawn again, identically), and the
state of every other stateful callback (``Callback.get_state``: EarlyStopping's counter and
best, History so far, ...; matched on resume by class and order, so a rerun may add or drop
stateless callbacks). A resumed run applies no batch twice and skips none: its final
weights are bitwise identical to an uninterrupted run's on the CPU.

Backups are orbax-checkpoint steps (``CheckpointManager``): each is written to a
temporary directory and committed by a rename, so a kill during a save leaves the
previous backup in place; the temporary directories such a kill leaves are removed when the
next fit opens the directory. A save that fails for lack of room (disk full, quota, file-size
limit) or a write permission is a :class:`kerasish.errors.StorageError` naming the directory;
the backups committed before stay intact and a rerun resumes from the newest of them.

A backup's position is "so many samples of this epoch trained on", recorded with the data it refers
to (kind, batch size, dataset size, shuffle flag, steps per epoch). A rerun over the same data
resumes exactly; over arrays batched differently it continues at the exact sample position; over
other data it restarts the interrupted epoch; each change is said in one warning line (see
:mod:`kerasish.engine.progress`).

With ``keras_files=True`` the directory also gets, at every epoch's end, what Keras 3's
BackupAndRestore keeps there: ``latest.weights.h5`` (weights and optimizer state, Keras's format)
and ``training_metadata.json`` (``{"epoch": epochs done, "batch": 0}``), each written atomically,
so that Keras can resume a run kerasish backed up (off by default: it about doubles the cost of a
backup). kerasish always resumes a run Keras backed up: from such a directory (no orbax backup in
it) it restores the weights and optimizer state and continues at the next epoch, as Keras does; the
data order and dropout then differ from an uninterrupted run (a warning says so).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from typing import Any

import jax
import numpy as np

from kerasish.callbacks.base import Callback, is_stateful
from kerasish.callbacks.checkpoint import as_storage_error
from kerasish.distribution import sync, to_host
from kerasish.errors import ConfigError, FileFormatError, StorageError

_ARRAY_TAG = "__ndarray__"
_KERAS_WEIGHTS = "latest.weights.h5"  # Keras 3's BackupAndRestore files
_KERAS_METADATA = "training_metadata.json"


def _split_arrays(obj: Any, arrays: dict) -> Any:
    """``obj`` with every NumPy/JAX array replaced by a tag; the arrays go to ``arrays``."""
    if isinstance(obj, (np.ndarray, jax.Array)):
        key = str(len(arrays))
        arrays[key] = np.asarray(obj)
        return {_ARRAY_TAG: key}
    if isinstance(obj, dict):
        return {str(k): _split_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split_arrays(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _join_arrays(obj: Any, arrays: dict) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY_TAG}:
            return np.asarray(arrays[obj[_ARRAY_TAG]])
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj


def _check_like(restored, target, where: str) -> None:
    """Every restored leaf has the target's place, shape and dtype (orbax keeps the saved shapes)."""
    got, got_def = jax.tree_util.tree_flatten_with_path(restored)
    want, want_def = jax.tree_util.tree_flatten_with_path(target)
    if got_def != want_def:
        raise FileFormatError(f"BackupAndRestore: the backup at {where!r} has a different state structure from "
                              f"this model's ({len(got)} arrays in the backup, {len(want)} in the model).")
    for (path, a), (_, b) in zip(got, want):
        if tuple(np.shape(a)) != tuple(b.shape) or np.dtype(a.dtype) != np.dtype(b.dtype):
            raise FileFormatError(
                f"BackupAndRestore: the backup at {where!r} cannot be restored into this model: "
                f"{jax.tree_util.keystr(path)} is {np.dtype(a.dtype).name}{tuple(np.shape(a))} in the backup, "
                f"{np.dtype(b.dtype).name}{tuple(b.shape)} in the model.")


class BackupAndRestore(Callback):
    """Back up training regularly; after an interruption, rerunning the same ``fit`` resumes it exactly.

    Args:
        backup_dir: directory for the backups (created if missing). Use one directory per run.
        save_freq: ``"epoch"`` (back up after every epoch) or an int N (also every N batches).
        delete_checkpoint: delete ``backup_dir`` when training finishes normally.
        max_to_keep: how many backups to keep (the newest ones); at least 1.
        keras_files: also write Keras 3's backup files at every epoch's end, so that Keras's
            ``BackupAndRestore`` can resume the run (a kerasish addition; Keras reads nothing else here).

    Exactness needs the same steps: with ``steps_per_execution="auto"`` a model with this
    callback runs one step per call (fused calls round differently in the last bit, and
    the automatic choice is timed, so it may differ between runs). With an int
    ``steps_per_execution=k`` backups are taken at call boundaries, i.e. every
    ``save_freq`` batches rounded up to a multiple of k. Array data resumes exactly;
    a generator or other iterable is resumed by drawing again and skipping the batches
    already trained on, which is exact if it yields the same batches in a new process.

    Example::

        model.fit(x, y, epochs=10, callbacks=[kerasish.callbacks.BackupAndRestore("/tmp/run1/backup")])
    """

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch",
                 delete_checkpoint: bool = True, max_to_keep: int = 2, keras_files: bool = False):
        super().__init__()
        if not backup_dir:
            raise ConfigError("BackupAndRestore needs a backup_dir.")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ConfigError(f"BackupAndRestore: save_freq must be 'epoch' or a positive int, got {save_freq!r}.")
        if not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ConfigError(f"BackupAndRestore: max_to_keep must be an int >= 1, got {max_to_keep!r}.")
        self.requires_single_steps = True  # with steps_per_execution="auto": see the class docstring
        self.backup_dir = os.path.abspath(os.fspath(backup_dir))
        # As Keras's, backup_dir is a directory whatever its name ("run.keras" too); an existing file is refused
        # here rather than failing inside orbax at the first save.
        if os.path.exists(self.backup_dir) and not os.path.isdir(self.backup_dir):
            raise ConfigError(f"BackupAndRestore: backup_dir={os.fspath(backup_dir)!r} is an existing file; "
                              "it must be a directory (created if missing).")
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self.max_to_keep = max_to_keep
        self.keras_files = bool(keras_files)
        self._manager = None
        self._failed: StorageError | None = None  # a save failed: reported once, nothing more is written
        self._batches = 0        # batches trained in this run so far, the backups' step numbers
        self._last_saved = 0

    # -- orbax --------------------------------------------------------------------------------
    def _checkpoints(self):
        if self._manager is None:
            import orbax.checkpoint as ocp

            os.makedirs(self.backup_dir, exist_ok=True)
            # cleanup_tmp_directories: the temporary directories of saves killed midway go as the run starts
            options = ocp.CheckpointManagerOptions(max_to_keep=self.max_to_keep, enable_async_checkpointing=True,
                                                   cleanup_tmp_directories=True)
            self._manager = ocp.CheckpointManager(self.backup_dir, options=options)
        return self._manager

    def _save(self, run, meta: dict) -> None:
        import orbax.checkpoint as ocp

        if self._failed is not None:
            return
        # Host copies first: the next step donates (reuses) the device buffers while the
        # asynchronous write may still be running.
        host_state = jax.tree.map(lambda a: np.array(to_host(a)), run.state._asdict())
        arrays: dict = {}
        meta = {**meta, "shuffle_state": run.shuffle_state, "data": run.position(), "batches": self._batches,
                "callbacks": [{"class": _class_key(cb), "state": _split_arrays(cb.get_state(), arrays)}
                              for cb in run.others(self) if is_stateful(cb)]}
        items = {"state": ocp.args.StandardSave(host_state), "meta": ocp.args.JsonSave(meta)}
        if arrays:
            items["arrays"] = ocp.args.StandardSave(arrays)
        try:
            manager = self._checkpoints()
            manager.wait_until_finished()  # the previous save's background failure surfaces here
            if self._batches in manager.all_steps():
                # The same batch count saved again: the end of an epoch right after a mid-epoch backup
                # (streamed data, or a stop in a batch hook). The later save knows more: it replaces it.
                manager.delete(self._batches)
            manager.save(self._batches, args=ocp.args.Composite(**items), force=True)
        except Exception as err:  # noqa: BLE001 - orbax/tensorstore raise many types
            failure = self._failure(err)
            if failure is None:
                raise
            raise failure from err
        self._last_saved = self._batches

    def _failure(self, err: BaseException, doing: str = "write a backup into") -> StorageError | None:
        """A failed write as a StorageError naming the directory and the backups still intact (remembered:
        nothing more is written, and closing does not report it again); None for any other error."""
        failure = as_storage_error(err, self.backup_dir, doing)
        if failure is None:
            return None
        kept = sorted(int(p) for p in os.listdir(self.backup_dir) if p.isdigit()) \
            if os.path.isdir(self.backup_dir) else []
        failure.strerror += (f" The backups committed before are intact (the newest after {kept[-1]} batches); a "
                             "rerun resumes from it." if kept else " No backup had been committed there yet.")
        self._failed = failure
        return failure

    # -- the fit's resume hooks (see kerasish.engine.progress) --------------------------------------
    def on_run_begin(self, run) -> None:
        """Load the newest backup, if there is one, into the run: its state, position and callbacks."""
        import orbax.checkpoint as ocp

        self._batches = self._last_saved = 0
        self._failed = None
        if not os.path.isdir(self.backup_dir):
            return
        manager = self._checkpoints()
        step = manager.latest_step()
        if step is None:
            self._resume_from_keras_backup(run)
            return
        where = os.path.join(self.backup_dir, str(step))
        target = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype), run.state._asdict())
        try:
            meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
            items = {"state": ocp.args.StandardRestore(target)}
            if any(_ARRAY_TAG in str(s) for s in meta.get("callbacks", [])):
                items["arrays"] = ocp.args.StandardRestore()
            restored = manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as err:  # noqa: BLE001 - orbax/tensorstore raise many types; report one
            raise FileFormatError(
                f"BackupAndRestore: the backup at {where!r} cannot be restored into this model "
                f"({type(err).__name__}: {err}). Was it written by a different model or compile setup? Delete "
                "the directory to start over."
            ) from err
        _check_like(restored["state"], target, where)
        arrays = {k: np.asarray(v) for k, v in restored.get("arrays", {}).items()}
        self._restore_callbacks(meta.get("callbacks", []), run.others(self), arrays)
        state = type(run.state)(**jax.tree.map(jax.numpy.asarray, restored["state"]))
        self._batches = self._last_saved = int(meta["batches"])
        run.resume(state, int(meta["epoch"]), int(meta["batch"]), meta.get("shuffle_state"),
                   bool(meta.get("stop_training")), position=meta.get("data"),
                   where=f"the backup in {self.backup_dir!r}")

    def _resume_from_keras_backup(self, run) -> None:
        """Continue a run that Keras 3's BackupAndRestore backed up into this directory (epoch-level)."""
        from kerasish.saving import keras_file

        weights = os.path.join(self.backup_dir, _KERAS_WEIGHTS)
        if not os.path.exists(weights):
            return
        metadata_path = os.path.join(self.backup_dir, _KERAS_METADATA)
        try:
            with open(metadata_path, "rb") as f:
                epoch = json.loads(f.read(4096))["epoch"]
            if not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"epoch={epoch!r}")
        except FileNotFoundError:
            epoch = 0
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise FileFormatError(f"BackupAndRestore: {metadata_path!r} is not Keras's training metadata ({e}).") from e
        keras_file.load_weights(self.model, weights)
        state = run.state_from_model()
        warnings.warn(f"BackupAndRestore: resuming from the Keras backup in {self.backup_dir!r} at epoch {epoch + 1}: "
                      "weights and optimizer state restored; the data order and dropout differ from an "
                      "uninterrupted run (a kerasish backup resumes exactly).", stacklevel=4)
        run.resume(state, epoch, 0, None, False)

    def _write_keras_backup(self, epochs_done: int) -> None:
        """Keras 3's BackupAndRestore files, so that Keras can resume this run too."""
        from kerasish.saving import files, keras_file

        # Every process takes part (gathering sharded values is collective); only process 0 writes the files.
        try:
            keras_file.save_weights(self.model, os.path.join(self.backup_dir, _KERAS_WEIGHTS))
            files.atomic_write_bytes(os.path.join(self.backup_dir, _KERAS_METADATA),
                                     json.dumps({"epoch": int(epochs_done), "batch": 0}).encode("utf-8"))
        except OSError as err:
            failure = self._failure(err, "write Keras's backup files (keras_files=True) into")
            if failure is None:
                raise
            raise failure from err

    def _restore_callbacks(self, saved: list, others: list[Callback], arrays: dict) -> None:
        """Give each stateful callback of this fit the saved state of the same class, in order.

        Stateless callbacks (no ``get_state`` of their own) play no part, so a rerun may add or
        drop them. A stateful callback with no saved state starts afresh, and a saved state with
        no callback of its class is dropped; each gets a warning naming it.
        """
        pools: dict[str, list] = {}
        for entry in saved:
            if not isinstance(entry, dict) or "class" not in entry:
                raise FileFormatError(f"BackupAndRestore: the backup in {self.backup_dir!r} holds callback states "
                                      "in a format this version does not read; delete the directory to start over.")
            pools.setdefault(entry["class"], []).append(entry)
        for cb in others:
            if not is_stateful(cb):
                continue
            entries = pools.get(_class_key(cb))
            if entries:
                cb.set_state(_join_arrays(entries.pop(0)["state"], arrays))
            else:
                warnings.warn(f"BackupAndRestore: the backup in {self.backup_dir!r} holds no state for callback "
                              f"{type(cb).__name__}; it starts afresh.", stacklevel=4)
        for key, entries in pools.items():
            for _ in entries:
                warnings.warn(f"BackupAndRestore: the backup in {self.backup_dir!r} holds the state of a "
                              f"{key.rsplit('.', 1)[-1]} callback that this fit does not have; it is ignored.",
                              stacklevel=4)

    def on_run_call_end(self, run, steps: int) -> None:
        """After each call: back up every ``save_freq`` batches (mid-epoch points only; the end of an
        epoch is backed up by :meth:`on_run_epoch_end`, once the epoch's callbacks have run)."""
        self._batches += steps
        if (self.save_freq == "epoch" or self._batches - self._last_saved < self.save_freq
                or (run.steps is not None and run.batch >= run.steps)):
            return
        self._save(run, {"epoch": run.epoch, "batch": run.batch})

    def on_run_epoch_end(self, run) -> None:
        """After an epoch and its callbacks (``run.stop_training``: a callback ended training there)."""
        self._save(run, {"epoch": run.epoch, "batch": 0, "stop_training": bool(run.stop_training)})
        if self.keras_files:
            self._write_keras_backup(run.epoch)

    def on_run_end(self, run) -> None:
        """Finish pending writes and release the manager, however training stops."""
        self.close()

    def on_train_end(self, logs=None):
        self.close()  # the last save's background failure surfaces here
        if self.delete_checkpoint:
            sync("kerasish-backup-done")  # every process has finished with the backups
            if jax.process_index() == 0 and os.path.isdir(self.backup_dir):
                shutil.rmtree(self.backup_dir, ignore_errors=True)

    def close(self) -> None:
        """Finish pending writes and release the manager (a failed write: a StorageError, reported once)."""
        if self._manager is not None:
            manager, self._manager = self._manager, None
            error = None
            for finish in (manager.wait_until_finished, manager.close):
                try:
                    finish()
                except Exception as err:  # noqa: BLE001 - orbax/tensorstore raise many types
                    error = error or err
            if error is not None and self._failed is None:  # (a failure already reported is not again)
                raise self._failure(error) or error


def _class_key(cb: Callback) -> str:
    return f"{type(cb).__module__}.{type(cb).__qualname__}"
