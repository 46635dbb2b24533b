"""The README's performance table, rendered from one recorded run of the benchmark runner.

Usage::

    python -m benchmarks.readme_table RESULTS.json                      # print the Markdown
    python -m benchmarks.readme_table RESULTS.json --write README.md    # replace the block between the markers
    python -m benchmarks.readme_table RESULTS.json --variants kerasish,hw_scan_epoch,keras,keras_spe32

``RESULTS.json`` is what ``python -m benchmarks.run ... --json RESULTS.json`` wrote. Everything in the block
comes from that one file: a caption with the command, device, CPU count, date, versions, commit, repeats and
cache setting; a table of median samples/s (workloads as rows, variants as columns) with kerasish's median
over the best hand-written variant's and over the best Keras variant's (Keras nightly included); and a table
of peak memory (the device's ``peak_bytes_in_use`` where JAX reports it, else the measuring process's host
peak RSS; the caption says which). When the run has several ``keras_nightly*`` variants they share one column,
``keras_nightly_best``: in each workload the one with the highest median, its ``steps_per_execution`` noted in
the cell. ``--variants`` picks and orders the columns (``keras_nightly_best`` or single variants); the ratios
always use every variant of the run. A variant that failed in every repeat shows ``failed``, one not run ``-``.

``--write`` replaces everything between ``<!-- perf-table:start -->`` and ``<!-- perf-table:end -->`` in the
given file and leaves the rest byte for byte; a file without both markers (start before end) is an error and
is not touched.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

START, END = "<!-- perf-table:start -->", "<!-- perf-table:end -->"

SHORT = {"kerasish": "kerasish", "hw_step": "hw: jit step", "hw_scan_epoch": "hw: scan epoch",
         "hw_fused64": "hw: 64/call"}
NIGHTLY_BEST = "keras_nightly_best"  # a column: the best of the run's keras_nightly* variants, per workload
TASK_NOTE = {"evaluate": "`evaluate` of the MLP", "predict": "`predict` of the MLP"}


def _is_keras(v: str) -> bool:
    return v.startswith("keras") and not v.startswith("kerasish")


def _short_version(version: str | None) -> str:
    """``3.16.0.dev2026102704`` -> ``3.16-dev``; ``3.15.1`` -> ``3.15.1``."""
    if not version:
        return "?"
    if "dev" in version:
        return ".".join(version.split(".")[:2]) + "-dev"
    return version


def column_name(variant: str, meta: dict) -> str:
    """The column header of a variant (Keras columns carry their version)."""
    if variant in SHORT:
        return SHORT[variant]
    if variant == NIGHTLY_BEST:
        return f"Keras {_short_version((meta.get('keras_nightly') or {}).get('keras'))} (best spe)"
    if variant.startswith("kerasish_spe"):
        return f"kerasish spe={variant.removeprefix('kerasish_spe')}"
    if variant.startswith("kerasish_gen"):
        depth = variant.removeprefix("kerasish_gen").removeprefix("_pf")
        return "kerasish, iterable" + (f" pf={depth}" if depth else "")
    if _is_keras(variant):
        nightly = variant.startswith("keras_nightly")
        version = ((meta.get("keras_nightly") or {}).get("keras") if nightly
                   else (meta.get("versions") or {}).get("keras"))
        spe = variant.removeprefix("keras_nightly" if nightly else "keras").removeprefix("_spe")
        return f"Keras {_short_version(version)}" + (f" spe={spe}" if spe else "")
    return variant


def _median(stats: dict, variant: str, key: str = "samples_per_s") -> float | None:
    s = (stats.get(variant) or {}).get(key)
    return s["median"] if s else None


def format_rate(v: float) -> str:
    """Samples/s to three significant figures: ``926``, ``24.1k``, ``664k``, ``1.21M``."""
    if v >= 999_500:
        x, unit = v / 1e6, "M"
    elif v >= 999.5:
        x, unit = v / 1e3, "k"
    else:
        x, unit = v, ""
    x = float(f"{x:.3g}")  # three significant figures, then as many decimals as that leaves
    digits = 0 if x >= 100 else 1 if x >= 10 else 2
    return f"{x:.{digits}f}{unit}"


def best_ratio(stats: dict, pick) -> tuple[float, str] | None:
    """kerasish's median over the best median among the variants ``pick`` accepts: (ratio, that variant)."""
    k = _median(stats, "kerasish")
    rates = {v: _median(stats, v) for v in stats if pick(v) and _median(stats, v)}
    if not k or not rates:
        return None
    best = max(rates, key=rates.get)
    return k / rates[best], best


