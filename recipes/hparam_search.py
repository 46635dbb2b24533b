"""Grid or random search over the keys of another run config; every trial is a normal run directory.

The search takes a base config (``search.base_config``), builds one set of ``key=value`` overrides per
trial from ``search.space``, and runs each with ``ctx.trial`` in ``<run_dir>/trials/trialNN/<time>/``
(config.yaml, console.log, metrics.json, model.kerasish, ... as any run). All trial configs are
validated before the first one trains, so a bad key or value in the space fails at once. Trials are
ranked by ``search.metric``; the ranked table is printed and written to ``summary.csv``, and
``search.png`` plots the metric (and the check metric) against ``search.plot_key`` (log scale).

The selection metric is read from the trial's ``metrics.json`` (``test_accuracy``, ...) or, when it is
not there, from the last row of its ``history.csv`` (``val_loss``, ``val_accuracy``, ...). Selecting by a
validation metric and *checking* on the test metric (``search.check_metric``) shows whether the search
picks well: the run reports the selected value of ``plot_key`` (the learning rate), the best one by the
check metric (ties: the nearest), their ratio and ``within_2x`` (1.0 when the ratio is at most 2).

With ``kerasish run --resume`` trials that already completed are read back, not run again.

Data: whatever the base config's recipe loads (the default base, ``mlp_classifier.yaml``, falls back to
scikit-learn's digits offline; ``trial_overrides`` here pins ``data.dataset: digits``).

Sections:
    search.base_config: the config each trial runs; a relative path resolves against this config file's
        directory (from run.json), then the current directory, then ``configs/`` beside ``recipes/``.
    search.method: grid (every combination, in order) | random (``trials`` draws, seeded by ``seed``).
    search.space: dotted config key -> list of values (both forms work: ``compile.learning_rate: [...]``
        as one key, or nested mappings, as ``key.sub=value`` overrides produce). Random search also takes
        a range ``{low: 1e-4, high: 1e-2, log: true}`` (uniform, or log-uniform with ``log``).
    search.trials: number of random draws (ignored by grid search).
    search.max_trials: run at most this many trials (null: all); for quick runs.
    search.trial_overrides: config keys set in every trial (nested or dotted), e.g. ``fit.verbose: 0``.
    search.metric / search.mode: the selection metric and whether min or max is best.
    search.check_metric / search.check_mode: the metric the selection is checked on (null: no check).
    search.plot_key: the space key on the plot's x axis and in the check (null: the first space key).

Metrics: ``best_<metric>``, ``best_trial``, ``best_overrides`` (the best trial's overrides as text), and
with a check metric: ``selected_<plot_key>``, ``check_best_<plot_key>``, ``ratio`` (>= 1) and
``within_2x``; also ``trials``. The saved model is the best trial's.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from kerasish.errors import ConfigError
from kerasish.runs import Section, load_config


def _is_range(value) -> bool:
    return isinstance(value, dict) and {"low", "high"} <= set(value) and set(value) <= {"low", "high", "log"}


def flatten(tree: dict, prefix: str = "") -> dict:
    """Nested or dotted mappings -> {dotted key: leaf}; a leaf is a list, a range mapping or a scalar."""
    out = {}
    for key, value in (tree or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not _is_range(value):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


class Search(Section):
    base_config: str = "mlp_classifier.yaml"
    method: Literal["grid", "random"] = "grid"
    space: dict[str, Any] = {"compile.learning_rate": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}
    trials: int = Field(10, ge=1)
    max_trials: int | None = Field(None, ge=1)
    trial_overrides: dict[str, Any] = {}
    metric: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    check_metric: str | None = "test_accuracy"
    check_mode: Literal["min", "max"] = "max"
    plot_key: str | None = None

    @field_validator("space")
    @classmethod
    def _check_space(cls, value):
        flat = flatten(value)
        if not flat:
            raise ValueError("give at least one key, e.g. {compile.learning_rate: [0.001, 0.01]}")
        for key, leaf in flat.items():
            if _is_range(leaf):
                low, high = float(leaf["low"]), float(leaf["high"])
                if not low < high or (leaf.get("log") and low <= 0):
                    raise ValueError(f"{key}: a range needs low < high (and low > 0 with log: true), got {leaf}")
            elif not isinstance(leaf, list) or not leaf:
                raise ValueError(f"{key}: give a non-empty list of values or a range {{low, high, log}}, "
                                 f"got {leaf!r}")
        return value


SECTIONS = {"search": Search}
SMOKE = ["search.max_trials=2", "search.trial_overrides.fit.epochs=1", "search.trial_overrides.data.limit=200"]


def resolve_base(ctx, base: str) -> Path:
    path = Path(base).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = []
        meta = ctx.run_dir / "run.json"
        source = json.loads(meta.read_text()).get("config_source") if meta.is_file() else None
        if source:
            candidates.append(Path(source).resolve().parent / path)
        candidates += [Path.cwd() / path, Path(__file__).resolve().parent.parent / "configs" / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(f"search.base_config: {base!r} not found; tried {', '.join(str(c) for c in candidates)}.")


def trial_settings(s: Search, seed: int) -> list[dict]:
    space = flatten(s.space)
    keys = list(space)
    if s.method == "grid":
        ranges = [k for k in keys if _is_range(space[k])]
        if ranges:
            raise ConfigError(f"search.space: grid search needs lists of values; {', '.join(ranges)} "
                              "are ranges (use method: random).")
        combos = [dict(zip(keys, values)) for values in itertools.product(*(space[k] for k in keys))]
    else:
        rng = np.random.default_rng(seed)
        combos = []
        for _ in range(s.trials):
            combo = {}
            for k in keys:
                leaf = space[k]
                if _is_range(leaf):
                    low, high = float(leaf["low"]), float(leaf["high"])
                    combo[k] = float(math.exp(rng.uniform(math.log(low), math.log(high))) if leaf.get("log")
                                     else rng.uniform(low, high))
                else:
                    combo[k] = leaf[int(rng.integers(len(leaf)))]
            combos.append(combo)
    return combos[:s.max_trials] if s.max_trials else combos


def as_override(key: str, value) -> str:
    if isinstance(value, (list, dict)):
        return f"{key}={json.dumps(value)}"
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    return f"{key}={value}"


def read_metric(run_dir: Path, metrics: dict, name: str) -> float:
    if name in metrics:
        return float(metrics[name])
    history = run_dir / "history.csv"
    if history.is_file():
        with open(history, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and rows[-1].get(name) not in (None, ""):
            return float(rows[-1][name])
    raise ConfigError(f"search.metric: {name!r} is neither in the trial's metrics ({', '.join(metrics)}) nor in "
                      f"its history.csv ({run_dir}).")


def completed_trial(ctx, name: str):
    """A trial that already completed in this run directory (after --resume): (run_dir, metrics)."""
    for meta in sorted((ctx.run_dir / "trials" / name).glob("*/run.json")):
        if json.loads(meta.read_text()).get("status") == "completed" and (meta.parent / "metrics.json").is_file():
            return meta.parent, json.loads((meta.parent / "metrics.json").read_text())
    return None


def save_plot(path, rows, plot_key, keys, s: Search):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    others = [k for k in keys if k != plot_key]
    fig, axes = plt.subplots(1, 2 if s.check_metric else 1, figsize=(11 if s.check_metric else 6, 4), squeeze=False)
    for ax, metric in zip(axes[0], [s.metric, s.check_metric]):
        groups = {}
        for r in rows:
            groups.setdefault(tuple(r["values"][k] for k in others), []).append(r)
        for label, group in groups.items():
            group = sorted(group, key=lambda r: r["values"][plot_key])
            ax.plot([r["values"][plot_key] for r in group], [r[metric] for r in group], "o-",
                    label=", ".join(f"{k}={v}" for k, v in zip(others, label)) or None)
        best = rows[0]
        ax.plot([best["values"][plot_key]], [best[metric]], "r*", markersize=14, label="selected")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(plot_key)
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{s.method} search: {s.metric} ({s.mode}) vs {plot_key}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(config, ctx):
    s = config.search
    base = resolve_base(ctx, s.base_config)
    fixed = [as_override(k, v) for k, v in flatten(s.trial_overrides).items()]
    ctx.log(f"Data: loaded by each trial as its base config {base} says (fixed trial overrides: "
            f"{' '.join(fixed) or 'none'}).")
    combos = trial_settings(s, config.seed)
    keys = list(flatten(s.space))
    plot_key = s.plot_key or keys[0]
    if plot_key not in keys:
        raise ConfigError(f"search.plot_key: {plot_key!r} is not a key of search.space ({', '.join(keys)}).")
    trials = [(f"trial{i:02d}", [*fixed, *(as_override(k, v) for k, v in combo.items())], combo)
              for i, combo in enumerate(combos)]
    for name, overrides, _ in trials:  # every trial's config is checked before any trains
        try:
            load_config(base, [*overrides, f"name={name}"])
        except ConfigError as e:
            raise ConfigError(f"search: {name} ({' '.join(overrides)}) of {base}: {e}") from None
    ctx.log(f"{s.method} search over {', '.join(keys)}: {len(trials)} trials of {base.name}, "
            f"selecting by {s.metric} ({s.mode}).")

    rows, models = [], {}
    for name, overrides, combo in trials:
        done = completed_trial(ctx, name) if ctx.resumed else None
        if done is not None:
            run_dir, metrics = done
            ctx.log(f"{name}: completed before the resume, read from {run_dir}")
        else:
            ctx.log(f"{name}: {' '.join(overrides)}")
            result = ctx.trial(base, overrides, name=name)
            run_dir, metrics = result.run_dir, result.metrics
            models[name] = result.model
        row = {"trial": name, "values": combo, "overrides": " ".join(as_override(k, v) for k, v in combo.items()),
               s.metric: read_metric(run_dir, metrics, s.metric), "run_dir": str(run_dir)}
        if s.check_metric:
            row[s.check_metric] = read_metric(run_dir, metrics, s.check_metric)
        ctx.log(f"{name}: {s.metric}={row[s.metric]:.4f}"
                + (f", {s.check_metric}={row[s.check_metric]:.4f}" if s.check_metric else ""))
        rows.append(row)

    sign = 1.0 if s.mode == "min" else -1.0
    rows.sort(key=lambda r: (sign * r[s.metric] if math.isfinite(r[s.metric]) else math.inf))
    columns = ["rank", "trial", *keys, s.metric, *([s.check_metric] if s.check_metric else []), "run_dir"]
    with open(ctx.path("summary.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i, r in enumerate(rows, 1):
            writer.writerow([i, r["trial"], *(r["values"][k] for k in keys), r[s.metric],
                             *([r[s.check_metric]] if s.check_metric else []), r["run_dir"]])
    table = [columns[:-1]] + [[str(i), r["trial"], *(f"{r['values'][k]:g}" if isinstance(r["values"][k], float)
                                                      else str(r["values"][k]) for k in keys),
                               f"{r[s.metric]:.4f}", *([f"{r[s.check_metric]:.4f}"] if s.check_metric else [])]
                              for i, r in enumerate(rows, 1)]
    widths = [max(len(line[c]) for line in table) for c in range(len(columns) - 1)]
    ctx.log("Ranked trials (summary.csv):")
    for line in table:
        ctx.log("  " + "  ".join(cell.rjust(w) for cell, w in zip(line, widths)))

    best = rows[0]
    out = {f"best_{s.metric}": best[s.metric], "best_trial": best["trial"], "best_overrides": best["overrides"],
           "trials": len(rows)}
    if s.check_metric:
        out[f"best_trial_{s.check_metric}"] = best[s.check_metric]
        csign = 1.0 if s.check_mode == "min" else -1.0
        top = min(csign * r[s.check_metric] for r in rows)
        tied = [r for r in rows if csign * r[s.check_metric] == top]
        selected = float(best["values"][plot_key])
        nearest = min(tied, key=lambda r: abs(math.log(float(r["values"][plot_key]) / selected)))
        check_best = float(nearest["values"][plot_key])
        ratio = max(selected, check_best) / min(selected, check_best)
        out.update({f"selected_{plot_key}": selected, f"check_best_{plot_key}": check_best, "ratio": ratio,
                    "within_2x": float(ratio <= 2.0), f"check_best_{s.check_metric}": nearest[s.check_metric]})
        ctx.log(f"Check: selected {plot_key}={selected:g} by {s.metric}; best by {s.check_metric}: {check_best:g} "
                f"({s.check_metric}={nearest[s.check_metric]:.4f}); ratio {ratio:.2f} -> "
                f"{'within' if ratio <= 2.0 else 'NOT within'} 2x.")
    save_plot(ctx.path("search.png"), rows, plot_key, keys, s)
    ctx.log(f"Best: {best['trial']} ({best['overrides']}), {s.metric}={best[s.metric]:.4f}; "
            f"summary.csv and search.png in {ctx.run_dir}")
    return models.get(best["trial"]), out
