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


# How each built-in loss function lines targets up with outputs: "sparse" (integer labels: the output's shape
# without its class axis), "same" (crossentropies: the output's shape), "broadcast" (elementwise losses: the
# output's shape, an axis of 1 on either side broadcast), None (no rule: ctc, circle). Keras first drops or adds a
# trailing axis of size 1 when the ranks differ by one; so do these checks.
_SHAPE_RULES = {
    losses_mod.sparse_categorical_crossentropy: "sparse",
    losses_mod.categorical_generalized_cross_entropy: "sparse",
    losses_mod.binary_crossentropy: "same",
    losses_mod.binary_focal_crossentropy: "same",
    losses_mod.categorical_crossentropy: "same",
    losses_mod.categorical_focal_crossentropy: "same",
    losses_mod.ctc: None,
    losses_mod.circle: None,
}
_BINARY = (losses_mod.binary_crossentropy, losses_mod.binary_focal_crossentropy)
_CATEGORICAL = (losses_mod.categorical_crossentropy, losses_mod.categorical_focal_crossentropy)
_SHOWN = 5  # bad values named in a message


def builtin_loss_function(loss):
    """The kerasish loss function behind a built-in loss object, or None (a user's function or subclass, whose
    targets can mean anything: those are not checked)."""
    if not isinstance(loss, losses_mod.LossFunctionWrapper) or type(loss).call is not losses_mod.LossFunctionWrapper.call:
        return None
    fn = loss.fn
    return fn if getattr(fn, "__module__", "").startswith("kerasish.losses") else None


def _fits(got: tuple, want: tuple, broadcast: bool) -> bool:
    return len(got) == len(want) and all(w is None or g == w or (broadcast and 1 in (g, w)) for g, w in zip(got, want))


def check_target_shape(where: str, fn, target_shape: tuple, out_shape: tuple) -> None:
    """Targets of ``target_shape`` fit outputs of ``out_shape`` under the loss ``fn``'s rule (see _SHAPE_RULES).

    Refused: what Keras 3 fails on deep in the step (mse with targets ``(n,)`` for ``(n, 3)`` outputs) and what it
    would broadcast across the batch axis (the same with ``n == 3``). Accepted as in Keras: a missing or extra
    trailing axis of size 1, and for elementwise losses an axis of size 1 broadcast (``(n, 1)`` targets, ``(n, 3)``
    outputs).
    """
    rule = _SHAPE_RULES.get(fn, "broadcast")
    if rule is None:
        return
    got, want = tuple(target_shape[1:]), tuple(out_shape[1:])
    if rule == "sparse":
        if _fits(got, want[:-1], False) or _fits(got, want[:-1] + (1,), False):
            return
        raise InputError(f"{where} has outputs of shape {tuple(out_shape)}, so its integer labels need shape "
                         f"{(None,) + want[:-1]} (or with a trailing axis of 1), but y has shape {tuple(target_shape)}.")
    if len(got) == len(want) + 1 and got[-1] == 1:
        got = got[:-1]
    elif len(want) == len(got) + 1 and want[-1] == 1:
        want = want[:-1]
    if _fits(got, want, rule == "broadcast"):
        return
    hint = ""
    if fn in _CATEGORICAL and len(got) <= len(want) and (not got or got[-1] == 1):
        hint = " Categorical crossentropy needs one-hot targets (use sparse_categorical_crossentropy for integer labels)."
    elif rule == "broadcast":
        hint = " (An axis of size 1 on either side broadcasts, as in Keras; nothing else does.)"
    raise InputError(f"{where} has outputs of shape {tuple(out_shape)}, but y has shape {tuple(target_shape)}: the "
                     f"targets must have the outputs' shape.{hint}")


def _some(values: np.ndarray) -> list:
    return np.unique(values)[:_SHOWN].tolist()


