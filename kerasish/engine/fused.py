"""Fused multi-step execution: k training steps in one jitted call, and the policy that picks k.

On small models a step's time is mostly Python dispatch, so running k steps as
one jitted loop over a stacked super-batch wins; on CPU convolutions a scanned
loop is slower than a host loop of single steps. ``steps_per_execution="auto"``
therefore measures: it times a few single steps after the first (compiling)
one, and only if a step is short, and the steps left could repay a second
compilation, does it compile a fused program and time it too, keeping whichever
is faster per step. The decision is remembered for the model and batch shape,
in memory and (when the persistent compilation cache is on) on disk beside that
cache, so later ``fit`` calls and later runs of the script neither probe nor
compile the loser.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.engine import in_place


def make_multi_step(step_fn):
    """``(state, stacked_batches) -> (state, stacked_logs)``: ``step_fn`` over k stacked batches in one call.

    A stacked batch without a mask (full batches, the usual case) reaches the step with ``mask=None``, as a
    single full batch does. The loop is the one resident calls run (:func:`kerasish.engine.resident.step_loop`),
    fed by indexing the stacked batches: XLA compiles the step alike in both, and their results agree to the bit.
    """
    from kerasish.engine.resident import step_loop

    def multi_step(state, batches):
        data, mask = batches
        k, size = jax.tree.leaves(data, is_leaf=in_place.is_in_place)[0].shape[:2]
        # a gather (or a view's slice, behind a barrier), as a resident call's: a slice fused into the step could sum
        # in another order
        return step_loop(step_fn, state, lambda i: in_place.batch((data, mask), i, size), k, k)

    return multi_step


def make_multi_predict(predict_fn):
    """``(state, stacked_batches) -> stacked_y``: ``predict_fn`` mapped over k stacked batches in one call."""

    def multi_predict(state, batches):
        if in_place.has_views(batches):  # the k batches are views of the caller's arrays (CPU)
            k, size = jax.tree.leaves(batches, is_leaf=in_place.is_in_place)[0].shape[:2]
            return jax.lax.map(lambda i: predict_fn(state, in_place.batch(batches, i, size)), jnp.arange(k))
        return jax.lax.map(lambda batch: predict_fn(state, batch), batches)

    return multi_predict


class StackedLogs:
    """A fused call's logs (device arrays with a leading axis of k), copied to the host once, when first read.

    Reading a value slices the host copy: indexing the device array instead would run
    (and the first time compile) a small XLA program per read.
    """

    def __init__(self, stacked: dict):
        self.device = stacked
        self._host: dict = {}

    def value(self, key: str, index: int):
        host = self._host.get(key)
        if host is None:
            host = self._host[key] = np.asarray(self.device[key])
        return host[index]


class SlicedLogs(Mapping):
    """One batch's view of a fused call's stacked logs; nothing leaves the device until a value is read."""

    def __init__(self, stacked: StackedLogs, index: int):
        self._stacked = stacked
        self._index = index

    def __getitem__(self, key):
        return self._stacked.value(key, self._index)

    def __iter__(self):
        return iter(self._stacked.device)

    def __len__(self) -> int:
        return len(self._stacked.device)


def _agreed(k: int) -> int:
    """Process 0's choice, in a multi-process run: every process must run the same programs."""
    if jax.process_count() == 1:
        return k
    from kerasish.distribution import broadcast_from_first

    return int(broadcast_from_first(np.int32(k)))


