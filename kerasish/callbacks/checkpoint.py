"""ModelCheckpoint: save the model (or its weights) during training, every epoch, every N batches, or when best."""

from __future__ import annotations

import errno
import os
import re
import warnings

import jax
import numpy as np

from kerasish.callbacks.base import Callback
from kerasish.callbacks.monitor import check_monitor, resolve_direction, unresolved_direction
from kerasish.distribution import to_host
from kerasish.engine import state as engine_state
from kerasish.errors import ConfigError, FileFormatError, StorageError, storage_error

# Whole-model and weights-only names: Keras 3's formats first (what Keras code writes), then kerasish's own.
_MODEL_SUFFIXES = (".keras", ".kerasish")
_WEIGHTS_SUFFIXES = (".weights.h5", ".weights.safetensors")
_LEGACY_SUFFIXES = (".h5", ".hdf5")
# A file extension ending the last path component (letters only): not taken for an orbax directory's name.
_FILE_EXTENSION = re.compile(r"(?<=[^/.])\.[A-Za-z]{1,11}$")


# What orbax/tensorstore say when a write fails for lack of room (their errors are ValueErrors whose text
# holds the OS's code, e.g. "RESOURCE_EXHAUSTED: Error opening "zarr" driver: ... [os_error_code='28']").
_OS_CODE = re.compile(r"os_error_code='?(\d+)")
_NO_ROOM_WORDS = (("No space left", errno.ENOSPC), ("File too large", errno.EFBIG),
                  ("Disk quota exceeded", errno.EDQUOT), ("RESOURCE_EXHAUSTED", errno.ENOSPC))


