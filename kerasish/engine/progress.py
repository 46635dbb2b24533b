"""The resumable position of a fit, and the hooks through which callbacks save and restore it.

A :class:`TrainingRun` is what ``fit`` shows callbacks of its progress: the live state, the
epoch and the next batch within it, the state of the shuffling generator at the start of the
epoch (so an epoch's data order can be drawn again), whether a callback stopped training, and
the other callbacks (whose ``get_state``/``set_state`` a backup holds). Callbacks take part
through four hooks of :class:`kerasish.callbacks.Callback` (kerasish additions; the engine calls
them on whichever callbacks define them and knows no callback class):

- ``on_run_begin(run)``: after ``on_train_begin``; a callback may :meth:`TrainingRun.resume` the
  run from a backup (state, position, callbacks' states);
- ``on_run_call_end(run, steps)``: after each call of ``steps`` steps and its batch hooks;
- ``on_run_epoch_end(run)``: after an epoch and every callback's ``on_epoch_end``;
- ``on_run_end(run)``: when training ends, however it ends.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from kerasish.callbacks.base import Callback
from kerasish.engine import jit
from kerasish.engine.state import TrainState, gather
from kerasish.errors import FileFormatError


def shuffle_state(rng: np.random.Generator | None):
    """A JSON-compatible copy of a NumPy generator's state (None for no generator)."""
    return None if rng is None else copy.deepcopy(rng.bit_generator.state)


class Resume:
    """Where a resumed run picks up."""

    def __init__(self, epoch: int, batch: int, shuffle_state: dict | None, metrics, stopped: bool):
        self.epoch, self.batch, self.shuffle_state, self.metrics = epoch, batch, shuffle_state, metrics
        self.stopped = stopped


class TrainingRun:
    """A fit in progress (see the module docstring).

    Attributes:
        epoch: the epoch under way (after ``on_run_epoch_end``: the next one).
        batch: the next batch of the epoch to run (0 at an epoch's end).
        steps: batches per epoch for in-memory arrays; None for streams (whose length may be unknown).
        shuffle_state: the shuffling generator's state at the start of the epoch.
        stop_training: a callback stopped training at the end of this epoch.
        callbacks: the fit's other callbacks (every one but the callback being called).
        batches: batches trained in this run so far (not counting those before a resume).
    """

    def __init__(self, model, live, variables: dict, data, callbacks: list):
        self.model, self._live, self._variables, self._data = model, live, variables, data
        self.epoch, self.batch = 0, 0
        self.steps = data.steps if data.in_memory else None
        self.shuffle_state = None
        self.stop_training = False
        self.all_callbacks = list(callbacks)
        self.resumed: Resume | None = None

    def others(self, cb: Callback) -> list[Callback]:
        return [c for c in self.all_callbacks if c is not cb]

    @property
    def state(self) -> TrainState:
        """The live training state (weights, optimizer, metrics, key, step)."""
        return self._live.state

    def state_from_model(self) -> TrainState:
        """A state read from the model's variables as they are now (after weights were loaded into the model),
        with the live state's key and step."""
        current = self._live.state
        return gather(self._variables, current.rng, current.step)

    def resume(self, state: TrainState, epoch: int, batch: int, shuffle_state: Any, stopped: bool = False) -> None:
        """Continue from a saved position: ``state`` restored (laid out as the distribution says), the
        loop to start at ``epoch``, batch ``batch``, the epoch's data order drawn from ``shuffle_state``
        (a mid-epoch resume also keeps the state's metric accumulators)."""
        if not isinstance(state, TrainState):
            raise FileFormatError(f"TrainingRun.resume takes a TrainState, got {type(state).__name__}.")
        self._live.state = jit.distribute(state, self.model, self._variables)
        self.resumed = Resume(int(epoch), int(batch), shuffle_state, state.metrics if batch > 0 else None,
                              bool(stopped))
        if not stopped and self._data.one_shot and (epoch > 0 or batch > 0):
            warnings.warn("BackupAndRestore: resuming with a one-shot generator, which starts again from its first "
                          "batch; the resumed run trains on different batches than the interrupted one would have. "
                          "Pass a re-iterable dataset for an exact resume.", stacklevel=4)
