"""Benchmark runner: kerasish vs hand-written flax.nnx + optax vs Keras 3, side by side.

Usage::

    python -m benchmarks.run [--workloads a,b,...] [--repeats N] [--quick] [--json OUT] [--warm-cache DIR]

Every measurement runs in its own subprocess (``benchmarks.child``); repeat ``r`` runs every
variant of a workload in turn (rotating the order), so slow drifts of the machine spread over
all variants. Tables report medians over the repeats. The ``keras_nightly*`` variants run their
subprocesses with the Python of the Keras nightly venv (``benchmarks/nightly.py``) and are skipped, with the
reason printed, when there is none. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.workloads import WORKLOADS

REPO_ROOT = Path(__file__).resolve().parent.parent

TRAIN_VARIANTS = ["kerasish", "hw_step", "hw_scan_epoch", "hw_fused64", "keras", "keras_spe32"]
INFER_VARIANTS = ["kerasish", "hw_step", "hw_scan_epoch", "hw_fused64", "keras", "keras_spe32"]
# Keras nightly (3.16 dev) from its own venv (benchmarks/nightly.py): in the default list when that venv is
# found, skipped with a printed reason when it is not. Reported at its best steps_per_execution of these.
NIGHTLY_VARIANTS = ["keras_nightly_spe32", "keras_nightly_spe128"]
IN_PROCESS = False  # set by --in-process
NIGHTLY_PYTHON: str | None = None  # the nightly venv's Python, set by main when a nightly variant runs


def is_nightly(variant: str) -> bool:
    """``keras_nightly`` (steps_per_execution=1) or ``keras_nightly_speK``."""
    return variant == "keras_nightly" or (variant.startswith("keras_nightly_spe")
                                          and variant.removeprefix("keras_nightly_spe").isdigit())


def is_keras(variant: str) -> bool:
    """A Keras variant (3.15 from this environment, or nightly)."""
    return variant.startswith("keras") and not variant.startswith("kerasish")


def auto_probe_steps() -> int:
    """Steps kerasish's ``steps_per_execution="auto"`` may spend probing before it settles (at most).

    It times one compiling and a few single steps, then compiles a fused call of k <= max_k
    steps and times a few more of those. Read from kerasish when it is importable (the policy
    may change); the fallback is the policy as of this writing.
    """
    try:
        from kerasish.engine.fused import AutoSteps

        return 1 + AutoSteps.probe_single + (1 + AutoSteps.probe_fused) * AutoSteps.max_k
    except Exception:  # noqa: BLE001 - an engine without this policy: use the known numbers
        return 1 + 4 + (1 + 3) * 128


CPU_DEFAULT = ["tiny_mlp", "mlp", "cnn", "evaluate", "predict"]

LABELS = {
    "kerasish": "kerasish fit (defaults)",
    "hw_step": "hand-written: jit step/batch",
    "hw_scan_epoch": "hand-written: scan epoch",
    "hw_fused64": "hand-written: host-fed 64/call",
    "keras": "Keras 3 fit (defaults)",
    "keras_spe32": "Keras 3 steps_per_execution=32",
}
INFER_LABELS = {"kerasish": "kerasish {task} (defaults)", "keras": "Keras 3 {task} (defaults)"}


def label(variant: str, task: str) -> str:
    if task != "train" and variant in INFER_LABELS:
        return INFER_LABELS[variant].format(task=task)
    if variant in LABELS:
        return LABELS[variant]
    if variant.startswith("kerasish_gen"):  # the same data as a Python iterable of batches
        depth = variant.removeprefix("kerasish_gen").removeprefix("_pf")
        return f"kerasish {'fit' if task == 'train' else task}, iterable" + (f", pf={depth}" if depth else "")
    if variant.startswith("kerasish_spe"):
        return f"kerasish steps_per_execution={variant.rsplit('_spe', 1)[1]}"
    if is_nightly(variant):
        what = "fit" if task == "train" else task
        spe = variant.removeprefix("keras_nightly").removeprefix("_spe")
        return f"Keras nightly {what} " + (f"spe={spe}" if spe else "(defaults)")
    return variant


def check_variants(names: list[str]) -> list[str]:
    """The ``--variants`` names, validated (unknown names are an error, not silently dropped)."""
    known = set(TRAIN_VARIANTS) | set(INFER_VARIANTS)
    bad = [v for v in names if not (v in known or is_nightly(v) or v.startswith("kerasish_gen")
                                    or (v.startswith("kerasish_spe") and v.removeprefix("kerasish_spe").isdigit()))]
    if bad:
        raise SystemExit(f"unknown variant(s) {bad}; choose from {sorted(known)}, keras_nightly, keras_nightly_speK, "
                         "kerasish_speK, kerasish_gen, kerasish_gen_pfN")
    return names


def needs_first_step_run(variant: str, task: str) -> bool:
    """kerasish/Keras need a separate run with a batch callback to time the first step.

    A callback with a batch hook makes Keras (and may make kerasish) sync with the host every
    batch, so it must not be present in the throughput run. Hand-written loops time their
    first call in the throughput run itself; evaluate/predict time their first whole call.
    """
    return task == "train" and not variant.startswith("hw_")


# ---------------------------------------------------------------------------------------------
# Subprocesses
# ---------------------------------------------------------------------------------------------
def child_env(cache_dir: str | None) -> dict:
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "jax"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if cache_dir is None:
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
        env["KERASISH_COMPILATION_CACHE"] = "0"
    else:
        env["JAX_ENABLE_COMPILATION_CACHE"] = "true"
        env["JAX_COMPILATION_CACHE_DIR"] = cache_dir
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
        env["KERASISH_COMPILATION_CACHE"] = cache_dir
    return env


def run_in_process(spec: dict) -> dict:
    """Run one measurement in this interpreter (``--in-process``: for smoke tests, numbers not isolated)."""
    import traceback

    from benchmarks import child

    for key, value in child_env(spec.get("cache_dir")).items():
        if key.startswith(("KERAS", "JAX_", "KERASISH")):
            os.environ.setdefault(key, value)
    start = time.perf_counter()
    try:
        result = child.measure(spec)
    except Exception:  # noqa: BLE001 - reported like a failed subprocess
        return {"ok": False, "error": traceback.format_exc(), **spec}
    result["process_wall_s"] = time.perf_counter() - start
    return result


def run_child(spec: dict, timeout: float, python: str = sys.executable) -> dict:
    """Run one measurement in a fresh interpreter; returns its result (``ok: False`` on failure)."""
    if is_nightly(spec.get("variant", "")):  # another interpreter: always a subprocess
        if NIGHTLY_PYTHON is None:
            return {"ok": False, "error": "no Keras nightly venv (see benchmarks/nightly.py)", **spec}
        python = NIGHTLY_PYTHON
    elif IN_PROCESS:
        return run_in_process(spec)
    cmd = [python, "-m", "benchmarks.child", json.dumps(spec)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=child_env(spec.get("cache_dir")), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f}s", **spec}
    wall = time.perf_counter() - start
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT "):])
            result["process_wall_s"] = wall
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
    return {"ok": False, "error": "\n".join(tail) or f"exit code {proc.returncode}", "returncode": proc.returncode,
            "process_wall_s": wall, **spec}


# ---------------------------------------------------------------------------------------------
# Statistics and reporting
# ---------------------------------------------------------------------------------------------
def summary(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize_variant(runs: list[dict], first_runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("ok")]
    firsts = [r.get("first_step_s") for r in (first_runs if first_runs else ok) if r.get("ok")]
    rss = [r.get("peak_rss_mb") for r in ok]
    return {
        "samples_per_s": summary([r.get("samples_per_s") for r in ok]),
        "first_step_s": summary(firsts),
        "peak_rss_mb": summary(rss),
        "device_peak_mb": summary([r.get("device_peak_mb") for r in ok]),
        "peak_memory": peak_memory(ok),
        "errors": [r.get("error") for r in runs + first_runs if not r.get("ok")],
    }


def peak_memory(ok_runs: list[dict]) -> dict | None:
    """The one peak-memory figure of a variant: the device's ``peak_bytes_in_use`` where JAX reports it (GPU,
    TPU), else the process's host peak RSS; ``kind`` says which (``"device"`` or ``"host RSS"``)."""
    device = summary([r.get("device_peak_mb") for r in ok_runs])
    if device:
        return {"kind": "device", **device}
    host = summary([r.get("peak_rss_mb") for r in ok_runs])
    return {"kind": "host RSS", **host} if host else None