def check_sparse_labels(output: str, loss_name: str, target: np.ndarray, classes, ignore_class=None) -> None:
    """Integer class indices in ``[0, classes)`` (ints stored as floats, 1.0, are fine; ``ignore_class`` skipped)."""
    valid = target if ignore_class is None else target[target != ignore_class]
    if valid.size == 0:
        return
    if valid.dtype.kind in "fc":
        fractional = valid[valid != np.floor(valid)]  # NaN too
        if fractional.size:
            raise InputError(f"Output {output!r} (loss {loss_name!r}) takes integer class labels, but y has "
                             f"{fractional.size} fractional value(s), e.g. {_some(fractional)}. (Integers stored as "
                             "floats, such as 1.0, are fine.)")
    if classes is None:
        return
    lo, hi = valid.min(), valid.max()
    if lo < 0 or hi >= classes:
        raise InputError(f"Output {output!r} has {classes} classes, so sparse labels must be in [0, {classes - 1}], "
                         f"but y has labels in [{lo}, {hi}] (loss {loss_name!r}).")


def check_binary_labels(where: str, target: np.ndarray) -> None:
    """Binary targets in ``[0, 1]``: the classes 0 and 1, or soft targets between them (label smoothing)."""
    if target.dtype.kind == "b" or target.size == 0:
        return
    outside = target[(target < 0) | (target > 1)]
    if outside.size:
        raise InputError(f"{where} takes binary targets in [0, 1] (the classes 0 and 1, or soft targets between "
                         f"them), but y has {outside.size} value(s) outside it, e.g. {_some(outside)}.")


def check_y(model, y, compile_loss) -> None:
    """Targets that the compiled losses can take: shapes that fit the outputs (built-in losses only), sparse
    labels that are class indices in range, binary targets in [0, 1], one-hot where one-hot is needed."""
    shapes = model._output_shapes()
    names = model.output_names
    for i, target in enumerate(targets_per_output(model, y, compile_loss)):
        loss = compile_loss.loss_for(i)
        if target is None or loss is None:
            continue
        target = np.asarray(target)
        out_shape = tuple(shapes[i])
        loss_name = getattr(loss, "name", type(loss).__name__)
        where = f"Output {names[i]!r} (loss {loss_name!r})"
        fn = builtin_loss_function(loss)
        axis = getattr(loss, "_fn_kwargs", {}).get("axis", -1)
        if fn is not None and not (_SHAPE_RULES.get(fn) == "sparse" and axis not in (-1, None)):
            check_target_shape(where, fn, target.shape, out_shape)
        if losses_mod.is_sparse_categorical(loss) or fn is losses_mod.categorical_generalized_cross_entropy:
            classes = out_shape[-1] if len(out_shape) > 1 else None
            check_sparse_labels(names[i], loss_name, target, classes, getattr(loss, "ignore_class", None))
        elif fn in _BINARY:
            check_binary_labels(where, target)


def _loss_value_shape(fn, out_shape: tuple) -> tuple | None:
    """The per-sample shape of a built-in loss's values for outputs of ``out_shape`` (the last axis reduced),
    or None when not known (a user's loss, ctc, circle)."""
    if fn is None or _SHAPE_RULES.get(fn, "broadcast") is None:
        return None
    return tuple(out_shape[1:-1])


def _weight_fits(got: tuple, want: tuple) -> bool:
    """Whether sample weights with per-sample shape ``got`` broadcast to loss values of ``want`` (as Keras:
    trailing axes of size 1 dropped, missing trailing axes added, then an axis of 1 broadcasts)."""
    while len(got) > len(want) and got[-1] == 1:
        got = got[:-1]
    got = got + (1,) * (len(want) - len(got))
    return len(got) == len(want) and all(w is None or g in (1, w) for g, w in zip(got, want))


