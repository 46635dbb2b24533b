"""``predict``'s outputs: each call's raw output kept on the device, assembled on the host at the end.

A call's output is a pytree of device arrays with ``rows`` real rows (a padded last batch has more),
stacked ``(k, batch, ...)`` for a fused call. Reshaping and trimming them on the device would run
(and the first time compile) two small XLA programs per call, and converting each output when its
call returns would wait for it before the next call is dispatched. So the outputs stay on the device
(their copies to the host started as soon as they are computed) until the last call is dispatched;
then each is fetched once, reshaped and trimmed with NumPy, and the parts concatenated: the same
values, bit for bit.

Arrays spanning several processes (a multi-process distribution) are gathered when their call
returns, as every process must make those gathers in the same order.
"""

from __future__ import annotations

import jax
import numpy as np

from kerasish import distribution as distribution_mod


class PredictOutputs:
    """Collects ``predict``'s call outputs (:meth:`keep`, the loop's ``on_output``) and joins them (:meth:`join`)."""

    def __init__(self):
        self._parts: list = []  # (output tree, fused, rows)

    def __len__(self) -> int:
        return len(self._parts)

    def keep(self, out, call) -> None:
        """One call's raw output (``call``: an ``adapters.Call``: ``fused`` and ``rows``)."""
        def start(a):
            if distribution_mod.is_global(a):
                return distribution_mod.to_host(a)  # a collective: in call order, on every process
            copy = getattr(a, "copy_to_host_async", None)
            if copy is not None:
                copy()  # the transfer overlaps the next calls (a no-op on the CPU)
            return a

        self._parts.append((jax.tree.map(start, out), call.fused, call.rows))

    def join(self):
        """The outputs of every call, as NumPy arrays of ``sum(rows)`` rows (the structure the step returned)."""
        host = [jax.tree.map(lambda a, fused=fused, rows=rows: _trimmed(a, fused, rows), out)
                for out, fused, rows in self._parts]
        self._parts = []  # (one part is copied too: a fresh, writable array, never a view of a device buffer)
        return jax.tree.map(lambda *parts: np.concatenate(parts, axis=0), *host)


def _trimmed(a, fused: bool, rows: int) -> np.ndarray:
    """One output leaf on the host: a fused call's ``(k, batch, ...)`` as ``(k * batch, ...)``, its real rows."""
    a = np.asarray(a)
    if fused:
        a = a.reshape((-1,) + a.shape[2:])
    return a[:rows]
