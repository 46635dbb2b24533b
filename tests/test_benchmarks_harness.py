"""The benchmark harness around the runner: the README table generator, the Keras nightly venv lookup and
skip, peak memory in the report, and the GPU script (no timing assertions anywhere)."""

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import nightly, readme_table, run

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run(variant, rates, rss, dev=None, ok=True):
    """Fake child results: one per repeat (``rates[i]`` samples/s, ``rss[i]`` MB, ``dev[i]`` device MB)."""
    return [{"ok": ok, "variant": variant, "samples_per_s": r, "first_step_s": 1.0, "peak_rss_mb": m,
             "device_peak_mb": None if dev is None else dev[i]} if ok else
            {"ok": False, "variant": variant, "error": "Traceback\nRuntimeError: boom"}
            for i, (r, m) in enumerate(zip(rates, rss))]


RAW = {  # workload -> variant -> fake runs, three repeats
    "tiny_mlp": {
        "kerasish": _run("kerasish", [1_100_000, 1_180_000, 1_060_000], [300, 310, 305]),
        "hw_step": _run("hw_step", [170_000, 174_000, 160_000], [290, 291, 292]),
        "hw_fused64": _run("hw_fused64", [1_450_000, 1_540_000, 1_500_000], [295, 296, 297]),
        "keras": _run("keras", [54_900, 55_000, 53_000], [470, 471, 469]),
        "keras_spe32": _run("keras_spe32", [140_000, 150_000, 139_000], [480, 481, 479]),
        "keras_nightly_spe128": _run("keras_nightly_spe128", [500_000, 510_000, 490_000], [420, 421, 419]),
        "keras_nightly_spe32": _run("keras_nightly_spe32", [420_000, 430_000, 410_000], [410, 411, 409]),
    },
    "predict": {
        "kerasish": _run("kerasish", [47_400, 47_000, 48_000], [600, 601, 602]),
        "hw_step": _run("hw_step", [69_900, 70_100, 69_000], [590, 592, 591]),
        "hw_fused64": _run("hw_fused64", [0, 0, 0], [0, 0, 0], ok=False),
        "keras": _run("keras", [47_200, 47_300, 47_100], [700, 702, 701]),
        "keras_spe32": _run("keras_spe32", [49_600, 49_500, 49_700], [710, 711, 712]),
        "keras_nightly_spe128": _run("keras_nightly_spe128", [52_000, 51_000, 53_000], [650, 651, 652]),
        "keras_nightly_spe32": _run("keras_nightly_spe32", [53_500, 54_000, 53_000], [640, 641, 642]),
    },
}
META = {"date": "2026-12-07T12:00:00+00:00", "device": "cpu:cpu x1", "cpu_count": 2, "repeats": 3,
        "command": "python -m benchmarks.run --workloads tiny_mlp,predict --json out.json", "warm_cache": None,
        "versions": {"jax": "0.10.2", "flax": "0.12.8", "optax": "0.2.8", "keras": "3.15.1"},
        "keras_nightly": {"keras": "3.16.0.dev2026102704"}, "skipped_variants": {},
        "git": {"commit": "abc1234", "kerasish_uncommitted": []}}


def _report(raw=RAW, meta=META):
    workloads = {}
    for name, variants in raw.items():
        stats = {v: run.summarize_variant(runs, []) for v, runs in variants.items()}
        workloads[name] = {"task": "train" if name == "tiny_mlp" else "predict", "batch_size": 32, "samples": 4096,
                           "stats": stats, "ratios": run.ratios(stats)}
    return json.loads(json.dumps({"meta": meta, "workloads": workloads}))  # as read back from the JSON file


def _table_rows(block, header_start):
    lines = block.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    header = [c.strip() for c in lines[i].strip("|").split("|")]
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, [c.strip() for c in line.strip("|").split("|")])))
    return header, rows


