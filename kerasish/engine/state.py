"""The training state: one pytree while a loop runs, the variables that hold it between calls.

While ``fit`` (or ``evaluate``, ``predict``, ``*_on_batch``) runs, the loop owns one
:class:`TrainState`::

    TrainState(trainable, non_trainable,    # the model's weights, model.trainable_variables order
               optimizer,                   # model.optimizer.variables (optax's state leaves)
               metrics,                     # model.metrics_variables
               rng, step)                   # the run's key and step counter (per-step fold_in keys)

Keras's custom steps see its first four fields as their ``state`` tuple. Every variable the
state holds — the weights, the optimizer's and the metrics' — is *bound* to the loop's state
for the duration (:func:`bind`): a callback that reads or sets weights, the learning rate or a
metric mid-fit reads and changes the real thing. When the call ends, however it ends (an
exception, a KeyboardInterrupt), the variables take the state's latest values back.

Between calls the state lives in those variables; the run's key and step counter are the
model's :class:`EngineState`'s, which also holds what ``compile`` resolved and the compiled
steps. No module outside ``kerasish/engine`` touches it: saving and callbacks use the public
accessors below (:func:`seed_state`, :func:`set_seed_state`, :func:`step_count`), and Keras's
public API (``model.optimizer.variables``, ``model.get_compile_config()``).
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import numpy as np

from kerasish.backend import LiveState, Variable
from kerasish.errors import ConfigError
from kerasish.utils.random import next_seed


class TrainState(NamedTuple):
    """The state a step function takes and returns (a pytree)."""

    trainable: list
    non_trainable: list
    optimizer: list
    metrics: list
    rng: Any
    step: Any


class EngineState:
    """What the engine keeps on a model between calls (the model's one engine attribute).

    Attributes:
        setup: the compile arguments and what they resolved to (``engine.compile_utils.CompileSetup``),
            None before ``compile``.
        rng, step: Variables holding the run's PRNG key and step counter, made at the first
            training call (None before).
        live: the LiveState of the loop running now, if any.
        functions: jitted steps and helpers, cleared by ``compile``.
        steps_decisions: ``steps_per_execution="auto"`` decisions per data shape.
    """

    def __init__(self):
        self.setup = None
        self.rng: Variable | None = None
        self.step: Variable | None = None
        self.live: LiveState | None = None
        self.functions: dict = {}
        self.steps_decisions: dict = {}
        self.optimizer_built_for: tuple | None = None  # the variables the engine built the optimizer for


def of(model) -> EngineState:
    """The model's engine state (made on first use)."""
    state = model.__dict__.get("_engine")
    if state is None:
        state = EngineState()
        object.__setattr__(model, "_engine", state)
    return state


# -- public accessors (saving, callbacks) ----------------------------------------------------------
def seed_state(model) -> tuple[Any, Any]:
    """The run's ``(rng key, step counter)`` as arrays (live values mid-fit), or ``(None, None)``
    before the model's first training call."""
    engine = of(model)
    if engine.rng is None:
        return None, None
    return engine.rng.value, engine.step.value


def set_seed_state(model, rng, step) -> None:
    """Give the model a saved run key and step counter (a loaded model continues their stream)."""
    engine = of(model)
    rng = np.asarray(rng, np.uint32)
    step = np.asarray(step, np.int32)
    if engine.rng is None:
        engine.rng = Variable(rng, name="seed_generator_state", trainable=False, autocast=False)
        engine.step = Variable(step, name="step", trainable=False, autocast=False)
    else:
        engine.rng.assign(rng)
        engine.step.assign(step)


def step_count(model) -> int | None:
    """Training steps taken so far (the live count mid-fit), or None before any."""
    _, step = seed_state(model)
    return None if step is None else int(np.asarray(step))


def ensure_seed_state(model) -> None:
    """Give the model a run key (from the global seed stream) and a zero step counter, if it has none."""
    if of(model).rng is None:
        # jax.random.PRNGKey(seed)'s bits for a 31-bit seed, made on the host (no device program for a key)
        set_seed_state(model, np.array([0, next_seed()], np.uint32), 0)


def build_optimizer(model) -> None:
    """Build ``model.optimizer`` for the model's trainable variables, as ``fit`` does (e.g. to load a
    saved optimizer state into it)."""
    engine = of(model)
    trainable = list(model.trainable_variables)
    model.optimizer.build(trainable)
    engine.optimizer_built_for = tuple(map(id, trainable))
    engine.functions = {}


def optimizer_current(model) -> bool:
    """Whether ``model.optimizer`` holds a state for the model's trainable variables as they are now
    (False before the first fit, or after weights were frozen or unfrozen since)."""
    opt = getattr(model, "optimizer", None)
    return opt is not None and opt.built_for(model.trainable_variables)


# -- gathering and binding ---------------------------------------------------------------------------
def gather(variables: dict[str, list[Variable]], rng=None, step=None) -> TrainState:
    """A TrainState of the variables' current values (not copies: ``jit.initial_state`` copies what a step donates)."""
    return TrainState(*([v.value for v in variables[k]] for k in ("trainable", "non_trainable", "optimizer",
                                                                   "metrics")), rng, step)


@contextlib.contextmanager
def bind(model, state: TrainState, variables: dict[str, list[Variable]]):
    """Bind every variable in ``variables`` (and the run's key and step) to a LiveState over ``state``.

    Yields the LiveState (``live.state`` is the loop's current state). On exit, however the
    block ends, each variable takes its latest value back and is unbound.
    """
    engine = of(model)
    if engine.live is not None:
        raise ConfigError(f"Model {model.name!r} is already training: a callback cannot call fit or train_on_batch "
                          "on the model being trained (evaluate and predict are fine).")
    live = _SeedLiveState(state, variables, engine)
    bound = [v for vs in variables.values() for v in vs]
    if engine.rng is not None and state.rng is not None:
        bound += [engine.rng, engine.step]
    for v in bound:
        v._bind(live)
    engine.live = live
    try:
        yield live
    finally:
        engine.live = None
        for v in bound:
            v._unbind()


class _SeedLiveState(LiveState):
    """A LiveState whose ``rng`` and ``step`` fields are the engine's two scalar variables."""

    def __init__(self, state, variables: dict[str, list[Variable]], engine: EngineState):
        super().__init__(state, variables)
        if engine.rng is not None:
            self.slots[id(engine.rng)] = ("rng", None)
            self.slots[id(engine.step)] = ("step", None)

    def read(self, var: Variable):
        kind, i = self.slots[id(var)]
        value = getattr(self.state, kind)
        return value if i is None else value[i]

    def write(self, var: Variable, value) -> None:
        kind, i = self.slots[id(var)]
        if i is None:
            self.state = self.state._replace(**{kind: value})
        else:
            super().write(var, value)
