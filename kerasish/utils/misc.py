"""Small Keras utilities: ``normalize``, ``get_source_inputs``, ``standardize_dtype``, ``plot_model``."""

from __future__ import annotations

import numpy as np

from kerasish.errors import ConfigError


def normalize(x, axis: int = -1, order: int = 2):
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as 1: zero vectors stay zero).

    A NumPy array gives a NumPy array; anything else a JAX array. (Keras 3.15's NumPy path normalizes
    along the last axis when given ``axis=0``; kerasish uses the axis given.)
    """
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis if axis is not None else -1)
    import jax.numpy as jnp

    x = jnp.asarray(x)
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.where(norm == 0, 1, norm)


def get_source_inputs(tensor) -> list:
    """The ``kerasish.Input`` tensors a symbolic tensor was computed from (itself if it is one)."""
    from kerasish.layers.core import InputLayer
    from kerasish.layers.symbolic import KerasTensor

    if not isinstance(tensor, KerasTensor):
        return tensor
    if tensor._history is None:
        return [tensor]
    layer, node_index, _ = tensor._history
    if isinstance(layer, InputLayer):
        return [tensor]
    sources: list = []
    for t in layer._inbound_nodes[node_index].input_tensors:
        for s in get_source_inputs(t):
            if all(s is not seen for seen in sources):
                sources.append(s)
    return sources


def standardize_dtype(dtype) -> str:
    """A dtype's name as a string, as Keras's (``None`` and ``float`` give floatx, ``int`` gives "int32"
    while JAX's 64-bit mode is off)."""
    from kerasish.settings import _dtype_name

    return _dtype_name(dtype)


def _require_pydot():
    try:
        import pydot
    except ImportError:
        raise ConfigError("plot_model and model_to_dot need pydot (pip install pydot) and Graphviz "
                          "(https://graphviz.org/download/); pydot is not installed.") from None
    return pydot


def model_to_dot(model, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200, subgraph: bool = False,
                 show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho",
                 **kwargs):
    """The model's layer graph as a ``pydot.Dot`` (one box per layer, an edge per connection).

    Needs pydot. ``expand_nested`` and ``subgraph`` are accepted and ignored (nested models are one box).
    """
    pydot = _require_pydot()
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, dpi=dpi, splines=splines)
    nodes = getattr(model, "_nodes", None)
    layers = list(model.layers)
    if getattr(model, "_input_layer", None) is not None:
        layers.insert(0, model._input_layer)
    elif nodes is not None:
        layers = [t._history[0] for t in model.inputs] + layers
    for layer in layers:
        label = layer.name if show_layer_names else type(layer).__name__
        if show_layer_names:
            label = f"{layer.name} ({type(layer).__name__})"
        if show_layer_activations and hasattr(layer, "activation"):
            label += f"\\nactivation: {getattr(layer.activation, '__name__', layer.activation)}"
        if show_dtype:
            label += f"\\ndtype: {getattr(layer, 'dtype', None)}"
        if show_shapes:
            shape = getattr(getattr(layer, "output_tensor", None), "shape", None)
            if shape is None and getattr(layer, "_inbound_nodes", None):
                out = layer._inbound_nodes[-1].outputs
                shape = getattr(out, "shape", None)
            label += f"\\noutput: {shape}"
        if show_trainable:
            label += f"\\ntrainable: {layer.trainable}"
        dot.add_node(pydot.Node(str(id(layer)), label=label, shape="record"))
    if nodes is not None:
        for node in nodes:
            for t in node.input_tensors:
                dot.add_edge(pydot.Edge(str(id(t._history[0])), str(id(node.layer))))
    else:
        for a, b in zip(layers, layers[1:]):
            dot.add_edge(pydot.Edge(str(id(a)), str(id(b))))
    return dot


def plot_model(model, to_file: str = "model.png", show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = False, rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200,
               show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho",
               **kwargs):
    """Draw the model's layer graph to an image file (``.png``, ``.svg``, ``.pdf``, ``.dot``, ...).

    Needs pydot and Graphviz; raises ConfigError saying so when they are missing.
    """
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                       splines=splines)
    extension = str(to_file).rsplit(".", 1)[-1] if "." in str(to_file) else "png"
    dot.write(to_file, format="raw" if extension == "dot" else extension)