def _number(cell):
    """'1.10M' -> 1.1e6, '47.4k' -> 47400, '601' -> 601."""
    m = re.fullmatch(r"([\d.,]+)([kM]?)", cell)
    assert m, cell
    return float(m.group(1).replace(",", "")) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]


def test_readme_table_matches_the_runs_medians_and_ratios(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_report()))
    block = readme_table.main([str(path)])
    header, rows = _table_rows(block, "| workload, batch")
    # The two Keras nightly variants share one column: the faster of them in each workload.
    assert header[1:] == ["kerasish", "hw: jit step", "hw: 64/call", "Keras 3.15.1", "Keras 3.15.1 spe=32",
                          "Keras 3.16-dev (best spe)", "kerasish / best hand-written", "kerasish / best Keras"]
    columns = dict(zip(header[1:6], RAW["tiny_mlp"]))
    assert len(rows) == 2
    nightly_best = {}
    for name, row in zip(RAW, rows):
        assert row[header[0]].startswith(f"`{name}`")
        medians = {v: statistics.median(r["samples_per_s"] for r in runs) for v, runs in RAW[name].items()
                   if all(r["ok"] for r in runs)}
        for col, variant in columns.items():
            if variant not in medians:
                assert row[col] == "failed"
                continue
            assert _number(row[col]) == pytest.approx(medians[variant], rel=5e-3), (name, variant)
        nightly_best[name] = max(("keras_nightly_spe32", "keras_nightly_spe128"), key=medians.get)
        rate, spe = row["Keras 3.16-dev (best spe)"].split(" ")
        assert _number(rate) == pytest.approx(medians[nightly_best[name]], rel=5e-3)
        assert spe == f"(spe={nightly_best[name].removeprefix('keras_nightly_spe')})"
        hw = max((v for v in medians if v.startswith("hw_")), key=medians.get)
        keras = max((v for v in medians if v.startswith("keras_") or v == "keras"), key=medians.get)
        for col, best in (("kerasish / best hand-written", hw), ("kerasish / best Keras", keras)):
            m = re.fullmatch(r"([\d.]+)× \((.+)\)", row[col])
            assert m, row[col]
            assert float(m.group(1)) == pytest.approx(medians["kerasish"] / medians[best], abs=0.005)
            assert m.group(2) == readme_table.column_name(best, META)
    # tiny_mlp: best hand-written is the 64/call loop (1.50M), best Keras the nightly at spe=128
    assert rows[0]["kerasish / best hand-written"] == "0.73× (hw: 64/call)"
    assert rows[0]["kerasish / best Keras"] == "2.20× (Keras 3.16-dev spe=128)"
    assert rows[1]["Keras 3.16-dev (best spe)"] == "53.5k (spe=32)"
    assert rows[1]["kerasish / best Keras"] == "0.89× (Keras 3.16-dev spe=32)"

    _, mem = _table_rows(block, "| workload |")
    for name, row in zip(RAW, mem):
        for col, variant in columns.items():
            runs = RAW[name][variant]
            expected = statistics.median(r["peak_rss_mb"] for r in runs) if runs[0]["ok"] else None
            assert row[col] == ("failed" if expected is None else f"{expected:,.0f}")
        best = RAW[name][nightly_best[name]]
        assert row["Keras 3.16-dev (best spe)"] == f"{statistics.median(r['peak_rss_mb'] for r in best):,.0f} " \
            f"(spe={nightly_best[name].removeprefix('keras_nightly_spe')})"
    assert "host peak RSS" in block
    for text in (META["command"], META["device"], META["date"], "jax 0.10.2", "Keras 3.15.1",
                 "Keras nightly 3.16.0.dev2026102704", "abc1234", "3 repeat(s)"):
        assert text in block, text


