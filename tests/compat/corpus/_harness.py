"""Runs a corpus script over Keras 3 and over kerasish, in this process, and compares what they recorded.

``run_script(name, "keras")`` executes ``tests/compat/corpus/<name>.py`` as written (with ``CORPUS_SMOKE``
sizes unless the environment says ``CORPUS_SMOKE=0``); ``run_script(name, "kerasish", reference)`` executes
it again with ``keras`` mapped to kerasish (``tests/compat/keras_shim.py``) and Keras's recorded weights at
hand for ``record`` to copy in. Each run gets a fresh working directory (scripts save files), seeded NumPy
and Python generators, and captured output. ``compare`` lists every difference in words; ``describe`` turns
an exception into the script line that raised it and the innermost frame.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import runpy
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.compat.corpus import _record
from tests.compat.keras_shim import kerasish_as_keras

CORPUS_DIR = Path(__file__).parent
REPO_ROOT = CORPUS_DIR.parents[2]
RTOL = ATOL = 1e-5


def script_names() -> list[str]:
    return sorted(p.stem for p in CORPUS_DIR.glob("*.py") if not p.stem.startswith("_"))


def source_of(name: str) -> str:
    """The ``# Source:`` line of a script's header."""
    match = re.search(r"^# Source: (.+)$", (CORPUS_DIR / f"{name}.py").read_text(), re.MULTILINE)
    return match.group(1).strip() if match else "?"


@dataclass
class Run:
    framework: str
    records: dict = field(default_factory=dict)
    error: BaseException | None = None
    where: str = ""
    output: str = ""
    seconds: float = 0.0


@contextlib.contextmanager
def _in_directory(path: str):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def describe(error: BaseException, script: Path) -> str:
    """``<script>.py:<line>: <code>`` of the deepest frame in the script, the exception, and where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [f for f in frames if Path(f.filename) == script]
    head = f"{script.name}:{own[-1].lineno}: {own[-1].line}" if own else f"{script.name}: (before its first line)"
    message = "".join(traceback.format_exception_only(type(error), error)).strip()
    text = f"{head}\n    {message}"
    if frames and (not own or frames[-1] is not own[-1]):
        inner = frames[-1]
        try:
            filename = Path(inner.filename).resolve().relative_to(REPO_ROOT)
        except ValueError:
            filename = inner.filename
        text += f"\n    (raised in {filename}:{inner.lineno}, {inner.name})"
    return text


def run_script(script: str | Path, framework: str, reference: dict | None = None) -> Run:
    """Execute one corpus script over ``framework`` ("keras" or "kerasish"); never raises for the script's errors."""
    path = Path(script) if isinstance(script, Path) else CORPUS_DIR / f"{script}.py"
    run = Run(framework)
    _record.session = {"framework": framework, "reference": reference or {}, "records": run.records}
    shim = kerasish_as_keras() if framework == "kerasish" else contextlib.nullcontext()
    buffer = io.StringIO()
    os.environ.setdefault("CORPUS_SMOKE", "1")
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp, _in_directory(tmp), shim, \
                contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            random.seed(0)
            np.random.seed(0)
            try:
                runpy.run_path(str(path), run_name="__corpus__")
            except Exception as error:  # noqa: BLE001 - any failure of the script is the result
                run.error = error
                run.where = describe(error, path)
    finally:
        _record.session = None
        run.seconds = time.perf_counter() - start
        run.output = buffer.getvalue()[-4000:]
    return run


def _shapes(arrays) -> list[tuple]:
    return [tuple(a.shape) for a in arrays]


def compare(reference: Run, ours: Run) -> list[str]:
    """Every way ``ours`` (kerasish) differs from ``reference`` (Keras), in words; empty when they agree."""
    if ours.error is not None:
        return [ours.where]
    problems = []
    for name, ref in reference.records.items():
        got = ours.records.get(name)
        if got is None:
            problems.append(f"{name}: never recorded under kerasish")
            continue
        for key in ("layers", "params", "weight_shapes"):
            if got[key] != ref[key]:
                problems.append(f"{name}: {key} {got[key]} under kerasish, {ref[key]} under Keras")
        if _shapes(got["predictions"]) != _shapes(ref["predictions"]):
            problems.append(f"{name}: output shapes {_shapes(got['predictions'])} under kerasish, "
                            f"{_shapes(ref['predictions'])} under Keras")
        else:
            compared = ref["compared_outputs"]
            for i, (a, b) in enumerate(zip(got["predictions"], ref["predictions"])):
                if compared is not None and i not in compared:
                    continue
                a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
                if not np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
                    problems.append(f"{name}: output {i} differs with Keras's weights copied in "
                                    f"(max abs diff {np.max(np.abs(a - b)):.3g})")
        if "history" in ref:
            theirs, mine = ref["history"], got.get("history", {})
            if sorted(mine) != sorted(theirs):
                problems.append(f"{name}: history keys {sorted(mine)} under kerasish, {sorted(theirs)} under Keras")
            elif any(len(mine[k]) != len(theirs[k]) for k in theirs):
                problems.append(f"{name}: history lengths differ")
            if not all(np.isfinite(v) for values in mine.values() for v in values):
                problems.append(f"{name}: non-finite values in the history under kerasish")
        if "evaluate" in ref:
            theirs, mine = ref["evaluate"], got.get("evaluate", {})
            if sorted(mine) != sorted(theirs):
                problems.append(f"{name}: evaluate keys {sorted(mine)} under kerasish, {sorted(theirs)} under Keras")
            else:
                for key in theirs:
                    if not np.isclose(mine[key], theirs[key], rtol=RTOL, atol=ATOL):
                        problems.append(f"{name}: evaluate {key} {mine[key]:.7g} under kerasish, "
                                        f"{theirs[key]:.7g} under Keras (same weights)")
    for name in ours.records:
        if name not in reference.records:
            problems.append(f"{name}: recorded under kerasish only")
    return problems


def check(script: str | Path) -> tuple[Run, Run, list[str]]:
    """Keras's run, kerasish's run, and the problems (empty: kerasish runs the script as Keras does)."""
    reference = run_script(script, "keras")
    if reference.error is not None:
        raise RuntimeError(f"the corpus script fails under Keras 3 itself:\n{reference.where}\n"
                           f"--- output ---\n{reference.output}")
    if not reference.records:
        raise RuntimeError("the corpus script recorded nothing under Keras 3")
    ours = run_script(script, "kerasish", reference.records)
    return reference, ours, compare(reference, ours)