def check_sample_weight(model, sample_weight, compile_loss) -> None:
    """``sample_weight`` against the outputs, before any step (InputError naming the output and both shapes).

    One array weighs every output; for several outputs a list of one array per output (exactly as many), or a
    dict keyed by output names (an output left out is not weighted). A 1-item list is fine for one output.
    Each array weighs the samples of its output: shape ``(n,)`` or ``(n, 1)``, or for an output with more
    axes (a temporal one, ``(n, t, d)``) the loss's per-sample shape ``(n, t)`` (an axis of 1 broadcasts, as
    in Keras); checked for the built-in losses, whose values reduce the output's last axis.
    """
    if sample_weight is None:
        return
    names = model.output_names
    if isinstance(sample_weight, dict):
        extra = sorted(str(k) for k in set(sample_weight) - set(names))
        if extra:
            raise InputError(f"sample_weight is a dict with keys {sorted(map(str, sample_weight))}, but the model's "
                             f"outputs are {names} (unknown: {extra}).")
        per_output = [sample_weight.get(n) for n in names]
    elif isinstance(sample_weight, (list, tuple)):
        if len(sample_weight) != len(names):
            raise InputError(f"sample_weight is a list of {len(sample_weight)} arrays, but model {model.name!r} has "
                             f"{len(names)} output(s) {names}: give one array per output (or one array for all).")
        per_output = list(sample_weight)
    else:
        per_output = [sample_weight] * len(names)
    shapes = model._output_shapes()
    for i, weights in enumerate(per_output):
        if weights is None:
            continue
        loss = compile_loss.loss_for(i) if compile_loss is not None else None
        fn = builtin_loss_function(loss)
        if fn is not None and getattr(loss, "_fn_kwargs", {}).get("axis", -1) not in (-1, None):
            continue
        want = _loss_value_shape(fn, tuple(shapes[i]))
        got = tuple(np.shape(weights))
        if want is not None and not _weight_fits(got[1:], want):
            accepted = " or ".join(dict.fromkeys(str(s) for s in ((None,), (None, 1), (None,) + want)))
            raise InputError(f"Output {names[i]!r} has outputs of shape {tuple(shapes[i])}, so its sample_weight "
                             f"must have shape {accepted} (one weight per sample), but it has shape {got}.")


def check_batch(model, x, y, compile_loss, needs_targets: bool, step: str) -> None:
    """One batch (or all the arrays) against the model, before it reaches a step."""
    check_x(model, x)
    if y is not None:
        check_y(model, y, compile_loss)
    elif needs_targets:
        raise InputError(f"No targets: y is None (or the batches carry no y), but the default {step} needs "
                         "them to compute the loss.")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_steps(name: str, value) -> None:
    """``steps_per_epoch``, ``validation_steps``, ``steps``, ``validation_batch_size``: None or a positive int
    (0, negative numbers and fractions are refused, not read as "all" or truncated)."""
    if value is not None and not (_is_int(value) and value >= 1):
        raise ConfigError(f"{name} must be a positive integer or None, got {value!r}.")


def check_verbose(value) -> int:
    """``verbose`` as an int: 'auto' (1), 0 (silent), 1 (progress bar), 2 (one line per epoch); larger ints
    and bools are taken as Keras takes them."""
    if isinstance(value, str) and value == "auto":
        return 1
    if isinstance(value, (int, np.integer)) and value >= 0:
        return int(value)
    raise ConfigError(f"verbose must be 'auto', 0, 1 or 2, got {value!r}.")


def check_fit_arguments(initial_epoch, validation_freq, validation_split) -> None:
    """fit's ``initial_epoch`` (a non-negative int), ``validation_freq`` (a positive int: validate every that
    many epochs, or a container of 1-based epoch numbers to validate after) and ``validation_split`` (a real
    number; its range is checked where the split is made)."""
    if not (_is_int(initial_epoch) and initial_epoch >= 0):
        raise ConfigError(f"initial_epoch must be a non-negative integer, got {initial_epoch!r}.")
    freq_ok = _is_int(validation_freq) and validation_freq >= 1
    if not freq_ok and isinstance(validation_freq, (list, tuple, set, frozenset, range)):
        freq_ok = all(_is_int(e) and e >= 1 for e in validation_freq)
    if not freq_ok:
        raise ConfigError(f"validation_freq must be a positive integer (validate every that many epochs) or a list "
                          f"of epoch numbers counted from 1 (validate after those), got {validation_freq!r}.")
    if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float, np.integer, np.floating)):
        raise ConfigError(f"validation_split must be a number in [0, 1), got {validation_split!r} "
                          f"({type(validation_split).__name__}).")


def check_distributed(data) -> None:
    """Under a distribution, array batches must split evenly over its devices (checked before any step)."""
    dist = distribution_mod.distribution()
    if dist is None and jax.process_count() > 1:
        raise ConfigError(f"This is process {jax.process_index()} of {jax.process_count()}: choose how they share "
                          "the work first, e.g. kerasish.distribution.set_distribution("
                          "kerasish.distribution.DataParallel()), on every process.")
    if dist is not None and getattr(data, "batch_size", None) is not None:
        dist.check_batch_size(int(data.batch_size))


