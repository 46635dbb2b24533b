"""Run configs: YAML files merged with ``key=value`` overrides (OmegaConf), validated (pydantic).

A config names a recipe and holds its sections::

    name: mlp_classifier          # runs/<name>/<timestamp>/
    recipe: mlp_classifier        # recipes/mlp_classifier.py (or a path to a .py file)
    seed: 0
    data: {...}                   # the recipe's own sections, validated by its models
    model: {...}
    compile: {optimizer: adam, learning_rate: 0.001, loss: null, metrics: null}
    fit: {epochs: 10, batch_size: 32, validation_split: 0.1}
    callbacks: {early_stopping: null, tensorboard: true, checkpoint: true, backup: true}
    output: {root: runs, save_model: true}

Loading and merging are OmegaConf's (``OmegaConf.load``, ``from_dotlist``, ``merge``); checking is
pydantic's, with every model closed to unknown keys. A bad key or value fails before any training
with a :class:`~kerasish.errors.ConfigError` that names the dotted key and the allowed keys or values.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kerasish.errors import ConfigError

OPTIMIZERS = ("sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "nadam", "adamax", "lion")
# Sections every config has; a recipe adds its own (data, model, and e.g. search for hparam_search).
COMMON_SECTIONS = ("name", "recipe", "seed", "description", "compile", "fit", "callbacks", "output")


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CompileSection(Section):
    """``model.compile`` arguments. ``loss``/``metrics`` None: the recipe's defaults."""

    optimizer: Literal[OPTIMIZERS] = "adam"
    learning_rate: float = Field(1e-3, gt=0)
    loss: str | None = None
    metrics: list[str] | None = None
    steps_per_execution: int | Literal["auto"] = "auto"

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, value):
        if value is not None:
            from kerasish import losses

            losses.get(value)  # ConfigError naming the known losses
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value):
        if value is not None:
            from kerasish import metrics

            for name in value:
                if name not in ("accuracy", "acc", "crossentropy", "ce"):
                    metrics.get(name)
        return value


class FitSection(Section):
    """``model.fit`` arguments."""

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    validation_split: float = Field(0.1, ge=0.0, lt=1.0)
    shuffle: bool = True
    steps_per_epoch: int | None = Field(None, ge=1)
    verbose: Literal[0, 1, 2] = 2


class EarlyStoppingSection(Section):
    monitor: str = "val_loss"
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0.0)
    mode: Literal["auto", "min", "max"] = "auto"
    restore_best_weights: bool = True


class ReduceLROnPlateauSection(Section):
    monitor: str = "val_loss"
    factor: float = Field(0.5, gt=0.0, lt=1.0)
    patience: int = Field(2, ge=0)
    min_lr: float = Field(0.0, ge=0.0)


class CallbacksSection(Section):
    """Callbacks the run adds to every ``fit``. Null sections are off."""

    early_stopping: EarlyStoppingSection | None = None
    reduce_lr_on_plateau: ReduceLROnPlateauSection | None = None
    tensorboard: bool = True
    checkpoint: bool = True  # the best model so far, by val_loss (or loss without validation)
    backup: bool = True  # BackupAndRestore: what `kerasish run --resume` continues from
    csv_log: bool = True


class OutputSection(Section):
    root: str = "runs"
    save_model: bool = True


class RunConfig(Section):
    """The common part of every run config; the recipe's sections are checked by its own models."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    recipe: str = Field(min_length=1)
    seed: int = 0
    description: str = ""
    compile: CompileSection = CompileSection()
    fit: FitSection = FitSection()
    callbacks: CallbacksSection = CallbacksSection()
    output: OutputSection = OutputSection()

    def section(self, name: str):
        """A recipe section (``data``, ``model``, ...) as its validated model."""
        return getattr(self, name)


def _location(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and p.startswith(("function-", "literal["))))


def _explain(error: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """One line per problem: ``key: message`` with the allowed keys for unknown ones."""
    lines = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = prefix + _location(loc)
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            lines.append(f"{key}: unknown key; allowed keys: {', '.join(allowed)}")
        else:
            lines.append(f"{key}: {item['msg']} (got {item.get('input')!r})")  # pydantic lists allowed values
    return "\n  ".join(dict.fromkeys(lines))


def _allowed_keys(model: type[BaseModel], path: tuple) -> list[str]:
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            break
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        sub = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if sub is None:
            break
        model = sub
    return sorted(model.model_fields)


def _merge(source, overrides) -> dict:
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_file():
                raise ConfigError(f"Config file {path} does not exist.")
            base = OmegaConf.load(path)
        else:
            base = OmegaConf.create(dict(source))
        bad = [o for o in overrides if "=" not in o or not o.split("=", 1)[0].strip()]
        if bad:
            raise ConfigError(f"Overrides must look like key=value (dotted keys for sections, e.g. fit.epochs=3); "
                              f"got {bad}.")
        merged = OmegaConf.merge(base, OmegaConf.from_dotlist(list(overrides)))
        return OmegaConf.to_container(merged, resolve=True)
    except (OmegaConfBaseException, yaml.YAMLError) as e:
        raise ConfigError(f"Could not read the config {source if isinstance(source, (str, Path)) else ''}: "
                          f"{e}".replace("  ", " ")) from None


def find_recipe(name: str, config_path: Path | None) -> Path:
    """``recipes/<name>.py`` next to the config's folder, in the current directory or the repository; or a path."""
    if name.endswith(".py"):
        candidates = [Path(name)] + ([config_path.parent / name] if config_path else [])
    else:
        if not name.replace("_", "").isalnum():
            raise ConfigError(f"recipe: {name!r} is not a recipe name (letters, digits, _) or a path to a .py file.")
        roots = ([config_path.parent.parent, config_path.parent] if config_path else []) + [Path.cwd()]
        roots.append(Path(__file__).resolve().parents[2])  # a source checkout's recipes/
        candidates = [root / "recipes" / f"{name}.py" for root in roots]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    available = sorted({p.stem for c in candidates for p in c.parent.glob("*.py") if not p.stem.startswith("_")})
    raise ConfigError(f"recipe: no recipe {name!r} (looked for {', '.join(str(c) for c in candidates)}); "
                      f"available: {', '.join(available) or 'none'}.")


