"""The ``kerasish`` command: ``kerasish run CONFIG.yaml [key=value ...]`` and ``kerasish run --resume RUN_DIR``.

Exit codes and messages (decided behaviour):

- 0: the run completed (``Done: metric=value, ...``);
- 2: a usage error (argparse's ``kerasish run: error: ...``), an invalid config, or any kerasish error during
  the run, printed as ONE line ``kerasish run: error: MESSAGE`` without a traceback (the traceback goes to
  the run's ``console.log``); a file-system failure (read-only or uncreatable root, full disk, file-size
  limit) is one of these, naming the file or folder and saying "no space left" for a full disk. When the
  run directory could not even be marked failed, a second line ``kerasish run: ...`` says so;
- 130: interrupted (Ctrl-C); the run directory is marked failed and ``--resume RUN_DIR`` continues it.

``SIGXFSZ`` (sent when a file outgrows ``ulimit -f``) is ignored, so that such a write fails with an error
the run reports ("no space left under the file-size limit") instead of the signal killing the process
without a word. A write failing for lack of space in a background thread (TensorBoard's event writer) or
at exit is one ``kerasish run: warning: ...`` line, or nothing after the run's own error (see
``_ProcessGuards``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

DESCRIPTION = """\
kerasish: Keras-style training over JAX.

Commands:
  run    train a model from a YAML run config (see `kerasish run --help`)
"""

RUN_HELP = """\
Run a config: validate it (a bad key or value fails before training, naming the key and what is
allowed), call its recipe (recipes/<recipe>.py), and write runs/<name>/<timestamp>/ with the resolved
config.yaml, console.log, TensorBoard events (tensorboard/), the best checkpoint (checkpoints/),
history.csv, metrics.json, model.kerasish and run.json (status).

Overrides use dotted keys, OmegaConf syntax: fit.epochs=3 compile.learning_rate=0.01
model.units=[64,32] callbacks.early_stopping.patience=2 output.root=/tmp/runs

A killed run continues exactly where it stopped with `kerasish run --resume RUN_DIR` (its backup/
holds the full training state: weights, optimizer, RNG, epoch and batch).

Sections of every config: name, recipe, seed, description, compile (optimizer, learning_rate, loss,
metrics, steps_per_execution), fit (epochs, batch_size, validation_split, shuffle, steps_per_epoch,
verbose), callbacks (early_stopping, reduce_lr_on_plateau, tensorboard, checkpoint, backup, csv_log),
output (root, save_model); each recipe adds its own (data, model, ...), documented in its module.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerasish", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="train a model from a YAML run config", description=RUN_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("config", nargs="?", help="the YAML run config (e.g. configs/mlp_classifier.yaml)")
    run.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. fit.epochs=3")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run in its own directory")
    run.add_argument("--root", metavar="DIR", help="where run directories go (default: the config's output.root)")
    parser.set_defaults(run_parser=run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    from_command_line = argv is None  # the process is the command: its exit belongs to it
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["run"]:  # options and key=value overrides in any order (argparse's intermixed parsing)
        args = parser.get_default("run_parser").parse_intermixed_args(argv[1:], argparse.Namespace(command="run"))
    else:
        args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from kerasish.errors import KerasishError
    from kerasish.runs import run

    if args.resume and (args.config or args.overrides):
        parser.error("--resume takes a run directory only: no config or overrides")
    if not args.resume and not args.config:
        parser.error("give a config file, or --resume RUN_DIR")
    guards = _ProcessGuards()
    try:
        with guards.installed(keep=from_command_line):
            if args.resume:
                result = run(resume=args.resume)
            else:
                result = run(args.config, args.overrides, root=args.root)
    except KerasishError as e:
        guards.failed = e
        print(f"kerasish run: error: {_one_line(e)}", file=sys.stderr)
        for note in getattr(e, "__notes__", ()):
            print(f"kerasish run: {_one_line(note)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print("kerasish run: interrupted; continue with --resume RUN_DIR", file=sys.stderr)
        for note in getattr(e, "__notes__", ()):
            print(f"kerasish run: {_one_line(note)}", file=sys.stderr)
        return 130
    summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.metrics.items())
    print(f"Done: {summary}" if summary else "Done.")
    return 0


def _one_line(message) -> str:
    """A message on one line, except a config error's list of problems (one indented line each)."""
    text = str(message)
    return text if text.startswith("Invalid run config:") else " ".join(text.split())


class _ProcessGuards:
    """What ``kerasish run`` changes in its process so that a full disk ends in one line, not a traceback.

    - ``SIGXFSZ`` is ignored (where it exists, from the main thread): a write over ``ulimit -f`` then fails
      with EFBIG, which the run reports, instead of the signal killing the process without a word. (CPython
      already ignores it at startup; an embedding interpreter, or a library that restored it, may not.)
    - A write that fails in a background thread (TensorBoard's event writer, tensorboardX's) or at exit
      (its flush in an ``atexit`` hook) is one warning line, not a traceback; after the run's own error
      was printed, OS errors there are the same failure and are not repeated.

    Installed for the command's duration; the command line itself keeps them until the process exits
    (those background writers flush at exit); a ``main(argv)`` call from Python gets its previous state back.
    """

    def __init__(self):
        self.failed: BaseException | None = None

    @contextlib.contextmanager
    def installed(self, keep: bool):
        sig = getattr(signal, "SIGXFSZ", None)
        try:
            previous_signal = signal.signal(sig, signal.SIG_IGN) if sig is not None else None
        except ValueError:  # not the main thread: signals cannot be changed here
            sig = previous_signal = None
        previous_thread_hook, previous_unraisable_hook = threading.excepthook, sys.unraisablehook

        def thread_hook(args):
            if not self._quiet(args.exc_value, f"thread {getattr(args.thread, 'name', '?')}"):
                previous_thread_hook(args)

        def unraisable_hook(unraisable):
            who = getattr(unraisable.object, "__qualname__", None) or repr(unraisable.object)
            if not self._quiet(unraisable.exc_value, f"{who} at exit"):
                previous_unraisable_hook(unraisable)

        threading.excepthook, sys.unraisablehook = thread_hook, unraisable_hook
        try:
            yield self
        finally:
            if not keep:
                threading.excepthook, sys.unraisablehook = previous_thread_hook, previous_unraisable_hook
                if sig is not None and previous_signal is not None:
                    signal.signal(sig, previous_signal)

    def _quiet(self, exc: BaseException | None, who: str) -> bool:
        """Report a background failure in one line (or not at all); False: not ours, the default hook runs."""
        from kerasish.errors import storage_cause, storage_error

        cause = storage_cause(exc)
        if self.failed is not None and isinstance(exc, OSError):
            return True  # the run's error line said it; this is the same disk failing again
        if cause is None:
            return False
        reason = str(storage_error(cause, "")).split(": ", 1)[-1].rstrip(".")
        with contextlib.suppress(OSError, ValueError):
            print(f"kerasish run: warning: a background write ({who}) failed: {reason}; what it had not written "
                  "yet is lost.", file=sys.stderr, flush=True)
        return True


if __name__ == "__main__":
    sys.exit(main())