# -- values: dtypes, finite data, class weights ----------------------------------------------------------------

_INT32 = np.iinfo(np.int32)


def numeric_array(prefix: str, arr: np.ndarray) -> np.ndarray:
    """``arr`` as the engine takes it, or InputError naming ``prefix``: any real numeric dtype NumPy or
    ml_dtypes has (bool, ints, floats; float16, bfloat16 and float8 kept as they are: layers compute in their
    own dtype); float64 becomes float32. Integers wider than 32 bits (int64, uint64) become int32 when every
    value fits; otherwise float32 (as for any number beyond int32, so 2**40 stays about 1.1e12 instead of
    wrapping; sparse labels that large are then refused by the label range check). Complex numbers are refused
    (their imaginary part would be dropped), as are strings, objects, dates."""
    import jax.numpy as jnp

    kind = arr.dtype.kind
    if arr.dtype == object or kind in "cUSOMm" or not (kind == "b" or jnp.issubdtype(arr.dtype, jnp.number)):
        why = " (complex numbers are not supported: give the real and imaginary parts as separate features)" \
            if kind == "c" else ""
        raise InputError(f"{prefix} must be numeric, but it has dtype {arr.dtype} (e.g. "
                         f"{arr.reshape(-1)[:1].tolist()}){why}.")
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if kind in "iu" and arr.dtype.itemsize == 8:
        if arr.size == 0 or (arr.min() >= _INT32.min and arr.max() <= _INT32.max):
            return arr.astype(np.int32)
        return arr.astype(np.float32)
    return arr


_FINITE_CHUNK = 1 << 20  # elements per isfinite pass: a 1 MB bool buffer, reused, instead of a full-size copy


