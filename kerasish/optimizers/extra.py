"""Keras 3's optimizers whose update reads the parameters: Adafactor, Ftrl, Lamb and ScheduleFreeAdamW.

Each is an optax ``init``/``update`` pair with Keras's arithmetic (``scale_by_keras_*``) wrapped in a
kerasish :class:`~kerasish.optimizers.base.Optimizer`. Their rules read the parameters, so Keras's weight
decay is applied to the parameters *before* the rule runs (as Keras does), not added after it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import ConfigError

from .base import LearningRate, Optimizer
from .optimizers import _register
from .transforms import _ema


def _rms(x):
    return jnp.sqrt(jnp.mean(jnp.square(x)))


def _step(count, dtype):
    return count.astype(dtype)


class ScaleByKerasAdafactorState(NamedTuple):
    """State of :func:`scale_by_keras_adafactor`: the row and column second moments (a scalar placeholder
    each for parameters of rank < 2) and the full second moment ``v``."""

    count: jax.Array
    r: optax.Updates
    c: optax.Updates
    v: optax.Updates


def scale_by_keras_adafactor(learning_rate, beta_2_decay: float = -0.8, epsilon_1: float = 1e-30,
                             epsilon_2: float = 1e-3, clip_threshold: float = 1.0) -> optax.GradientTransformation:
    """Keras's Adafactor step, learning rate included (it reads the parameters).

    With ``t`` the step (from 1), ``ρ = min(lr, 1/√t)``, ``β = 1 - t^beta_2_decay`` and ``G = g² + epsilon_1``:
    a parameter of rank ≥ 2 keeps factored moments over its last two axes, ``r = β·r + (1-β)·mean(G, -1)``
    and ``c = β·c + (1-β)·mean(G, -2)``, with ``v = (r / mean(r)) ⊗ c``; a smaller one keeps
    ``v = β·v + (1-β)·G``. The update is ``-max(epsilon_2, rms(param))·ρ · u / max(1, rms(u)/clip_threshold)``
    with ``u = g / √v``.
    """

    def init_fn(params):
        def factor(p, axis):
            if p.ndim < 2:
                return jnp.zeros([], p.dtype)
            return jnp.zeros(p.shape[:-1] if axis == -1 else p.shape[:-2] + p.shape[-1:], p.dtype)

        return ScaleByKerasAdafactorState(jnp.zeros([], jnp.int32), jax.tree.map(lambda p: factor(p, -1), params),
                                          jax.tree.map(lambda p: factor(p, -2), params),
                                          optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        count = optax.safe_increment(state.count)

        def one(g, p, r, c, v):
            dtype = p.dtype
            g = g.astype(dtype)
            t = _step(count, dtype)
            rho = jnp.minimum(jnp.asarray(learning_rate).astype(dtype), 1 / jnp.sqrt(t))
            alpha = jnp.maximum(jnp.asarray(epsilon_2, dtype), _rms(p)) * rho
            g2 = jnp.square(g) + epsilon_1
            beta = 1 - jnp.power(t, beta_2_decay)
            if p.ndim >= 2:
                r = beta * r + (1 - beta) * jnp.mean(g2, axis=-1)
                c = beta * c + (1 - beta) * jnp.mean(g2, axis=-2)
                v = (r / jnp.mean(r, axis=-1, keepdims=True))[..., None] * c[..., None, :]
            else:
                v = beta * v + (1 - beta) * g2
            u = g / jnp.sqrt(v)
            u = u / jnp.maximum(jnp.asarray(1, dtype), _rms(u) / clip_threshold)
            return -alpha * u, r, c, v

        out = jax.tree.map(one, updates, params, state.r, state.c, state.v)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], updates, out)  # noqa: E731
        return pick(0), ScaleByKerasAdafactorState(count, pick(1), pick(2), pick(3))

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByKerasFtrlState(NamedTuple):
    """State of :func:`scale_by_keras_ftrl`."""

    accumulator: optax.Updates
    linear: optax.Updates


def scale_by_keras_ftrl(learning_rate, learning_rate_power: float = -0.5, initial_accumulator_value: float = 0.1,
                        l1: float = 0.0, l2: float = 0.0, l2_shrinkage: float = 0.0,
                        beta: float = 0.0) -> optax.GradientTransformation:
    """Keras's FTRL-proximal step (it reads the parameters and sets them; the update is new - old).

    With ``n' = n + g²``, ``σ = (n'^(-p) - n^(-p)) / lr`` (``p = learning_rate_power``):
    ``z += g + 2·l2_shrinkage·w - σ·w``, and ``w = (clip(z, -l1, l1) - z) / (n'^(-p)/lr + 2·(l2 + beta/(2·lr)))``.
    """

    def init_fn(params):
        return ScaleByKerasFtrlState(jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params),
                                     optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        def one(g, w, n, z):
            dtype = w.dtype
            lr = jnp.asarray(learning_rate).astype(dtype)
            g = g.astype(dtype)
            l2_total = l2 + beta / (2.0 * lr)
            new_n = n + jnp.square(g)
            z = z + (g + 2 * l2_shrinkage * w) - (jnp.power(new_n, -learning_rate_power)
                                                  - jnp.power(n, -learning_rate_power)) / lr * w
            quadratic = jnp.power(new_n, -learning_rate_power) / lr + 2 * l2_total
            new_w = (jnp.clip(z, -l1, l1) - z) / quadratic
            return new_w - w, new_n, z

        out = jax.tree.map(one, updates, params, state.accumulator, state.linear)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], updates, out)  # noqa: E731
        return pick(0), ScaleByKerasFtrlState(pick(1), pick(2))

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_keras_lamb(learning_rate, b1: float = 0.9, b2: float = 0.999,
                        eps: float = 1e-7) -> optax.GradientTransformation:
    """Keras's Lamb step: Adam's ``m̂ / (√v̂ + eps)`` scaled per tensor by ``‖w‖ / ‖step‖`` (1 where either
    norm is 0), times ``-lr``. Its state is ``optax.ScaleByAdamState``."""

    def init_fn(params):
        return optax.ScaleByAdamState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params),
                                      optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        count = optax.safe_increment(state.count)

        def one(g, w, m, v):
            dtype = w.dtype
            g = g.astype(dtype)
            t = _step(count, dtype)
            m = _ema(b1)(g, m)
            v = v + (jnp.square(g) - v) * (1 - b2)
            step = (m / (1.0 - jnp.power(jnp.asarray(b1, dtype), t))) / (
                jnp.sqrt(v / (1.0 - jnp.power(jnp.asarray(b2, dtype), t))) + eps)
            w_norm, s_norm = jnp.sqrt(jnp.sum(jnp.square(w))), jnp.sqrt(jnp.sum(jnp.square(step)))
            ratio = jnp.where((w_norm > 0) & (s_norm > 0), w_norm / jnp.where(s_norm > 0, s_norm, 1), 1.0)
            return -(ratio * jnp.asarray(learning_rate).astype(dtype) * step).astype(dtype), m, v

        out = jax.tree.map(one, updates, params, state.mu, state.nu)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], updates, out)  # noqa: E731
        return pick(0), optax.ScaleByAdamState(count, pick(1), pick(2))

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByScheduleFreeState(NamedTuple):
    """State of :func:`scale_by_keras_schedule_free_adamw`: ``z`` (Keras's ``momentum``, starting at the
    parameters) and the second moment ``v``."""

    count: jax.Array
    z: optax.Updates
    v: optax.Updates


def scale_by_keras_schedule_free_adamw(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                                       warmup_steps: int = 0) -> optax.GradientTransformation:
    """Keras's schedule-free AdamW step (it reads the parameters ``y`` and sets them).

    ``z -= lr_t·g / (√(v/(1-b2ᵗ)) + eps)``; ``x = (y - (1-b1)·z_old) / b1`` is recovered from ``y``;
    ``x' = (1 - 1/t)·x + z/t`` and ``y' = (1-b1)·z + b1·x'``. ``lr_t`` ramps up linearly over
    ``warmup_steps``. (``optax.contrib.schedule_free_adamw`` keeps ``x`` in its state instead and decays
    differently; this is Keras's form.)
    """

    def init_fn(params):
        return ScaleByScheduleFreeState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.array, params),
                                        optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        count = optax.safe_increment(state.count)

        def one(g, y, z, v):
            dtype = y.dtype
            g = g.astype(dtype)
            t = _step(count, dtype)
            lr = jnp.asarray(learning_rate).astype(dtype)
            if warmup_steps > 0:
                lr = lr * jnp.minimum(t / warmup_steps, 1.0)
            v = v + (jnp.square(g) - v) * (1 - b2)
            denom = jnp.sqrt(v / (1 - jnp.power(jnp.asarray(b2, dtype), t))) + eps
            z_new = z - lr * g / denom
            weight = 1.0 / t
            x = (y - (1 - b1) * z) / b1
            x = (1 - weight) * x + weight * z_new
            return ((1 - b1) * z_new + b1 * x) - y, z_new, v

        out = jax.tree.map(one, updates, params, state.z, state.v)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], updates, out)  # noqa: E731
        return pick(0), ScaleByScheduleFreeState(count, pick(1), pick(2))

    return optax.GradientTransformation(init_fn, update_fn)


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) in Keras's form (see :func:`scale_by_keras_adafactor`).

    Its second moments of a matrix are a row vector and a column vector: memory grows with
    ``rows + cols``, not ``rows · cols``.

    Args:
        learning_rate: A float or a schedule; each step uses ``min(lr, 1/√t)``.
        beta_2_decay: The second moments' decay is ``1 - t^beta_2_decay``.
        epsilon_1: Added to the squared gradients.
        epsilon_2: The least parameter RMS the step is scaled by.
        clip_threshold: The update is clipped to this RMS.
        relative_step: Keras's argument; its rule takes ``min(lr, 1/√t)`` either way, so it changes nothing
            (kept for configs).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.
    """

    _default_name = "adafactor"
    _hyperparameters = ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold", "relative_step")
    _rule_reads_params = True

    def __init__(self, learning_rate: LearningRate = 0.001, beta_2_decay: float = -0.8, epsilon_1: float = 1e-30,
                 epsilon_2: float = 1e-3, clip_threshold: float = 1.0, relative_step: bool = True,
                 weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_2_decay = beta_2_decay
        self.epsilon_1 = epsilon_1
        self.epsilon_2 = epsilon_2
        self.clip_threshold = clip_threshold
        self.relative_step = relative_step

    def _update_rule(self, learning_rate):
        return scale_by_keras_adafactor(learning_rate, self.beta_2_decay, self.epsilon_1, self.epsilon_2,
                                        self.clip_threshold)


class Ftrl(Optimizer):
    """Follow-the-regularized-leader (FTRL-proximal) in Keras's form (see :func:`scale_by_keras_ftrl`).

    Args:
        learning_rate: A float or a schedule.
        learning_rate_power: ``<= 0``; how the per-coordinate rate shrinks as squared gradients add up.
        initial_accumulator_value: ``>= 0``; the starting sum of squared gradients.
        l1_regularization_strength, l2_regularization_strength: ``>= 0``.
        l2_shrinkage_regularization_strength: ``>= 0``; an L2 penalty added to the gradient itself.
        beta: Adds ``beta / (2·lr)`` to the L2 strength.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.
    """

    _default_name = "ftrl"
    _hyperparameters = ("learning_rate_power", "initial_accumulator_value", "l1_regularization_strength",
                        "l2_regularization_strength", "l2_shrinkage_regularization_strength", "beta")
    _rule_reads_params = True

    def __init__(self, learning_rate: LearningRate = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, name: str | None = None,
                 **kwargs: Any):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        for arg, value, ok, need in (
                ("initial_accumulator_value", initial_accumulator_value, initial_accumulator_value >= 0, ">= 0"),
                ("learning_rate_power", learning_rate_power, learning_rate_power <= 0, "<= 0"),
                ("l1_regularization_strength", l1_regularization_strength, l1_regularization_strength >= 0, ">= 0"),
                ("l2_regularization_strength", l2_regularization_strength, l2_regularization_strength >= 0, ">= 0"),
                ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength,
                 l2_shrinkage_regularization_strength >= 0, ">= 0")):
            if not ok:
                raise ConfigError(f"Ftrl: `{arg}` must be {need}. Received: {arg}={value!r}")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    def _update_rule(self, learning_rate):
        return scale_by_keras_ftrl(learning_rate, self.learning_rate_power, self.initial_accumulator_value,
                                   self.l1_regularization_strength, self.l2_regularization_strength,
                                   self.l2_shrinkage_regularization_strength, self.beta)


class Lamb(Optimizer):
    """Lamb: Adam with a per-tensor trust ratio ``‖w‖ / ‖step‖`` (see :func:`scale_by_keras_lamb`).

    Args:
        learning_rate: A float or a schedule.
        beta_1, beta_2: Decay rates of the first and second moments.
        epsilon: Added to the bias-corrected ``√v``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.
    """

    _default_name = "lamb"
    _hyperparameters = ("beta_1", "beta_2", "epsilon")
    _rule_reads_params = True

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, name: str | None = None,
                 **kwargs: Any):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _update_rule(self, learning_rate):
        return scale_by_keras_lamb(learning_rate, self.beta_1, self.beta_2, self.epsilon)


class ScheduleFreeAdamW(Optimizer):
    """Schedule-free AdamW (Defazio et al., 2024) in Keras's form (see
    :func:`scale_by_keras_schedule_free_adamw`): no learning-rate schedule needed.

    The trained parameters are the interpolation ``y``; as in Keras, they are what the model holds
    during and after training (Keras's ``finalize_variable_values`` does not swap in ``x`` either).

    Args:
        learning_rate: A float or a schedule.
        beta_1: Interpolation between the average ``x`` and the iterate ``z``.
        beta_2: Decay rate of the second moment.
        epsilon: Added to the bias-corrected ``√v``.
        warmup_steps: Steps over which the rate ramps up linearly from ``lr/warmup_steps``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.
    """

    _default_name = "schedule_free_adam_w"
    _hyperparameters = ("beta_1", "beta_2", "epsilon", "warmup_steps")
    _rule_reads_params = True

    def __init__(self, learning_rate: LearningRate = 0.0025, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, warmup_steps: int = 0, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None, **kwargs: Any):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
            raise ConfigError(f"ScheduleFreeAdamW: `warmup_steps` must be an int >= 0. Received: "
                              f"warmup_steps={warmup_steps!r}")
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.warmup_steps = warmup_steps

    def _update_rule(self, learning_rate):
        return scale_by_keras_schedule_free_adamw(learning_rate, self.beta_1, self.beta_2, self.epsilon,
                                                  self.warmup_steps)


_register(Adafactor, Ftrl, Lamb, ScheduleFreeAdamW)
