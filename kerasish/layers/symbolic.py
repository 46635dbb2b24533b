"""Symbolic tensors and graph nodes for the functional API."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from kerasish.errors import InputError, KerasishError
from kerasish.ops._dispatch import SymbolicTensor


class KerasTensor(SymbolicTensor):
    """A placeholder with a shape (``None`` where unknown, as the batch) and a dtype.

    Layers called on KerasTensors record a :class:`Node` instead of computing, and so do ``kerasish.ops``
    functions and Python operators (``x + y``, ``x[:, 0]``, ``-x``, ...: as in Keras);
    ``kerasish.Model(inputs, outputs)`` replays the recorded graph.
    """

    def __init__(self, shape, dtype="float32", name: str | None = None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = jnp.dtype(dtype)
        self.name = name
        self._history: tuple[Any, int, int] | None = None  # (layer, node_index, tensor_index)
        self._keras_mask: KerasTensor | None = None  # the mask a symbolic output carries (Keras's attribute)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name} name={self.name}>"

    def _no_value(self, *args, **kwargs):
        from kerasish.errors import KerasishError

        raise KerasishError(
            f"A symbolic KerasTensor {self.shape} has no value: it cannot be converted to an array, a Python "
            "number or a bool, nor iterated. Use kerasish.ops functions on it (they record graph nodes), or write "
            "a custom Layer.")

    __jax_array__ = __array__ = __int__ = __float__ = __bool__ = __iter__ = _no_value

    # Python operators: kerasish.ops calls, recorded as graph nodes (Keras's KerasTensor has the same set)
    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().subtract(self, other)

    def __rsub__(self, other):
        return _ops().subtract(other, self)

    def __mul__(self, other):
        return _ops().multiply(self, other)

    def __rmul__(self, other):
        return _ops().multiply(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __truediv__(self, other):
        return _ops().true_divide(self, other)

    def __rtruediv__(self, other):
        return _ops().true_divide(other, self)

    def __floordiv__(self, other):
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops().floor_divide(other, self)

    def __mod__(self, other):
        return _ops().mod(self, other)

    def __rmod__(self, other):
        return _ops().mod(other, self)

    def __pow__(self, other):
        return _ops().power(self, other)

    def __rpow__(self, other):
        return _ops().power(other, self)

    def __neg__(self):
        return _ops().negative(self)

    def __abs__(self):
        return _ops().absolute(self)

    def __lt__(self, other):
        return _ops().less(self, other)

    def __le__(self, other):
        return _ops().less_equal(self, other)

    def __gt__(self, other):
        return _ops().greater(self, other)

    def __ge__(self, other):
        return _ops().greater_equal(self, other)

    def __ne__(self, other):
        return _ops().not_equal(self, other)

    __hash__ = object.__hash__

    def __and__(self, other):
        return _ops().logical_and(self, other)

    def __rand__(self, other):
        return _ops().logical_and(other, self)

    def __or__(self, other):
        return _ops().logical_or(self, other)

    def __ror__(self, other):
        return _ops().logical_or(other, self)

    def __xor__(self, other):
        return _ops().logical_xor(self, other)

    def __rxor__(self, other):
        return _ops().logical_xor(other, self)

    def __invert__(self):
        return _ops().logical_not(self)

    def __getitem__(self, key):
        return _ops().get_item(self, key)

    def __round__(self, ndigits=None):
        return _ops().round(self, ndigits or 0)


def _ops():
    from kerasish import ops

    return ops


def is_keras_tensor(x) -> bool:
    return isinstance(x, KerasTensor)


def any_symbolic(tree) -> bool:
    return any(isinstance(t, KerasTensor) for t in jax.tree.leaves(tree, is_leaf=is_keras_tensor))


class Node:
    """One call of a layer in a functional graph."""

    def __init__(self, layer, args: tuple, kwargs: dict, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in jax.tree.leaves((args, kwargs), is_leaf=is_keras_tensor)
                              if isinstance(t, KerasTensor)]
        self.output_tensors = [t for t in jax.tree.leaves(outputs, is_leaf=is_keras_tensor)]

    @property
    def parent_nodes(self) -> list[Node]:
        out = []
        for t in self.input_tensors:
            layer, node_index, _ = t._history
            out.append(layer._inbound_nodes[node_index])
        return out


def to_spec(shape, dtype, batch: int = 1) -> jax.ShapeDtypeStruct:
    """A concrete ShapeDtypeStruct for a symbolic shape: ``None`` becomes ``batch``."""
    return jax.ShapeDtypeStruct(tuple(batch if d is None else d for d in shape), jnp.dtype(dtype))


# Unknown sizes (None) are traced twice, with two different stand-ins: an output size that differs between the
# two traces depends on an unknown input size and is unknown (None) too; one that is equal is known.
_STAND_INS = (83, 89)


def infer_output_specs(fn, tensors):
    """``jax.eval_shape`` of ``fn`` on KerasTensors: a pytree of ShapeDtypeStructs whose shapes hold ``None``
    where they depend on an unknown input size."""
    first = jax.eval_shape(fn, *[to_spec(t.shape, t.dtype, batch=_STAND_INS[0]) for t in tensors])
    if not any(d is None for t in tensors for d in t.shape):
        return first
    second = jax.eval_shape(fn, *[to_spec(t.shape, t.dtype, batch=_STAND_INS[1]) for t in tensors])

    def merge(a, b):
        if a.ndim != b.ndim:
            from kerasish.errors import KerasishError

            raise KerasishError(f"The output rank depends on an unknown input size ({a.shape} vs {b.shape}).")
        return _SymbolicSpec(tuple(x if x == y else None for x, y in zip(a.shape, b.shape)), a.dtype)

    return jax.tree.map(merge, first, second)


class _SymbolicSpec:
    """A shape (with ``None``) and a dtype; what :func:`infer_output_specs` returns where sizes are unknown."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)


