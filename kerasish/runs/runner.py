"""A run: a validated config, a recipe call, and a run directory that holds everything it produced.

``runs/<name>/<timestamp>/``:

- ``config.yaml``: the resolved config (defaults, file and overrides merged), what ``--resume`` reruns;
- ``run.json``: the recipe file, start/end times, status (running / completed / failed) and the error;
- ``console.log``: everything the run printed (stdout and stderr);
- ``tensorboard/``, ``checkpoints/best.kerasish``, ``history.csv``, ``backup/`` (BackupAndRestore: deleted
  when a fit completes, kept when a run dies, so that ``--resume`` continues it exactly);
- ``metrics.json``: the final metrics; ``model.kerasish``: the trained model.

Failures (decided behaviour, see :func:`run`):

- the run directory is created atomically: two runs of one config started in the same second (other
  processes, threads) get ``<timestamp>``, ``<timestamp>-1``, ``<timestamp>-2``, ... and never collide;
- every file-system failure (a read-only or uncreatable root, a full disk, a file-size limit) is a
  :class:`~kerasish.errors.StorageError` naming the file or folder; "no space left" for the last two;
- a run directory that exists when the run fails is marked ``"status": "failed"`` in ``run.json`` with the
  error (if even that cannot be written, the error's note says so);
- a ``console.log`` that cannot be written any more (a full disk) stops, with one warning line, and the
  run goes on printing to the terminal only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from kerasish.errors import STORAGE_ERRNOS, ConfigError, KerasishError, StorageError, storage_error
from kerasish.runs.config import RunConfig, load_config, recipe_sections, to_yaml
from kerasish.saving.files import atomic_write_bytes


@dataclasses.dataclass
class RunResult:
    """What :func:`run` returns: the run directory, the final metrics, the trained model and the config."""

    run_dir: Path
    metrics: dict
    model: Any
    config: dict


class _ConsoleLog:
    """The run's ``console.log``, shared by the stdout and stderr tees.

    A write that fails (a full disk, a file-size limit) stops the log, never the run: the file is
    closed, one warning line goes to the terminal, and the output goes on to the terminal only.
    """

    def __init__(self, path: Path, file, terminal):
        self.path, self._file, self._terminal = path, file, terminal
        self.error: StorageError | None = None

    def write(self, text: str, warn: bool = True) -> None:
        if self._file is None:
            return
        try:
            self._file.write(text)
            self._file.flush()
        except (OSError, ValueError) as e:
            self._stop(e, warn)

    def flush(self) -> None:
        self.write("")

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            with contextlib.suppress(OSError, ValueError):
                file.close()

    def _stop(self, exc: BaseException, warn: bool) -> None:
        self.error = exc if isinstance(exc, StorageError) else storage_error(exc, self.path)
        self.close()
        if not warn:
            return
        with contextlib.suppress(OSError, ValueError):
            self._terminal.write(f"kerasish run: warning: {self.path.name} is no longer written ({self.error}); "
                                 "the output goes on to the terminal only.\n")
            self._terminal.flush()


class _Tee:
    """A text stream that writes to the terminal and to the run's console log."""

    def __init__(self, stream, log: _ConsoleLog):
        self._stream, self._log = stream, log

    def write(self, text):
        self._log.write(text)
        return self._stream.write(text)

    def flush(self):
        self._stream.flush()
        self._log.flush()

    def isatty(self):
        return False  # progress bars draw lines the log can keep

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n").encode())


