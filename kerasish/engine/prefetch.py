"""Streamed inputs: the calls made from a stream of batches, and their background prefetch.

The host work of the next calls overlaps the device step.

For a generator, an iterable, a grain or torch loader and a :class:`kerasish.utils.PyDataset`, the
adapter's calls (pull an item, unpack, convert to NumPy, check it, pad and stack it into the
engine's batch: :func:`stream_calls`) run on one background thread, which also places each call's batch
on an accelerator (:func:`place`: laid out as the distribution says) and waits for the transfer (on the
CPU the batch stays in NumPy: :func:`hold`). The loop takes the calls in order from a queue, up to
``depth`` batches ahead (at least one call: with 2, two buffers, one in the step and one being filled).

What it keeps of the synchronous path:

* the same calls, in the same order (the background thread runs the very same generator);
* an exception raised while making a call (the user's generator, a NaN with ``check_finite=True``, a
  batch of the wrong shape) is raised on the fit's thread, the same exception object, when the loop
  reaches the call it belongs to, after the calls before it ran;
* an epoch never pulls more than its own batches (``steps_per_epoch``): a one-shot generator's next
  epoch starts where this one stopped, as without prefetch;
* the user's iterator is advanced by one thread at a time (a lock per data adapter), and when the loop
  stops (its end, ``stop_training``, an exception, Ctrl-C) the thread is told to stop, pulls nothing
  more, and is joined before the loop goes on (a PyDataset's ``on_epoch_end`` never runs beside it);
* while ``steps_per_execution="auto"`` is still timing calls, calls are made on the loop's thread (each
  call is made when the loop asks for it, with the number of steps the policy wants then); the thread
  starts once the number of steps per call is settled.

By default it runs on accelerators (2 batches ahead) and not on the CPU: there JAX's asynchronous dispatch
already overlaps making the next batch with the running step, and handing calls between threads cost more than
it saved on 2 cores (a dispatch-bound tiny MLP 0.7x, an MLP fed augmented batches about 0.95x), except for a
generator that waits (for storage: about 1.2x). ``kerasish.config.set_prefetch(n)`` (or ``KERASISH_PREFETCH=n``
in the environment) prefetches ``n`` batches for generators and iterables on any device; 0 turns it off. A PyDataset prefetches its
``max_queue_size`` (Keras's argument) instead. Turn it off, too, for an iterator that must run on the thread
that made it (one reading a ``sqlite3`` connection, for instance): with prefetching on, the user's iterator
(and a PyDataset's ``__getitem__`` and ``on_epoch_begin``) runs on the prefetch thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import numpy as np

from kerasish import distribution as distribution_mod
from kerasish.engine import batching


class Call(NamedTuple):
    """One call of a jitted step: its batch, how many steps it runs, whether fused, its real rows, and whether
    its batches are gathered on the device (``batch`` is then a :class:`kerasish.engine.resident.Placed`), and
    where its host batch is staged (:mod:`kerasish.engine.staging`)."""

    batch: Any
    steps: int
    fused: bool
    rows: int
    resident: bool = False
    staged: Any = None  # ``(staging, slot)``: the batch lies in reused host buffers, told of the call's output


def stream_calls(batches: Iterator, policy, maker: batching.BatchMaker, pad_to: Callable[[], int | None],
                 start: int = 0, check=None) -> Iterator[Call]:
    """A stream's calls from its host ``(x, y, sample_weight)`` batches (the first ``start`` skipped): k
    batches (``policy.k`` when the call is made) stacked into one fused call when they share a shape, else
    one call each, every batch padded to ``pad_to()`` rows. ``check(x, y)`` runs on every batch but the
    first (checked before training). Closing this closes ``batches``."""
    try:
        for _ in itertools.islice(batches, start):
            pass
        first = start == 0
        while True:
            k = policy.k
            chunk = list(itertools.islice(batches, k))
            if not chunk:
                return
            if check is not None:
                for i, (bx, by, _) in enumerate(chunk):
                    if not (first and i == 0):
                        check(bx, by)
            first = False
            host = [maker.make(bx, by, bsw, pad_to=pad_to()) for bx, by, bsw in chunk]
            rows = [batching.num_rows(bx) for bx, _, _ in chunk]
            if k == 1 or len(chunk) < k or not batching.same_shapes(host):
                for batch, n in zip(host, rows):
                    yield Call(batch, 1, False, n)
            else:
                yield Call(batching.stack(host), k, True, sum(rows))
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # a PyDataset's thread pool shuts down here, before its on_epoch_end


def depth() -> int:
    """Batches of a generator or iterable made ahead (0: prefetching is off): ``kerasish.config.prefetch()``, by
    default 2 on an accelerator and 0 on the CPU (see ``kerasish.config.set_prefetch``)."""
    from kerasish import config  # (it imports the layers, which need the engine)

    setting = config.prefetch()
    if setting is None:
        return 0 if jax.default_backend() == "cpu" else 2
    return setting


def place(call):
    """``call`` with its batch on the device: split on the batch axis as the distribution's steps take it
    (axis 1 for a fused call), on the default device without one; waits for the transfer, so that the
    host arrays (perhaps a buffer the user's generator refills) are free again when it returns."""
    dist = distribution_mod.distribution()
    if dist is None:
        batch = jax.device_put(call.batch, may_alias=False)
    elif jax.process_count() > 1:
        batch = dist.global_batch(call.batch, stacked=call.fused)
    else:
        batch = jax.device_put(call.batch, dist.batch_sharding(stacked=call.fused), may_alias=False)
    return call._replace(batch=jax.block_until_ready(batch))


def hold(call):
    """``call`` as the queue holds it: placed on the device by :func:`place` on an accelerator; on the CPU kept
    in NumPy, copied (a fused call's stacked batch is a copy already), since the step's own transfer costs less
    there than ``device_put`` (tiny MLP, batch 32, single steps: 1.5x the prefetched rate) and the copy keeps
    a batch that waits in the queue safe from a generator that refills its arrays."""
    if jax.default_backend() != "cpu":
        return place(call)
    return call if call.fused else call._replace(batch=jax.tree.map(np.array, call.batch))


_END = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class _Worker:
    """The background thread: makes up to ``ahead`` calls that the loop has not taken yet."""

    def __init__(self, calls: Iterator, ahead: int, lock: threading.Lock):
        self._calls, self._lock = calls, lock
        self._room = threading.Semaphore(ahead)  # one permit per call made and not yet taken
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kerasish-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._room.acquire()
                if self._stop.is_set():
                    return
                try:
                    with self._lock:
                        call = next(self._calls, _END)
                    if call is not _END:
                        call = hold(call)
                except BaseException as exc:  # noqa: BLE001 - handed to the loop's thread, raised there
                    self._queue.put(_Failed(exc))
                    return
                self._queue.put(call)
                if call is _END:
                    return
        finally:
            with self._lock:
                self._calls.close()  # the adapter's own cleanup (a PyDataset's thread pool), on this thread

    def get(self):
        item = self._queue.get()
        self._room.release()
        if isinstance(item, _Failed):
            raise item.error
        return item

    def close(self) -> None:
        """Stop making calls and wait for the thread (it finishes the call it is making, if any)."""
        self._stop.set()
        self._room.release()  # wakes a thread waiting for room
        self._thread.join()


def prefetched(calls: Iterator, depth: int, steps: Callable[[], int], settled: Callable[[], bool],
               lock: threading.Lock) -> Iterator[Any]:
    """``calls`` in order, made on a background thread up to ``depth`` batches ahead (0: on the caller's).

    Args:
        calls: the adapter's calls; this takes it over (it is closed when this is).
        depth: batches to make ahead; at least one call is made ahead.
        steps: the steps of a call once settled (``policy.k``), to count batches in calls.
        settled: whether the number of steps per call is fixed now (False while it is being measured).
        lock: held whenever ``calls`` is advanced (the user's iterator is never run by two threads).
    """
    worker = None
    try:
        if depth > 0:
            while not settled():
                with lock:
                    call = next(calls, _END)
                if call is _END:
                    return
                yield call
            worker = _Worker(calls, max(1, depth // max(1, steps())), lock)
            while (call := worker.get()) is not _END:
                yield call
        else:
            yield from calls
    finally:
        if worker is not None:
            worker.close()
        else:
            with lock:
                calls.close()