class AutoSteps:
    """Chooses the number of steps per call by timing calls on the real device and model.

    Phases: ``"single"`` times single steps; ``"fused"`` times a fused program of ``k`` steps; ``"done"``:
    ``k`` is decided; ``"waiting"``: fusing could not repay its compilation in the steps left, so single
    steps run untimed and each later call (:meth:`start`) asks again, with its own steps and those that ran
    unfused already (a workload that keeps coming back repays the compilation in the end).

    Args:
        fixed: a fixed k (``steps_per_execution`` as an int, or a remembered decision): nothing is timed.
        max_steps: the data's steps per epoch: k is at most this (and at least 2).
    """

    probe_single = 4       # single steps timed after the compiling one
    probe_fused = 3        # fused calls timed after the compiling one
    slow_step_s = 2e-2     # a step this long gains nothing worth a second compilation (an MLP's 4 ms steps do)
    target_call_s = 0.05   # aim a fused call at about this long
    min_gain = 0.92        # fused must be this much faster per step to be kept (the MLP above: 0.84)
    max_k = 128
    # Whether a probe can pay, reckoned optimistically so that only a probe that cannot pay is skipped: fusing
    # saves at most ``best_saving`` of a timed single step (the tiny MLP on CPU, the most dispatch-bound
    # workload: 0.34 ms timed single steps, 0.03 ms per fused step, 91%), and the fused program compiles in at
    # least ``fused_compile_ratio`` times the single program's compilation (first call less a timed step; on
    # CPU 1.05x for the tiny MLP, 0.86x for a small LSTM).
    best_saving = 0.9
    fused_compile_ratio = 0.8
    # ... and never more than ``max_saving_s`` a step: fusing saves dispatch and host work, not compute (the MLP
    # 784-512-512-10 on CPU: 3.8 ms single steps, 3.2 ms fused, a 0.6 ms saving), so a long step (an LSTM's, say)
    # needs many steps to repay its fused compilation
    max_saving_s = 1e-3

    def __init__(self, fixed: int | None = None, max_steps: int | None = None, auto: bool = False,
                 even: bool = False):
        self.k = fixed or 1
        self.fixed = fixed
        self.auto = auto or fixed is None  # "auto" chose k (here, or a remembered decision): not the user
        self.phase = "done" if fixed else "single"
        self.max_steps = max_steps
        self.even = even  # split max_steps into equal fused calls (evaluate, predict: no single-step tail)
        self.single_step_s: float | None = None
        self.compile_s = 0.0       # the single program's compilation, measured (or remembered)
        self.candidate = 1         # the k a waiting policy probes once fusing can pay
        self.unsaved = False       # a measurement the decision store has not seen yet
        self.store_key: str | None = None  # the key of this policy's record on disk (None: not persisted)
        self._single: list[float] = []
        self._fused: list[float] = []
        self._calls = 0
        self._t0 = 0.0
        self._first_s = 0.0
        self._budget: int | None = None  # steps the current call runs (None: unknown)
        self._steps = 0            # steps timed in the current call
        self._unfused = 0          # steps that ran at k=1 in earlier calls while fusing could not pay
        self._left = 0             # steps the current call runs at k=1 while waiting

    @property
    def probing(self) -> bool:
        return self.phase in ("single", "fused")

    @property
    def call_steps(self) -> int:
        """The most steps a call gathering its batches on the device runs: ``k`` while probing or when the user
        fixed it (Keras's ``steps_per_execution``); once "auto" has chosen to fuse, :data:`LONG_CALL_FACTOR`
        times more (a whole epoch, for most: its one compiled program serves any number of steps)."""
        from kerasish.engine.resident import LONG_CALL_FACTOR

        if self.auto and self.phase == "done" and self.k > 1:
            return self.k * LONG_CALL_FACTOR
        return self.k

    @property
    def measured(self) -> bool:
        """Whether ``k`` is a decision measured here (not fixed, not waiting): one to remember."""
        return self.phase == "done" and self.fixed is None

    def start(self, total_steps: int | None) -> None:
        """A fit/evaluate/predict call of ``total_steps`` steps (None: unknown) begins with this policy."""
        if self.phase == "waiting":
            self._unfused += self._left
            self._left = total_steps or 0
            if _agreed(int(self._pays(total_steps))):
                self.k, self.phase, self._calls, self._fused = self.candidate, "fused", 0, []
        self._budget, self._steps = total_steps, 0

    def before_call(self) -> None:
        if self.probing:
            self._t0 = time.perf_counter()

    def after_call(self, ready, n_steps: int) -> None:
        """Record a call's time once ``ready`` (an output of the call) is computed."""
        if not self.probing:
            return
        jax.block_until_ready(ready)
        elapsed = time.perf_counter() - self._t0
        self._calls += 1
        self._steps += n_steps
        if self.phase == "single":
            if self._calls > 1:  # the first call compiled
                self._single.append(elapsed / n_steps)
            else:
                self._first_s = elapsed
            if len(self._single) >= self.probe_single:
                self._decide_single()
        elif self.phase == "fused":
            if self._calls > 1 and n_steps == self.k:
                self._fused.append(elapsed / n_steps)
            if len(self._fused) >= self.probe_fused:
                fused = float(np.min(self._fused))
                self.k = _agreed(1 if fused > self.min_gain * self.single_step_s else self.k)
                self.phase, self.unsaved = "done", True

    def _pays(self, steps_left: int | None) -> bool:
        """Whether a fused program could repay its compilation over ``steps_left`` and the steps that ran
        unfused before (None: an unknown number, taken as enough)."""
        if steps_left is None:
            return True
        saving = min(self.best_saving * self.single_step_s, self.max_saving_s) * (steps_left + self._unfused)
        return saving >= self.fused_compile_ratio * self.compile_s

    def _decide_single(self) -> None:
        self.single_step_s = float(np.min(self._single))  # the least disturbed sample
        self.compile_s = max(self.compile_s, self._first_s - self.single_step_s)
        if self.single_step_s >= self.slow_step_s:
            k = 1
        else:
            k = 2 ** round(math.log2(max(2.0, self.target_call_s / max(self.single_step_s, 1e-6))))
            k = int(min(self.max_k, max(4, k)))
            if self.max_steps is not None:
                k = max(2, min(k, self.max_steps))
                if self.even:  # 60 steps at k=32: two calls of 30 rather than one of 32 and 28 single steps
                    k = max(2, self.max_steps // math.ceil(self.max_steps / k))
        left = None if self._budget is None else max(0, self._budget - self._steps)
        # every process runs the same programs: process 0's choice, a waiting one sent as -k
        code = _agreed(k if k == 1 or self._pays(left) else -k)
        self.unsaved = code <= 1
        if code < 0:
            self.k, self.candidate, self.phase, self._left = 1, -code, "waiting", left
        elif code == 1:
            self.k, self.phase = 1, "done"
        else:
            self.k, self.phase, self._calls = code, "fused", 0

    def record(self) -> dict:
        """What the decision store keeps: a decision (phase ``"done"``) or, for a call too short to probe,
        the measurements that let a later run decide without timing single steps again (``"waiting"``)."""
        return {"phase": self.phase, "k": self.k, "candidate": self.candidate,
                "single_step_s": self.single_step_s, "compile_s": self.compile_s}

    @classmethod
    def from_record(cls, record, max_steps: int | None = None, even: bool = False) -> AutoSteps | None:
        """The policy a stored :meth:`record` describes, or None if it is not one (read defensively)."""
        if not isinstance(record, Mapping) or record.get("phase") not in ("done", "waiting"):
            return None
        k, candidate = record.get("k"), record.get("candidate")
        step, compile_s = record.get("single_step_s"), record.get("compile_s")
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= cls.max_k for v in (k, candidate)):
            return None
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0 for v in (step, compile_s)):
            return None
        policy = cls(max_steps=max_steps, even=even)
        policy.phase, policy.single_step_s, policy.compile_s = record["phase"], float(step), float(compile_s)
        policy.k, policy.candidate = (k, candidate) if policy.phase == "done" else (1, candidate)
        return policy