def test_readme_table_prefers_device_peak_memory_and_picks_columns():
    raw = {"mlp": {"kerasish": _run("kerasish", [5.0, 7.0], [3000, 3100], dev=[120, 126]),
                   "hw_scan_epoch": _run("hw_scan_epoch", [10.0, 8.0], [2900, 2950], dev=[110, 118])}}
    block = readme_table.render(_report(raw), variants=["hw_scan_epoch", "kerasish", "not_run"])
    header, rows = _table_rows(block, "| workload, batch")
    assert header[1:3] == ["hw: scan epoch", "kerasish"]  # the order asked for; unknown columns dropped
    assert rows[0]["kerasish / best hand-written"] == "0.67× (hw: scan epoch)"  # 6 / 9
    assert rows[0]["kerasish / best Keras"] == "-"
    _, mem = _table_rows(block, "| workload |")
    assert (mem[0]["hw: scan epoch"], mem[0]["kerasish"]) == ("114", "123")  # device medians, not RSS
    assert "peak_bytes_in_use" in block and "RSS" not in block.split("Peak memory")[1]


def test_readme_table_writes_between_the_markers_only(tmp_path):
    readme = tmp_path / "README.md"
    before, after = "# Title\n\nintro\n", "\n\n## Next\ntext\n"
    readme.write_text(f"{before}{readme_table.START}\nold table\n{readme_table.END}{after}")
    results = tmp_path / "r.json"
    results.write_text(json.dumps(_report()))
    readme_table.main([str(results), "--write", str(readme)])
    block = readme_table.render(_report())
    assert readme.read_text() == f"{before}{readme_table.START}\n{block}\n{readme_table.END}{after}"
    readme_table.main([str(results), "--write", str(readme)])  # idempotent
    assert readme.read_text() == f"{before}{readme_table.START}\n{block}\n{readme_table.END}{after}"

    for text in ("no markers here\n", f"{readme_table.END}\n{readme_table.START}\n", f"{readme_table.START}\n"):
        readme.write_text(text)
        with pytest.raises(SystemExit, match="needs the markers <!-- perf-table:start -->"):
            readme_table.main([str(results), "--write", str(readme)])
        assert readme.read_text() == text  # untouched
    with pytest.raises(SystemExit, match="not a benchmarks.run report"):
        readme_table.render({"workloads": {}})


def test_peak_memory_is_the_device_peak_else_host_rss():
    host = run.summarize_variant(_run("hw_step", [1.0, 2.0, 3.0], [10, 30, 20]), [])
    assert host["peak_memory"] == {"kind": "host RSS", "median": 20, "min": 10, "max": 30, "n": 3}
    dev = run.summarize_variant(_run("hw_step", [1.0, 2.0], [10, 30], dev=[5, 7]), [])
    assert dev["peak_memory"]["kind"] == "device" and dev["peak_memory"]["median"] == 6


def test_ratios_take_keras_nightly_as_keras():
    stats = _report()["workloads"]["tiny_mlp"]["stats"]
    r = run.ratios(stats)
    assert r["kerasish_vs_keras_best"]["best"] == "keras_nightly_spe128"
    assert r["kerasish_vs_keras_nightly_best"]["ratio"] == pytest.approx(1_100_000 / 500_000)
    assert r["kerasish_vs_keras_default"]["ratio"] == pytest.approx(1_100_000 / 54_900)


def test_nightly_variants_are_named_checked_and_skipped_with_a_reason(tmp_path, monkeypatch, capsys):
    assert run.is_nightly("keras_nightly") and run.is_nightly("keras_nightly_spe128")
    assert not run.is_nightly("keras_spe32") and not run.is_nightly("keras_nightly_speX")
    assert run.label("keras_nightly_spe32", "train") == "Keras nightly fit spe=32"
    assert run.label("keras_nightly", "predict") == "Keras nightly predict (defaults)"
    assert run.variants_for("train", None)[-2:] == run.NIGHTLY_VARIANTS
    with pytest.raises(SystemExit, match=r"unknown variant\(s\) \['keras_nightly_speX', 'kerasish_fast'\]"):
        run.check_variants(["kerasish", "keras_nightly_speX", "kerasish_fast"])

    missing = tmp_path / "no-venv"
    monkeypatch.setenv(nightly.ENV_VAR, str(missing))
    found = nightly.find()
    assert not found["ok"] and str(missing) in found["reason"] and "--setup" in found["reason"]
    info, skipped = run.resolve_nightly(["keras_nightly_spe32"], 10, {"jax": "0"})
    assert info is None and set(skipped) == {"keras_nightly_spe32"}
    assert f"NOTE: skipping keras_nightly_spe32: no Keras nightly venv at {missing}" in capsys.readouterr().out
    assert run.run_child({"mode": "throughput", "variant": "keras_nightly_spe32"}, 10)["ok"] is False

    missing.mkdir()  # a directory that is not a venv
    found = nightly.find()
    assert not found["ok"] and "not a virtual environment" in found["reason"]


