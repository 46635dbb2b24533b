"""Checks of data against the model, on the host, before any compute (clear errors, raised early)."""

from __future__ import annotations

import jax
import numpy as np

from kerasish import distribution as distribution_mod
from kerasish import losses as losses_mod
from kerasish.engine.compile_utils import flatten_outputs
from kerasish.errors import ConfigError, InputError


def flatten_inputs(model, x) -> list:
    names = [n for n, _ in (model._input_specs() or [])]
    if isinstance(x, dict):
        missing = [n for n in names if n not in x]
        if missing:
            raise InputError(f"x is a dict with keys {sorted(x)}, but the model's inputs are {names}.")
        return [x[n] for n in names]
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def check_x(model, x) -> None:
    """x has the model's inputs, each with the samples' shape the model expects."""
    specs = model._input_specs()
    if specs is None:
        return
    given = flatten_inputs(model, x)
    if len(given) != len(specs):
        raise InputError(f"Model {model.name!r} expects {len(specs)} input(s) {[n for n, _ in specs]}, "
                         f"but x has {len(given)}.")
    for (name, shape), arr in zip(specs, given):
        got = tuple(np.shape(arr))
        if len(got) == len(shape) - 1 and shape[-1] == 1:  # Keras adds a missing trailing axis of size 1
            got = got + (1,)
        elif len(got) == len(shape) + 1 and got[-1] == 1:  # and drops an extra one
            got = got[:-1]
        if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape[1:], got[1:])):
            raise InputError(
                f"Input {name!r} of model {model.name!r} expects samples of shape {tuple(shape[1:])}, "
                f"but x has samples of shape {got[1:]} (x.shape={got})."
            )


def targets_per_output(model, y, compile_loss) -> list:
    """y spread over the model's outputs, checked against their names and count."""
    names = model.output_names
    if y is None:
        return [None] * len(names)
    if isinstance(y, dict):
        missing = [n for n in names if n not in y and compile_loss.loss_for(names.index(n)) is not None]
        extra = sorted(set(y) - set(names))
        if missing or extra:
            raise InputError(f"y is a dict with keys {sorted(y)}, but the model's outputs are {names}.")
        return [y.get(n) for n in names]
    if isinstance(y, (list, tuple)) and len(names) > 1:
        if len(y) != len(names):
            raise InputError(f"y has {len(y)} entries, but the model has {len(names)} outputs {names}.")
        return list(y)
    if len(names) > 1:
        raise InputError(f"The model has {len(names)} outputs {names}: give y as a list or a dict of arrays.")
    return flatten_outputs(y, names)


def check_y(model, y, compile_loss) -> None:
    """Targets that the compiled losses can take: labels in range, one-hot where one-hot is needed."""
    shapes = model._output_shapes()
    names = model.output_names
    for i, target in enumerate(targets_per_output(model, y, compile_loss)):
        loss = compile_loss.loss_for(i)
        if target is None or loss is None:
            continue
        target = np.asarray(target)
        out_shape = shapes[i]
        if losses_mod.is_sparse_categorical(loss):
            classes = out_shape[-1]
            if classes is None or target.size == 0:
                continue
            ignore = getattr(loss, "ignore_class", None)
            valid = target if ignore is None else target[target != ignore]
            lo, hi = (valid.min(), valid.max()) if valid.size else (0, 0)
            if lo < 0 or hi >= classes:
                raise InputError(
                    f"Output {names[i]!r} has {classes} classes, so sparse labels must be in [0, {classes - 1}], "
                    f"but y has labels in [{lo}, {hi}]."
                )
        elif losses_mod.is_categorical(loss) and len(out_shape) >= 2 and out_shape[-1] not in (None, 1) \
                and tuple(target.shape[1:]) != tuple(out_shape[1:]):
            raise InputError(
                f"Output {names[i]!r} has shape {tuple(out_shape)} but y has shape {target.shape}: categorical "
                "crossentropy needs one-hot targets (use sparse_categorical_crossentropy for integer labels)."
            )


def check_batch(model, x, y, compile_loss, needs_targets: bool, step: str) -> None:
    """One batch (or all the arrays) against the model, before it reaches a step."""
    check_x(model, x)
    if y is not None:
        check_y(model, y, compile_loss)
    elif needs_targets:
        raise InputError(f"No targets: y is None (or the batches carry no y), but the default {step} needs "
                         "them to compute the loss.")


def check_distributed(data) -> None:
    """Under a distribution, array batches must split evenly over its devices (checked before any step)."""
    dist = distribution_mod.distribution()
    if dist is None and jax.process_count() > 1:
        raise ConfigError(f"This is process {jax.process_index()} of {jax.process_count()}: choose how they share "
                          "the work first, e.g. kerasish.distribution.set_distribution("
                          "kerasish.distribution.DataParallel()), on every process.")
    if dist is not None and getattr(data, "batch_size", None) is not None:
        dist.check_batch_size(int(data.batch_size))
