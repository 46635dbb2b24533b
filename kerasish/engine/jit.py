"""Compiled programs: jit, donation, shardings, the cache of compiled steps, and the first state of a call.

:func:`program` builds (once per compile, model structure and distribution) the :class:`Program`
of one kind: the model's Keras-form step wrapped by ``steps`` (and ``compile``'s features),
jitted as a single step and as a fused loop of k steps (and a loop over arrays on the device:
:mod:`~kerasish.engine.resident`). A training step donates its state (the loop keeps
only the new one). Under a ``kerasish.distribution`` the steps are jitted
with the distribution's shardings (:class:`ShardedStep`); XLA partitions them and adds the
collectives.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np

from kerasish import distribution as distribution_mod
from kerasish.engine import compilation_cache, resident, steps
from kerasish.engine import state as state_mod
from kerasish.engine.fused import make_multi_predict, make_multi_step
from kerasish.engine.state import TrainState


class Program:
    """The step functions of one kind: ``single(state, batch)`` and ``fused(state, stacked)``, both
    returning ``(state, out)``; ``out`` is logs (train, test) or outputs (predict)."""

    def __init__(self, kind: str, single: Callable, fused: Callable | None, resident: Callable | None = None):
        self.kind, self.single, self.fused, self.resident = kind, single, fused, resident


class ShardedStep:
    """A step jitted with the distribution's shardings: the state laid out leaf by leaf (replicated, or
    split as a LayoutMap says, optimizer slots like their weights), every batch split on its batch axis
    (axis 1 for fused multi-step batches). The state's shardings need its structure, so the jit is
    made at the first call."""

    def __init__(self, raw, dist, kind: str, stacked: bool, donate: bool, variables: dict, slot_owners: list):
        self.raw, self.dist, self.kind, self.stacked, self.donate = raw, dist, kind, stacked, donate
        self.variables, self.slot_owners = variables, slot_owners
        self._fn = None

    def __call__(self, state, batch):
        batch = self.dist.global_batch(batch, stacked=self.stacked)
        if self._fn is None:
            shardings = self.dist.state_shardings(state, self.variables["trainable"], self.variables["non_trainable"],
                                                  self.slot_owners)
            batch_sharding = self.dist.batch_sharding(stacked=self.stacked)
            out = None if self.kind == "predict" else (shardings, self.dist.state_sharding())
            self._fn = jax.jit(self.raw, donate_argnums=0 if self.donate else (),
                               in_shardings=(shardings, batch_sharding), out_shardings=out)
        return self._fn(state, batch)


def extra_optimizers(model) -> list:
    """Optimizers the model holds as attributes besides ``model.optimizer`` (a GAN's second one), in the
    order they were set; their variables follow ``model.optimizer``'s in the state."""
    from kerasish.optimizers import Optimizer

    main = getattr(model, "optimizer", None)
    out = []
    for value in model.__dict__.values():
        if isinstance(value, Optimizer) and value is not main and all(value is not o for o in out):
            out.append(value)
    return out


def optimizer_variables(model) -> list:
    """The variables of the optimizer field of a training state: ``model.optimizer``'s, then the others'."""
    out = list(model.optimizer.variables) if model.optimizer is not None else []
    for opt in extra_optimizers(model):
        out.extend(opt.variables)
    return out


def state_variables(model, kind: str) -> dict:
    """The variables each list field of a ``kind`` state holds."""
    return {"trainable": list(model.trainable_variables), "non_trainable": list(model.non_trainable_variables),
            "optimizer": optimizer_variables(model) if kind == "train" else [],
            "metrics": list(model.metrics_variables) if kind != "predict" else []}


def _slot_owners(model, variables: dict) -> list:
    """For each optimizer variable, the index of the trainable variable it is a slot of (or None)."""
    owners: list = []
    for opt in ([model.optimizer] if model.optimizer is not None else []) + extra_optimizers(model):
        owners.extend(opt.slot_owners(variables["trainable"]))
    return owners


def program(model, kind: str) -> Program:
    """The compiled steps of ``kind`` ("train", "test", "predict"), cached on the model."""
    engine = state_mod.of(model)
    variables = state_variables(model, kind)
    dist = distribution_mod.distribution()
    key = (kind, tuple(map(id, variables["trainable"])), tuple(map(id, variables["non_trainable"])),
           len(variables["optimizer"]), id(dist) if dist is not None else None)
    cached = engine.functions.get(key)
    if cached is not None:
        return cached
    compilation_cache.ensure_default()
    setup = engine.setup
    if kind == "train":
        model_step = model.train_step
        n = setup.gradient_accumulation_steps or 1
        if n > 1:
            model_step = steps.with_gradient_accumulation(model_step, n, model.optimizer)
        if setup.batch_augmentation:
            model_step = steps.with_batch_augmentation(model_step, setup.batch_augmentation, model.name)
        single = steps.make_train_step(model_step)
    elif kind == "test":
        single = steps.make_test_step(model.test_step)
    else:
        single = steps.make_predict_step(model.predict_step)
    fused = make_multi_predict(single) if kind == "predict" else make_multi_step(single)
    run_eagerly = setup.run_eagerly if setup is not None else False
    donate = kind == "train"
    if run_eagerly:
        single_fn, fused_fn = single, fused
    elif dist is not None:
        owners = _slot_owners(model, variables) if kind == "train" else []
        single_fn = ShardedStep(single, dist, kind, False, donate, variables, owners)
        fused_fn = ShardedStep(fused, dist, kind, True, donate, variables, owners)
    else:
        single_fn = jax.jit(single, donate_argnums=0 if donate else ())
        fused_fn = jax.jit(fused, donate_argnums=0 if donate else ())
    if kind == "predict":
        single_fn, fused_fn = _with_state(single_fn), _with_state(fused_fn)
    # calls over arrays on the device (one process: several keep the host path); predict's loop carries its state
    on_device = None
    if not run_eagerly and jax.process_count() == 1:
        looped = single if kind != "predict" else (lambda state, batch: (state, single(state, batch)))
        layout = None if dist is None else (lambda state: dist.state_shardings(
            state, variables["trainable"], variables["non_trainable"], owners))
        on_device = resident.make_resident(looped, dist, layout, donate=donate)
    result = Program(kind, single_fn, fused_fn, on_device)
    engine.functions[key] = result
    return result


def _with_state(fn):
    return lambda state, batch: (state, fn(state, batch))


def helper(model, name: str, fn):
    """``fn`` jitted once per compile: building state runs one program, not one per leaf.

    (Each eager op is a program of its own; with a warm compilation cache, loading dozens of them
    would take longer than loading the step itself.)
    """
    engine = state_mod.of(model)
    key = ("helper", name)
    if key not in engine.functions:
        compilation_cache.ensure_default()
        run_eagerly = engine.setup.run_eagerly if engine.setup is not None else False
        engine.functions[key] = fn if run_eagerly else jax.jit(fn)
    return engine.functions[key]


def initial_state(model, kind: str, variables: dict) -> TrainState:
    """The state a call of ``kind`` starts from, laid out as the current distribution says.

    Training copies the weights and optimizer variables (the step donates its input buffers,
    which the variables must not lose) and takes the run's key and step counter; every kind but
    predict starts fresh metric accumulators. One jitted program does it all (a program per piece
    costs a trace and a lowering each, even from a warm compilation cache).
    """
    # evaluate and predict read the run's key too (a layer that draws, e.g. a VAE's sampling, gets keys there as
    # in Keras); they do not advance it, so their draws repeat until training moves the step counter on
    state_mod.ensure_seed_state(model)
    rng, step = state_mod.seed_state(model)
    metrics = [m for m in model.metrics] if kind != "predict" else []

    def start(trainable, non_trainable, optimizer, rng, step):
        fresh = [v for m in metrics for v in m.stateless_reset_state()]
        copy = (lambda t: jax.tree.map(jax.numpy.copy, t)) if kind == "train" else (lambda t: t)
        return TrainState(copy(trainable), copy(non_trainable), copy(optimizer), fresh, copy(rng), copy(step))

    values = state_mod.gather(variables, rng, step)
    state = helper(model, f"start-{kind}-{len(variables['optimizer'])}", start)(
        values.trainable, values.non_trainable, values.optimizer, rng, step)
    return distribute(state, model, variables)


def fresh_metrics(model) -> list:
    """New metric accumulators (one program)."""
    metrics = list(model.metrics)
    return helper(model, "metrics-reset", lambda: [v for m in metrics for v in m.stateless_reset_state()])()


def distribute(state: TrainState, model, variables: dict) -> TrainState:
    """The state placed as the current distribution lays it out (unchanged on one device).

    With several processes, values not yet global (the first placement, or a restored backup) are
    process 0's: replicas start equal even when the processes drew different initial weights.
    """
    dist = distribution_mod.distribution()
    if dist is None:
        return state
    if jax.process_count() > 1:
        leaves, treedef = jax.tree.flatten(state)
        local = [i for i, a in enumerate(leaves) if not distribution_mod.is_global(a)]
        agreed = distribution_mod.broadcast_from_first([np.asarray(leaves[i]) for i in local])
        for i, a in zip(local, agreed):
            leaves[i] = np.asarray(a)
        state = jax.tree.unflatten(treedef, leaves)
    owners = _slot_owners(model, variables) if variables["optimizer"] else []
    return jax.device_put(state, dist.state_shardings(state, variables["trainable"], variables["non_trainable"],
                                                      owners))
