"""How much of the compatibility corpus kerasish runs: ``kerasish runs N of M corpus scripts``.

``python -m tests.compat.corpus_report`` runs every script in ``tests/compat/corpus/`` over Keras 3 and over
kerasish (as ``tests/compat/test_corpus.py`` does) and prints one line per script and the count;
``--write-readme`` also puts the count and the table into README.md between the ``<!-- corpus -->`` and
``<!-- /corpus -->`` markers (it refuses when the markers are missing). ``-k NAME`` runs only the scripts whose
names contain NAME (no README update then). Sizes follow ``CORPUS_SMOKE`` (smoke-sized unless it is ``0``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

START, END = "<!-- corpus -->", "<!-- /corpus -->"


def run(names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(script, source, problems) per script; problems empty when kerasish runs it as Keras does."""
    from tests.compat.corpus import _harness

    results = []
    for name in names:
        try:
            _, _, problems = _harness.check(name)
        except RuntimeError as error:  # the script fails under Keras itself: a corpus bug, shown as such
            problems = [f"fails under Keras 3: {str(error).splitlines()[1] if len(str(error).splitlines()) > 1 else error}"]
        results.append((name, _harness.source_of(name), problems))
        status = "ok" if not problems else problems[0].splitlines()[0]
        print(f"{'PASS' if not problems else 'FAIL'}  {name}: {status}", flush=True)
    return results


def _cause(problems: list[str]) -> str:
    """The first problem, on one line: the script line, then the exception."""
    lines = [line.strip() for line in problems[0].splitlines() if line.strip() and not line.strip().startswith("(")]
    return " — ".join(lines[:2]).replace("|", "\\|")


def markdown(results: list[tuple[str, str, list[str]]]) -> str:
    passed = sum(not problems for _, _, problems in results)
    rows = [f"kerasish runs {passed} of {len(results)} corpus scripts (`python -m tests.compat.corpus_report "
            "--write-readme`; each script runs over Keras 3 and over kerasish, and passes when kerasish builds the "
            "same structure and, with Keras's weights copied in, predicts the same values within 1e-5).", "",
            "| script | source | kerasish |", "|---|---|---|"]
    for name, source, problems in results:
        rows.append(f"| `{name}` | {source.split(' (')[0]} | {'passes' if not problems else _cause(problems)} |")
    return "\n".join(rows)


def write_readme(path: Path, text: str) -> None:
    content = path.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"{path} has no {START} ... {END} markers: place them where the corpus count goes.")
    before, _, rest = content.partition(START)
    _, _, after = rest.partition(END)
    path.write_text(f"{before}{START}\n{text}\n{END}{after}")


def main(argv: list[str] | None = None) -> int:
    from tests.compat.corpus import _harness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true", help="update README.md between the corpus markers")
    parser.add_argument("-k", default="", help="run only the scripts whose names contain this")
    args = parser.parse_args(argv)
    names = [n for n in _harness.script_names() if args.k in n]
    results = run(names)
    text = markdown(results)
    print()
    print(text.splitlines()[0].split(" (")[0])
    if args.write_readme:
        if args.k:
            raise SystemExit("--write-readme needs the whole corpus (no -k).")
        write_readme(_harness.REPO_ROOT / "README.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