def as_storage_error(exc: BaseException, where: str, doing: str) -> StorageError | None:
    """The StorageError for a failed write of an orbax checkpoint (or of any file), when ``exc`` or one of
    its causes is an OS error or an orbax/tensorstore error carrying one; None for any other failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None:  # a StorageError too: told where, again
            return storage_error(exc, where, doing)
        text = str(exc)
        code = _OS_CODE.search(text)
        code = int(code.group(1)) if code else next((c for words, c in _NO_ROOM_WORDS if words in text), None)
        if code is not None:
            err = storage_error(OSError(code, os.strerror(code)), where, doing)
            err.__cause__ = exc
            return err
        exc = exc.__cause__ or exc.__context__
    return None


def _directory_failure(err: OSError, path: str, directory: str) -> StorageError:
    """The StorageError for failing to create ``directory`` to save ``path`` in: naming the file in the
    way when a parent is one (makedirs says only "File exists" or "Not a directory")."""
    blocker = directory
    while blocker and not os.path.exists(blocker) and os.path.dirname(blocker) != blocker:
        blocker = os.path.dirname(blocker)
    if os.path.exists(blocker) and not os.path.isdir(blocker):
        failure = storage_error(OSError(errno.ENOTDIR, f"{blocker!r} is a file, not a directory"), path,
                                "save the checkpoint")
        failure.__cause__ = err
        return failure
    return storage_error(err, path, f"create the directory {directory!r} for the checkpoint")


class ModelCheckpoint(Callback):
    """Saves the model or its weights as training goes (Keras's arguments).

    Args:
        filepath: where to save. A template formatted with ``epoch`` (counted from 1, as
            Keras), ``batch`` and the logs, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.kerasish"``.
            It must end with ``.keras`` (Keras 3's whole-model file; ``.kerasish`` for kerasish's
            own, :meth:`Model.save`) or, with ``save_weights_only=True``, ``.weights.h5``
            (``.weights.safetensors``; :meth:`Model.save_weights`). A path with none of these
            suffixes is a directory of orbax checkpoints (a kerasish addition): one
            ``CheckpointManager`` step per save, written asynchronously, ``max_to_keep`` kept;
            :func:`load_checkpoint` reads them back (a write failing for lack of room is a StorageError
            naming the directory; temporary directories of killed saves go at the next fit's first save).
            A last path component ending in another file extension (a dot and 1 to 11 letters:
            ``ck.txt``, ``model.safetensors``) is a ConfigError, not a directory of that name; one whose
            suffix holds a digit or a template field (``runs/ckpt.v2``, ``lr_0.01``) is a directory, and
            a trailing ``/`` (``"ck.best/"``) makes any name one. Keras 2's legacy ``.h5`` is read by
            ``load_model`` but not written: such a name is a ConfigError naming ``.keras``. Parent
            directories are created as a save needs them; failing that (a parent that is a file, a
            read-only file system) is a StorageError naming the path.
        monitor: the logged quantity that ``save_best_only`` compares.
        verbose: 1 prints a line per save.
        save_best_only: save only when ``monitor`` improved on the best so far (a template
            without ``{epoch}`` then always holds the best model).
        save_weights_only: save weights only (no architecture or optimizer state).
        mode: ``"auto"``, ``"min"`` or ``"max"`` (auto: max for accuracy/AUC-like names).
        save_freq: ``"epoch"`` or an int N: save after every N batches (such a callback
            makes ``fit`` run one step per call, so the saved state is that batch's).
        initial_value_threshold: a best value to beat before the first save (with save_best_only).
        max_to_keep: orbax directories only: how many checkpoints to keep (None: all).
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq="epoch",
                 initial_value_threshold: float | None = None, max_to_keep: int | None = None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        check_monitor("ModelCheckpoint", monitor, mode)
        self._mode_arg = mode
        self.mode = resolve_direction(monitor, mode)  # None: settled from the compiled metrics at train begin
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ConfigError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}.")
        self.save_freq = save_freq
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep < 1):
            raise ConfigError(f"ModelCheckpoint: max_to_keep must be None or an int >= 1, got {max_to_keep!r}.")
        self.max_to_keep = max_to_keep
        if self._always_orbax:  # OrbaxCheckpoint: a directory whatever its name
            if re.search(r"\{[^}]*\}", self.filepath):
                raise ConfigError(f"{type(self).__name__}: the directory {self.filepath!r} cannot be a template.")
            self.kind = "orbax"
        else:
            self.kind = self._kind_of(self.filepath, save_weights_only)
        self.requires_single_steps = save_freq != "epoch"
        self.best = initial_value_threshold
        self._batches_since_save = 0
        self._epoch = 0
        self._manager = None

    _always_orbax = False
    _save_on_background = True

    @staticmethod
    def _kind_of(filepath: str, save_weights_only: bool) -> str:
        if filepath.endswith(_WEIGHTS_SUFFIXES):
            if not save_weights_only:
                raise ConfigError(f"ModelCheckpoint: filepath={filepath!r} names a weights file: pass "
                                  "save_weights_only=True, or end it with '.keras' to save the whole model.")
            return "weights"
        if filepath.endswith(_MODEL_SUFFIXES):
            if save_weights_only:
                raise ConfigError("ModelCheckpoint: with save_weights_only=True the filepath must end in "
                                  f"'.weights.h5' (or '.weights.safetensors'). Received: filepath={filepath!r}")
            return "model"
        if filepath.endswith(_LEGACY_SUFFIXES):
            raise ConfigError(f"ModelCheckpoint: filepath={filepath!r} asks for Keras 2's legacy HDF5 format, which "
                              "kerasish reads but does not write. End it with '.keras' (the whole model) or, with "
                              "save_weights_only=True, '.weights.h5'.")
        suffix = _FILE_EXTENSION.search(filepath)
        if suffix:
            endings = _WEIGHTS_SUFFIXES if save_weights_only else _MODEL_SUFFIXES
            raise ConfigError(f"ModelCheckpoint: filepath={filepath!r} ends in {suffix.group(0)!r}, a file extension "
                              f"kerasish does not save as. End it with {' or '.join(map(repr, endings))}"
                              f"{'' if save_weights_only else ' (with save_weights_only=True: .weights.h5)'}; a "
                              "name without such a suffix is a directory of orbax checkpoints (end it with '/' to "
                              "use this name as one).")
        if re.search(r"\{[^}]*\}", filepath):
            raise ConfigError(f"ModelCheckpoint: {filepath!r} is an orbax checkpoint directory (it ends with none of "
                              f"{_MODEL_SUFFIXES + _WEIGHTS_SUFFIXES}); it cannot be a template.")
        return "orbax"

    # -- state for BackupAndRestore --------------------------------------------------------------
    def get_state(self) -> dict:
        return {"best": self.best, "batches_since_save": self._batches_since_save}

    def set_state(self, state: dict) -> None:
        self.best = state["best"]
        self._batches_since_save = int(state["batches_since_save"])

    # -- hooks ------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self.save_best_only and self.mode is None:
            self.mode = resolve_direction(self.monitor, self._mode_arg, self.model)
            if self.mode is None:
                raise unresolved_direction("ModelCheckpoint", self.monitor)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._maybe_save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._maybe_save(epoch, None, logs)

    def on_train_end(self, logs=None):
        if self._manager is not None:
            manager, self._manager = self._manager, None
            try:
                manager.wait_until_finished()  # a background write's failure surfaces here
            except Exception as err:  # noqa: BLE001 - orbax raises many types
                raise self._save_failure(err, None) from err
            finally:
                manager.close()

    # -- saving -----------------------------------------------------------------------------------
    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _maybe_save(self, epoch: int, batch, logs) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:  # as Keras: warn, and save anyway
                warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} in the logs, "
                              f"which hold {sorted(logs)}: saving without comparing.", stacklevel=2)
                self._save(epoch, batch, logs)
                return
            if not self._improved(current):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {previous} to {current:.5f}, saving model")
            self.best = current
        self._save(epoch, batch, logs)

    def _path(self, epoch: int, batch, logs: dict) -> str:
        try:
            # As Keras: epoch and batch count from 1 (a batch only in per-batch saves).
            extra = {"epoch": epoch + 1} if batch is None else {"epoch": epoch + 1, "batch": batch + 1}
            return self.filepath.format(**extra, **logs)
        except KeyError as err:
            raise ConfigError(f"ModelCheckpoint: the filepath {self.filepath!r} names {err.args[0]!r}, which is "
                              f"not among the logs {sorted(logs)} (nor 'epoch', or 'batch' with an int "
                              "save_freq).") from None

    def _save(self, epoch: int, batch, logs: dict) -> None:
        if self.kind == "orbax":
            self._save_orbax(epoch, batch)
            return
        path = self._path(epoch, batch, logs)
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:  # a parent that is a file, a read-only file system, no permission
            raise _directory_failure(err, path, directory) from err
        if self.kind == "weights":
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose > 0 and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")

    def _save_orbax(self, epoch: int, batch) -> None:
        import orbax.checkpoint as ocp

        if self._manager is None:
            # cleanup_tmp_directories: the temporary directories of saves killed midway go when a run starts
            options = ocp.CheckpointManagerOptions(max_to_keep=self.max_to_keep, cleanup_tmp_directories=True,
                                                   enable_async_checkpointing=self._save_on_background)
            try:
                self._manager = ocp.CheckpointManager(os.path.abspath(self.filepath), options=options)
            except Exception as err:  # noqa: BLE001 - orbax raises many types; report one
                raise self._save_failure(err, None) from err
        model = self.model
        # Host copies: the training step donates the device buffers the async write would read.
        items = {"weights": ocp.args.StandardSave([np.array(w) for w in model.get_weights()])}
        if not self.save_weights_only and engine_state.optimizer_current(model):
            items["optimizer"] = ocp.args.StandardSave([np.array(to_host(v.value)) for v in model.optimizer.variables])
        step = engine_state.step_count(model)
        step = epoch + 1 if step is None else step
        items["meta"] = ocp.args.JsonSave({"epoch": epoch + 1, "batch": None if batch is None else batch + 1,
                                           "has_optimizer": "optimizer" in items})
        manager = self._manager
        try:
            manager.wait_until_finished()
            if step in manager.all_steps():  # a resumed run, or a new model in the same directory
                manager.delete(step)
            manager.save(step, args=ocp.args.Composite(**items), force=True)
        except Exception as err:  # noqa: BLE001 - orbax raises many types; report one
            raise self._save_failure(err, step) from err

    def _save_failure(self, err: Exception, step) -> Exception:
        """A save's failure (or an earlier background save's) as one kerasish error: a StorageError when the
        disk is full or not writable (the checkpoints committed before are intact), else a FileFormatError."""
        name = type(self).__name__
        failure = as_storage_error(err, os.path.abspath(self.filepath), f"write an orbax checkpoint ({name}) into")
        if failure is not None:
            failure.strerror += " The checkpoints committed before are intact."
            return failure
        which = "a checkpoint" if step is None else f"step {step}"
        return FileFormatError(f"{name}: cannot save {which} in {self.filepath!r} ({type(err).__name__}: {err}).")