def _pick(stats: dict, column: str) -> tuple[str, str]:
    """The variant a column shows in one workload and a note for its cell: ``NIGHTLY_BEST`` is the nightly
    variant with the highest median (noted ``(spe=K)``); any other column is its own variant."""
    if column != NIGHTLY_BEST:
        return column, ""
    nightly = [v for v in stats if v.startswith("keras_nightly")]
    if not nightly:
        return column, ""
    best = max(nightly, key=lambda v: _median(stats, v) or -1.0)
    spe = best.removeprefix("keras_nightly").removeprefix("_spe") or "1"
    return best, f" (spe={spe})"


def _cell(stats: dict, variant: str, value) -> str:
    if variant not in stats:
        return "-"
    if value is None:
        return "failed" if stats[variant].get("errors") else "-"
    return value


def _memory_kind(report: dict) -> set[str]:
    return {(s.get("peak_memory") or {}).get("kind") for w in report["workloads"].values()
            for s in w["stats"].values() if s.get("peak_memory")}


def _check(report) -> None:
    if not isinstance(report, dict) or not isinstance(report.get("meta"), dict) or \
            not isinstance(report.get("workloads"), dict):
        raise SystemExit("benchmarks.readme_table: not a benchmarks.run report (expected the JSON that "
                         "`python -m benchmarks.run --json OUT` writes, with 'meta' and 'workloads')")
    if not report["workloads"]:
        raise SystemExit("benchmarks.readme_table: the report has no workloads")
    for key in ("command", "device", "date", "versions"):
        if key not in report["meta"]:
            raise SystemExit(f"benchmarks.readme_table: the report's meta has no {key!r}")


def caption(report: dict) -> str:
    meta = report["meta"]
    v = meta["versions"]
    git = meta.get("git") or {}
    nightly = meta.get("keras_nightly")
    parts = [f"jax {v.get('jax')}", f"flax {v.get('flax')}", f"optax {v.get('optax')}", f"Keras {v.get('keras')}"]
    if nightly:
        parts.append(f"Keras nightly {nightly.get('keras')} (own venv)")
    commit = git.get("commit") or "unknown commit"
    if git.get("kerasish_uncommitted"):
        commit += f" with uncommitted changes in {len(git['kerasish_uncommitted'])} kerasish file(s)"
    cache = f"warm ({meta['warm_cache']})" if meta.get("warm_cache") else "off"
    skipped = meta.get("skipped_variants") or {}
    text = (f"One run of `{meta['command']}` on {meta['device']} ({meta.get('cpu_count')} CPUs), {meta['date']}; "
            f"{', '.join(parts)}; kerasish at {commit}. {meta.get('repeats')} repeat(s) of each variant in their "
            f"own processes, alternating; medians of steady-state samples/s (the first epoch or call is the "
            f"warm-up); persistent compilation cache {cache}. Ratios are kerasish's median over the best "
            f"hand-written variant's and over the best Keras variant's of the same run.")
    if skipped:
        text += " Not measured: " + "; ".join(f"{k} ({r})" for k, r in skipped.items()) + "."
    return f"_{text}_ Generated by `python -m benchmarks.readme_table` from the run's JSON."


