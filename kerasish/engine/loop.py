"""The one call loop that fit, evaluate and predict share.

A loop runs the calls a data adapter yields (``adapters.Call``: a batch, how many steps,
whether fused) through a :class:`Program` (the jitted single and fused steps of one kind), keeps
the state in a box (the ``LiveState`` that ``fit`` binds the variables to, or a plain holder),
and calls the batch hooks in Keras's order: ``on_*_batch_begin(i)`` then ``on_*_batch_end(i,
logs)``, strictly paired, for every batch. A single step's begin hook runs before the step; a
fused call's hooks run after it, in order, each end hook with its own batch's logs (a callback
that must act before each batch makes the policy run single steps: see ``trainer``).

Ctrl-C while a step is dispatched waits for the step's result to be stored (see
:class:`InterruptGuard`): an interrupted fit keeps the weights trained so far, consistent with the
optimizer state, as Keras does.
"""

from __future__ import annotations

import signal
import threading
import warnings
from collections.abc import Callable, Iterable

import jax
import numpy as np

from kerasish.callbacks.callback_list import CallbackList
from kerasish.engine import checks, jit, progress
from kerasish.engine import state as state_mod
from kerasish.engine.fused import AutoSteps, SlicedLogs, StackedLogs
from kerasish.engine.jit import Program


class Box:
    """A plain holder of a loop's state (evaluate, predict); ``fit`` uses its LiveState instead."""

    def __init__(self, state):
        self.state = state


