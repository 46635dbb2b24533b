"""The ``kerasish`` command: ``kerasish run CONFIG.yaml [key=value ...]`` and ``kerasish run --resume RUN_DIR``."""

from __future__ import annotations

import argparse
import sys

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
    try:
        if args.resume:
            result = run(resume=args.resume)
        else:
            result = run(args.config, args.overrides, root=args.root)
    except KerasishError as e:
        print(f"kerasish run: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kerasish run: interrupted; continue with --resume RUN_DIR", file=sys.stderr)
        return 130
    summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.metrics.items())
    print(f"Done: {summary}" if summary else "Done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
