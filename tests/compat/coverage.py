"""Public-name coverage of Keras 3's namespaces by kerasish's, counted from the installed packages.

``python -m tests.compat.coverage`` prints the table; ``--write-readme`` puts it into README.md between the
``<!-- api-coverage -->`` markers. ``tests/compat/test_api_coverage.py`` holds each namespace to its floor.
The exclusion lists name what kerasish leaves out on purpose and why: only names that need TensorFlow or torch
in Keras itself, or that are separate work (see the issue tracker).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

# namespace -> floor (fraction of Keras's public names, after exclusions) the tests hold kerasish to
NAMESPACES: dict[str, float] = {
    "ops": 1.0, "ops.nn": 1.0, "ops.linalg": 1.0, "ops.image": 1.0, "ops.numpy": 1.0,
    "random": 1.0, "config": 0.9, "tree": 0.9, "backend": 0.9, "utils": 0.9, "saving": 0.9, "metrics": 0.9,
    "initializers": 0.9, "activations": 0.9, "layers": 0.9, "losses": 0.9, "optimizers": 0.9,
    "optimizers.schedules": 0.9, "models": 0.9, "callbacks": 0.9, "distribution": 0.9, "datasets": 0.9,
    "regularizers": 0.9, "constraints": 0.9, "mixed_precision": 0.9, "applications": 1.0,
}

# name -> why kerasish leaves it out. Shared by every namespace it appears in.
EXCLUDED: dict[str, dict[str, str]] = {
    "layers": {
        "TFSMLayer": "loads a TensorFlow SavedModel: needs TensorFlow",
        "TorchModuleWrapper": "wraps a torch.nn.Module: needs torch",
    },
    "utils": {
        "audio_dataset_from_directory": "decodes audio with tf.audio: needs TensorFlow",
    },
}


def keras_names(namespace: str) -> list[str]:
    module = importlib.import_module("keras." + namespace)
    # keras.datasets's and keras.applications's public names include their modules (keras.datasets.mnist,
    # keras.applications.resnet, ...); elsewhere modules are not names
    keep_modules = namespace in ("datasets", "applications")
    return sorted(n for n in dir(module) if not n.startswith("_")
                  and (keep_modules or type(getattr(module, n)).__name__ != "module"))


def kerasish_names(namespace: str) -> set[str]:
    try:
        module = importlib.import_module("kerasish." + namespace)
    except ImportError:
        return set()
    return set(dir(module))


def coverage(namespace: str) -> tuple[list[str], list[str], list[str]]:
    """(counted names, missing names, excluded names) of one namespace."""
    excluded = EXCLUDED.get(namespace, {})
    names = keras_names(namespace)
    have = kerasish_names(namespace)
    counted = [n for n in names if n not in excluded]
    return counted, [n for n in counted if n not in have], [n for n in names if n in excluded]


def table() -> str:
    import keras

    rows = [f"Counted from Keras {keras.__version__}'s public names (`tests/compat/coverage.py`; excluded names "
            "and why are listed there).", "", "| namespace | kerasish has | of Keras's | excluded |",
            "|---|---:|---:|---:|"]
    for namespace in NAMESPACES:
        counted, missing, excluded = coverage(namespace)
        rows.append(f"| `keras.{namespace}` | {len(counted) - len(missing)} | {len(counted)} | {len(excluded)} |")
    return "\n".join(rows)


def write_readme(path: Path) -> None:
    text = path.read_text()
    start, end = "<!-- api-coverage -->", "<!-- /api-coverage -->"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    if not rest:
        raise SystemExit(f"{path}: no {start} marker")
    path.write_text(f"{before}{start}\n{table()}\n{end}{after}")


if __name__ == "__main__":
    if "--write-readme" in sys.argv:
        write_readme(Path(__file__).resolve().parents[2] / "README.md")
    print(table())
    if "-v" in sys.argv:
        for namespace in NAMESPACES:
            missing = coverage(namespace)[1]
            if missing:
                print(f"{namespace} missing: {' '.join(missing)}")
