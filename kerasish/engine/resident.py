"""Device-resident data: the arrays of ``fit`` (and its validation), ``evaluate`` and ``predict`` placed on the device
once, each call gathering its batches there.

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
``evaluate`` and ``predict`` run the same loop over their test and predict steps, in order; their arrays are placed
once per call (a caller may change an array between calls), fit's validation arrays once per fit. Arrays read in
order (no shuffling, one device) need no order vector: each batch is one run of rows, sliced.

On the CPU (one process, no distribution), when asked for, placing copies nothing: each array is read where it lies
(:mod:`kerasish.engine.in_place`). There, even without this module, the host path's fused calls over arrays read in
order take views of the rows they need rather than copies.

Under a distribution (one process), each device holds a replica of the arrays (the budget is each device's) and
gathers its own rows of every batch, sharded as the host path's batches are: the same rows reach the same device.
What stays on the host path: data over the budget, generators, PyDatasets and other streams, several
processes (each would hold only its own rows of the data), and every single step (a short last batch is padded on the host,
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
from jax.sharding import NamedSharding, PartitionSpec

from kerasish.engine import in_place as in_place_mod
from kerasish.engine import staging

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
    """Whether arrays of ``tree``'s size may live on the device: within the budget (of each device: under a
    distribution every device holds them all), and one process (several keep the host path)."""
    share = fraction()
    if share <= 0 or jax.process_count() > 1:
        return False
    return nbytes(tree) <= share * device_memory()


def _layout():
    """Where placed arrays go: the default device, or, under a distribution, every device of its mesh."""
    from kerasish import distribution as distribution_mod

    dist = distribution_mod.distribution()
    return None if dist is None else NamedSharding(dist.mesh, PartitionSpec())


def place(tree):
    """``tree``'s arrays on the device (one transfer each); under a distribution, a replica on each of its devices,
    so that every device gathers its rows of a batch from its own memory. On the CPU (one process, no
    distribution) no copy: each array is read where it lies (:class:`kerasish.engine.in_place.InPlace`)."""
    if staging.enabled():
        return jax.tree.map(in_place_mod.whole, tree)
    return jax.device_put(tree, _layout())


def take_block(arrays, start, size: int):
    """Rows ``start .. start + size`` of every placed array of ``arrays``: a slice of each array read in place
    (:meth:`~kerasish.engine.in_place.InPlace.block`), a gather of the others (as the host path's fused calls gather,
    so that the step compiles alike)."""
    rows = start + jnp.arange(size, dtype=jnp.int32)
    return jax.tree.map(lambda a: a.block(start, size) if in_place_mod.is_in_place(a)
                        else jnp.take(a, rows, axis=0, mode="clip"), arrays, is_leaf=in_place_mod.is_in_place)


def take_rows(arrays, rows):
    """The rows ``rows`` of every placed array of ``arrays``."""
    return jax.tree.map(lambda a: a.rows(rows) if in_place_mod.is_in_place(a) else jnp.take(a, rows, axis=0, mode="clip"),
                        arrays, is_leaf=in_place_mod.is_in_place)


def order_on_device(order: np.ndarray | None, n: int) -> jax.Array | None:
    """The epoch's order as an int32 device vector, placed as the arrays are; when not shuffled, ``None`` on one
    device (each batch is then one run of rows: :func:`take_block`), ``arange(n)`` under a distribution."""
    if order is None and _layout() is None:
        return None
    return jax.device_put(np.arange(n, dtype=np.int32) if order is None else order.astype(np.int32), _layout())


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


def make_resident(step, dist=None, state_shardings=None, donate: bool = True):
    """``(state, Placed) -> (state, logs)``: ``count`` steps of ``step`` over batches gathered on the device.

    The logs come stacked in a buffer of ``capacity`` rows, the first ``count`` of them written (the loop reads
    only those), so that the call's length is not part of the compiled program. ``donate``: the state's buffers
    are the call's to reuse (training copies its first state; evaluate's and predict's hold the model's weights).

    Under a distribution ``dist`` (one process), ``state_shardings(state)`` lays the state out as its sharded
    steps do; each gathered batch is constrained to the distribution's batch sharding, so every device gathers
    (from its replica of the arrays) and computes exactly the rows the host path would hand it.
    """

    def loop(state, arrays, order, first, count, size: int, capacity: int):
        def batch(i):
            if order is None:  # not shuffled, one device: the batch's rows are one slice of each array
                return take_block(arrays, first + i * size, size), None
            rows = jax.lax.dynamic_slice(order, (first + i * size,), (size,))
            if dist is not None:  # each device gathers its own rows
                rows = jax.lax.with_sharding_constraint(rows, NamedSharding(dist.mesh, PartitionSpec(dist.batch_dim_name)))
            data = take_rows(arrays, rows)
            if dist is not None:
                data = jax.lax.with_sharding_constraint(data, dist.batch_sharding())
            return data, None

        return step_loop(step, state, batch, count, capacity)

    statics = ("size", "capacity")
    if dist is None:
        jitted = jax.jit(loop, static_argnames=statics, donate_argnums=0 if donate else ())
    else:
        made: list = []  # the state's shardings need its structure: the jit is made at the first call

        def jitted(state, *args, **kwargs):
            if not made:
                shardings, replicated = state_shardings(state), dist.state_sharding()
                made.append(jax.jit(loop, static_argnums=(5, 6), donate_argnums=0 if donate else (),
                                    in_shardings=(shardings,) + (replicated,) * 4,
                                    out_shardings=(shardings, replicated)))
            return made[0](state, *args, kwargs["size"], kwargs["capacity"])  # (shardings take no kwargs)

        jitted.made = made

    def resident(state, placed: Placed):
        return jitted(state, placed.arrays, placed.order, np.int32(placed.first), np.int32(placed.count),
                      size=placed.size, capacity=placed.capacity)

    resident.jitted = jitted  # (its compiled programs are counted by tests)
    return resident