def ratios(stats: dict) -> dict:
    """kerasish relative to the best hand-written variant, Keras default and Keras's best setting."""
    def med(v, key="samples_per_s"):
        s = stats.get(v, {}).get(key)
        return s["median"] if s else None

    out = {}
    k = med("kerasish")
    hw = {v: med(v) for v in stats if v.startswith("hw_") and med(v)}
    keras = {v: med(v) for v in stats if is_keras(v) and med(v)}
    if k and hw:
        best = max(hw, key=hw.get)
        out["kerasish_vs_best_handwritten"] = {"ratio": k / hw[best], "best": best}
    if k and keras.get("keras"):
        out["kerasish_vs_keras_default"] = {"ratio": k / keras["keras"], "best": "keras"}
    if k and keras:
        best = max(keras, key=keras.get)
        out["kerasish_vs_keras_best"] = {"ratio": k / keras[best], "best": best}
    nightly = {v: m for v, m in keras.items() if is_nightly(v)}
    if k and nightly:
        best = max(nightly, key=nightly.get)
        out["kerasish_vs_keras_nightly_best"] = {"ratio": k / nightly[best], "best": best}
    kf, keras_f = med("kerasish", "first_step_s"), med("keras", "first_step_s")
    if kf and keras_f:
        out["first_step_kerasish_vs_keras_default"] = {"ratio": kf / keras_f, "best": "keras"}
    return out


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else "unknown error"


