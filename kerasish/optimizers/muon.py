"""Muon: orthogonalized momentum for matrices, Keras's AdamW for everything else (Keras 3's ``Muon``)."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from kerasish.errors import ConfigError

from .base import LearningRate, Optimizer
from .optimizers import _register
from .transforms import _ema


def orthogonalize_via_newton_schulz(x: jax.Array, steps: int, a: float = 3.4445, b: float = -4.7750,
                                    c: float = 2.0315) -> jax.Array:
    """Approximately the nearest semi-orthogonal matrix to ``x`` (over its last two axes).

    ``x`` is scaled to a Frobenius norm of about 1, then ``steps`` quintic Newton-Schulz iterations
    ``X ← a·X + (b·A + c·A²)·X`` with ``A = X·Xᵀ`` run on the wide orientation of the matrix.
    """
    if x.ndim < 2:
        raise ConfigError(f"Newton-Schulz orthogonalization needs a matrix; got shape {x.shape}.")
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = jnp.swapaxes(x, -1, -2)
    x = x / (jnp.linalg.norm(x, axis=(-2, -1), keepdims=True) + 1e-7)
    for _ in range(steps):
        gram = x @ jnp.swapaxes(x, -1, -2)
        x = a * x + (b * gram + c * gram @ gram) @ x
    return jnp.swapaxes(x, -1, -2) if tall else x


class ScaleByKerasMuonState(NamedTuple):
    """State of :class:`Muon`'s rule: the momentum of every parameter and the Adam second moment of the
    parameters Adam updates (``optax.MaskedNode()`` for Muon's)."""

    count: jax.Array
    momentum: optax.Updates
    velocity: optax.Updates


def _muon_rule(learning_rate, use_adam: list[bool], opt: Muon) -> optax.GradientTransformation:
    """Muon's step for the parameters where ``use_adam`` is False, Keras's AdamW step (at
    ``lr·adam_lr_ratio``) for the others; each parameter also decays by its rate (Keras: before the step,
    which neither rule reads, so the same)."""

    def init_fn(params):
        leaves, treedef = jax.tree.flatten(params)
        velocity = [jnp.zeros_like(p) if adam else optax.MaskedNode() for p, adam in zip(leaves, use_adam)]
        return ScaleByKerasMuonState(jnp.zeros([], jnp.int32), optax.tree.zeros_like(params),
                                     treedef.unflatten(velocity))

    def update_fn(updates, state, params=None):
        grads, treedef = jax.tree.flatten(updates)
        moms = treedef.flatten_up_to(state.momentum)
        vels = treedef.flatten_up_to(state.velocity)
        values = treedef.flatten_up_to(params) if params is not None else [None] * len(grads)
        count = optax.safe_increment(state.count)
        lr = jnp.asarray(learning_rate)
        out, new_m, new_v = [], [], []
        mask = opt._decay_mask  # (exclude_from_weight_decay: per weight of the build)
        decays = mask if mask is not None and len(mask) == len(grads) else [True] * len(grads)
        for g, m, v, w, adam, decay in zip(grads, moms, vels, values, use_adam, decays):
            if adam:
                dtype = w.dtype if w is not None else g.dtype
                t = count.astype(dtype)
                g = g.astype(dtype)
                alpha = (lr * opt.adam_lr_ratio).astype(dtype) * jnp.sqrt(
                    1 - jnp.power(jnp.asarray(opt.adam_beta_2, dtype), t)) / (
                    1 - jnp.power(jnp.asarray(opt.adam_beta_1, dtype), t))
                m = _ema(opt.adam_beta_1)(g, m)
                v = v + (jnp.square(g) - v) * (1 - opt.adam_beta_2)
                step = -(m * alpha) / (jnp.sqrt(v) + opt.epsilon)
                rate = opt.adam_weight_decay
            else:
                m = m + (g + m * (opt.momentum - 1))
                direction = g + opt.momentum * m if opt.nesterov else m
                step = lr * orthogonalize_via_newton_schulz(direction, opt.ns_steps, opt.muon_a, opt.muon_b,
                                                            opt.muon_c)
                if opt.rms_rate is not None:  # Moonlight's scaling: a step RMS like AdamW's
                    step = step * jnp.sqrt(jnp.maximum(step.shape[0], step.shape[1])) * opt.rms_rate
                step = -step.astype(g.dtype)
                rate = opt.weight_decay
            if rate is not None and decay:
                if w is None:
                    raise ConfigError("Muon with weight decay reads the parameters: pass params to update().")
                step = step - w * jnp.asarray(rate, w.dtype) * lr.astype(w.dtype)
            out.append(step)
            new_m.append(m)
            new_v.append(v)
        return treedef.unflatten(out), ScaleByKerasMuonState(count, treedef.unflatten(new_m),
                                                             treedef.unflatten(new_v))

    return optax.GradientTransformation(init_fn, update_fn)


class Muon(Optimizer):
    """Muon (Jordan et al., 2024; Keras's form): momentum orthogonalized by Newton-Schulz iterations for
    2-D weights, Keras's AdamW for the rest.

    AdamW, at ``learning_rate · adam_lr_ratio``, takes every parameter that is not a matrix, those whose
    path contains ``"embedding"`` (with ``exclude_embeddings``), and those whose path matches one of the
    ``exclude_layers`` regular expressions (``re.search``). Paths are the variables' ``path``
    (``"dense/kernel"``) when built from a model's variables; with :meth:`to_optax` on a bare pytree they
    are the pytree paths, keys joined by ``/``.

    Args:
        learning_rate: A float or a schedule.
        adam_beta_1, adam_beta_2, epsilon: AdamW's moment decays and epsilon (on the uncorrected ``√v``).
        adam_weight_decay: AdamW's parameters' decay rate; ``weight_decay`` is the Muon parameters'.
        exclude_layers: Regular expressions of paths that AdamW updates.
        exclude_embeddings: Whether embeddings go to AdamW.
        muon_a, muon_b, muon_c: The Newton-Schulz polynomial's coefficients.
        adam_lr_ratio: AdamW's rate relative to ``learning_rate``.
        momentum: Muon's momentum.
        ns_steps: Newton-Schulz iterations per update.
        nesterov: Whether Muon uses Nesterov momentum.
        rms_rate: If set, Muon's step is scaled by ``√max(rows, cols) · rms_rate``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.
    """

    _default_name = "muon"
    _hyperparameters = ("adam_beta_1", "adam_beta_2", "epsilon", "exclude_layers", "muon_a", "muon_b", "muon_c",
                        "adam_lr_ratio", "momentum", "ns_steps", "nesterov", "exclude_embeddings",
                        "adam_weight_decay", "rms_rate")

    def __init__(self, learning_rate: LearningRate = 0.001, adam_beta_1: float = 0.9, adam_beta_2: float = 0.999,
                 adam_weight_decay: float | None = 0.004, epsilon: float = 1e-7, weight_decay: float | None = 0.004,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None, exclude_layers: list[str] | None = None, exclude_embeddings: bool = True,
                 muon_a: float = 3.4445, muon_b: float = -4.7750, muon_c: float = 2.0315, adam_lr_ratio: float = 1,
                 momentum: float = 0.95, ns_steps: int = 5, nesterov: bool = True, rms_rate: float | None = 0.2,
                 **kwargs: Any):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not isinstance(ns_steps, int) or ns_steps < 0:
            raise ConfigError(f"Muon: `ns_steps` must be an int >= 0. Received: ns_steps={ns_steps!r}")
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = list(exclude_layers or [])
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate
        self._paths: list[str] | None = None

    def _uses_adam(self, path: str, shape) -> bool:
        if len(shape) != 2:
            return True
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(pattern, path) for pattern in self.exclude_layers)

    def build(self, var_list) -> None:
        var_list = list(var_list)
        self._paths = [getattr(v, "path", None) or getattr(v, "name", None) or str(i) for i, v in enumerate(var_list)]
        super().build(var_list)

    def _transform(self, learning_rate):
        muon = self

        def labels(params):
            leaves_with_paths = jax.tree_util.tree_flatten_with_path(params)[0]
            paths = muon._paths if muon._paths is not None and len(muon._paths) == len(leaves_with_paths) else [
                "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)
                for path, _ in leaves_with_paths]
            return [muon._uses_adam(p, jnp.shape(leaf)) for p, (_, leaf) in zip(paths, leaves_with_paths)]

        def init_fn(params):
            return _muon_rule(learning_rate, labels(params), muon).init(params)

        def update_fn(updates, state, params=None):
            return _muon_rule(learning_rate, labels(updates), muon).update(updates, state, params)

        return optax.chain(*self._clipping(), optax.GradientTransformation(init_fn, update_fn))


_register(Muon)
