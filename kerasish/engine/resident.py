"""Device-resident training data: ``fit``'s arrays placed on the device once, gathered there by each call.

On the host path every fused call gathers its k batches from the NumPy arrays (the epoch's shuffled
order), stacks them and transfers them: where a step is short, that gather and transfer bound the call.
When the arrays fit a fraction of the device's memory (:func:`kerasish.config.set_resident_data`; by
default 0.25 on an accelerator and off on the CPU, where it measured slower: XLA's gather inside the
loop costs more than NumPy's, which JAX's asynchronous dispatch overlaps with the steps on another core;
tiny MLP 0.85-0.9x), ``fit`` places them (and the sample weights,
class weights folded in) on the device once, and each epoch's order (the same NumPy permutation the host
path draws) as one int32 vector. A resident call is then ``(state, (arrays, order, first, count))``: one
jitted loop of ``count`` steps, each gathering its batch's rows ``order[first + i*size : ... + size]`` on
the device and running the same step function as the host path. ``count`` is a traced value, so one
compiled program serves every call length: the probe's calls, and the long ones that follow it.

What stays on the host path: data over the budget, generators, PyDatasets and other streams, a
distribution or several processes, and every single step (a short last batch is padded on the host,
as before). The results are bitwise those of the host path: the same rows, in the same order, through
the same step.

How long a resident call is: with ``steps_per_execution`` as an int, that many steps (Keras's meaning:
callbacks hear of every batch after each call). With ``"auto"``, once fusing has won the probe, the rest
of the epoch's full batches in one call ("whole-epoch programs"), at most :data:`LONG_CALL_FACTOR` times
the probe's k (about 1.6 s at its 50 ms target), so a progress bar still moves on a long epoch.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

DEFAULT_FRACTION = 0.25  # on an accelerator (the CPU's default is 0: see above)
LONG_CALL_FACTOR = 32  # an "auto" resident call runs at most this many times the probe's k


class Placed(NamedTuple):
    """A resident call's inputs: the device arrays (the packed ``(x, y, sample_weight)`` structure), the
    epoch's order (int32), the first position in it, the steps to run, and the batch size and most steps
    any call of this fit runs (static: the loop's logs buffer)."""

    arrays: object
    order: jax.Array
    first: int
    count: int
    size: int
    capacity: int


def fraction() -> float:
    from kerasish import config

    value = config.resident_data()
    if value is None:
        return 0.0 if jax.default_backend() == "cpu" else DEFAULT_FRACTION
    return value


def device_memory() -> int:
    """The bytes the default device holds: its allocator's limit on an accelerator, else (the CPU) the memory
    this process may use."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # noqa: BLE001 - a backend without memory statistics
        stats = {}
    limit = stats.get("bytes_limit")
    if isinstance(limit, int) and limit > 0:
        return limit
    from kerasish.saving.limits import memory_available

    return memory_available()


def nbytes(tree) -> int:
    return int(sum(np.asarray(a).nbytes for a in jax.tree.leaves(tree)))


def eligible(tree) -> bool:
    """Whether arrays of ``tree``'s size may live on the device: within the budget, one process, no
    distribution (a sharded layout is left to the host path)."""
    from kerasish import distribution as distribution_mod

    share = fraction()
    if share <= 0 or jax.process_count() > 1 or distribution_mod.distribution() is not None:
        return False
    return nbytes(tree) <= share * device_memory()


def place(tree):
    """``tree``'s arrays on the default device (one transfer each)."""
    return jax.device_put(tree)


def order_on_device(order: np.ndarray | None, n: int) -> jax.Array:
    """The epoch's order as an int32 device vector (``arange(n)`` when not shuffled)."""
    return jax.device_put(np.arange(n, dtype=np.int32) if order is None else order.astype(np.int32))


def step_loop(step, state, batch, count, capacity: int):
    """``count`` steps of ``step`` from ``state``, the i-th on ``batch(i)``; returns ``(state, logs)`` with the logs
    stacked in a buffer of ``capacity`` rows (the first ``count`` written), so that ``count`` may be traced.

    A count known when tracing (a host fused call's k) is a ``lax.scan``, which traces the step once; a traced
    count needs the logs' shapes first (one more trace, abstract), for the buffer the loop writes into.
    """
    if isinstance(count, int) and count == capacity:
        return jax.lax.scan(lambda s, i: step(s, batch(i)), state, jnp.arange(count))
    logs_shape = jax.eval_shape(lambda s: step(s, batch(0))[1], state)
    buffer = jax.tree.map(lambda s: jnp.zeros((capacity,) + s.shape, s.dtype), logs_shape)

    def body(i, carry):
        state, buffer = carry
        state, logs = step(state, batch(i))
        return state, jax.tree.map(lambda b, v: b.at[i].set(v), buffer, logs)

    return jax.lax.fori_loop(0, count, body, (state, buffer))


def make_resident(step):
    """``(state, Placed) -> (state, logs)``: ``count`` steps of ``step`` over batches gathered on the device.

    The logs come stacked in a buffer of ``capacity`` rows, the first ``count`` of them written (the loop reads
    only those), so that the call's length is not part of the compiled program.
    """

    def loop(state, arrays, order, first, count, size: int, capacity: int):
        def batch(i):
            rows = jax.lax.dynamic_slice(order, (first + i * size,), (size,))
            return jax.tree.map(lambda a: jnp.take(a, rows, axis=0, mode="clip"), arrays), None

        return step_loop(step, state, batch, count, capacity)

    jitted = jax.jit(loop, static_argnames=("size", "capacity"), donate_argnums=0)

    def resident(state, placed: Placed):
        return jitted(state, placed.arrays, placed.order, np.int32(placed.first), np.int32(placed.count),
                      size=placed.size, capacity=placed.capacity)

    resident.jitted = jitted  # (its compiled programs are counted by tests)
    return resident
