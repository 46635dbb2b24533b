"""The Optimizer base class: Keras's arguments and contract, an optax transformation underneath.

An optimizer holds Keras 3's arguments and defaults; :meth:`Optimizer.to_optax` turns
them into one optax chain::

    inject_hyperparams(lambda learning_rate: chain(
        clipping,                  # clip_by_tensor_norm | clip_by_global_norm | clip
        <update rule>,             # e.g. scale_by_keras_adam, then scale by -learning_rate
        weight decay,              # + (-weight_decay * learning_rate * param)
    ))(learning_rate=float_or_schedule)

As in Keras, :meth:`Optimizer.build` creates the optimizer's variables for a list of trainable
variables (here: the optax state's leaves, one Variable each), and
:meth:`Optimizer.stateless_apply` is one update as a pure function of their values. The
learning rate is one of them (an ``inject_hyperparams`` hyperparameter), so setting
``optimizer.learning_rate`` mid-fit changes the next update without retracing.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
import threading
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from kerasish.backend import Variable
from kerasish.errors import ConfigError, InputError

from . import schedules
from .transforms import _add_weight_decay, _decay_before, _find_lr_state, _inject_learning_rate, clip_by_tensor_norm

LearningRate = float | schedules.LearningRateSchedule | Callable[[jax.Array], jax.Array]


class _Capture(threading.local):
    def __init__(self):
        self.stack: list[list] = []


_capture = _Capture()


class capture_gradients:
    """While active, ``stateless_apply`` records the gradients it is given and changes nothing.

    The engine's gradient accumulation wraps a train step in it: each micro-batch's step runs
    unchanged, its optimizer call only hands over the gradients, and their mean is applied once.
    """

    def __enter__(self) -> list:
        self.grads: list = []
        _capture.stack.append(self.grads)
        return self.grads

    def __exit__(self, *exc) -> None:
        _capture.stack.pop()


def _leaf_name(path) -> str:
    """A readable name for an optax state leaf from its tree path (``adam/mu/0``)."""
    parts = []
    for key in path:
        name = getattr(key, "name", None) or getattr(key, "key", None)
        if name is None:
            name = getattr(key, "idx", None)
        parts.append(str(name))
    return "/".join(parts) or "state"


# Keras arguments kerasish does not implement; accepted at their defaults so
# that Keras configs load.
_KERAS_ONLY_DEFAULTS = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _check_learning_rate(learning_rate: Any) -> LearningRate:
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool):
        raise ConfigError(f"`learning_rate` must be a float or a schedule. Received: {learning_rate!r}")
    try:
        return float(learning_rate)
    except (TypeError, ValueError):
        raise ConfigError(f"`learning_rate` must be a float or a schedule. Received: {learning_rate!r}") from None


class Optimizer:
    """Keras-named factory around an ``optax.GradientTransformation``.

    Subclasses define the update rule; this base adds what every Keras
    optimizer shares: gradient clipping, decoupled weight decay and the
    learning rate (a float or a schedule). ``to_optax()`` returns the optax
    transformation; ``build(var_list)`` creates the optimizer's variables
    (Keras's ``optimizer.variables``), and ``stateless_apply`` /
    ``apply_gradients`` update with them.

    Args:
        learning_rate: A float, a ``schedules.LearningRateSchedule`` or any
            callable from the update count (0 for the first update) to a rate.
        weight_decay: If set, every update also does
            ``param -= param * weight_decay * learning_rate`` (Keras's
            decoupled decay, with the current rate).
        clipnorm: If set, each gradient tensor is clipped to this L2 norm.
        clipvalue: If set, gradients are clipped elementwise to
            ``[-clipvalue, clipvalue]``.
        global_clipnorm: If set, all gradients together are clipped to this
            global L2 norm. At most one of the three clipping arguments; each a
            positive number (0, negative, NaN or inf are refused: Keras ignores them).
        name: The optimizer's name; Keras's default for the class if None.
        **kwargs: Keras's ``use_ema``, ``ema_momentum``,
            ``ema_overwrite_frequency``, ``loss_scale_factor`` and
            ``gradient_accumulation_steps`` are accepted at their defaults
            only; anything else is an error.

    Raises:
        ConfigError: On an unknown or unsupported keyword argument, or when
            more than one clipping argument is set.
    """

    _default_name = "optimizer"
    _hyperparameters: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: LearningRate,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        self._check_kwargs(kwargs)
        clipping = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clipping.values()) > 1:
            given = ", ".join(f"{k}={v!r}" for k, v in clipping.items() if v is not None)
            raise ConfigError(
                f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: {given}."
            )
        for arg, value in clipping.items():  # Keras ignores a value <= 0 silently; a bound <= 0 clips nothing sane
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                      or not math.isfinite(value) or value <= 0):
                raise ConfigError(f"{type(self).__name__}: {arg} must be a positive number (or None: no clipping), "
                                  f"got {value!r}.")
        self._learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name if name is not None else self._default_name
        self._decay_excluded: tuple[set, re.Pattern | None] = (set(), None)
        self._init_variables()

    def _init_variables(self) -> None:
        self._variables: list[Variable] = []
        self._treedef = None
        self._optax = None
        self._decay_mask: list[bool] | None = None  # per weight of the build, whether it decays (None: all)
        self._var_ids: tuple = ()
        self._var_shapes: list = []
        self._constraints: list = []
        self._lr_index = self._count_index = None
        self._applied_to = None

    def _check_kwargs(self, kwargs: dict[str, Any]) -> None:
        cls = type(self).__name__
        unknown = sorted(k for k in kwargs if k not in _KERAS_ONLY_DEFAULTS)
        if unknown:
            valid = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self", "kwargs")]
            raise ConfigError(
                f"{cls} got unexpected keyword argument(s): {', '.join(unknown)}. "
                f"Valid arguments are: {', '.join(valid)}."
            )
        for key, value in kwargs.items():
            default = _KERAS_ONLY_DEFAULTS[key]
            if value != default:
                raise ConfigError(
                    f"{cls}: `{key}={value!r}` is not supported by kerasish; only Keras's default "
                    f"({key}={default!r}) is accepted."
                )

    # -- the learning rate -------------------------------------------------------------------
    @property
    def learning_rate(self) -> LearningRate:
        """The learning rate the next update will use, as Keras's ``optimizer.learning_rate``.

        Once the optimizer is built (at the model's first ``fit``) this is the current value, a
        float (for a schedule, its value at the current step); before, the value or schedule
        given. Setting it (a callback may, mid-fit) changes the rate the jitted step uses from
        its next update, without recompiling; a schedule cannot be set.
        """
        if self._lr_index is not None:  # a schedule's value at the current step, refreshed by every update
            return float(self._variables[self._lr_index].value)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if callable(self._learning_rate):
            raise ConfigError(f"{type(self).__name__}: the learning rate is a schedule, {self._learning_rate!r}; "
                              "it cannot be set to a value.")
        value = _check_learning_rate(value)
        if callable(value):
            raise ConfigError(f"{type(self).__name__}: set learning_rate to a number, got {value!r}.")
        self._learning_rate = value
        if self._lr_index is not None:
            self._variables[self._lr_index].assign(value)

    def _update_rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        """The optimizer's own update, including the scaling by ``-learning_rate``."""
        raise NotImplementedError(f"{type(self).__name__} : Optimizer subclasses override _update_rule(learning_rate).")

    def _clipping(self) -> list[optax.GradientTransformation]:
        # Keras treats a clipping value of 0 as "off".
        if self.clipnorm:
            return [clip_by_tensor_norm(self.clipnorm)]
        if self.global_clipnorm:
            return [optax.clip_by_global_norm(self.global_clipnorm)]
        if self.clipvalue:
            return [optax.clip(self.clipvalue)]
        return []

    # Weights kept out of the decay (exclude_from_weight_decay): ids, and a pattern searched in names; the build's
    # mask of which weights decay (None: all). Class defaults for wrappers that do not run __init__.
    _decay_excluded: tuple = (frozenset(), None)
    _decay_mask: list | None = None

    # Whether the update rule reads the parameters (Lamb's trust ratio, Ftrl, ...): Keras decays them
    # before the rule's step, which the rule must then see.
    _rule_reads_params = False

    def _transform(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        rule = self._update_rule(learning_rate)
        if self.weight_decay is None:
            return optax.chain(*self._clipping(), rule)
        mask = self._decay_mask
        if self._rule_reads_params:
            return optax.chain(*self._clipping(), _decay_before(rule, self.weight_decay, learning_rate, mask))
        # A rule that does not read the parameters gives the same step when the decay is added after it.
        return optax.chain(*self._clipping(), rule, _add_weight_decay(self.weight_decay, learning_rate, mask))

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Keep some weights out of the weight decay (Keras's method): those of ``var_list``, and those whose
        name (``variable.name``, as ``"bias"`` or ``"gamma"``) contains a match of any of ``var_names`` (regular
        expressions, searched as Keras does: ``var_names=["bias"]`` excludes every bias). Each call replaces the
        last one's exclusions.

        Call it before the optimizer is built (``fit`` builds it at its first step). The exclusions apply to the
        weights the optimizer is built for; a bare ``to_optax()`` transformation, which knows no weights,
        decays every parameter.

        Raises:
            ConfigError: once the optimizer is built; for ``var_names`` that are not strings or not valid
                regular expressions.
        """
        if self.built:
            raise ConfigError(f"Optimizer {self.name!r}: exclude_from_weight_decay() can only be configured before "
                              "the optimizer is built (fit builds it at its first step).")
        names = list(var_names or [])
        if not all(isinstance(n, str) for n in names):
            raise ConfigError(f"exclude_from_weight_decay: var_names must be strings, got {var_names!r}.")
        try:
            pattern = re.compile("|".join(sorted(set(names)))) if names else None
        except re.error as err:
            raise ConfigError(f"exclude_from_weight_decay: var_names {names!r} are not valid regular expressions: "
                              f"{err}.") from None
        self._decay_excluded = ({id(v) for v in var_list or []}, pattern)

    def _uses_weight_decay(self, variable) -> bool:
        """Whether ``variable`` (a weight the optimizer is built for) decays: not excluded by
        :meth:`exclude_from_weight_decay`."""
        ids, pattern = self._decay_excluded
        if id(variable) in ids:
            return False
        name = getattr(variable, "name", None)
        return not (pattern is not None and isinstance(name, str) and pattern.search(name) is not None)

    def to_optax(self) -> optax.GradientTransformationExtraArgs:
        """The optax transformation: clipping, update rule, weight decay, learning rate.

        Returns:
            An ``optax.GradientTransformationExtraArgs``; its ``update`` needs
            ``params`` when ``weight_decay`` is set, and is jittable.
        """
        return _inject_learning_rate(self._transform, self._learning_rate)

    # -- Keras's variables and stateless API --------------------------------------------------
    @property
    def built(self) -> bool:
        return self._treedef is not None

    def build(self, var_list) -> None:
        """Create the optimizer's variables (its optax state) for ``var_list`` (Keras's ``build``).

        ``var_list`` is the list of trainable variables (or arrays) the updates will apply to;
        their constraints are applied after every update, as Keras does. Building again, for
        another list, starts a fresh state.
        """
        var_list = list(var_list)
        decays = [self._uses_weight_decay(v) for v in var_list]
        self._decay_mask = None if all(decays) else decays
        tx = self.to_optax()
        values = [v.value if isinstance(v, Variable) else jnp.asarray(v) for v in var_list]
        # One jitted program: tx.init run eagerly would dispatch (and compile) one small program per leaf.
        state = jax.jit(tx.init)(values)
        paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
        index = jax.tree.unflatten(treedef, list(range(len(paths_leaves))))
        self._variables = []
        for path, leaf in paths_leaves:
            var = Variable(leaf, name=_leaf_name(path), trainable=False, autocast=False)
            var.path = f"{self.name}/{var.name}"
            self._variables.append(var)
        self._optax, self._treedef = tx, treedef
        self._var_ids = tuple(id(v) for v in var_list)
        self._var_shapes = [tuple(np.shape(v)) if not isinstance(v, Variable) else tuple(v.shape) for v in var_list]
        self._constraints = [getattr(v, "constraint", None) for v in var_list]
        lr_state = _find_lr_state(index)
        self._count_index = int(lr_state.count)
        self._lr_index = int(lr_state.hyperparams["learning_rate"])
        self._locate_extra(index)

    def _locate_extra(self, index) -> None:
        """Find subclass-specific leaves in ``index`` (the state with each leaf replaced by its position)."""

    def slot_owners(self, trainable_variables) -> list:
        """For each of :attr:`variables`, the position in ``trainable_variables`` of the weight it is a
        slot of (Adam's moments of that weight), or None (counts, the learning rate, scalars)."""
        n = len(self._variables)
        position = {id(v): i for i, v in enumerate(trainable_variables)}
        mine = [position.get(i) for i in self._var_ids]
        shapes = self._var_shapes

        def per_weight(node) -> bool:  # a list of slots shaped like the weights, one each (or masked out)
            return (isinstance(node, (list, tuple)) and not isinstance(node, optax.MaskedNode)
                    and len(node) == len(mine) and len(mine) > 0
                    and all(isinstance(a, (int, optax.MaskedNode)) for a in node)
                    and any(isinstance(a, int) for a in node)
                    and all(tuple(self._variables[a].shape) == s for a, s in zip(node, shapes) if isinstance(a, int)))

        owners: list = [None] * n
        index = jax.tree.unflatten(self._treedef, list(range(n)))
        for node in jax.tree.leaves(index, is_leaf=per_weight):
            if per_weight(node):
                for j, a in enumerate(node):
                    if isinstance(a, int):
                        owners[a] = mine[j]
        return owners

    def built_within(self, var_list) -> bool:
        """Whether the variables were built for some (or all) of these variables."""
        return self.built and set(self._var_ids) <= {id(v) for v in var_list}

    def built_for(self, var_list) -> bool:
        """Whether the variables were built for exactly these trainable variables."""
        return self.built and self._var_ids == tuple(id(v) for v in var_list)

    @property
    def variables(self) -> list[Variable]:
        """The optimizer's state as variables (optax's state leaves, in ``jax.tree.leaves`` order);
        empty until :meth:`build`."""
        return list(self._variables)

    @property
    def iterations(self):
        """The number of updates applied so far (a scalar Variable once built, else 0)."""
        if self._count_index is None:
            return 0
        return self._variables[self._count_index]

    def state_structure(self):
        """The optax state's tree structure (for code that needs the state as optax sees it)."""
        return self._treedef

    def scale_loss(self, loss):
        """The loss the gradients are taken of (a ``LossScaleOptimizer`` scales it; others return it)."""
        return loss

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        """One update as a pure function: returns ``(new_trainable_variables, new_optimizer_variables)``.

        Keras's ``optimizer.stateless_apply``: ``optimizer_variables`` are the values of
        :attr:`variables`, ``grads`` and ``trainable_variables`` lists in the order the optimizer
        was built for. Weight constraints are applied to the new values.
        """
        if not self.built:
            raise ConfigError(f"Optimizer {self.name!r} is not built: call optimizer.build(trainable_variables) "
                              "first (model.fit does it).")
        params, grads, opt_values = list(trainable_variables), list(grads), list(optimizer_variables)
        if len(params) != len(self._var_ids) or len(grads) != len(params) or len(opt_values) != len(self._variables):
            raise InputError(f"Optimizer {self.name!r}.stateless_apply: built for {len(self._var_ids)} trainable "
                             f"variables with {len(self._variables)} optimizer variables; got {len(params)} "
                             f"trainable values, {len(grads)} gradients and {len(opt_values)} optimizer values.")
        captured = _capture.stack[-1] if _capture.stack else None
        if captured is not None:  # gradient accumulation: record the gradients, change nothing
            captured.append(grads)
            return params, opt_values
        state = jax.tree.unflatten(self._treedef, opt_values)
        updates, state = self._optax.update(grads, state, params)
        new = optax.apply_updates(params, updates)
        new = [c(w) if c is not None else w for c, w in zip(self._constraints, new)]
        return new, jax.tree.leaves(state)

    def apply(self, grads, trainable_variables=None) -> None:
        """Apply gradients to variables in place (Keras's ``optimizer.apply``), building if needed."""
        variables = self._applied_to if trainable_variables is None else list(trainable_variables)
        if variables is None:
            raise ConfigError(f"Optimizer {self.name!r}.apply needs trainable_variables the first time.")
        if not self.built_for(variables):
            self.build(variables)
        self._applied_to = variables
        new, opt_values = self.stateless_apply([v.value for v in self._variables], list(grads),
                                               [v.value for v in variables])
        for var, value in zip(variables, new):
            var.assign(value)
        for var, value in zip(self._variables, opt_values):
            var.assign(value)

    def apply_gradients(self, grads_and_vars) -> None:
        """Keras's ``optimizer.apply_gradients(zip(grads, vars))``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (Keras's config keys) as a JSON-compatible dict."""
        learning_rate = self._learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(learning_rate)
        elif callable(learning_rate):
            raise ConfigError(
                f"{type(self).__name__}: a learning rate {learning_rate!r} that is not a "
                "LearningRateSchedule cannot be serialized."
            )
        config = {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }
        config.update({k: getattr(self, k) for k in self._hyperparameters})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Creates an optimizer from ``get_config()``'s output (or Keras's).

        Args:
            config: A dict of constructor arguments; a dict ``learning_rate``
                is deserialized as a schedule.

        Returns:
            An optimizer of this class.
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("learning_rate", *self._hyperparameters))
        return f"{type(self).__name__}({args})"
