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

A mid-epoch position means "so many samples of this epoch's data order trained on". A backup records
it with the data it refers to (:meth:`TrainingRun.position`: the kind of data, batch size, dataset size,
shuffle flag, steps per epoch), and :meth:`TrainingRun.resume` compares that with the resumed fit's data:

- the same data and batching: the run continues at the saved batch, exactly;
- arrays of the same size and shuffle flag (so the same epoch order) batched differently (another
  ``batch_size`` or ``steps_per_epoch``): the run continues at the exact sample position. The first
  batch of the resumed epoch holds the rest of the batch that position falls in (it may be short); the
  epoch's later batches are the new batch size's. The metric sums of the epoch so far are kept;
- anything else (another dataset size, shuffle flag or kind of data, a stream batched differently, or
  a position at or past the end of the new epoch): the epoch restarts from its first batch, with the
  state as backed up, so the samples of the epoch trained on before the backup are trained on again;
  the epoch's metrics start afresh.

Either change is said in one warning line. A backup of an older kerasish, which records no data,
resumes at its batch with a warning that this assumes the same data and batch size.
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


def describe_data(data) -> dict:
    """What a backup records of a fit's data, to compare with a resumed fit's (JSON-compatible):
    ``steps_per_epoch`` is fit's argument (None: not given), ``num_batches`` a stream's length when known."""
    from kerasish.engine import adapters

    if isinstance(data, adapters.ArrayData):
        kind, samples, batches, steps = "arrays", int(data.n), None, data.max_steps
    elif isinstance(data, adapters.PyDatasetData):
        kind, samples, batches, steps = "pydataset", None, data.num_batches, data._steps
    else:
        kind, samples, steps = "generator", None, data._steps
        try:
            batches = len(data.data)
        except Exception:  # noqa: BLE001 - no length (a generator), or a length that fails
            batches = None
    return {"kind": kind, "batch_size": None if data.batch_size is None else int(data.batch_size),
            "num_samples": samples, "num_batches": None if batches is None else int(batches),
            "shuffle": bool(getattr(data, "shuffle", False)), "steps_per_epoch": None if steps is None else int(steps)}


_DATA_KEYS = ("kind", "batch_size", "num_samples", "num_batches", "shuffle", "steps_per_epoch")
_ARGUMENTS = ("batch_size", "shuffle", "steps_per_epoch")


def _changes(saved: dict, now: dict, keys) -> str:
    """What differs between the backup's data and this fit's, among ``keys``, in words."""
    said = []
    for k in keys:
        old, new = saved.get(k), now.get(k)
        if old == new:
            continue
        if k in _ARGUMENTS:
            said.append(f"the backup used {k}={old!r}, this fit uses {new!r}")
        elif k == "kind":
            said.append(f"the data is {new} (the backup's was {old})")
        else:
            unit = "samples" if k == "num_samples" else "batches"
            said.append(f"the dataset has {new} {unit}, the backup's had {old}")
    return "; ".join(said)


