"""Fused multi-step execution: k training steps in one jitted call, and the policy that picks k.

On small models a step's time is mostly Python dispatch, so running k steps as
one ``lax.scan`` over a stacked super-batch wins; on CPU convolutions a scanned
loop is slower than a host loop of single steps. ``steps_per_execution="auto"``
therefore measures: it times a few single steps after the first (compiling)
one, and only if a step is short does it compile a fused program and time it
too, keeping whichever is faster per step. The decision is remembered for the
model and batch shape, so later ``fit`` calls neither probe nor compile again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import jax
import numpy as np


def make_multi_step(step_fn):
    """``(state, stacked_batches) -> (state, stacked_logs)``: a ``lax.scan`` of ``step_fn`` over k batches.

    A stacked batch without a mask (full batches, the usual case) reaches the step with ``mask=None``, as a
    single full batch does.
    """

    def body(state, batch):
        return step_fn(state, batch)  # a stacked batch without a mask: full batches, as a single step sees them

    def multi_step(state, batches):
        return jax.lax.scan(body, state, batches)

    return multi_step


def make_multi_predict(predict_fn):
    """``(state, stacked_batches) -> stacked_y``: ``predict_fn`` mapped over k stacked batches in one call."""

    def multi_predict(state, batches):
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
    """Chooses the number of steps per call by timing calls on the real device and model."""

    probe_single = 4       # single steps timed after the compiling one
    probe_fused = 3        # fused calls timed after the compiling one
    slow_step_s = 2e-3     # a step this long gains nothing worth a second compilation
    target_call_s = 0.05   # aim a fused call at about this long
    min_gain = 0.85        # fused must be this much faster per step to be kept
    max_k = 128

    def __init__(self, fixed: int | None = None, max_steps: int | None = None):
        self.k = fixed or 1
        self.fixed = fixed
        self.phase = "done" if fixed else "single"
        self.max_steps = max_steps
        self._single: list[float] = []
        self._fused: list[float] = []
        self._calls = 0
        self._t0 = 0.0

    @property
    def probing(self) -> bool:
        return self.phase != "done"

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
        if self.phase == "single":
            if self._calls > 1:  # the first call compiled
                self._single.append(elapsed / n_steps)
            if len(self._single) >= self.probe_single:
                self._decide_single()
        elif self.phase == "fused":
            if self._calls > 1 and n_steps == self.k:
                self._fused.append(elapsed / n_steps)
            if len(self._fused) >= self.probe_fused:
                fused = float(np.min(self._fused))
                self.k = _agreed(1 if fused > self.min_gain * self.single_step_s else self.k)
                self.phase = "done"

    def _decide_single(self) -> None:
        self.single_step_s = float(np.min(self._single))  # the least disturbed sample
        if self.single_step_s >= self.slow_step_s:
            k = 1
        else:
            k = 2 ** round(math.log2(max(2.0, self.target_call_s / max(self.single_step_s, 1e-6))))
            k = int(min(self.max_k, max(4, k)))
            if self.max_steps is not None:
                k = max(2, min(k, self.max_steps))
        self.k = _agreed(k)
        if self.k == 1:
            self.phase = "done"
        else:
            self.phase, self._calls = "fused", 0
