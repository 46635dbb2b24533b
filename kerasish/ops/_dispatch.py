"""How an op meets a symbolic tensor: ``@keras_op`` functions run as themselves on arrays, and hand the call to
the functional API's handler when any argument is a symbolic tensor.

``kerasish.ops`` sits below the layers: it never imports them. ``kerasish.layers.op_layer`` registers the
handler (which records the call as a graph node) when the layers are imported, and ``KerasTensor`` derives
from :class:`SymbolicTensor` so that the check here needs no import.
"""

from __future__ import annotations

import functools


class SymbolicTensor:
    """Base of the functional API's ``KerasTensor``: a shape and dtype, no values."""


_handler = None


def set_symbolic_handler(handler) -> None:
    """``handler(op, args, kwargs)`` is called instead of an op when an argument is symbolic."""
    global _handler
    _handler = handler


def _has_symbolic(value, depth: int = 0) -> bool:
    if isinstance(value, SymbolicTensor):
        return True
    if depth < 3 and isinstance(value, (list, tuple)):
        return any(_has_symbolic(v, depth + 1) for v in value)
    if depth < 3 and isinstance(value, dict):
        return any(_has_symbolic(v, depth + 1) for v in value.values())
    return False


def keras_op(fn):
    """Mark ``fn`` as a public op: on concrete values it is ``fn`` itself; on symbolic tensors the handler
    records a node of the functional graph."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _handler is not None and (_has_symbolic(args) or _has_symbolic(kwargs)):
            return _handler(op, args, kwargs)
        return fn(*args, **kwargs)

    op._keras_op = fn
    return op
