"""Symbolic tensors and graph nodes for the functional API."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


class KerasTensor:
    """A placeholder with a shape (``None`` for the batch) and a dtype.

    Layers called on KerasTensors record a :class:`Node` instead of computing;
    ``kerasish.Model(inputs, outputs)`` replays the recorded graph.
    """

    def __init__(self, shape, dtype="float32", name: str | None = None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = jnp.dtype(dtype)
        self.name = name
        self._history: tuple[Any, int, int] | None = None  # (layer, node_index, tensor_index)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape} dtype={self.dtype.name} name={self.name}>"

    def _unsupported(self, *args, **kwargs):
        from kerasish.errors import KerasishError

        raise KerasishError(
            "A symbolic KerasTensor cannot be used in a raw JAX/NumPy operation. Wrap the operation in a "
            "kerasish.layers.Lambda layer, or write a custom Layer."
        )

    __add__ = __radd__ = __mul__ = __rmul__ = __sub__ = __rsub__ = __truediv__ = __matmul__ = _unsupported
    __jax_array__ = __array__ = _unsupported


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


def symbolic_call(layer, args: tuple, kwargs: dict):
    """A layer called on KerasTensors: its output specs from ``jax.eval_shape`` of its own call, and a
    :class:`Node` recording the call (the functional graph)."""
    from kerasish.backend import StatelessScope

    first = args[0]
    in_shape = jax.tree.map(lambda t: t.shape, first, is_leaf=is_keras_tensor)
    layer._maybe_build(in_shape)
    flat, treedef = jax.tree.flatten((args, kwargs), is_leaf=is_keras_tensor)
    positions = [i for i, x in enumerate(flat) if isinstance(x, KerasTensor)]
    specs = [to_spec(flat[i].shape, flat[i].dtype, batch=2) for i in positions]
    symbolic_batch = any(flat[i].shape and flat[i].shape[0] is None for i in positions)

    def run(*arrays):
        filled = list(flat)
        for i, a in zip(positions, arrays):
            filled[i] = a
        a2, k2 = jax.tree.unflatten(treedef, filled)
        if not layer._call_has_mask:
            k2 = {k: v for k, v in k2.items() if k != "mask"}
        with StatelessScope({}, rng=jax.random.PRNGKey(0), training=False):
            return layer._call_autocast(*layer._autocast_inputs(a2, layer._resolve_training(k2)))

    out_specs = jax.eval_shape(run, *specs)
    node_index = len(layer._inbound_nodes)
    counter = iter(range(10**9))

    def make(spec):
        shape = tuple(spec.shape)
        if symbolic_batch and shape:
            shape = (None,) + shape[1:]
        t = KerasTensor(shape, spec.dtype, name=layer.name)
        t._history = (layer, node_index, next(counter))
        return t

    outputs = jax.tree.map(make, out_specs)
    layer._inbound_nodes.append(Node(layer, args, kwargs, outputs))
    return outputs