def _fmt_rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def format_table(name: str, info: dict) -> str:
    w = WORKLOADS[name]
    task = w.task
    unit = "epochs" if task == "train" else "calls"
    lines = [
        f"== {name}: {w.description} | batch {w.batch_size} | {info['samples']} samples | "
        f"{info['epochs']} {unit} (first = warm-up, not timed) | {info['repeats']} repeat(s)",
        f"{'variant':<32} {'samples/s':>12} {'(min-max)':>23} {'first step s':>13} {'peak RSS MB':>12}",
    ]
    any_dev = any(s.get("device_peak_mb") for s in info["stats"].values())
    if any_dev:
        lines[-1] += f" {'dev peak MB':>12}"
    for variant, s in info["stats"].items():
        sps, fs, rss = s["samples_per_s"], s["first_step_s"], s["peak_rss_mb"]
        rng = "-" if sps is None else f"({_fmt_rate(sps['min'])}-{_fmt_rate(sps['max'])})"
        row = (f"{label(variant, task):<32} {_fmt_rate(sps and sps['median']):>12} {rng:>23} "
               f"{_fmt(fs and fs['median']):>13} {_fmt(rss and rss['median'], 0):>12}")
        if any_dev:
            dev = s.get("device_peak_mb")
            row += f" {_fmt(dev and dev['median'], 0):>12}"
        if s["errors"]:
            row += f"   FAILED x{len(s['errors'])}: {_last_line(s['errors'][0])[:100]}"
        lines.append(row)
    r = info["ratios"]
    parts = []
    if "kerasish_vs_best_handwritten" in r:
        x = r["kerasish_vs_best_handwritten"]
        parts.append(f"kerasish / best hand-written ({x['best']}) = {x['ratio']:.2f}x")
    if "kerasish_vs_keras_default" in r:
        parts.append(f"kerasish / Keras default = {r['kerasish_vs_keras_default']['ratio']:.2f}x")
    if "kerasish_vs_keras_best" in r:
        x = r["kerasish_vs_keras_best"]
        parts.append(f"kerasish / Keras best ({x['best']}) = {x['ratio']:.2f}x")
    if "kerasish_vs_keras_nightly_best" in r:
        x = r["kerasish_vs_keras_nightly_best"]
        parts.append(f"kerasish / Keras nightly best ({x['best']}) = {x['ratio']:.2f}x")
    if parts:
        lines.append("samples/s ratios: " + "; ".join(parts))
    if "first_step_kerasish_vs_keras_default" in r:
        lines.append(f"first-step ratio: kerasish / Keras default = "
                     f"{r['first_step_kerasish_vs_keras_default']['ratio']:.2f}x (lower is better)")
    if info.get("keras_nightly") and any(is_nightly(v) for v in info["stats"]):
        lines.append(f"Keras nightly = keras {info['keras_nightly']} from its own venv (benchmarks/nightly.py)")
    loads = info.get("loadavg_1min")
    if loads:
        lines.append(f"1-min load average during these runs: {min(loads):.2f}-{max(loads):.2f} "
                     f"(on {info.get('cpu_count')} CPUs)")
    if task == "train":
        lines.append("first step: model construction + compile until the first result is on the host; for "
                     "fused variants that first result covers k steps (scan epoch: a whole epoch; 64/call: 64 "
                     "steps; Keras steps_per_execution=32: 32 steps).")
    else:
        lines.append(f"first step: model construction + compile + the first whole {task} call.")
    warnings = info.get("warnings")
    for warning in warnings or []:
        lines.append(f"WARNING: {warning}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", help=f"comma-separated, from {','.join(WORKLOADS)} (default: "
                   f"{','.join(CPU_DEFAULT)} on CPU, all on an accelerator)")
    p.add_argument("--variants", help=f"comma-separated subset of {','.join(TRAIN_VARIANTS)} "
                   "(also kerasish_speK for a forced steps_per_execution=K; kerasish_gen, kerasish_gen_pfN: the same "
                   "data as a Python iterable of batches, with the default or N batches of prefetch)")
    p.add_argument("--repeats", type=int, default=None, help="repetitions per variant (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="small sample counts (a whole run in a few minutes)")
    p.add_argument("--samples", type=_samples, help="override the sample count: N for every workload, or "
                   "NAME=N[,NAME=N] for the workloads named (e.g. cnn=4096)")
    p.add_argument("--epochs", type=int, help="override every workload's epoch/call count (>= 2)")
    p.add_argument("--json", metavar="OUT", help="write every number (and device, versions, date) to OUT")
    p.add_argument("--warm-cache", metavar="DIR", help="measure first-step time with a warm persistent "
                   "compilation cache in DIR (filled by an unmeasured run first)")
    p.add_argument("--in-process", action="store_true", help="run every measurement in this process (for "
                   "smoke tests only: compile caches and peak memory leak between measurements)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per subprocess (default 3600)")
    p.add_argument("--no-first-step", action="store_true", help="skip the separate first-step subprocesses of "
                   "kerasish and Keras (half their subprocesses; their first-step column is then empty)")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.epochs is not None and args.epochs < 2:
        p.error("--epochs must be >= 2 (the first epoch is the warm-up)")
    if args.variants:
        check_variants(args.variants.split(","))
    return args


def _samples(text: str):
    """``--samples``: an int for every workload, or ``{workload: int}`` from ``name=N,name=N``."""
    if "=" not in text:
        return int(text)
    out = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        if name not in WORKLOADS or not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"expected NAME=N with NAME one of {', '.join(WORKLOADS)}, got {part!r}")
        out[name] = int(count)
    return out


