"""A run: a validated config, a recipe call, and a run directory that holds everything it produced.

``runs/<name>/<timestamp>/``:

- ``config.yaml``: the resolved config (defaults, file and overrides merged), what ``--resume`` reruns;
- ``run.json``: the recipe file, start/end times, status (running / completed / failed) and the error;
- ``console.log``: everything the run printed (stdout and stderr);
- ``tensorboard/``, ``checkpoints/best.kerasish``, ``history.csv``, ``backup/`` (BackupAndRestore: deleted
  when a fit completes, kept when a run dies, so that ``--resume`` continues it exactly);
- ``metrics.json``: the final metrics; ``model.kerasish``: the trained model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from kerasish.errors import ConfigError
from kerasish.runs.config import RunConfig, load_config, recipe_sections, to_yaml
from kerasish.saving.files import atomic_write_bytes


@dataclasses.dataclass
class RunResult:
    """What :func:`run` returns: the run directory, the final metrics, the trained model and the config."""

    run_dir: Path
    metrics: dict
    model: Any
    config: dict


class _Tee:
    """A text stream that writes to the terminal and to the run's console log."""

    def __init__(self, stream, log):
        self._stream, self._log = stream, log

    def write(self, text):
        self._log.write(text)
        self._log.flush()
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
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / name / stamp
    path, n = base, 0
    while path.exists():
        n += 1
        path = base.with_name(f"{stamp}-{n}")
    path.mkdir(parents=True)
    return path


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
    with open(path, "a", encoding="utf-8") as log:
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, log), _Tee(err, log)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = out, err


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
    """
    import kerasish

    if resume is not None:
        if source is not None or overrides:
            raise ConfigError("--resume continues a run with its own config.yaml; give no config or overrides.")
        run_dir = Path(resume)
        meta_path = run_dir / "run.json"
        if not (run_dir / "config.yaml").is_file() or not meta_path.is_file():
            raise ConfigError(f"{run_dir} is not a run directory (no config.yaml and run.json).")
        meta = json.loads(meta_path.read_text())
        recipe_file = meta.get("recipe_file")
        config, module, resolved = load_config(run_dir / "config.yaml",
                                               recipe_file=Path(recipe_file) if recipe_file else None)
        if meta.get("status") == "completed":
            raise ConfigError(f"{run_dir} already completed; start a new run instead.")
    else:
        if source is None:
            raise ConfigError("Give a config file (or a dict) to run, or resume=RUN_DIR.")
        config, module, resolved = load_config(source, list(overrides))
        run_dir = _new_run_dir(Path(root) if root is not None else Path(config.output.root), config.name)
        atomic_write_bytes(run_dir / "config.yaml", to_yaml(resolved).encode())
        meta = {"recipe": config.recipe, "recipe_file": module.__file__,
                "config_source": str(Path(source).resolve()) if isinstance(source, (str, Path)) else None,
                "overrides": list(overrides)}
    meta.update(status="running", started=datetime.datetime.now().isoformat(timespec="seconds"),
                resumed=resume is not None)
    _write_json(run_dir / "run.json", meta)
    recipe_sections(module)
    ctx = RunContext(config, run_dir, resumed=resume is not None, config_file=meta.get("config_source"))
    with _console_log(run_dir / "console.log"):
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
            meta.update(status="failed", error=f"{type(e).__name__}: {e}",
                        ended=datetime.datetime.now().isoformat(timespec="seconds"))
            _write_json(run_dir / "run.json", meta)
            if not isinstance(e, (KeyboardInterrupt, ConfigError)):
                traceback.print_exc()
            raise
    meta.update(status="completed", ended=datetime.datetime.now().isoformat(timespec="seconds"))
    _write_json(run_dir / "run.json", meta)
    return RunResult(run_dir=run_dir, metrics=metrics, model=model, config=resolved)


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
