"""Learning-rate schedules with Keras 3 names, arguments and values.

A schedule maps the optimizer's update count to a learning rate. Like Keras,
the count is 0 for the first update, and every schedule here returns the same
value as ``keras.optimizers.schedules.X(...)(step)`` (float32 arithmetic).
Where optax has the curve, the schedule is that optax schedule; the class only
adds Keras's argument names, validation and ``get_config``.

Example:
    >>> from kerasish.optimizers import Adam, schedules
    >>> lr = schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)
    >>> tx = Adam(learning_rate=lr).to_optax()
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import ConfigError, unknown_identifier

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]


def _float_step(step: jax.typing.ArrayLike) -> jax.Array:
    # Keras casts the step to the dtype of the initial rate (float32) first.
    return jnp.asarray(step, dtype=jnp.float32)


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")


class LearningRateSchedule:
    """Base class of learning-rate schedules: a config plus ``__call__(step)``.

    Subclasses implement ``__call__`` (a jittable function of the update count)
    and ``get_config``. Any callable ``step -> learning rate`` (an optax
    schedule, say) can also be given to an optimizer; only subclasses of this
    class can be serialized.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate * 0.5 ** (step // 100)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
    """

    def __call__(self, step: jax.typing.ArrayLike) -> jax.Array:
        """Returns the learning rate for update number ``step`` (0-based)."""
        raise NotImplementedError(f"{type(self).__name__} : schedule subclasses override __call__(step).")

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-compatible dict."""
        raise NotImplementedError(f"{type(self).__name__} : schedule subclasses override get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Creates a schedule from the output of ``get_config``."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Steps over which the rate is multiplied by ``decay_rate``
            once. Must be > 0.
        decay_rate: The decay factor.
        staircase: If True, ``step / decay_steps`` is floored, so the rate
            changes every ``decay_steps`` steps.
        name: Kept for Keras config compatibility.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name
        self._schedule = optax.exponential_decay(
            init_value=initial_learning_rate,
            transition_steps=decay_steps,
            decay_rate=decay_rate,
            staircase=staircase,
        )

    def __call__(self, step):
        return jnp.asarray(self._schedule(_float_step(step)), jnp.float32)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval: ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``.

    That is ``values[0]`` up to and including ``boundaries[0]``, and
    ``values[-1]`` after ``boundaries[-1]`` (Keras's convention: the switch
    happens one step *after* each boundary). Steps are integer update counts.

    Args:
        boundaries: Increasing step numbers, one fewer than ``values``.
        values: The rate in each interval.
        name: Kept for Keras config compatibility.
    """

    def __init__(self, boundaries: list[int], values: list[float], name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ConfigError(
                "`boundaries` must have exactly one element fewer than `values`. "
                f"Received: boundaries={boundaries!r} (length {len(boundaries)}), "
                f"values={values!r} (length {len(values)})."
            )
        self.boundaries = list(boundaries)
        self.values = list(values)
        self.name = name
        # optax switches schedules at `step >= boundary`; Keras after it.
        self._schedule = optax.join_schedules(
            [optax.constant_schedule(v) for v in self.values],
            [b + 1 for b in self.boundaries],
        )

    def __call__(self, step):
        return jnp.asarray(self._schedule(jnp.asarray(step)), jnp.float32)

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate``.

    ``(initial - end) * (1 - step / decay_steps) ** power + end``, held at
    ``end_learning_rate`` after ``decay_steps``; with ``cycle=True`` the decay
    restarts, stretched to the next multiple of ``decay_steps``.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Length of the decay. Must be > 0.
        end_learning_rate: The final rate.
        power: Exponent of the polynomial (1.0 is linear).
        cycle: Whether to restart the decay after ``decay_steps``.
        name: Kept for Keras config compatibility.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        # Written out rather than optax.polynomial_schedule: under jit, XLA
        # turns `count / decay_steps` into a multiply by the rounded
        # reciprocal, so 1 - p can come out as -1e-8 at the end of the decay
        # and a fractional `power` then gives NaN (Keras has the same bug).
        step = _float_step(step)
        decay_steps = jnp.float32(self.decay_steps)
        if self.cycle:
            # Stretch the decay to the first multiple of decay_steps that
            # reaches `step` (one period at step 0).
            decay_steps = decay_steps * jnp.where(step == 0, 1.0, jnp.ceil(step / decay_steps))
        else:
            step = jnp.minimum(step, decay_steps)
        remaining = jnp.maximum(1.0 - step / decay_steps, 0.0)
        initial, end = self.initial_learning_rate, self.end_learning_rate
        return jnp.asarray((initial - end) * remaining**self.power + end, jnp.float32)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: The time unit of the decay. Must be > 0.
        decay_rate: How fast the rate falls per ``decay_steps``.
        staircase: If True, ``step / decay_steps`` is floored.
        name: Kept for Keras config compatibility.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        # optax has no inverse-time schedule; this is the formula itself.
        p = _float_step(step) / self.decay_steps
        if self.staircase:
            p = jnp.floor(p)
        return jnp.asarray(self.initial_learning_rate / (1.0 + self.decay_rate * p), jnp.float32)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    """Cosine decay, optionally after a linear warmup.

    Without ``warmup_target`` the rate follows
    ``initial * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)``
    and stays at ``initial * alpha`` after ``decay_steps``. With it, the rate
    first rises linearly from ``initial_learning_rate`` to ``warmup_target``
    over ``warmup_steps``, then decays from ``warmup_target`` the same way.

    Args:
        initial_learning_rate: The rate at step 0.
        decay_steps: Length of the cosine decay. Must be > 0.
        alpha: Final rate as a fraction of the rate the decay starts from.
        name: Kept for Keras config compatibility.
        warmup_target: Rate at the end of the warmup; None for no warmup.
        warmup_steps: Length of the warmup.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ):
        _check_positive("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps
        if warmup_target is None:
            self._schedule = optax.cosine_decay_schedule(initial_learning_rate, decay_steps, alpha)
        elif warmup_steps <= 0:
            self._schedule = optax.cosine_decay_schedule(warmup_target, decay_steps, alpha)
        else:
            self._schedule = optax.join_schedules(
                [
                    optax.linear_schedule(initial_learning_rate, warmup_target, warmup_steps),
                    optax.cosine_decay_schedule(warmup_target, decay_steps, alpha),
                ],
                [warmup_steps],
            )

    def __call__(self, step):
        return jnp.asarray(self._schedule(_float_step(step)), jnp.float32)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2016).

    The i-th period lasts ``first_decay_steps * t_mul**i`` steps and starts at
    ``initial_learning_rate * m_mul**i``; within a period the rate follows a
    cosine down to ``alpha`` times the initial rate.

    Args:
        initial_learning_rate: The rate at step 0.
        first_decay_steps: Length of the first period. Must be > 0.
        t_mul: Growth factor of the period length.
        m_mul: Factor on the starting rate of each new period.
        alpha: Minimum rate as a fraction of ``initial_learning_rate``.
        name: Kept for Keras config compatibility.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ):
        _check_positive("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        # optax's sgdr_schedule has fixed-length periods; this is the
        # geometric-period form.
        fraction = _float_step(step) / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = jnp.floor(fraction)
            fraction = fraction - restart
        else:
            t_mul = jnp.float32(self.t_mul)
            restart = jnp.floor(jnp.log(1.0 - fraction * (1.0 - t_mul)) / jnp.log(t_mul))
            periods_done = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - periods_done) / t_mul**restart
        cosine = 0.5 * jnp.float32(self.m_mul) ** restart * (1.0 + jnp.cos(math.pi * fraction))
        decayed = (1.0 - self.alpha) * cosine + self.alpha
        return jnp.asarray(self.initial_learning_rate * decayed, jnp.float32)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Returns ``{"class_name": ..., "config": ...}`` for a schedule.

    Args:
        schedule: A ``LearningRateSchedule``.

    Returns:
        A JSON-compatible dict that ``deserialize`` turns back into an equal
        schedule.
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise ConfigError(f"Only LearningRateSchedule objects can be serialized; received {schedule!r}.")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """Creates a schedule from ``serialize``'s output (or Keras's).

    Args:
        config: A dict with ``class_name`` (one of this module's schedule
            names) and ``config``. Keras's extra ``module`` and
            ``registered_name`` keys are ignored.

    Returns:
        A ``LearningRateSchedule``.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A serialized schedule must be a dict with 'class_name' and 'config'; received {config!r}.")
    name = config["class_name"]
    if name not in _SCHEDULES:
        raise unknown_identifier("learning rate schedule", name, list(_SCHEDULES))
    return _SCHEDULES[name].from_config(dict(config.get("config", {})))