def git_state() -> dict:
    """The commit and the uncommitted kerasish files (the engine may be measured mid-change)."""
    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None
    status = git("status", "--short", "--", "kerasish")
    return {"commit": git("rev-parse", "--short", "HEAD"), "kerasish_uncommitted": status.splitlines() if status else []}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def variants_for(task: str, requested: str | None) -> list[str]:
    """The variants of a workload: ``--variants`` (checked) or the default list (Keras nightly's included)."""
    if requested:
        return check_variants(requested.split(","))
    return (TRAIN_VARIANTS if task == "train" else INFER_VARIANTS) + NIGHTLY_VARIANTS


def resolve_nightly(wanted: list[str], timeout: float, main_versions: dict,
                    main_device: dict | None = None) -> tuple[dict | None, dict]:
    """Find the Keras nightly venv for the ``wanted`` nightly variants. Returns (its description for the
    report's meta, or None; {variant: reason} for the variants skipped). Prints why it skips (never silent)."""
    global NIGHTLY_PYTHON
    from benchmarks import nightly

    if not wanted:
        return None, {}
    found = nightly.find()
    if found["ok"]:
        NIGHTLY_PYTHON = found["python"]
        probe = run_child({"mode": "probe", "variant": "keras_nightly"}, timeout)
        if not probe.get("ok"):
            NIGHTLY_PYTHON = None
            found = {"ok": False, "reason": f"the nightly venv's Python ({found['python']}) cannot run "
                     f"benchmarks.child: {_last_line(probe.get('error'))}"}
        elif main_device and probe["device"]["platform"] != main_device["platform"]:
            NIGHTLY_PYTHON = None
            found = {"ok": False, "reason": f"JAX in the nightly venv ({found['dir']}) runs on "
                     f"{probe['device']['platform']}, here on {main_device['platform']}: give it this environment's "
                     "jax build (`python -m benchmarks.nightly --setup` copies its jax CUDA plugins)"}
    if not found["ok"]:
        msg = f"skipping {', '.join(wanted)}: {found['reason']}"
        print(f"NOTE: {msg}", flush=True)
        log(msg)
        return None, {v: found["reason"] for v in wanted}
    info = {"dir": found["dir"], "python": found["python"], "keras": found["keras"], "versions": probe["versions"],
            "device": probe["device"]}
    if probe["versions"].get("jax") != main_versions.get("jax"):
        log(f"WARNING: the nightly venv has jax {probe['versions'].get('jax')}, this one {main_versions.get('jax')}")
    log(f"Keras nightly {found['keras']} (jax {probe['versions'].get('jax')}) from {found['dir']}")
    return info, {}


