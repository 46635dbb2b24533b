#!/usr/bin/env bash
# The GPU benchmark run of issue 17: one prepared script, about 8-10 minutes end to end on one H100.
#
# Prerequisite (the caller's job; this script installs nothing and needs no network): the project's
# environment with a CUDA build of jax, e.g. `python -m venv .venv && . .venv/bin/activate &&
# pip install -e .[test] "jax[cuda13]"`, activated, or PYTHON=/path/to/python. Run from anywhere:
#
#     bash benchmarks/gpu.sh                  # writes into $OUT if set, else benchmarks/results/gpu-<date>/
#
# What it does, each part guarded so that a failure of one does not stop the others (the script exits
# non-zero at the end if any part failed, naming them):
#   1. device info: nvidia-smi, jax's devices and backend, package versions  -> device.txt
#   2. python -m benchmarks.run on the GPU workloads (below), 1 repeat, 5 epochs or calls (4 timed),
#      full sample counts, no separate first-step runs                      -> bench.json, bench.txt
#      (variants kerasish, hw_scan_epoch, keras_spe32: the best hand-written loop and the best Keras 3.15
#      setting of the H100 runs in benchmarks/RESULTS.md; plus keras_nightly_spe32,keras_nightly_spe128 when
#      `python -m benchmarks.nightly` finds the Keras nightly venv, which adds about 3 minutes)
#   3. python -m benchmarks.gpt2 --size small --variants kerasish,hw --steps 30 --repeats 2 -> gpt2.json, gpt2.txt
#   4. python -m benchmarks.readme_table bench.json                           -> perf-table.md
#
# Budget (H100 runs of 2026-11-22/23): a subprocess costs 8-25 s, mostly start-up and XLA compilation
# (ResNet-20 and the Transformer about 15 s each), so 9 workloads x 3 variants take about 6 minutes, GPT-2
# small about 3. Overrides, for a longer run or a CPU rehearsal of the plumbing:
#   BENCH_WORKLOADS (comma-separated), BENCH_VARIANTS, BENCH_ARGS (replaces "--repeats 1 --epochs 5
#   --no-first-step --timeout 300"), GPT2_ARGS (replaces "--size small --variants kerasish,hw --steps 30
#   --repeats 2"), PYTHON.
set -u

cd "$(dirname "$0")/.." || exit 2
PYTHON=${PYTHON:-python}
OUTDIR=${OUT:-benchmarks/results/gpu-$(date -u +%Y-%m-%d-%H%M)}
mkdir -p "$OUTDIR" || exit 2
export KERAS_BACKEND=jax

GPU_WORKLOADS="tiny_mlp,mlp,cnn,resnet20,resnet20_bf16,lstm,transformer,evaluate,predict"
WORKLOADS=${BENCH_WORKLOADS:-$GPU_WORKLOADS}
VARIANTS=${BENCH_VARIANTS:-kerasish,hw_scan_epoch,keras_spe32}
read -r -a BENCH_EXTRA <<< "${BENCH_ARGS:---repeats 1 --epochs 5 --no-first-step --timeout 300}"
read -r -a GPT2_EXTRA <<< "${GPT2_ARGS:---size small --variants kerasish,hw --steps 30 --repeats 2}"

FAILED=()
STARTED=$(date +%s)
part() {  # part NAME COMMAND...: run one part, note its time, remember a failure
    local name=$1 t0 rc
    shift
    t0=$(date +%s)
    echo "=== $name"
    "$@"
    rc=$?
    echo "=== $name: exit code $rc after $(( $(date +%s) - t0 )) s ($(( $(date +%s) - STARTED )) s in all)"
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name (exit code $rc)")
    fi
    return 0
}

device_info() {
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    else
        echo "nvidia-smi: not found"
    fi
    "$PYTHON" - <<'EOF'
import importlib.metadata as m
import os
import platform
import sys

import jax

print("python", sys.version.split()[0], platform.platform(), "| CPUs:", os.cpu_count())
print("jax backend:", jax.default_backend(), "| devices:", jax.devices())
for name in ("jax", "jaxlib", "jax-cuda13-plugin", "jax-cuda12-plugin", "flax", "optax", "keras", "numpy", "kerasish"):
    try:
        print(f"{name} {m.version(name)}")
    except m.PackageNotFoundError:
        pass
if jax.default_backend() == "cpu":
    print("WARNING: JAX sees no accelerator; the numbers below are CPU numbers")
EOF
}

run_device_info() {
    device_info 2>&1 | tee "$OUTDIR/device.txt"
    return "${PIPESTATUS[0]}"
}
part "device info" run_device_info

if [ -z "${BENCH_VARIANTS:-}" ] && "$PYTHON" -m benchmarks.nightly; then
    VARIANTS="$VARIANTS,keras_nightly_spe32,keras_nightly_spe128"
fi

run_bench() {
    echo "+ $PYTHON -m benchmarks.run --workloads $WORKLOADS --variants $VARIANTS ${BENCH_EXTRA[*]} --json $OUTDIR/bench.json"
    "$PYTHON" -m benchmarks.run --workloads "$WORKLOADS" --variants "$VARIANTS" "${BENCH_EXTRA[@]}" \
        --json "$OUTDIR/bench.json" 2>&1 | tee "$OUTDIR/bench.txt"
    return "${PIPESTATUS[0]}"
}
part "benchmarks.run" run_bench

run_gpt2() {
    echo "+ $PYTHON -m benchmarks.gpt2 ${GPT2_EXTRA[*]} --json $OUTDIR/gpt2.json"
    "$PYTHON" -m benchmarks.gpt2 "${GPT2_EXTRA[@]}" --json "$OUTDIR/gpt2.json" 2>&1 | tee "$OUTDIR/gpt2.txt"
    return "${PIPESTATUS[0]}"
}
part "benchmarks.gpt2" run_gpt2

run_table() {
    if [ ! -s "$OUTDIR/bench.json" ]; then
        echo "no $OUTDIR/bench.json: benchmarks.run wrote no results"
        return 1
    fi
    echo "+ $PYTHON -m benchmarks.readme_table $OUTDIR/bench.json > $OUTDIR/perf-table.md"
    "$PYTHON" -m benchmarks.readme_table "$OUTDIR/bench.json" > "$OUTDIR/perf-table.md" && cat "$OUTDIR/perf-table.md"
}
part "readme_table" run_table

echo "results in $OUTDIR ($(( $(date +%s) - STARTED )) s in all)"
if [ "${#FAILED[@]}" -ne 0 ]; then
    echo "FAILED parts: ${FAILED[*]}"
    exit 1
fi
