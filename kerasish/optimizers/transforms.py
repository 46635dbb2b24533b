"""Keras-exact optax pieces: the update rules where optax's arithmetic differs from Keras 3, and the
learning rate as a hyperparameter living in the optimizer state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import ConfigError

from . import schedules

LearningRate = float | schedules.LearningRateSchedule | Callable[[jax.Array], jax.Array]

# --------------------------------------------------------------------------
# Keras-exact optax pieces.
# --------------------------------------------------------------------------


def clip_by_tensor_norm(max_norm: float) -> optax.GradientTransformation:
    """Clips each update tensor separately to an L2 norm of at most ``max_norm``.

    Keras's ``clipnorm``: ``g * max_norm / max(||g||, max_norm)`` per tensor
    (``optax.clip_by_global_norm`` clips all tensors together, which is
    Keras's ``global_clipnorm``).

    Args:
        max_norm: The largest L2 norm a single tensor may keep.

    Returns:
        A stateless ``optax.GradientTransformation``.
    """

    def clip(g, _):
        norm = jnp.sqrt(jnp.sum(jnp.square(g)))
        return g * max_norm / jnp.maximum(norm, max_norm)

    return optax.stateless_with_tree_map(clip)


def _scale_by_learning_rate(learning_rate: jax.Array) -> optax.GradientTransformation:
    """``optax.scale_by_learning_rate`` with the rate cast to each update's dtype.

    Keras casts the rate to each variable's dtype; doing the same keeps a
    bfloat16 leaf's update (and the momentum traced after it) bfloat16 in a
    tree that also holds float32 leaves.
    """
    return optax.stateless_with_tree_map(lambda g, _: g * jnp.asarray(-learning_rate).astype(g.dtype))


def _add_weight_decay(weight_decay: float, learning_rate: jax.Array, mask: list | None = None
                      ) -> optax.GradientTransformation:
    """Adds Keras's decoupled weight decay, ``-param * weight_decay * learning_rate``.

    ``optax.add_decayed_weights(-weight_decay * learning_rate)``, computed in
    each parameter's dtype. It sits after the learning-rate scaling, since it
    is scaled by the rate but must not go through momentum. ``mask``: a tree like the
    parameters' of whether each decays (``optax.masked``; None: all do).
    """

    def decay(u, p):
        return u - p * jnp.asarray(weight_decay, p.dtype) * jnp.asarray(learning_rate).astype(p.dtype)

    added = optax.stateless_with_tree_map(decay)
    return added if mask is None else optax.masked(added, mask)


def _decay_before(rule: optax.GradientTransformation, weight_decay, learning_rate, mask: list | None = None
                  ) -> optax.GradientTransformation:
    """``rule`` applied to parameters already decayed by Keras's ``param -= param · weight_decay · lr``.

    For rules that read the parameters (Lamb, Ftrl, Adafactor, ScheduleFreeAdamW): Keras decays the
    variables first and runs the rule on the decayed values. The returned update is the decay plus the
    rule's update, both relative to the undecayed parameters. ``mask``: a tree like the parameters' of
    whether each decays (None: all do).
    """

    def decayed(params):
        rate = jnp.asarray(learning_rate)
        one = lambda p: p - p * jnp.asarray(weight_decay, p.dtype) * rate.astype(p.dtype)
        if mask is None:
            return jax.tree.map(one, params)
        return jax.tree.map(lambda p, m: one(p) if m else p, params, mask)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ConfigError("This optimizer's update reads the parameters: pass params to update().")
        new_params = decayed(params)
        updates, state = rule.update(updates, state, new_params)
        return jax.tree.map(lambda u, d, p: u + (d - p), updates, new_params, params), state

    return optax.GradientTransformation(rule.init, update_fn)


def _step_float(count: jax.Array) -> jax.Array:
    return count.astype(jnp.float32)


def _ema(decay: float):
    # Keras's moving-average form `m += (g - m) * (1 - decay)`.
    return lambda g, m: m + (g - m) * (1 - decay)


def scale_by_keras_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7, amsgrad: bool = False
) -> optax.GradientTransformation:
    """Rescales updates as Keras's Adam does: ``m̂ / (√v + ε)`` with ε on the *uncorrected* √v.

    ``update = m · √(1-b2ᵗ)/(1-b1ᵗ) / (√v + eps)``. This is
    ``optax.scale_by_adam`` with ``eps_optax = eps / √(1-b2ᵗ)``, a
    step-dependent epsilon, hence its own transformation. With ``amsgrad``,
    ``v`` is replaced by the running maximum of the uncorrected ``v`` and
    the ``√(1-b2ᵗ)`` factor stays (``optax.scale_by_amsgrad`` takes the
    maximum of the corrected ``v``, or drops the correction altogether).

    Args:
        b1: Decay rate of the first moment.
        b2: Decay rate of the second moment.
        eps: Added to ``√v`` in the denominator.
        amsgrad: Whether to use the running maximum of the second moment.

    Returns:
        An ``optax.GradientTransformation`` whose state is
        ``optax.ScaleByAdamState`` (``optax.ScaleByAmsgradState`` with amsgrad).
    """

    def init_fn(params):
        mu = optax.tree.zeros_like(params)
        nu = optax.tree.zeros_like(params)
        count = jnp.zeros([], jnp.int32)
        if amsgrad:
            return optax.ScaleByAmsgradState(count, mu, nu, optax.tree.zeros_like(params))
        return optax.ScaleByAdamState(count, mu, nu)

    def update_fn(updates, state, params=None):
        del params
        mu = jax.tree.map(_ema(b1), updates, state.mu)
        nu = jax.tree.map(lambda g, v: v + (jnp.square(g) - v) * (1 - b2), updates, state.nu)
        count = optax.safe_increment(state.count)
        t = _step_float(count)
        correction = jnp.sqrt(1 - jnp.float32(b2) ** t) / (1 - jnp.float32(b1) ** t)
        if amsgrad:
            nu_max = jax.tree.map(jnp.maximum, state.nu_max, nu)
            denominator_nu = nu_max
        else:
            denominator_nu = nu
        updates = jax.tree.map(lambda m, v: m * correction.astype(m.dtype) / (jnp.sqrt(v) + eps), mu, denominator_nu)
        if amsgrad:
            return updates, optax.ScaleByAmsgradState(count, mu, nu, nu_max)
        return updates, optax.ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByKerasNadamState(NamedTuple):
    """State of ``scale_by_keras_nadam``."""

    count: jax.Array  # int32 scalar: updates done.
    mu: optax.Updates
    nu: optax.Updates
    u_product: jax.Array  # float32 scalar: product of the momentum schedule so far.


def scale_by_keras_nadam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7) -> optax.GradientTransformation:
    """Rescales updates as Keras's Nadam does (Dozat's momentum schedule).

    With ``uₜ = b1·(1 - 0.5·0.96ᵗ)`` and ``Πₜ = u₁⋯uₜ``::

        m̂ = uₜ₊₁·m / (1 - Πₜ₊₁) + (1 - uₜ)·g / (1 - Πₜ)
        update = m̂ / (√(v / (1 - b2ᵗ)) + eps)

    ``optax.scale_by_adam(nesterov=True)`` uses a constant ``b1`` instead.

    Args:
        b1: Decay rate of the first moment (scaled by the momentum schedule).
        b2: Decay rate of the second moment.
        eps: Added to the corrected ``√v`` in the denominator.

    Returns:
        An ``optax.GradientTransformation`` with ``ScaleByKerasNadamState``.
    """

    def init_fn(params):
        return ScaleByKerasNadamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            nu=optax.tree.zeros_like(params),
            u_product=jnp.ones([], jnp.float32),
        )

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        t = _step_float(count)
        u_t = b1 * (1.0 - 0.5 * jnp.float32(0.96) ** t)
        u_next = b1 * (1.0 - 0.5 * jnp.float32(0.96) ** (t + 1))
        u_product = state.u_product * u_t
        u_product_next = u_product * u_next
        nu_correction = 1 - jnp.float32(b2) ** t
        # Keras's Nadam decays the moments with float32 betas (Adam uses the
        # Python floats); the rounding of 1 - b2 then cancels in v / (1 - b2ᵗ).
        one_minus_b1, one_minus_b2 = 1 - jnp.float32(b1), 1 - jnp.float32(b2)
        mu = jax.tree.map(lambda g, m: m + (g - m) * one_minus_b1.astype(m.dtype), updates, state.mu)
        nu = jax.tree.map(lambda g, v: v + (jnp.square(g) - v) * one_minus_b2.astype(v.dtype), updates, state.nu)

        def scale(g, m, v):
            m_hat = u_next * m / (1 - u_product_next) + (1 - u_t) * g / (1 - u_product)
            return (m_hat / (jnp.sqrt(v / nu_correction) + eps)).astype(g.dtype)

        updates = jax.tree.map(scale, updates, mu, nu)
        return updates, ScaleByKerasNadamState(count, mu, nu, u_product)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_keras_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7) -> optax.GradientTransformation:
    """Rescales updates as Keras's Adamax does: ``m / ((1 - b1ᵗ)·(u + eps))``.

    ``u = max(b2·u, |g|)`` is the infinity-norm moment. ``optax.scale_by_adamax``
    folds ``eps`` into ``u`` inside the recursion (``max(b2·u, |g| + eps)``),
    which differs from Keras in the last digits.

    Args:
        b1: Decay rate of the first moment.
        b2: Decay rate of the infinity-norm moment.
        eps: Added to ``u`` in the denominator.

    Returns:
        An ``optax.GradientTransformation`` with ``optax.ScaleByAdamState``
        (``nu`` holds ``u``).
    """

    def init_fn(params):
        zeros = optax.tree.zeros_like(params)
        return optax.ScaleByAdamState(jnp.zeros([], jnp.int32), zeros, optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        count = optax.safe_increment(state.count)
        correction = 1 - jnp.float32(b1) ** _step_float(count)
        mu = jax.tree.map(_ema(b1), updates, state.mu)
        nu = jax.tree.map(lambda g, u: jnp.maximum(b2 * u, jnp.abs(g)), updates, state.nu)
        updates = jax.tree.map(lambda m, u: m / (correction.astype(m.dtype) * (u + eps)), mu, nu)
        return updates, optax.ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------
# The learning rate, a hyperparameter living in the optimizer state.
# --------------------------------------------------------------------------

_INJECT_STATES = (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState)


def _inject_learning_rate(
    transform: Callable[[jax.Array], optax.GradientTransformation], learning_rate: LearningRate
) -> optax.GradientTransformationExtraArgs:
    """``optax.inject_hyperparams`` over ``transform(learning_rate)``.

    For a schedule, inject_hyperparams stores the rate the last update used;
    Keras's ``optimizer.learning_rate`` is the rate the *next* update will
    use (the schedule at ``iterations``). The stored value is refreshed to
    the latter after each update; the updates themselves are unchanged
    (inject_hyperparams re-evaluates a schedule at every update).
    """
    tx = optax.inject_hyperparams(transform)(learning_rate=learning_rate)
    if not callable(learning_rate):
        return tx

    def update_fn(updates, state, params=None, **extra_args):
        updates, state = tx.update(updates, state, params, **extra_args)
        current = state.hyperparams["learning_rate"]
        upcoming = jnp.asarray(learning_rate(state.count), dtype=current.dtype)
        return updates, state._replace(hyperparams={**state.hyperparams, "learning_rate": upcoming})

    return optax.GradientTransformationExtraArgs(tx.init, update_fn)


def _is_lr_state(x: Any) -> bool:
    return isinstance(x, _INJECT_STATES) and "learning_rate" in x.hyperparams


def _find_lr_state(opt_state: optax.OptState):
    for node in jax.tree.leaves(opt_state, is_leaf=_is_lr_state):
        if _is_lr_state(node):
            return node
    raise ConfigError(
        "This optimizer state holds no learning rate; it must come from "
        "`tx.init` of a transformation built by a kerasish Optimizer's to_optax()."
    )


def get_learning_rate(opt_state: optax.OptState) -> jax.Array:
    """Returns the learning rate the next update will use.

    For a schedule that is the schedule at the current update count (as
    Keras's ``optimizer.learning_rate``). Works under ``jax.jit``.

    Args:
        opt_state: A state from a transformation built by ``Optimizer.build``
            (it may be nested inside a larger state).

    Returns:
        A scalar array.
    """
    return _find_lr_state(opt_state).hyperparams["learning_rate"]


def set_learning_rate(opt_state: optax.OptState, value: jax.typing.ArrayLike) -> optax.OptState:
    """Returns ``opt_state`` with a new constant learning rate.

    The value keeps the stored dtype, so a jitted update does not retrace.
    Callbacks such as ``ReduceLROnPlateau`` use this.

    Args:
        opt_state: A state from a transformation built by ``Optimizer.build``.
        value: The new learning rate.

    Returns:
        The new state.

    Raises:
        ConfigError: If the optimizer's learning rate is a schedule.
    """
    found = _find_lr_state(opt_state)
    if "learning_rate" in getattr(found, "hyperparams_states", {}):
        raise ConfigError(
            "The learning rate of this optimizer is a schedule; it cannot be set. "
            "Build the optimizer with a float learning rate to change it during training."
        )
    new_lr = jnp.asarray(value, dtype=found.hyperparams["learning_rate"].dtype)

    def replace(node):
        if node is found:
            return node._replace(hyperparams={**node.hyperparams, "learning_rate": new_lr})
        return node

    return jax.tree.map(replace, opt_state, is_leaf=_is_lr_state)