def render(report: dict, variants: list[str] | None = None) -> str:
    """The Markdown block (caption, samples/s table, peak-memory table) of one runner report."""
    _check(report)
    meta = report["meta"]
    workloads = report["workloads"]
    present = list(dict.fromkeys(v for w in workloads.values() for v in w["stats"]))
    nightly = [v for v in present if v.startswith("keras_nightly")]
    if len(nightly) > 1:  # one column at the best steps_per_execution of each workload
        present = [NIGHTLY_BEST if v == nightly[0] else v for v in present if v not in nightly[1:]] + nightly
        default = [v for v in present if v not in nightly]
    else:
        default = present
    columns = [v for v in (variants or default) if v in present]
    if variants and not columns:
        raise SystemExit(f"benchmarks.readme_table: none of the variants {variants} is in the report "
                         f"(it has {present})")
    names = [column_name(v, meta) for v in columns]

    def row_name(name: str, w: dict) -> str:
        what = TASK_NOTE.get(w.get("task"), "")
        return f"`{name}`" + (f" ({what})" if what else "") + f", b{w.get('batch_size')}, {w.get('samples')}"

    lines = [caption(report), "",
             "| workload, batch, samples | " + " | ".join(names) + " | kerasish / best hand-written | "
             "kerasish / best Keras |",
             "|---|" + "---:|" * len(columns) + "---:|---:|"]
    for name, w in workloads.items():
        stats = w["stats"]
        cells = []
        for column in columns:
            v, note = _pick(stats, column)
            cells.append(_cell(stats, v, None if _median(stats, v) is None else format_rate(_median(stats, v)) + note))
        ratio_cells = []
        for pick in (lambda v: v.startswith("hw_"), _is_keras):
            r = best_ratio(stats, pick)
            ratio_cells.append("-" if r is None else f"{r[0]:.2f}× ({column_name(r[1], meta)})")
        lines.append(f"| {row_name(name, w)} | " + " | ".join(cells + ratio_cells) + " |")

    kinds = _memory_kind(report)
    where = {"device": "the device's `peak_bytes_in_use` (JAX memory stats)",
             "host RSS": "the measuring process's host peak RSS (JAX reports no device memory here)"}
    what = "; ".join(where.get(k, str(k)) for k in sorted(kinds, key=str)) or "not recorded"
    lines += ["", f"Peak memory, MB (median over the repeats): {what}.", "",
              "| workload | " + " | ".join(names) + " |", "|---|" + "---:|" * len(columns)]
    for name, w in workloads.items():
        stats = w["stats"]
        cells = []
        for column in columns:
            v, note = _pick(stats, column)
            m = (stats.get(v) or {}).get("peak_memory")
            value = None if not m else f"{m['median']:,.0f}" + (" (RSS)" if len(kinds) > 1 and
                                                               m["kind"] == "host RSS" else "") + note
            cells.append(_cell(stats, v, value))
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_block(path: Path, block: str) -> None:
    """Replace the text between the perf-table markers of ``path`` with ``block``."""
    try:
        text = path.read_text()
    except OSError as e:
        raise SystemExit(f"benchmarks.readme_table: cannot read {path}: {e}") from None
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0 or end < start:
        found = [m for m, i in ((START, start), (END, end)) if i >= 0]
        raise SystemExit(f"benchmarks.readme_table: {path} needs the markers {START} and {END} (in that order) "
                         f"around the performance table; found {found or 'neither'}. Nothing was written.")
    path.write_text(f"{text[:start]}{START}\n{block}\n{text[end:]}")


def main(argv=None) -> str:
    p = argparse.ArgumentParser(prog="python -m benchmarks.readme_table", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", help="the JSON of one `python -m benchmarks.run --json OUT` run")
    p.add_argument("--write", metavar="README", help=f"replace the block between {START} and {END} in README")
    p.add_argument("--variants", help="comma-separated columns, in this order (default: every variant of the run)")
    args = p.parse_args(argv)
    try:
        report = json.loads(Path(args.results).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"benchmarks.readme_table: cannot read {args.results} as JSON: {e}") from None
    block = render(report, args.variants.split(",") if args.variants else None)
    if args.write:
        write_block(Path(args.write), block)
        print(f"wrote the performance table into {args.write}", file=sys.stderr)
    print(block)
    return block


if __name__ == "__main__":
    main()