class Resume:
    """Where a resumed run picks up: the epoch, its next batch and the samples of it trained on (the
    first batch starts at sample ``samples`` when that is not ``batch * batch_size``: see the module
    docstring), the shuffling generator's state at the epoch's start, the epoch's metric sums so far."""

    def __init__(self, epoch: int, batch: int, shuffle_state: dict | None, metrics, stopped: bool,
                 samples: int = 0, offset: int = 0):
        self.epoch, self.batch, self.shuffle_state, self.metrics = epoch, batch, shuffle_state, metrics
        self.stopped = stopped
        self.samples = samples  # samples of the epoch trained on before the resume
        self.offset = offset    # for arrays: the epoch's first sample to train on (0: from batch * batch_size)


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
        self.samples = 0  # samples of this epoch trained on so far
        self.all_callbacks = list(callbacks)
        self.resumed: Resume | None = None

    def position(self) -> dict:
        """The position as a backup records it: samples of the epoch trained on, and what the data was
        (:func:`describe_data`), so that a resume can tell whether its data is the same."""
        return {"samples": int(self.samples), **describe_data(self._data)}

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

    def resume(self, state: TrainState, epoch: int, batch: int, shuffle_state: Any, stopped: bool = False,
               position: dict | None = None, where: str = "the backup") -> None:
        """Continue from a saved position: ``state`` restored (laid out as the distribution says), the
        loop to start at ``epoch``, batch ``batch``, the epoch's data order drawn from ``shuffle_state``
        (a mid-epoch resume also keeps the state's metric accumulators). ``position``: what
        :meth:`position` returned when the backup was taken (None: not recorded); a mid-epoch position
        over other data continues at the sample position or restarts the epoch (module docstring),
        with a warning naming ``where``."""
        if not isinstance(state, TrainState):
            raise FileFormatError(f"TrainingRun.resume takes a TrainState, got {type(state).__name__}.")
        self._live.state = jit.distribute(state, self.model, self._variables)
        epoch, batch = int(epoch), int(batch)
        resumed = Resume(epoch, batch, shuffle_state, state.metrics if batch > 0 else None, bool(stopped))
        if batch > 0 and not stopped:
            resumed = self._plan(resumed, position, where)
        self.resumed = resumed
        if not stopped and self._data.one_shot and (epoch > 0 or batch > 0):
            warnings.warn("BackupAndRestore: resuming with a one-shot generator, which starts again from its first "
                          "batch; the resumed run trains on different batches than the interrupted one would have. "
                          "Pass a re-iterable dataset for an exact resume.", stacklevel=4)

    def _plan(self, resumed: Resume, saved: dict | None, where: str) -> Resume:
        """Where a mid-epoch resume starts, given the data the backup's position refers to."""
        now = describe_data(self._data)
        epoch, batch = resumed.epoch, resumed.batch
        if not isinstance(saved, dict) or "samples" not in saved:
            seen = batch * now["batch_size"] if now["kind"] == "arrays" else 0
            resumed.samples = min(seen, now["num_samples"] or seen)
            warnings.warn(f"BackupAndRestore: resuming epoch {epoch + 1} at batch {batch}: {where} (written by an "
                          "older kerasish) does not record its data or batch size; this assumes they are this fit's.",
                          stacklevel=7)
            return resumed
        seen = int(saved["samples"])
        if all(saved.get(k) == now[k] for k in _DATA_KEYS):
            resumed.samples = seen
            return resumed  # the same data, batched the same: exact
        if saved.get("kind") == now["kind"] == "arrays" and not _changes(saved, now, ("num_samples", "shuffle")):
            size, n = now["batch_size"], now["num_samples"]
            epoch_samples = min(n, self._data.steps * size)
            changed = _changes(saved, now, ("batch_size", "steps_per_epoch"))
            if seen < epoch_samples:  # the same epoch order: continue at the sample position
                warnings.warn(f"BackupAndRestore: resuming epoch {epoch + 1} at sample {seen} of {epoch_samples} "
                              f"({changed}): the rest of the epoch is trained on exactly once ({where}).",
                              stacklevel=7)
                return Resume(epoch, seen // size, resumed.shuffle_state, resumed.metrics, False, seen, seen)
            reason = f"{changed}, so the epoch has {epoch_samples} samples, all trained on before the backup"
        else:  # (another kind of data: only that is said)
            reason = _changes(saved, now, ("kind",) if saved.get("kind") != now["kind"] else _DATA_KEYS)
        what = f"the {seen} samples" if seen else f"the {batch} batches"
        warnings.warn(f"BackupAndRestore: restarting epoch {epoch + 1} from its first batch: {reason}; {what} already "
                      f"trained on in this epoch will be trained on again, from the model as backed up ({where}).",
                      stacklevel=7)
        return Resume(epoch, 0, resumed.shuffle_state, None, False)