class InterruptGuard:
    """Defers a Ctrl-C (SIGINT) that arrives while a step is in flight until its result is stored.

    Outside that window a Ctrl-C raises KeyboardInterrupt at once, as usual (a stuck generator can
    still be interrupted). Only the main thread can install signal handlers; elsewhere the guard
    does nothing.
    """

    def __init__(self):
        self.critical = False
        self.pending = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.critical:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not the main interpreter
                self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def check(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def _batch_logs(kind: str, out, fused: bool, n: int) -> list:
    """Each batch's logs from a call's output."""
    if kind == "predict":
        if not fused:
            return [{"outputs": out}]
        from kerasish.distribution import is_global

        # one copy, sliced on the host (indexing a device array runs a program); arrays over several processes stay
        host = jax.tree.map(lambda a: a if is_global(a) else np.asarray(a), out)
        return [{"outputs": jax.tree.map(lambda a, i=i: a[i], host)} for i in range(n)]
    if not fused:
        return [out]
    stacked = StackedLogs(out)
    return [SlicedLogs(stacked, i) for i in range(n)]


def run(program: Program, calls: Iterable, box, callbacks: CallbackList, policy: AutoSteps, *,
        start: int = 0, guard: InterruptGuard | None = None, after_call: Callable | None = None,
        should_stop: Callable[[], bool] | None = None, on_output: Callable | None = None):
    """Run ``calls``; returns the last batch's logs (None if there was no call).

    Args:
        after_call: ``(n_steps, next_batch, rows)`` after each call's hooks (e.g. mid-epoch backups); ``rows``:
            the samples the call trained on.
        should_stop: checked after each call (``model.stop_training``).
        on_output: ``(out, call)`` with each call's raw output (predict collects its outputs).
    """
    try:
        return _run_calls(program, calls, box, callbacks, policy, start, guard, after_call, should_stop, on_output)
    finally:
        close = getattr(calls, "close", None)
        if close is not None:
            close()  # a prefetching stream's thread stops now, however the loop ended


def _run_calls(program, calls, box, callbacks, policy, step, guard, after_call, should_stop, on_output):
    """:func:`run`'s loop, from batch ``step``."""
    kind, last = program.kind, None
    begin_hook, end_hook = f"on_{kind}_batch_begin", f"on_{kind}_batch_end"
    wants_begin, wants_end = callbacks.wants(begin_hook), callbacks.wants(end_hook)
    for call in calls:
        if wants_begin and not call.fused:
            callbacks.call(begin_hook, step, {})
        policy.before_call()
        fn = program.resident if call.resident else program.fused if call.fused else program.single
        if guard is not None:
            guard.critical = True
        try:
            state, out = fn(box.state, call.batch)
            box.state = state
        finally:
            if guard is not None:
                guard.critical = False
        if call.staged is not None:
            staging, slot = call.staged
            staging.done(slot, _ready(state, out))  # its buffers are written again once this call has finished
        if policy.probing:
            policy.after_call(_ready(state, out), call.steps)
        if on_output is not None:
            on_output(out, call)
        if wants_end or wants_begin:
            logs = _batch_logs(kind, out, call.fused, call.steps)
            for i, batch_logs in enumerate(logs):
                if wants_begin and call.fused:
                    callbacks.call(begin_hook, step + i, {})
                if wants_end:
                    callbacks.call(end_hook, step + i, batch_logs)
            last = logs[-1]
        elif kind != "predict" and call.fused:  # the call's last batch's logs, read from the host copy
            last = SlicedLogs(StackedLogs(out), call.steps - 1)
        else:
            last = out
        step += call.steps
        if after_call is not None:
            after_call(call.steps, step, call.rows)
        if guard is not None:
            guard.check()
        if should_stop is not None and should_stop():
            break
    return last


def on_device(program: Program, data) -> dict:
    """``calls``' keyword for arrays that fit on the device: their fused calls gather there (``resident``)."""
    return {"on_device": True} if program.resident is not None and getattr(data, "residable", False) else {}


def _ready(state, out):
    """An output of the call to wait on when timing it (the policy's probe)."""
    leaves = jax.tree.leaves(out)
    if leaves:
        return leaves[0]
    leaves = jax.tree.leaves(state)
    return leaves[0] if leaves else np.zeros(())


# -- fit: epochs over the call loop ---------------------------------------------------------------------
def shuffle_rng() -> np.random.Generator:
    """fit's shuffling generator from the global seed stream (process 0's seed, in a multi-process run,
    so that every process draws the same global order)."""
    from kerasish import distribution as distribution_mod
    from kerasish.utils.random import next_seed, numpy_rng

    if jax.process_count() == 1:
        return numpy_rng()
    return np.random.default_rng(int(distribution_mod.broadcast_from_first(np.int64(next_seed()))))


def should_validate(epoch: int, freq) -> bool:
    """Whether fit validates after ``epoch`` (0-based): every ``freq`` epochs, or after the 1-based epochs listed
    (``freq`` checked by ``checks.check_fit_arguments``)."""
    if isinstance(freq, (int, np.integer)):
        return (epoch + 1) % freq == 0
    return (epoch + 1) in freq


def _beyond_the_end(resume, epochs: int) -> None:
    """A warning when the backup a run resumed from is past this fit's last epoch (nothing left to train)."""
    if resume is None or resume.stopped or resume.epoch < epochs or (resume.epoch == epochs and resume.batch == 0):
        return  # (a backup at the end of the last epoch: the run was complete)
    where = f"epoch {resume.epoch + 1}" + (f", batch {resume.batch}" if resume.batch else "")
    warnings.warn(f"BackupAndRestore: the backup is at {where}, beyond this fit's epochs={epochs}: nothing left to "
                  "train (the model is as backed up). Give a larger epochs to train on.", stacklevel=4)


def fit(model, data, validation, *, program: Program, policy: AutoSteps, callbacks: CallbackList, maker, epochs: int,
        initial_epoch: int, validation_freq, undo: Callable) -> dict | None:
    """The epochs of ``model.fit``; returns the last epoch's logs (what ``on_train_end`` got).

    A resumed run (``TrainingRun.resume``) starts at the backup's epoch and position; a backup at or past
    this fit's ``epochs`` trains nothing (a warning says so when it was past the last epoch's end)."""
    variables = jit.state_variables(model, "train")
    setup = state_mod.of(model).setup
    needs_targets = model._needs_targets("train", setup.compile_loss)

    def check(bx, by):
        checks.check_batch(model, bx, by, setup.compile_loss, needs_targets, "train_step")

    first = jit.initial_state(model, "train", variables)
    rng = shuffle_rng()
    with state_mod.bind(model, first, variables) as live, InterruptGuard() as guard:
        run_state = progress.TrainingRun(model, live, variables, data, list(callbacks))
        done = {"calls": 0}
        try:
            callbacks.call("on_train_begin", {})
            callbacks.call("on_run_begin", run_state)
            resume = run_state.resumed
            _beyond_the_end(resume, epochs)
            if resume is not None and resume.stopped:
                epochs = resume.epoch  # the run had already been stopped by a callback: nothing left
            training_logs = None
            fresh = resume is None  # the first state's accumulators serve the first epoch
            spare = None  # the next epoch's fresh accumulators, made while this epoch's last calls run
            for epoch in range(resume.epoch if resume is not None else initial_epoch, epochs):
                start, offset, samples = 0, 0, 0
                if resume is not None and resume.epoch == epoch and (resume.batch > 0 or resume.offset > 0):
                    # mid-epoch: the same data order, the metric sums so far
                    start, offset, samples = resume.batch, resume.offset, resume.samples
                    live.state = live.state._replace(metrics=resume.metrics)
                elif not fresh:
                    live.state = live.state._replace(metrics=spare if spare is not None else jit.fresh_metrics(model))
                spare = None
                fresh = False
                if resume is not None and resume.epoch == epoch and resume.shuffle_state is not None:
                    rng.bit_generator.state = resume.shuffle_state
                run_state.epoch, run_state.batch, run_state.samples = epoch, start, samples
                run_state.shuffle_state = progress.shuffle_state(rng)  # before this epoch's order is drawn
                callbacks.call("on_epoch_begin", epoch, {})

                def after_call(n_steps: int, next_batch: int, rows: int) -> None:
                    done["calls"] += 1
                    run_state.batch = next_batch
                    run_state.samples += rows
                    callbacks.call("on_run_call_end", run_state, n_steps)

                # a resume at a sample position (another batch size) starts within batch `start` (arrays only)
                extra = {"offset": offset} if offset else {}
                extra.update(on_device(program, data))
                calls = data.calls(policy, maker, rng, start, check, **extra)
                logs = run(program, calls, live, callbacks, policy,
                           start=start, guard=guard, after_call=after_call,
                           should_stop=lambda: model.stop_training)
                if epoch + 1 < epochs:
                    # (its program compiles in the first epoch, while the device finishes the calls, not in the second)
                    spare = jit.fresh_metrics(model)
                data.on_epoch_end()  # e.g. a PyDataset's hook, before validation (as Keras)
                if logs is None:
                    warnings.warn("Your input ran out of data: training stopped.", stacklevel=3)
                    break
                epoch_logs = model._ordered_floats(logs)
                if validation is not None and should_validate(epoch, validation_freq):
                    callbacks.call("on_test_begin", {})  # validation calls the test hooks, as Keras
                    val_logs = model._run_evaluate(validation, callbacks)
                    callbacks.call("on_test_end", val_logs)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                callbacks.call("on_epoch_end", epoch, epoch_logs)
                training_logs = epoch_logs
                run_state.epoch, run_state.batch, run_state.samples = epoch + 1, 0, 0
                run_state.shuffle_state = progress.shuffle_state(rng)
                run_state.stop_training = bool(model.stop_training)
                callbacks.call("on_run_epoch_end", run_state)
                if model.stop_training or data.exhausted:
                    break
            callbacks.call("on_train_end", dict(training_logs or {}))
            return training_logs
        except BaseException:
            if not done["calls"]:
                undo()  # nothing trained: bad data must not leave what it resolved behind
            raise
        finally:
            callbacks.call("on_run_end", run_state)


def train_once(model, program: Program, batch, undo: Callable) -> dict:
    """One training step on one batch (``train_on_batch``); returns its logs."""
    variables = jit.state_variables(model, "train")
    first = jit.initial_state(model, "train", variables)
    with state_mod.bind(model, first, variables) as live, InterruptGuard() as guard:
        guard.critical = True
        try:
            live.state, logs = program.single(live.state, batch)
        except BaseException:
            undo()
            raise
        finally:
            guard.critical = False
        guard.check()
    return logs