def main(argv=None) -> dict:
    global IN_PROCESS
    args = parse_args(argv)
    IN_PROCESS = args.in_process
    started = time.perf_counter()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    probe = run_child({"mode": "probe"}, timeout=args.timeout)
    if not probe.get("ok"):
        raise SystemExit(f"could not start JAX in a subprocess:\n{probe.get('error')}")
    on_cpu = probe["jax_backend"] == "cpu"
    names = args.workloads.split(",") if args.workloads else (
        CPU_DEFAULT if on_cpu else list(WORKLOADS))
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    device = probe["device"]
    meta = {"date": date, "device": f"{device['platform']}:{device['device_kind']} x{device['device_count']}",
            "jax_backend": probe["jax_backend"], "versions": probe["versions"], "cpu_count": probe["cpu_count"],
            "cpu_affinity": probe["cpu_affinity"], "loadavg_start": list(os.getloadavg()),
            "command": " ".join(["python -m benchmarks.run"] + (sys.argv[1:] if argv is None else list(argv))),
            "warm_cache": args.warm_cache, "quick": args.quick, "repeats": args.repeats, "git": git_state()}
    log(f"device {meta['device']}, jax {meta['versions']['jax']}, flax {meta['versions']['flax']}, "
        f"keras {meta['versions']['keras']}, {meta['cpu_count']} CPUs, load {os.getloadavg()[0]:.2f}")

    wanted = list(dict.fromkeys(v for name in names for v in variants_for(WORKLOADS[name].task, args.variants)
                                if is_nightly(v)))
    meta["keras_nightly"], meta["skipped_variants"] = resolve_nightly(wanted, args.timeout, meta["versions"], device)
    report = {"meta": meta, "workloads": {}}
    tables = []
    for name in names:
        w = WORKLOADS[name]
        samples = args.samples.get(name) if isinstance(args.samples, dict) else args.samples
        n, epochs = w.size(args.quick, samples, args.epochs)
        variants = [v for v in variants_for(w.task, args.variants) if v not in meta["skipped_variants"]]
        runs = {v: [] for v in variants}
        first_runs = {v: [] for v in variants}
        cache_dirs = {v: None for v in variants}
        if args.warm_cache:
            for v in variants:
                cache_dirs[v] = str(Path(args.warm_cache).resolve() / name / v)
                Path(cache_dirs[v]).mkdir(parents=True, exist_ok=True)
                mode = "first_step" if needs_first_step_run(v, w.task) else "throughput"
                log(f"[{name}] filling the compilation cache for {v}")
                fill = run_child({"workload": name, "variant": v, "mode": mode, "samples": n,
                                  "epochs": 2 if mode == "throughput" else 1, "cache_dir": cache_dirs[v]},
                                 args.timeout)
                if not fill.get("ok"):
                    log(f"  fill failed: {_last_line(fill.get('error'))}")
        for r in range(args.repeats):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for v in order:
                spec = {"workload": name, "variant": v, "samples": n, "epochs": epochs, "cache_dir": cache_dirs[v]}
                res = run_child({**spec, "mode": "throughput"}, args.timeout)
                runs[v].append(res)
                if not res.get("ok"):
                    msg = "FAILED: " + _last_line(res.get("error"))[:200]
                else:
                    msg = f"{_fmt_rate(res.get('samples_per_s'))} samples/s"
                    if res.get("first_step_s") is not None:
                        msg += f", first step {_fmt(res['first_step_s'])} s"
                if needs_first_step_run(v, w.task) and not args.no_first_step:
                    fr = run_child({**spec, "mode": "first_step"}, args.timeout)
                    first_runs[v].append(fr)
                    msg += (f", first step {_fmt(fr.get('first_step_s'))} s" if fr.get("ok") else
                            "; first-step run FAILED: " + _last_line(fr.get("error"))[:200])
                log(f"[{name} {r + 1}/{args.repeats}] {v:<14} {msg}  (load {os.getloadavg()[0]:.2f}, "
                    f"{time.perf_counter() - started:.0f}s elapsed)")
        stats = {v: summarize_variant(runs[v], first_runs[v]) for v in variants}
        all_runs = [r for v in variants for r in runs[v] + first_runs[v] if r.get("ok")]
        warnings = [f"{v} skipped: {reason}" for v, reason in meta["skipped_variants"].items()]
        steps_per_epoch = -(-n // w.batch_size)
        probe = auto_probe_steps() if any(v == "kerasish" for v in variants) else 0
        if w.task == "train" and steps_per_epoch < probe:
            warnings.append(f"{steps_per_epoch} steps per epoch: kerasish's steps_per_execution='auto' probe can take "
                            f"up to ~{probe} steps on small models, so its timed epochs may include probing and "
                            "a compilation")
        if not args.warm_cache:
            cached = sorted({r["variant"] for r in all_runs
                             if r.get("cache", {}).get("enabled_at_end") and r.get("cache", {}).get("dir_at_end")})
            if cached:
                warnings.append(f"the persistent compilation cache was on at the end of a cold run of {cached}")
        info = {"keras_nightly": meta["keras_nightly"] and meta["keras_nightly"]["keras"],
                "description": w.description, "task": w.task, "batch_size": w.batch_size, "samples": n,
                "epochs": epochs, "repeats": args.repeats, "cpu_count": meta["cpu_count"],
                "loadavg_1min": [r["loadavg_start"][0] for r in all_runs] + [r["loadavg_end"][0] for r in all_runs],
                "stats": stats, "ratios": ratios(stats), "warnings": warnings,
                "runs": {v: runs[v] for v in variants}, "first_step_runs": {v: first_runs[v] for v in variants}}
        report["workloads"][name] = info
        table = format_table(name, info)
        tables.append(table)
        print(table + "\n", flush=True)

    meta["loadavg_end"] = list(os.getloadavg())
    meta["total_seconds"] = time.perf_counter() - started
    print(f"device {meta['device']} | jax {meta['versions']['jax']} | flax {meta['versions']['flax']} | optax "
          f"{meta['versions']['optax']} | keras {meta['versions']['keras']} | {meta['cpu_count']} CPUs | {date} | "
          f"persistent compilation cache: {'warm, ' + args.warm_cache if args.warm_cache else 'off'} | "
          f"total {meta['total_seconds']:.0f}s" + (f" | keras nightly {meta['keras_nightly']['keras']}"
                                                    if meta["keras_nightly"] else ""), flush=True)
    g = meta["git"]
    print(f"kerasish at commit {g['commit']}" + (f" with uncommitted changes in {len(g['kerasish_uncommitted'])} "
          "kerasish file(s)" if g["kerasish_uncommitted"] else ""), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        log(f"wrote {args.json}")
    return report


if __name__ == "__main__":
    main()