def test_keras_child_imports_neither_kerasish_nor_flax(tmp_path):
    """The nightly venv has jax, numpy and keras only: a Keras variant's measurement must not import kerasish,
    flax or optax (here they are made unimportable in the child's interpreter)."""
    script = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('kerasish', 'flax', 'optax'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from benchmarks import child\n"
        "r = child.measure({'workload': 'predict', 'variant': 'keras_spe32', 'mode': 'throughput',\n"
        "                   'samples': 128, 'epochs': 2, 'cache_dir': None})\n"
        "assert r['samples_per_s'] > 0 and r['keras_version'], r\n"
        "print('OK', r['keras_version'])\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("OK 3.")


def test_gpu_script_parses_and_runs_every_gpu_workload():
    from benchmarks.workloads import WORKLOADS

    script = REPO_ROOT / "benchmarks" / "gpu.sh"
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = script.read_text()
    m = re.search(r'^GPU_WORKLOADS="([^"]+)"$', text, re.M)
    assert m, "gpu.sh has no GPU_WORKLOADS line"
    assert m.group(1).split(",") == ["tiny_mlp", "mlp", "cnn", "resnet20", "resnet20_bf16", "lstm", "transformer",
                                     "evaluate", "predict"]
    assert set(m.group(1).split(",")) <= set(WORKLOADS)
    assert "--size small --variants kerasish,hw --steps 30 --repeats 2" in text
    for command in ("-m benchmarks.run", "-m benchmarks.gpt2", "-m benchmarks.readme_table", "nvidia-smi"):
        assert command in text, command


def test_nightly_venv_copies_this_jax_and_must_run_on_the_same_platform(monkeypatch, capsys):
    from importlib import metadata

    reqs = nightly.requirements()
    for name in ("jax", "jaxlib", "numpy"):
        assert f"{name}=={metadata.version(name)}" in reqs
    assert reqs[-1] == "keras-nightly>=3.16.0.dev0" and not any(r.startswith(("flax", "optax", "keras=")) for r in reqs)

    # A nightly venv whose JAX sees only the CPU, for a run on a GPU: skipped, with the reason, not run on the CPU.
    monkeypatch.setattr(run, "NIGHTLY_PYTHON", None)  # restored to this after the test
    monkeypatch.setattr(nightly, "find", lambda: {"ok": True, "dir": "/v", "python": "/v/bin/python",
                                                  "keras": "3.16.0.dev1"})
    monkeypatch.setattr(run, "run_child", lambda spec, timeout: {
        "ok": True, "device": {"platform": "cpu"}, "versions": {"jax": "0.10.2"}})
    info, skipped = run.resolve_nightly(["keras_nightly_spe32"], 10, {"jax": "0.10.2"}, {"platform": "gpu"})
    assert info is None and "runs on cpu, here on gpu" in skipped["keras_nightly_spe32"]
    assert run.NIGHTLY_PYTHON is None
    assert "NOTE: skipping keras_nightly_spe32" in capsys.readouterr().out
    info, skipped = run.resolve_nightly(["keras_nightly_spe32"], 10, {"jax": "0.10.2"}, {"platform": "cpu"})
    assert skipped == {} and info["keras"] == "3.16.0.dev1" and run.NIGHTLY_PYTHON == "/v/bin/python"