def _jsonable(value):
    """A metric as JSON: ints stay ints (counts), other numbers become floats, anything else a string."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _new_run_dir(root: Path, name: str) -> Path:
    """Create ``root/name/<timestamp>`` atomically: a name another run took first (the same second, another
    process) gets the next free suffix, ``<timestamp>-1``, ``-2``, ...

    Raises:
        StorageError: the folder cannot be created (read-only, no permission, a file in the way, no space).
    """
    parent = root / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _creation_error(e, parent) from e
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    n = 0
    while True:
        path = parent / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            path.mkdir()  # atomic: exactly one caller creates it
            return path
        except FileExistsError:
            n += 1
        except OSError as e:
            raise _creation_error(e, path) from e


def _creation_error(exc: OSError, path: Path) -> StorageError:
    """A StorageError for a run folder that cannot be made; names a file standing where a folder must be."""
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None and isinstance(exc, (FileExistsError, NotADirectoryError)):
        err = StorageError(exc.errno, f"Cannot create the run directory {str(path)!r}: {str(blocker)!r} is a file, "
                                      "not a directory.")
        err.__cause__ = exc
        return err
    return storage_error(exc, path, "create the run directory")


def _as_storage_error(exc: BaseException, run_dir: Path) -> BaseException:
    """``exc`` as a StorageError when it is a failing write (in its ``__cause__`` chain too), else ``exc``.

    An OSError with a storage errno (no space, file-size limit, read-only) is one wherever it happens; a
    permission error is one when it names a file inside the run directory (the run's own place became
    unwritable). Where the OS names no file (a write to an open file), the error names the run directory.
    Anything else (a recipe reading a missing file) stays what it is.
    """
    if isinstance(exc, StorageError):
        return exc
    cause, seen = exc, set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, StorageError):
            return cause
        if isinstance(cause, OSError):
            filename = cause.filename
            if cause.errno in STORAGE_ERRNOS:  # only a write causes these: a failure of the run's files
                where = filename if filename is not None else run_dir.absolute()
                return storage_error(cause, where, "write" if filename is not None else "write in")
            if cause.errno in (errno.EACCES, errno.EPERM) and filename is not None and _inside(
                    Path(os.fsdecode(filename)), run_dir):
                return storage_error(cause, filename, "access")
        cause = cause.__cause__
    return exc


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


class RunContext:
    """What a recipe gets besides its config: the run directory and the run's standard pieces.

    Recipes call :meth:`load_dataset` first (its ``Data:`` line opens the console log, and says when an
    offline fallback replaced the dataset), then :meth:`compile` and :meth:`fit`, which apply the
    config's ``compile``, ``fit`` and ``callbacks`` sections.
    """

    def __init__(self, config: RunConfig, run_dir: Path, resumed: bool = False, config_file: Path | None = None):
        self.config = config
        self.run_dir = Path(run_dir)
        self.resumed = resumed
        self.config_file = Path(config_file).resolve() if config_file else None  # the YAML the run came from
        self._fits = 0

    # -- output ----------------------------------------------------------------------------------
    def log(self, *parts) -> None:
        print(*parts, flush=True)

    def path(self, *parts: str) -> Path:
        """A path inside the run directory (parents created), for a recipe's own artifacts."""
        p = self.run_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    # -- data ------------------------------------------------------------------------------------
    def load_dataset(self, name: str, fallback=None, fallback_name: str | None = None, **kwargs):
        """``kerasish.datasets.<name>.load_data(**kwargs)`` from the cache, else ``fallback()`` (no network).

        Prints one ``Data: ...`` line saying which was used. ``fallback`` is a function returning the
        same layout; without one, a missing dataset raises its offline error.
        """
        import kerasish

        loader = getattr(kerasish.datasets, name)
        try:
            with kerasish.datasets.cache_only():
                data = loader.load_data(**kwargs)
            self.log(f"Data: {name} (from the cache {kerasish.datasets.data_dir()}).")
            return data
        except kerasish.datasets.DatasetNotCachedError:
            if fallback is None:
                return loader.load_data(**kwargs)
            self.log(f"Data: {fallback_name or 'an offline set'} -- offline fallback, because {name} is not in the "
                     f"cache {kerasish.datasets.data_dir()} (download it once with "
                     f"kerasish.datasets.{name}.load_data() to use it).")
            return fallback()

    # -- compile / fit -----------------------------------------------------------------------------
    def optimizer(self, learning_rate: float | None = None):
        """The config's optimizer, at its learning rate or at ``learning_rate``."""
        import kerasish

        c = self.config.compile
        return type(kerasish.optimizers.get(c.optimizer))(learning_rate=learning_rate or c.learning_rate)

    def compile(self, model, loss=None, metrics=None, learning_rate: float | None = None, **kwargs) -> None:
        """``model.compile`` with the config's optimizer and learning rate (``learning_rate`` here replaces
        it, e.g. for a fine-tuning phase); the config's loss/metrics win over the recipe's defaults given here."""
        c = self.config.compile
        model.compile(optimizer=self.optimizer(learning_rate), loss=c.loss or loss,
                      metrics=c.metrics if c.metrics is not None else metrics,
                      steps_per_execution=c.steps_per_execution, **kwargs)

    def callbacks(self, has_validation: bool = True) -> list:
        """The config's callbacks for the next fit (each fit of a run gets its own backup and logs)."""
        from kerasish import callbacks as cb

        c = self.config.callbacks
        i = self._fits
        suffix = "" if i == 0 else f"-{i}"
        out = []
        if c.backup:
            out.append(cb.BackupAndRestore(str(self.run_dir / "backup" / f"fit{i}")))
        if c.tensorboard:
            out.append(cb.TensorBoard(str(self.run_dir / "tensorboard" / f"fit{i}")))
        if c.csv_log:
            out.append(cb.CSVLogger(str(self.run_dir / f"history{suffix}.csv")))  # a resume rewrites it from the backup
        if c.checkpoint:
            self.path("checkpoints", "x")
            out.append(cb.ModelCheckpoint(str(self.run_dir / "checkpoints" / f"best{suffix}.kerasish"),
                                          monitor="val_loss" if has_validation else "loss", save_best_only=True))
        if c.early_stopping is not None:
            e = c.early_stopping
            out.append(cb.EarlyStopping(monitor=e.monitor, patience=e.patience, min_delta=e.min_delta, mode=e.mode,
                                        restore_best_weights=e.restore_best_weights))
        if c.reduce_lr_on_plateau is not None:
            r = c.reduce_lr_on_plateau
            out.append(cb.ReduceLROnPlateau(monitor=r.monitor, factor=r.factor, patience=r.patience,
                                            min_lr=r.min_lr))
        return out

    def fit(self, model, x=None, y=None, callbacks=(), **kwargs):
        """``model.fit`` with the config's ``fit`` section and callbacks (keyword arguments win)."""
        f = self.config.fit
        args = {"epochs": f.epochs, "batch_size": f.batch_size, "validation_split": f.validation_split,
                "shuffle": f.shuffle, "steps_per_epoch": f.steps_per_epoch, "verbose": f.verbose}
        args.update(kwargs)
        if args.get("validation_data") is not None:
            args["validation_split"] = 0.0
        if not _is_array_data(x):  # a dataset or generator: it makes its own batches and holds no split
            args["validation_split"] = 0.0
            args.pop("batch_size")
        has_validation = bool(args.get("validation_split")) or args.get("validation_data") is not None
        history = model.fit(x, y, callbacks=[*self.callbacks(has_validation), *callbacks], **args)
        self._fits += 1
        return history

    # -- sub-runs ----------------------------------------------------------------------------------
    def trial(self, source, overrides=(), name: str | None = None) -> RunResult:
        """Run another config as a trial of this run, in ``<run_dir>/trials/<name>/<timestamp>/``."""
        extra = [f"name={name}"] if name else []
        return run(source, [*overrides, *extra], root=self.run_dir / "trials")