def persisted_key(model, setup, kind: str, data_key: tuple) -> str | None:
    """The key of a persisted ``steps_per_execution="auto"`` decision: a sha256 of what a step's speed depends on.

    That is the model's structure (its class, its config where it has one, its variables' paths, shapes and
    dtypes), the compile settings that change the step (optimizer, loss, metrics, ...), its dtype policy, the
    kind of step, the data's ``decision_key()`` (batch size, sample shapes), the devices (platform, kind,
    count) and the versions of jax, jaxlib and kerasish. Automatic name counters (``dense_3``) are left out:
    a script names its layers alike in every run, while other models made before it in a process change them.
    None when the settings cannot be described.
    """
    import jaxlib

    import kerasish

    try:
        config = model.get_config()
    except Exception:  # user code; a subclassed model without one is described by the rest
        config = None
    devices = jax.devices()
    settings = None if setup is None else {  # None: an uncompiled model's predict
        k: v for k, v in setup.config().items() if k not in ("run_eagerly", "steps_per_execution")}
    parts = {"class": _qualname(type(model)), "config": config,
             "variables": [[getattr(v, "path", ""), list(v.shape), str(v.dtype), bool(v.trainable)]
                           for v in model.variables],
             "compile": settings, "dtype_policy": model.dtype_policy.name, "kind": kind, "data": data_key,
             "devices": [devices[0].platform, devices[0].device_kind, len(devices), jax.process_count()],
             "versions": [jax.__version__, jaxlib.__version__, kerasish.__version__]}
    try:
        text = json.dumps(parts, sort_keys=True, default=_describe)
    except (TypeError, ValueError, RecursionError):  # keys that cannot be sorted, a cycle: not persisted
        return None
    return hashlib.sha256(re.sub(r'_\d+(?=["/])', "", text).encode()).hexdigest()


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def _describe(obj):
    """An object in a fingerprint: its class and config where it has one; never its address."""
    if isinstance(obj, np.generic):
        return obj.item()
    get_config = getattr(obj, "get_config", None)
    if callable(get_config) and not isinstance(obj, type):
        try:
            return [_qualname(type(obj)), get_config()]
        except Exception:  # user code: the class alone describes it
            return _qualname(type(obj))
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        return _qualname(obj)
    return _qualname(type(obj))