def load_checkpoint(model, directory, step: int | None = None) -> dict:
    """Load weights (and the optimizer state, if saved and the model is compiled) from a
    :class:`ModelCheckpoint` orbax directory into ``model``; returns the checkpoint's metadata.

    Args:
        model: a built model of the same architecture.
        directory: the ``filepath`` given to ``ModelCheckpoint``.
        step: the checkpoint step (the model's step counter when saved); default the latest.
    """
    import orbax.checkpoint as ocp

    directory = os.path.abspath(os.fspath(directory))
    if not os.path.isdir(directory):
        raise FileFormatError(f"No checkpoint directory at {directory!r}.")
    expected = model.weights
    where = directory
    try:
        manager = ocp.CheckpointManager(directory)
    except Exception as err:  # noqa: BLE001
        raise FileFormatError(f"{directory!r} is not a readable checkpoint directory ({type(err).__name__}: "
                              f"{err}).") from err
    try:
        step = manager.latest_step() if step is None else step
        if step is None or step not in manager.all_steps():
            raise FileFormatError(f"No checkpoint{'' if step is None else f' at step {step}'} in {directory!r} "
                                  f"(steps: {list(manager.all_steps())}).")
        where = os.path.join(directory, str(step))
        try:
            meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
            items = {"weights": ocp.args.StandardRestore(
                [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in expected])}
            # The optimizer state only into a compiled model (an uncompiled one takes the weights alone).
            if meta.get("has_optimizer") and getattr(model, "optimizer", None) is not None:
                if not engine_state.optimizer_current(model):
                    engine_state.build_optimizer(model)
                items["optimizer"] = ocp.args.StandardRestore(
                    [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in model.optimizer.variables])
            restored = manager.restore(step, args=ocp.args.Composite(**items))
        except FileFormatError:
            raise
        except Exception as err:  # noqa: BLE001 - orbax/tensorstore raise many types; report one
            raise FileFormatError(f"The checkpoint {where!r} cannot be read into model {model.name!r} "
                                  f"({type(err).__name__}: {err}).") from err
    finally:
        manager.close()
    weights = [np.asarray(w) for w in restored["weights"]]
    if len(weights) != len(expected):
        raise FileFormatError(f"The checkpoint {where!r} holds {len(weights)} weights; "
                              f"model {model.name!r} has {len(expected)}.")
    for var, w in zip(expected, weights):
        if tuple(w.shape) != tuple(var.shape):
            raise FileFormatError(f"The checkpoint {where!r} does not match model {model.name!r}: weight "
                                  f"{var.path!r} is {tuple(w.shape)} in the file, {tuple(var.shape)} in the model.")
    model.set_weights(weights)
    if restored.get("optimizer") is not None:
        for var, value in zip(model.optimizer.variables, restored["optimizer"]):
            var.assign(np.asarray(value))
    return meta
