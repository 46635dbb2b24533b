"""Keras nightly (``keras-nightly``, Keras 3.16 dev today) in its own virtual environment, for the benchmarks.

The ``keras-nightly`` distribution installs the same ``keras`` import name as ``keras`` 3.15, so the two
cannot share one environment: the benchmark's ``keras_nightly`` variants run their measurement subprocess
(``benchmarks.child``) with the Python of a separate venv that holds only what that child imports for a
Keras variant: ``jax``/``jaxlib`` (the versions of the main environment, and its CUDA plugin
distributions when it has them), ``numpy`` (the main environment's version, so the synthetic data is the
same), and ``keras-nightly``. kerasish, flax and optax are not installed there: a Keras variant's child
imports none of them (``benchmarks.workloads`` imports its frameworks lazily).

Usage::

    python -m benchmarks.nightly --setup [DIR]   # create DIR (default .venv-keras-nightly in the repo root)
    python -m benchmarks.nightly [DIR]           # where the venv is, its Keras and jax versions (or why absent)

The runner (``benchmarks.run``) looks for the venv in ``$KERASISH_BENCH_NIGHTLY_VENV`` when that is set,
else in ``.venv-keras-nightly`` at the repository root. ``--setup`` needs the package index (it runs
``pip install`` in the new venv); it refuses a DIR that exists and is not such a venv. The venv holds a
``.gitignore`` of ``*``, so git never lists it, wherever it is.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / ".venv-keras-nightly"
ENV_VAR = "KERASISH_BENCH_NIGHTLY_VENV"
MARKER = "kerasish-bench-nightly.json"  # written into the venv by --setup: what was asked for


def venv_dir(path: str | os.PathLike | None = None) -> Path:
    """The nightly venv's directory: ``path``, else ``$KERASISH_BENCH_NIGHTLY_VENV``, else the default."""
    if path:
        return Path(path).resolve()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).resolve()
    return DEFAULT_DIR


def venv_python(directory: Path) -> Path:
    return directory / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find(path: str | os.PathLike | None = None, timeout: float = 120) -> dict:
    """Look for the nightly venv. Returns ``{"ok": True, "dir", "python", "keras", "jax", "numpy"}`` (the
    versions as its Python imports them) or ``{"ok": False, "dir", "reason"}`` (never raises)."""
    directory = venv_dir(path)
    python = venv_python(directory)
    hint = "make it with `python -m benchmarks.nightly --setup`"
    if not directory.exists():
        return {"ok": False, "dir": str(directory), "reason": f"no Keras nightly venv at {directory} ({hint}, or "
                f"point ${ENV_VAR} at one)"}
    if not python.exists():
        return {"ok": False, "dir": str(directory), "reason": f"{directory} has no {python.relative_to(directory)}: "
                f"not a virtual environment ({hint})"}
    code = ("import json, importlib.metadata as m, jax, numpy, keras; "
            "print(json.dumps({'keras': keras.__version__, 'jax': jax.__version__, 'numpy': numpy.__version__, "
            "'keras_distribution': [d for d in ('keras-nightly', 'keras') if m.distributions(name=d)]}))")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    env.pop("PYTHONPATH", None)
    try:
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=directory)
    except (OSError, subprocess.SubprocessError) as e:
        return {"ok": False, "dir": str(directory), "reason": f"could not run {python}: {e}"}
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {"ok": False, "dir": str(directory), "reason": f"{python} cannot import jax, numpy and keras: {last} "
                f"({hint})"}
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"ok": True, "dir": str(directory), "python": str(python), **found}


def requirements() -> list[str]:
    """What ``--setup`` installs: this environment's jax, jaxlib, jax CUDA plugins and numpy, pinned, and the
    newest ``keras-nightly`` (a pre-release, allowed by its ``>=...dev0`` specifier)."""
    reqs = []
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name in ("jax", "jaxlib", "numpy"):
            reqs.append(f"{name}=={dist.version}")
        elif name.replace("_", "-").startswith("jax-cuda"):  # jax[cudaN]: the plugin with its NVIDIA wheels
            name = name.replace("_", "-")
            extra = "[with-cuda]" if name.endswith("-plugin") else ""
            reqs.append(f"{name}{extra}=={dist.version}")
    missing = {"jax", "jaxlib", "numpy"} - {r.split("==")[0].split("[")[0] for r in reqs}
    if missing:
        raise SystemExit(f"benchmarks.nightly --setup: this environment ({sys.prefix}) has no {sorted(missing)}; "
                         "run it from the project's venv, whose jax it copies")
    return sorted(set(reqs)) + ["keras-nightly>=3.16.0.dev0"]


def setup(path: str | os.PathLike | None = None) -> dict:
    """Create the nightly venv and install :func:`requirements` into it; returns :func:`find`'s answer."""
    directory = venv_dir(path)
    python = venv_python(directory)
    if directory.exists() and not python.exists():
        raise SystemExit(f"benchmarks.nightly --setup: {directory} exists and is not a virtual environment; "
                         "remove it or name another directory")
    reqs = requirements()
    if not python.exists():
        print(f"creating {directory}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=False, symlinks=os.name != "nt").create(directory)
    # Git ignores the venv's files wherever it is made (as Python 3.13's venv does), so a venv inside the
    # checkout never shows as untracked or travels with copies of the working tree.
    (directory / ".gitignore").write_text("# created by python -m benchmarks.nightly --setup\n*\n")
    print(f"installing into {directory}: {' '.join(reqs)}", flush=True)
    proc = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *reqs])
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.nightly --setup: pip install into {directory} failed (exit code "
                         f"{proc.returncode}); see its output above")
    (directory / MARKER).write_text(json.dumps({"requirements": reqs, "made_by": "python -m benchmarks.nightly"}))
    found = find(directory)
    if not found["ok"]:
        raise SystemExit(f"benchmarks.nightly --setup: installed, but {found['reason']}")
    return found


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.nightly", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir", nargs="?", help=f"the venv (default ${ENV_VAR}, else {DEFAULT_DIR.name} in the repo root)")
    p.add_argument("--setup", action="store_true", help="create the venv and install jax, numpy, keras-nightly")
    args = p.parse_args(argv)
    found = setup(args.dir) if args.setup else find(args.dir)
    if not found["ok"]:
        print(f"Keras nightly: {found['reason']}")
        raise SystemExit(1)
    print(f"Keras nightly {found['keras']} (jax {found['jax']}, numpy {found['numpy']}) in {found['dir']}")


if __name__ == "__main__":
    main()
