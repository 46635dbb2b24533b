"""An optimizer's state as Keras 3 lists its variables, and back.

kerasish keeps an optimizer's state as optax's state leaves (``optimizer.variables``: ``count``,
``hyperparams/learning_rate``, ``inner_state/0/0/mu/3``, ...); Keras keeps ``iterations``, the
learning rate (unless it is a schedule) and per-variable slots, each optimizer in its own order (Adam
interleaves ``momentum, velocity`` per variable and puts AMSGrad's ``velocity_hat`` after them all;
RMSprop lists all velocities, then all momentums, then all average gradients). :data:`_SLOTS` records
that order per optimizer in kerasish's slot names; optax's inner step counters are Keras's
``iterations``. An optimizer (or option: EMA, gradient accumulation) without a translation is not
written to Keras files, and a Keras state that does not fit is skipped with a warning, as Keras does.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from kerasish.distribution import to_host
from kerasish.engine import state as engine_state

# ("each", slot): that slot for every variable; ("interleave", (a, b, ...)): a, b, ... per variable;
# ("scalar", name): one scalar leaf; ("negated", slot): as "each", for a slot optax keeps with the opposite
# sign (RMSprop's momentum traces the already negated update; Keras's the positive step).
_SLOTS = {
    "SGD": [("each", "trace")],
    "Adam": [("interleave", ("mu", "nu")), ("each", "nu_max")],
    "AdamW": [("interleave", ("mu", "nu")), ("each", "nu_max")],
    "RMSprop": [("each", "nu"), ("negated", "trace"), ("each", "mu")],
    "Adagrad": [("each", "sum_of_squares")],
    "Adadelta": [("interleave", ("e_g", "e_x"))],
    "Adamax": [("interleave", ("mu", "nu"))],
    "Nadam": [("interleave", ("mu", "nu")), ("scalar", "u_product")],
    "Ftrl": [("interleave", ("accumulator", "linear"))],
    "Lion": [("each", "mu")],
    "Lamb": [("interleave", ("mu", "nu"))],
    "Adafactor": [("interleave", ("r", "c", "v"))],
    "Muon": [("each", "momentum"), ("each", "velocity")],
}
_SLOT_LEAF = re.compile(r"^(?:.*/)?([A-Za-z_]+)/(\d+)$")


def _plan(optimizer) -> tuple[list[int], list[int], set[int]] | None:
    """``(kerasish leaf index for each Keras variable, indices of counters that mirror iterations, indices
    of leaves stored negated)``, or None when this optimizer's state has no Keras translation."""
    spec = _SLOTS.get(type(optimizer).__name__)
    if spec is None or not optimizer.built:
        return None
    names = [v.name for v in optimizer.variables]
    slots: dict[str, dict[int, int]] = {}
    scalars: dict[str, int] = {}
    counters: list[int] = []
    for index, name in enumerate(names):
        match = _SLOT_LEAF.match(name)
        if name == "count" or name.endswith("/count"):
            counters.append(index)
        elif match is not None:
            slots.setdefault(match.group(1), {})[int(match.group(2))] = index
        else:
            scalars[name.rsplit("/", 1)[-1] if "/" in name else name] = index
    if "count" not in names:
        return None
    order = [names.index("count")]
    if "learning_rate" in scalars:
        order.append(scalars.pop("learning_rate"))
    used, negated = set(), set()
    for kind, what in spec:
        if kind == "scalar":
            if what in scalars:
                order.append(scalars.pop(what))
            continue
        group = (what,) if kind in ("each", "negated") else what
        present = [slots[s] for s in group if s in slots]
        used.update(s for s in group if s in slots)
        if kind in ("each", "negated"):
            for slot in present:
                order.extend(slot[i] for i in sorted(slot))
                if kind == "negated":
                    negated.update(slot.values())
        else:
            params = sorted(set().union(*present)) if present else []
            for i in params:
                order.extend(slot[i] for slot in present if i in slot)
    if scalars or set(slots) - used:  # state Keras has no place for (EMA, accumulated gradients, ...)
        return None
    return order, [i for i in counters if names[i] != "count"], negated


def to_keras(model) -> list[np.ndarray] | None:
    """The optimizer's state in Keras's variable order, or None (not trained yet, or no translation)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not engine_state.optimizer_current(model):
        return None
    plan = _plan(optimizer)
    if plan is None:
        warnings.warn(f"The state of optimizer {type(optimizer).__name__} has no Keras 3 equivalent here; the file "
                      "holds the model's weights without it (training resumes with a fresh optimizer state).",
                      stacklevel=4)
        return None
    variables = optimizer.variables
    return [-to_host(variables[i].value) if i in plan[2] else to_host(variables[i].value) for i in plan[0]]


def expected_shapes(model) -> list[tuple] | None:
    """The shapes of Keras's optimizer variables for this model, building the optimizer if needed."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    if not engine_state.optimizer_current(model):
        engine_state.build_optimizer(model)
    plan = _plan(optimizer)
    if plan is None:
        return None
    return [tuple(optimizer.variables[i].shape) for i in plan[0]]


def from_keras(model, values: list[np.ndarray], source: str) -> bool:
    """Give the model's optimizer a state read from a Keras file; a state that does not fit is skipped
    with a warning (as Keras skips it). Returns whether it was restored."""
    optimizer = model.optimizer
    plan = _plan(optimizer)
    if plan is None or len(values) != len(plan[0]):
        count = "?" if plan is None else len(plan[0])
        warnings.warn(f"{source}: skipping the optimizer state: {type(optimizer).__name__} here has {count} Keras "
                      f"variables, the file holds {len(values)}; training continues with a fresh optimizer state.",
                      stacklevel=3)
        return False
    variables = optimizer.variables
    for i, value in zip(plan[0], values):
        if tuple(np.shape(value)) != tuple(variables[i].shape):
            warnings.warn(f"{source}: skipping the optimizer state: {variables[i].name} has shape "
                          f"{tuple(variables[i].shape)}, the file's has {tuple(np.shape(value))}.", stacklevel=3)
            return False
    for i, value in zip(plan[0], values):
        value = np.asarray(value).astype(np.dtype(variables[i].dtype))
        variables[i].assign(-value if i in plan[2] else value)
    iterations = np.asarray(values[0])
    for i in plan[1]:
        variables[i].assign(iterations.astype(np.dtype(variables[i].dtype)))
    return True
