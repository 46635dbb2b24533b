"""MultiOptimizer and OptimizerMap: a different optimizer for different variables (Keras 3's), on
``optax.multi_transform``."""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import ConfigError

from .base import Optimizer
from .loss_scale import LossScaleOptimizer
from .optimizers import _register, deserialize, serialize
from .transforms import _find_lr_state


class OptimizerMap(MutableMapping):
    """Variables to optimizers by path: a dict of regular expressions, and a default.

    ``optimizer_map[path]`` is the optimizer of the key equal to ``path``, else of the one key that
    ``re.fullmatch``-es it, else the default; two matching keys are an error. Calling the map on a
    variable looks up its ``path`` (``"dense/kernel"``), which is what :class:`MultiOptimizer` does.

    Args:
        default_optimizer: The optimizer of variables no key matches.
        optimizer_map: ``{pattern: optimizer}``.

    Example::

        opt = MultiOptimizer(OptimizerMap(Adam(), {"embedding/.*": SGD(0.1)}))
    """

    def __init__(self, default_optimizer: Optimizer, optimizer_map: dict[str, Optimizer] | None = None):
        if not isinstance(default_optimizer, Optimizer):
            raise ConfigError(f"OptimizerMap: default_optimizer must be a kerasish Optimizer. "
                              f"Received: default_optimizer={default_optimizer!r}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise ConfigError(f"OptimizerMap: optimizer_map must be a dict. Received: optimizer_map={optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict[str, Optimizer] = {}
        for key, optimizer in (optimizer_map or {}).items():
            self[key] = optimizer

    @property
    def default_optimizer(self) -> Optimizer:
        return self._default_optimizer

    def __getitem__(self, key: str) -> Optimizer:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [pattern for pattern in self._optimizer_map if re.fullmatch(pattern, key)]
        if len(matching) > 1:
            raise ConfigError(f"OptimizerMap: variable {key!r} matches several keys: {matching}.")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key: str, optimizer: Optimizer) -> None:
        if not isinstance(key, str):
            raise ConfigError(f"OptimizerMap: keys must be strings. Received: key={key!r}")
        if key in self._optimizer_map:
            raise ConfigError(f"OptimizerMap: {key!r} is already mapped to {self._optimizer_map[key]!r}.")
        _check_inner(optimizer, f"OptimizerMap[{key!r}]")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self):
        return iter(self._optimizer_map)

    def __call__(self, variable) -> Optimizer:
        return self[variable.path]

    def get_config(self) -> dict[str, Any]:
        return {"default_optimizer": serialize(self._default_optimizer),
                "optimizer_map": {k: serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> OptimizerMap:
        return cls(deserialize(config["default_optimizer"]),
                   {k: deserialize(v) for k, v in (config.get("optimizer_map") or {}).items()})


def _check_inner(optimizer, where: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(f"{where} must be a kerasish Optimizer. Received: {optimizer!r}")
    if isinstance(optimizer, LossScaleOptimizer):
        raise ConfigError(f"{where}: a LossScaleOptimizer cannot be inside a MultiOptimizer.")
    if isinstance(optimizer, MultiOptimizer):
        raise ConfigError(f"{where}: a MultiOptimizer cannot be inside a MultiOptimizer.")


class _Leaf(NamedTuple):
    """What an optimizer map sees of a bare pytree leaf (to_optax without build): its path and shape."""

    path: str
    name: str
    shape: tuple


class MultiCountState(NamedTuple):
    """The MultiOptimizer's own update count (Keras's ``iterations``)."""

    count: jax.Array


def _count_updates() -> optax.GradientTransformation:
    return optax.GradientTransformation(lambda _: MultiCountState(jnp.zeros([], jnp.int32)),
                                        lambda u, s, p=None: (u, MultiCountState(optax.safe_increment(s.count))))


class MultiOptimizer(Optimizer):
    """Updates each variable with the optimizer ``optimizer_map(variable)`` picks (Keras 3's).

    Underneath it is one ``optax.multi_transform`` over the inner optimizers' transformations, labelled
    by the map, after a count of its own (``iterations``). Each inner optimizer keeps its own learning rate,
    schedule, clipping and weight decay, and its ``learning_rate`` can be set mid-fit as usual; the
    MultiOptimizer itself has none (reading or setting it is an AttributeError, as in Keras).

    Args:
        optimizer_map: An :class:`OptimizerMap`, or any callable from a variable to an optimizer.
        loss_scale_factor: Keras's argument; only None is supported (as for the other optimizers).
        name: The optimizer's name.

    Differences from Keras: ``variables`` are the optax state's leaves (the count, then each inner
    optimizer's state) rather than Keras's own-then-each-inner order; the inner optimizers share that
    state instead of being built on their own.
    """

    _default_name = "multi_optimizer"

    def __init__(self, optimizer_map: Callable[[Any], Optimizer], loss_scale_factor=None, name: str | None = None):
        super().__init__(0.0, name=name, loss_scale_factor=loss_scale_factor)
        if not callable(optimizer_map):
            raise ConfigError(f"MultiOptimizer: optimizer_map must be an OptimizerMap or a callable from a variable "
                              f"to an optimizer. Received: {optimizer_map!r}")
        self._optimizer_map = optimizer_map
        self._inner: list[Optimizer] = []
        for opt in [*getattr(optimizer_map, "values", lambda: [])(),
                    getattr(optimizer_map, "default_optimizer", None)]:
            if opt is not None and all(opt is not o for o in self._inner):
                _check_inner(opt, "MultiOptimizer")
                self._inner.append(opt)
        self._labels: list[int] | None = None

    @property
    def optimizers(self) -> list[Optimizer]:
        """The inner optimizers, in the order their states appear."""
        return list(self._inner)

    @property
    def optimizer_map(self):
        return self._optimizer_map

    @property
    def learning_rate(self):
        raise AttributeError("A MultiOptimizer has no learning rate of its own: read or set it on its inner "
                             "optimizers (multi_optimizer.optimizers).")

    @learning_rate.setter
    def learning_rate(self, value):
        raise AttributeError("A MultiOptimizer has no learning rate of its own: read or set it on its inner "
                             "optimizers (multi_optimizer.optimizers).")

    def _label(self, variable) -> int:
        opt = self._optimizer_map(variable)
        _check_inner(opt, f"MultiOptimizer: the optimizer of {getattr(variable, 'path', variable)!r}")
        for i, o in enumerate(self._inner):
            if o is opt:
                return i
        self._inner.append(opt)
        return len(self._inner) - 1

    def build(self, var_list) -> None:
        var_list = list(var_list)
        self._labels = [self._label(v) for v in var_list]
        super().build(var_list)

    def _labels_of(self, params) -> list[int]:
        leaves = jax.tree_util.tree_flatten_with_path(params)[0]
        if self._labels is not None and len(self._labels) == len(leaves):
            return list(self._labels)
        out = []
        for path, leaf in leaves:
            name = "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)
            out.append(self._label(_Leaf(name, name.rsplit("/", 1)[-1], tuple(jnp.shape(leaf)))))
        return out

    def to_optax(self) -> optax.GradientTransformationExtraArgs:
        """``chain(count, multi_transform({i: inner_i.to_optax()}, labels))``; the labels come from the
        variables' paths (after :meth:`build`) or from the pytree's paths, keys joined by ``/``."""

        def labels(params):
            return jax.tree.unflatten(jax.tree.structure(params), self._labels_of(params))

        def init_fn(params):
            labels(params)  # pick every leaf's optimizer before the transforms are listed
            inner = {i: opt.to_optax() for i, opt in enumerate(self._inner)}
            return optax.chain(_count_updates(), optax.multi_transform(inner, labels)).init(params)

        def update_fn(updates, state, params=None, **extra):
            inner = {i: opt.to_optax() for i, opt in enumerate(self._inner)}
            return optax.chain(_count_updates(), optax.multi_transform(inner, labels)).update(updates, state, params)

        return optax.GradientTransformationExtraArgs(init_fn, update_fn)

    def _locate_extra(self, index) -> None:
        # The count is the first chain element's; each inner optimizer reads and sets its own learning rate
        # in the shared variables.
        self._count_index = int(index[0].count)
        self._lr_index = None
        inner_states = index[1].inner_states
        for i, opt in enumerate(self._inner):
            lr_state = _find_lr_state(inner_states[i])
            opt._variables = self._variables
            opt._lr_index = int(lr_state.hyperparams["learning_rate"])
            opt._count_index = int(lr_state.count)

    def get_config(self) -> dict[str, Any]:
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise ConfigError(f"MultiOptimizer {self.name!r}: only an OptimizerMap can be serialized, not "
                              f"{self._optimizer_map!r}.")
        return {"optimizer_map": {"class_name": "OptimizerMap", "config": self._optimizer_map.get_config()},
                "loss_scale_factor": None, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiOptimizer:
        config = dict(config)
        mapping = config.pop("optimizer_map")
        if isinstance(mapping, dict) and mapping.get("class_name") == "OptimizerMap":
            mapping = OptimizerMap.from_config(mapping["config"])
        return cls(mapping, **config)

    def __repr__(self) -> str:
        return f"MultiOptimizer(optimizers={self._inner!r})"


_register(MultiOptimizer)