def non_finite(arr: np.ndarray) -> tuple[int, int]:
    """``(count, first_sample)`` of NaN/inf values in a float array, ``(0, -1)`` when all are finite (or it is
    not a float array). One pass over the samples in chunks of ~1M values through one reused bool buffer:
    about 10 ms for a (60000, 784) float32 array on one core."""
    if arr.dtype.kind not in "fc" or arr.size == 0 or arr.ndim == 0:
        return 0, -1
    n = arr.shape[0]
    per_row = max(1, arr.size // n)
    rows = max(1, _FINITE_CHUNK // per_row)
    buffer = np.empty(min(n, rows) * per_row, bool)
    count, first = 0, -1
    for start in range(0, n, rows):
        block = arr[start:start + rows]
        ok = buffer[:block.size].reshape(block.shape)
        np.isfinite(block, out=ok)
        if ok.all():
            continue
        if first < 0:
            first = start + int(np.argmin(ok.reshape(block.shape[0], -1).all(axis=1)))
        count += int(block.size - np.count_nonzero(ok))
    return count, first


def check_finite(name: str, arr: np.ndarray, where: str = "") -> None:
    """InputError naming ``name``, the number of NaN/inf values and the first sample holding one."""
    count, first = non_finite(arr)
    if count:
        raise InputError(f"{name}{where} contains {count} NaN or infinite value(s); the first is in sample {first}. "
                         "Fix the data, or pass check_finite=False to use it as it is.")


def _class_index(key):
    """A class_weight key as an int: ints, NumPy ints and int-valued floats; None for anything else."""
    if isinstance(key, (int, np.integer)):
        return int(key)
    if isinstance(key, (float, np.floating)) and float(key).is_integer():
        return int(key)
    return None


def class_count(model, compile_loss) -> int | None:
    """How many classes the single output's targets name: its last axis when > 1 (the argmax of one-hot
    targets, or sparse labels), 2 for one value per sample under a binary loss; None when not known."""
    shape = tuple(model._output_shapes()[0])
    last = shape[-1] if len(shape) > 1 else 1
    if last is not None and last > 1:
        return int(last)
    loss = compile_loss.loss_for(0) if compile_loss is not None else None
    if last == 1 and builtin_loss_function(loss) in _BINARY:
        return 2
    return None


def check_class_weight(model, class_weight, compile_loss) -> None:
    """``class_weight`` is a dict ``{class index: weight}`` of a single-output model: keys non-negative ints
    (int-valued floats and NumPy ints too) below the output's number of classes when it is known (see
    :func:`class_count`), weights finite non-negative numbers. Classes left out weigh 1, as in Keras."""
    if class_weight is None:
        return
    if not isinstance(class_weight, dict):
        raise InputError(f"class_weight must be a dict {{class index: weight}}, got {type(class_weight).__name__}.")
    names = model.output_names
    if len(names) > 1:
        raise InputError(f"class_weight is only supported for models with a single output; model {model.name!r} has "
                         f"{len(names)} outputs {names} (give sample_weight per output instead).")
    classes = class_count(model, compile_loss)
    valid = "non-negative integers" if classes is None else f"class indices in [0, {classes - 1}]"
    indices = {key: _class_index(key) for key in class_weight}
    bad = [key for key, i in indices.items() if i is None or i < 0 or (classes is not None and i >= classes)]
    if bad:
        shape = tuple(model._output_shapes()[0])
        raise InputError(f"class_weight keys must be {valid} (output {names[0]!r} has shape {shape}), but it has "
                         f"{', '.join(repr(k) for k in bad[:_SHOWN])}{' …' if len(bad) > _SHOWN else ''}.")
    for key, weight in class_weight.items():
        ok = isinstance(weight, (int, float, np.integer, np.floating)) and not isinstance(weight, bool)
        if not ok or not np.isfinite(weight) or weight < 0:
            raise InputError(f"class_weight[{key!r}] must be a finite non-negative number, got {weight!r}.")


# -- nested lists of numbers: Keras converts them with np.asarray ------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, (int, float, complex, np.number, np.bool_))


def is_number_list(x) -> bool:
    """A (nested) Python list/tuple of numbers, e.g. ``[[1., 2.], [3., 4.]]``: data, converted like an array
    (Keras's ``np.asarray``), not a structure of inputs nor an iterable of batches. A list holding arrays is a
    structure (one entry per input or output)."""
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(_is_number(v) or is_number_list(v) for v in x)


def ragged_error(x, prefix: str) -> InputError:
    """The error for a nested list that is not rectangular: the row lengths at the first uneven level."""
    level, depth = list(x), 1
    while level:
        lists = [isinstance(v, (list, tuple)) for v in level]
        if not any(lists):
            break
        where = "rows" if depth == 1 else f"rows at depth {depth}"
        if not all(lists):
            return InputError(f"{prefix} is a nested list that mixes numbers and lists in its {where} (entry "
                              f"{lists.index(not lists[0])}): give rows of equal length, or a NumPy array.")
        lengths = [len(v) for v in level]
        if len(set(lengths)) > 1:
            shown = ", ".join(map(str, lengths[:10])) + (", …" if len(lengths) > 10 else "")
            odd = next(i for i, n in enumerate(lengths) if n != lengths[0])
            return InputError(f"{prefix} is a ragged nested list: its {where} have lengths [{shown}] ({len(lengths)} "
                              f"rows; row {odd} is the first of another length than row 0). Pad them to one length, "
                              "or give a NumPy array.")
        level, depth = [c for v in level for c in v], depth + 1
    return InputError(f"{prefix} is a nested list that cannot be converted to an array.")


def first_non_number(x, path: str = "") -> str | None:
    """For a nested list of scalars of any kind (nothing else inside): where its first non-number is and what it
    is, e.g. ``"[3][1] (None)"``; None for numbers only, or for a structure that is not such a list."""
    if not isinstance(x, (list, tuple)) or not x:
        return None
    found = None
    for i, v in enumerate(x):
        if isinstance(v, (list, tuple)):
            inner = first_non_number(v, f"{path}[{i}]")
            if inner is None and not is_number_list(v):
                return None  # holds something else than scalars: a structure, not one nested list
        elif not (_is_number(v) or isinstance(v, (str, bytes, type(None)))):
            return None
        else:
            inner = None if _is_number(v) else f"{path}[{i}] ({v!r})"
        found = found or inner
    return found