def load_recipe(path: str | os.PathLike) -> ModuleType:
    """Import a recipe module from its file, a ``str`` or path-like (kerasish itself never imports ``recipes/``).

    The module is registered as ``sys.modules["kerasish_recipe_<stem>"]``. A path that is not an
    existing ``.py`` file, or a module without a ``run(config, ctx)`` function, is a ConfigError.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"load_recipe: the recipe must be a path to a .py file, got {type(path).__name__} "
                          f"{path!r}.")
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        raise ConfigError(f"Recipe file {str(path)!r} " + ("is not a .py file." if path.suffix != ".py" and
                                                           path.is_file() else "does not exist."))
    module_name = f"kerasish_recipe_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)  # a broken recipe leaves no half-imported module behind
        raise
    if not callable(getattr(module, "run", None)):
        raise ConfigError(f"Recipe {path} defines no run(config, ctx) function.")
    return module


def recipe_sections(module: ModuleType) -> dict[str, type[BaseModel]]:
    """The sections a recipe declares: ``SECTIONS = {"data": DataSection, "model": ModelSection, ...}``."""
    sections = dict(getattr(module, "SECTIONS", {}))
    clash = set(sections) & set(COMMON_SECTIONS)
    if clash:
        raise ConfigError(f"Recipe {module.__name__} redefines common sections {sorted(clash)}.")
    return sections


def load_config(source, overrides=(), config_path: Path | None = None,
                recipe_file: Path | None = None) -> tuple[RunConfig, ModuleType, dict]:
    """Merge, validate and return ``(config, recipe_module, resolved_dict)``.

    Args:
        source: a YAML file path or a dict.
        overrides: ``["fit.epochs=3", ...]`` (OmegaConf dotlist syntax).
        config_path: where relative recipe names are looked up (default: the YAML file's location).
        recipe_file: the recipe's file, when already known (a resumed run's); skips the lookup.
    """
    raw = _merge(source, overrides)
    if not isinstance(raw, dict):
        raise ConfigError(f"A run config must be a mapping of sections, got {type(raw).__name__}.")
    if config_path is None and isinstance(source, (str, Path)):
        config_path = Path(source)
    recipe_name = raw.get("recipe")
    if not isinstance(recipe_name, str) or not recipe_name:
        raise ConfigError("recipe: missing; the config must name a recipe (e.g. recipe: mlp_classifier).")
    module = load_recipe(recipe_file if recipe_file is not None and Path(recipe_file).is_file()
                         else find_recipe(recipe_name, config_path))
    sections = recipe_sections(module)
    defaults = getattr(module, "DEFAULTS", {}) or {}
    raw = _deep_merge(defaults, raw)
    unknown = sorted(set(raw) - set(COMMON_SECTIONS) - set(sections))
    if unknown:
        raise ConfigError(f"{', '.join(unknown)}: unknown section(s) for recipe {recipe_name!r}; allowed: "
                          f"{', '.join(sorted(set(COMMON_SECTIONS) | set(sections)))}.")
    common = {k: v for k, v in raw.items() if k in COMMON_SECTIONS}
    problems = []
    try:
        config = RunConfig(**common)
    except ValidationError as e:
        problems.append(_explain(e, RunConfig))
        config = None
    checked = {}
    for key, model in sections.items():
        try:
            checked[key] = model(**(raw.get(key) or {}))
        except ValidationError as e:
            problems.append(_explain(e, model, prefix=f"{key}."))
        except TypeError:
            problems.append(f"{key}: must be a mapping, got {raw.get(key)!r}")
    if problems:
        raise ConfigError("Invalid run config:\n  " + "\n  ".join(problems))
    for key, value in checked.items():
        setattr(config, key, value)
    resolved = config_to_dict(config, sections)
    return config, module, resolved


def config_to_dict(config: RunConfig, sections: dict) -> dict:
    out = config.model_dump(mode="json", include=set(COMMON_SECTIONS))
    for key in sections:
        out[key] = getattr(config, key).model_dump(mode="json")
    return out


def _deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def to_yaml(data: dict) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(data), sort_keys=False)


__all__ = ["RunConfig", "CompileSection", "FitSection", "CallbacksSection", "OutputSection", "Section",
           "load_config", "find_recipe", "to_yaml"]

