"""Dynamic loss scaling for float16 training, as Keras 3's ``LossScaleOptimizer``, as one optax transformation.

float16 gradients of small losses underflow to zero. The train step multiplies the loss by a large
scale before differentiating, so the gradients it hands the optimizer are scaled too; this
optimizer divides them back and applies its inner optimizer's update. A step whose gradients hold
an inf or a NaN (the scale was too large) is skipped: a zero update, the inner state unchanged, the
scale halved. After ``dynamic_growth_steps`` good steps in a row the scale doubles.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import ConfigError

from .base import Optimizer
from .optimizers import _OPTIMIZERS, deserialize, get, serialize


class LossScaleState(NamedTuple):
    """State of a ``LossScaleOptimizer``'s transformation."""

    inner_state: optax.OptState  # the inner optimizer's state
    scale: jax.Array  # float32 scalar: the current loss scale
    good_steps: jax.Array  # int32 scalar: finite steps since the scale last changed


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(tree)]
    return functools.reduce(jnp.logical_and, leaves, jnp.asarray(True))


# Keras's LossScaleOptimizer accepts the base optimizer's arguments at their defaults only (old configs).
_BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                  "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                  "loss_scale_factor": None, "gradient_accumulation_steps": None, "dynamic": True}


class LossScaleOptimizer(Optimizer):
    """Wraps an optimizer with dynamic loss scaling (Keras 3's ``LossScaleOptimizer``).

    ``model.compile`` wraps the optimizer in one by itself when the model's dtype policy is
    ``"mixed_float16"`` (``auto_scale_loss=True``); the train step then multiplies the loss by the
    current scale (:func:`loss_scale`) before taking gradients and logs the unscaled loss.

    ``to_optax()`` returns an optax transformation whose state is :class:`LossScaleState` (the inner
    state, the scale, the count of good steps); its ``update`` takes the gradients of the *scaled*
    loss, unscales them, and if all are finite applies the inner update and counts a good step
    (doubling the scale after ``dynamic_growth_steps`` of them), else returns a zero update, leaves
    the inner state as it was and halves the scale.

    Args:
        inner_optimizer: the optimizer to wrap (an ``Optimizer``, or a name such as ``"adam"``).
        initial_scale: the first loss scale; large, since a scale too large is lowered in one step
            while one too small rises only every ``dynamic_growth_steps``.
        dynamic_growth_steps: after this many finite steps in a row, the scale doubles.
        name: the optimizer's name.

    The learning rate is the inner optimizer's: ``optimizer.learning_rate`` reads and sets it (and
    ``get_learning_rate``/``set_learning_rate`` find it inside this state).

    Example:
        >>> opt = kerasish.optimizers.LossScaleOptimizer(kerasish.optimizers.Adam(1e-3), dynamic_growth_steps=1000)
        >>> model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    """

    _default_name = "loss_scale_optimizer"

    def __init__(self, inner_optimizer, initial_scale: float = 2.0**15, dynamic_growth_steps: int = 2000,
                 name: str | None = None, **kwargs: Any):
        for key, value in kwargs.items():
            if key not in _BASE_DEFAULTS:
                raise ConfigError(f"LossScaleOptimizer got unexpected keyword argument {key!r}. Valid arguments are: "
                                  "inner_optimizer, initial_scale, dynamic_growth_steps, name.")
            if value != _BASE_DEFAULTS[key]:
                raise ConfigError(f"LossScaleOptimizer does not support `{key}={value!r}`; set it on the inner "
                                  "optimizer instead (dynamic=False is not supported: scaling is always dynamic).")
        inner = get(inner_optimizer)
        if isinstance(inner, LossScaleOptimizer):
            raise ConfigError(f"LossScaleOptimizer: inner_optimizer is already a LossScaleOptimizer ({inner!r}).")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, numbers.Real) \
                or not math.isfinite(initial_scale) or initial_scale <= 0:
            raise ConfigError(f"LossScaleOptimizer: initial_scale must be a positive finite number, got "
                              f"{initial_scale!r}.")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, numbers.Integral) \
                or dynamic_growth_steps < 1:
            raise ConfigError(f"LossScaleOptimizer: dynamic_growth_steps must be a positive integer, got "
                              f"{dynamic_growth_steps!r}.")
        self.inner_optimizer = inner
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.name = name if name is not None else self._default_name
        # Clipping and decay belong to the inner optimizer.
        self.weight_decay = self.clipnorm = self.clipvalue = self.global_clipnorm = None
        self._init_variables()
        self._scale_index = None

    @property
    def _learning_rate(self):
        return self.inner_optimizer._learning_rate

    @_learning_rate.setter
    def _learning_rate(self, value) -> None:
        self.inner_optimizer._learning_rate = value

    def _locate_extra(self, index) -> None:
        self._scale_index = int(self.scale_of(index))

    def scale_loss(self, loss):
        """``loss`` times the current scale (the train step takes gradients of the scaled loss)."""
        if self._scale_index is None:
            return loss * self.initial_scale
        return loss * self._variables[self._scale_index].value.astype(loss.dtype)

    @property
    def dynamic_scale(self):
        """The current loss scale (a scalar Variable once built; Keras's ``dynamic_scale``)."""
        return self.initial_scale if self._scale_index is None else self._variables[self._scale_index]

    def to_optax(self) -> optax.GradientTransformationExtraArgs:
        """The optax transformation: unscale, check, then the inner update or a skipped step.

        Returns:
            An ``optax.GradientTransformationExtraArgs`` with :class:`LossScaleState`; its ``update``
            forwards ``params`` and extra arguments to the inner optimizer, and is jittable.
        """
        inner = self.inner_optimizer.to_optax()
        initial_scale, growth_steps = self.initial_scale, self.dynamic_growth_steps

        def init_fn(params):
            return LossScaleState(inner.init(params), jnp.asarray(initial_scale, jnp.float32),
                                  jnp.zeros((), jnp.int32))

        def update_fn(updates, state, params=None, **extra_args):
            scale = state.scale
            # Unscaled in float32: a float16 gradient divided by a float16 scale of 2**16 would be inf.
            grads = jax.tree.map(lambda g: (g.astype(jnp.float32) / scale).astype(g.dtype), updates)
            finite = _all_finite(grads)

            def apply(_):
                new_updates, new_inner = inner.update(grads, state.inner_state, params, **extra_args)
                return jax.tree.map(lambda u, g: u.astype(g.dtype), new_updates, grads), new_inner

            def skip(_):
                return jax.tree.map(jnp.zeros_like, grads), state.inner_state

            new_updates, inner_state = jax.lax.cond(finite, apply, skip, None)
            grow = state.good_steps >= growth_steps - 1
            new_scale = jnp.where(finite, jnp.where(grow, scale * 2.0, scale), scale * 0.5)
            good_steps = jnp.where(finite & ~grow, state.good_steps + 1, 0).astype(jnp.int32)
            return new_updates, LossScaleState(inner_state, new_scale.astype(jnp.float32), good_steps)

        return optax.GradientTransformationExtraArgs(init_fn, update_fn)

    @staticmethod
    def scale_of(opt_state) -> jax.Array:
        """The current loss scale held in ``opt_state`` (a state of this optimizer's transformation,
        possibly inside a larger state). Works under ``jax.jit``."""
        for node in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, LossScaleState)):
            if isinstance(node, LossScaleState):
                return node.scale
        raise ConfigError("This optimizer state holds no loss scale: it must come from the transformation "
                          "a LossScaleOptimizer's to_optax() returns.")

    def get_config(self) -> dict[str, Any]:
        """Keras's config: name, the serialized inner optimizer, initial_scale, dynamic_growth_steps."""
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LossScaleOptimizer:
        config = dict(config)
        inner = config.pop("inner_optimizer", None)
        if isinstance(inner, dict):
            inner = deserialize(inner)
        if inner is None:
            raise ConfigError(f"A LossScaleOptimizer config needs 'inner_optimizer'; got keys {sorted(config)}.")
        return cls(inner, **config)

    def __repr__(self) -> str:
        return (f"LossScaleOptimizer({self.inner_optimizer!r}, initial_scale={self.initial_scale!r}, "
                f"dynamic_growth_steps={self.dynamic_growth_steps!r})")


# deserialize() and optimizers.get({...}) resolve it by class name; get("...") by a bare name does not
# (it needs an inner optimizer).
_OPTIMIZERS[LossScaleOptimizer.__name__] = LossScaleOptimizer