def _is_array_data(x) -> bool:
    import numpy as np

    leaves = x.values() if isinstance(x, dict) else x if isinstance(x, (list, tuple)) else [x]
    return all(isinstance(v, np.ndarray) or hasattr(v, "__array__") for v in leaves)


@contextlib.contextmanager
def _console_log(path: Path):
    """Tee stdout and stderr into ``path`` (appended: a resume continues the log); yields the log."""
    try:
        file = open(path, "a", encoding="utf-8", errors="backslashreplace")
    except OSError as e:
        raise storage_error(e, path) from e
    out, err = sys.stdout, sys.stderr
    log = _ConsoleLog(path, file, err)
    sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
    try:
        yield log
    finally:
        sys.stdout, sys.stderr = out, err
        log.close()


def run(source=None, overrides=(), *, root: str | Path | None = None, resume: str | Path | None = None) -> RunResult:
    """Run a config: validate it, call its recipe, and fill a run directory.

    Args:
        source: a YAML file or a dict (not with ``resume``).
        overrides: ``key=value`` strings with dotted keys (``fit.epochs=3``).
        root: the folder of run directories (default: the config's ``output.root``).
        resume: a run directory to continue: its ``config.yaml`` runs again in it, and BackupAndRestore
            picks up where the killed run stopped.

    Returns:
        A :class:`RunResult`.

    Raises:
        ConfigError: an invalid config or override, or a ``resume`` that is not an unfinished run directory
            (nothing is written).
        StorageError: a file or folder of the run could not be written: the root is read-only, not
            creatable (a file in the way) or the disk is full (or a file-size limit, ``ulimit -f``, is hit).
            The message says "no space left" (for the last two) and names the file or folder.

    Failures: the run directory is created atomically (two runs of one config in the same second get
    ``<timestamp>`` and ``<timestamp>-1``). Once it exists, any failure marks it ``"status": "failed"`` in
    ``run.json`` with the error; when even that write fails, the error carries a note saying so
    (``exc.__notes__``). A KerasishError's traceback goes to ``console.log`` only (the message says it
    all); any other exception's (a bug in a recipe) is also printed. When ``console.log`` itself cannot be
    written any more, the run goes on with the terminal only, after one warning line, and ``run.json``
    records ``console_log_error``. An OS error that only a write can cause (no space, file-size limit,
    read-only) or that names a file in the run directory is raised as a StorageError, whatever raised it.
    """
    import kerasish

    if resume is not None:
        if source is not None or overrides:
            raise ConfigError("--resume continues a run with its own config.yaml; give no config or overrides.")
        run_dir = Path(resume).absolute()
        meta_path = run_dir / "run.json"
        if not (run_dir / "config.yaml").is_file() or not meta_path.is_file():
            raise ConfigError(f"{run_dir} is not a run directory (no config.yaml and run.json).")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"{meta_path} cannot be read as a run's JSON record ({e}).") from None
        if not isinstance(meta, dict):
            raise ConfigError(f"{meta_path} is not a run's JSON record (a {type(meta).__name__}, not an object).")
        recipe_file = meta.get("recipe_file")
        config, module, resolved = load_config(run_dir / "config.yaml",
                                               recipe_file=Path(recipe_file) if recipe_file else None)
        if meta.get("status") == "completed":
            raise ConfigError(f"{run_dir} already completed; start a new run instead.")
    else:
        if source is None:
            raise ConfigError("Give a config file (or a dict) to run, or resume=RUN_DIR.")
        config, module, resolved = load_config(source, list(overrides))
        run_dir = _new_run_dir(Path(root if root is not None else config.output.root).absolute(), config.name)
        meta = {"recipe": config.recipe, "recipe_file": module.__file__,
                "config_source": str(Path(source).resolve()) if isinstance(source, (str, os.PathLike)) else None,
                "overrides": list(overrides)}
    meta.update(status="running", started=_now(), resumed=resume is not None)
    for stale in ("error", "ended", "console_log_error"):  # a resumed run's previous ending
        meta.pop(stale, None)
    log = None
    try:
        if resume is None:
            atomic_write_bytes(run_dir / "config.yaml", to_yaml(resolved).encode())
        _write_json(run_dir / "run.json", meta)
        recipe_sections(module)
        ctx = RunContext(config, run_dir, resumed=resume is not None, config_file=meta.get("config_source"))
        with _console_log(run_dir / "console.log") as log:
            try:
                kerasish.utils.set_random_seed(config.seed)
                result = module.run(config, ctx)
                model, metrics = _unpack(result, module)
                metrics = {k: _jsonable(v) for k, v in metrics.items()}
                _write_json(run_dir / "metrics.json", metrics)
                if model is not None and config.output.save_model:
                    model.save(run_dir / "model.kerasish")
                _remove_empty_dirs(run_dir / "backup")  # each completed fit deleted its own backup
                print(f"Run directory: {run_dir.resolve()}", flush=True)
            except BaseException as e:
                if isinstance(_as_storage_error(e, run_dir), KerasishError):
                    # for whoever debugs it; the terminal gets the message (and a log that fails here says nothing)
                    log.write(traceback.format_exc(), warn=False)
                elif not isinstance(e, KeyboardInterrupt):
                    traceback.print_exc()
                raise
        if log.error is not None:
            meta["console_log_error"] = str(log.error)
        meta.update(status="completed", ended=_now())
        _write_json(run_dir / "run.json", meta)
    except BaseException as e:
        error = _as_storage_error(e, run_dir)
        if log is not None and log.error is not None:
            meta["console_log_error"] = str(log.error)
        meta.update(status="failed", error=f"{type(error).__name__}: {error}", ended=_now())
        try:
            _write_json(run_dir / "run.json", meta)
        except (OSError, KerasishError) as failed:
            reason = failed if isinstance(failed, StorageError) else storage_error(failed, run_dir / "run.json")
            error.add_note(f"the run directory {run_dir} could not be marked failed: {reason}")
        if error is e:
            raise
        raise error from e
    return RunResult(run_dir=run_dir, metrics=metrics, model=model, config=resolved)


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def _remove_empty_dirs(path: Path) -> None:
    if not path.is_dir():
        return
    for sub in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    if not any(path.iterdir()):
        path.rmdir()


def _unpack(result, module):
    if isinstance(result, dict) and "metrics" in result:
        return result.get("model"), dict(result["metrics"])
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], dict(result[1])
    raise ConfigError(f"Recipe {module.__file__}: run() must return (model, metrics) or "
                      f"{{'model': ..., 'metrics': {{...}}}}; got {type(result).__name__}.")