def symbolic_call(layer, args: tuple, kwargs: dict):
    """A layer called on KerasTensors: its output specs from ``jax.eval_shape`` of its own call, and a
    :class:`Node` recording the call (the functional graph)."""
    from kerasish.backend import StatelessScope

    first = args[0]
    in_shape = jax.tree.map(lambda t: t.shape, first, is_leaf=is_keras_tensor)
    layer._maybe_build(in_shape)
    flat, treedef = jax.tree.flatten((args, kwargs), is_leaf=is_keras_tensor)
    positions = [i for i, x in enumerate(flat) if isinstance(x, KerasTensor)]

    tensors = [flat[i] for i in positions]
    masked = [j for j, t in enumerate(tensors) if getattr(t, "_keras_mask", None) is not None]

    def run(*arrays):
        from kerasish.layers.masking import get_mask, set_mask, set_masks

        values, masks = arrays[:len(tensors)], arrays[len(tensors):]
        for j, m in zip(masked, masks):  # the inputs carry their masks, as at run time
            set_mask(values[j], m)
        filled = list(flat)
        for i, a in zip(positions, values):
            filled[i] = a
        a2, k2 = jax.tree.unflatten(treedef, filled)
        k2, mask = layer._with_masks(a2, k2)
        with StatelessScope({}, rng=jax.random.PRNGKey(0), training=False):
            out = layer._call_autocast(*layer._autocast_inputs(a2, layer._resolve_training(k2)))
        leaves = jax.tree.leaves(out)
        if not (leaves and all(get_mask(o) is not None for o in leaves)):
            set_masks(out, layer.compute_mask(a2[0], mask))
        return out, [get_mask(o) for o in leaves]

    try:
        out_specs, mask_specs = infer_output_specs(run, tensors + [tensors[j]._keras_mask for j in masked])
    except KerasishError:
        raise
    except Exception as e:  # a shape or dtype the call cannot take: say which layer, and its inputs
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise InputError(f"{type(layer).__name__} {layer.name!r} cannot be called on inputs of shape {shapes} "
                         f"(None: any size): {type(e).__name__}: {str(e).splitlines()[0]}") from e
    node_index = len(layer._inbound_nodes)
    counter = iter(range(10**9))

    def make(spec):
        t = KerasTensor(spec.shape, spec.dtype, name=layer.name)
        t._history = (layer, node_index, next(counter))
        return t

    outputs = jax.tree.map(make, out_specs)
    for t, m in zip(jax.tree.leaves(outputs, is_leaf=is_keras_tensor), mask_specs):
        if m is not None:  # Keras's ``_keras_mask`` of a symbolic output: its shape and dtype (not a graph node)
            t._keras_mask = KerasTensor(m.shape, m.dtype, name=f"{layer.name}_mask")
    layer._inbound_nodes.append(Node(layer, args, kwargs, outputs))
    return outputs
