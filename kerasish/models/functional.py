"""Functional models: a graph of layer calls recorded on symbolic inputs, replayed on arrays."""

from __future__ import annotations

import jax

from kerasish.errors import ConfigError
from kerasish.layers.core import InputLayer
from kerasish.layers.symbolic import KerasTensor, Node, is_keras_tensor
from kerasish.models.model import Model, adjust_rank, check_call_shapes, flatten_struct
from kerasish.saving import registry
from kerasish.saving.sublayers import deserialize_sublayer, serialize_sublayer


def _map_graph(outputs: list[KerasTensor], inputs: list[KerasTensor]) -> tuple[list[Node], list]:
    """The nodes in execution order, and the layers in Keras's order.

    Keras lists a functional model's layers by depth, the ones nearest the
    inputs first, and within one depth in the order a depth-first walk from
    the outputs first meets them; ``get_weights()`` follows that order, so we
    follow it too.
    """
    input_ids = {id(t) for t in inputs}
    order: list[Node] = []  # post-order: every node after the nodes it reads from
    first_seen: dict[int, int] = {}
    state: dict[int, str] = {}

    def visit(tensor: KerasTensor):
        layer, node_index, _ = tensor._history
        node = layer._inbound_nodes[node_index]
        first_seen.setdefault(id(layer), len(first_seen))
        if id(tensor) in input_ids:
            return
        if isinstance(layer, InputLayer):
            raise ConfigError(
                f"Graph disconnected: the output needs input {tensor.name!r}, which is not among the model's "
                f"inputs {[t.name for t in inputs]}."
            )
        mark = state.get(id(node))
        if mark == "done":
            return
        if mark == "active":
            raise ConfigError("The layer graph has a cycle.")
        state[id(node)] = "active"
        for t in node.input_tensors:
            visit(t)
        state[id(node)] = "done"
        order.append(node)

    for t in outputs:
        visit(t)

    # Depths: outputs' nodes are 0; a node is one deeper than the deepest node reading it.
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers_by_id: dict[int, object] = {}
    for node in reversed(order):
        depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
        node_depth[id(node)] = depth
        layer_depth[id(node.layer)] = depth
        layers_by_id[id(node.layer)] = node.layer
        for t in node.input_tensors:
            parent_layer, parent_index, _ = t._history
            parent = parent_layer._inbound_nodes[parent_index]
            node_depth[id(parent)] = max(node_depth.get(id(parent), 0), depth + 1)
            if isinstance(parent_layer, InputLayer) or id(t) in input_ids:
                layer_depth[id(parent_layer)] = max(layer_depth.get(id(parent_layer), 0), depth + 1)
                layers_by_id[id(parent_layer)] = parent_layer
    for t in inputs:  # inputs that no output depends on still belong to the model
        layer = t._history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)] = 0
            first_seen[id(layer)] = -1
            layers_by_id[id(layer)] = layer
    layers = sorted(layers_by_id.values(), key=lambda l: (-layer_depth[id(l)], first_seen.get(id(l), -1)))
    return order, layers


class Functional(Model):
    """A model defined by ``Model(inputs, outputs)``; inputs and outputs may be tensors, lists or dicts.

    Called directly (``model(x)``, or on KerasTensors as a layer of another model), its inputs must fit its
    Inputs' shapes, as Keras: an InputError otherwise (see ``kerasish.models.model.check_call_shapes``)."""

    config_holds_graph = True  # the config records the layers and how they connect

    _convert_input_args = False  # inputs are cast to their Input's dtype in call; each layer casts its own

    def __init__(self, inputs, outputs, name: str | None = None, trainable: bool = True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._flat_inputs = flatten_struct(inputs)
        self._flat_outputs = flatten_struct(outputs)
        for what, tensors in (("inputs", self._flat_inputs), ("outputs", self._flat_outputs)):
            for t in tensors:
                if not isinstance(t, KerasTensor) or t._history is None:
                    raise ConfigError(f"Model {what} must be symbolic tensors from kerasish.Input and layer calls, "
                                      f"got {type(t).__name__}.")
        for t in self._flat_inputs:
            if not isinstance(t._history[0], InputLayer):
                raise ConfigError(f"Model inputs must come from kerasish.Input(); {t.name!r} is a layer output.")
        self._nodes, layers = _map_graph(self._flat_outputs, self._flat_inputs)
        names = [l.name for l in layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"All layer names in a model must be unique; {duplicates} appear more than once.")
        object.__setattr__(self, "_layers", layers)
        self.built = True

    @property
    def layers(self) -> list:
        """Keras 3's list: the InputLayers first, then the layers in graph order; ops on KerasTensors
        (``x + y``: OpLayer nodes) are operations of the graph, not layers, as in Keras."""
        from kerasish.layers.op_layer import OpLayer

        return [layer for layer in self._layers if not isinstance(layer, OpLayer)]

    @property
    def operations(self) -> list:
        """Every node's layer or op, in graph order (Keras's ``operations``)."""
        return list(self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._flat_inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._flat_outputs)

    @property
    def input(self):
        """The symbolic inputs in the structure the model was given them (one tensor for one input, as Keras)."""
        return self._inputs_struct

    @property
    def output(self):
        """The symbolic outputs in the structure of the model's outputs (as Keras)."""
        return self._outputs_struct

    @property
    def input_shape(self):
        """The inputs' shapes, in the structure the model was given its inputs (as Keras)."""
        return jax.tree.map(lambda t: t.shape, self._inputs_struct, is_leaf=is_keras_tensor)

    @property
    def output_shape(self):
        """The outputs' shapes, in the structure of the model's outputs (as Keras)."""
        return jax.tree.map(lambda t: t.shape, self._outputs_struct, is_leaf=is_keras_tensor)

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._inputs_struct, dict):
            return list(self._inputs_struct)
        return [t._history[0].name for t in self._flat_inputs]

    @property
    def output_names(self) -> list[str]:
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_struct)
        names = []
        for t in self._flat_outputs:
            base = t._history[0].name
            name, k = base, 1
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
        return names

    def _output_shapes(self) -> list[tuple]:
        return [t.shape for t in self._flat_outputs]

    def _input_specs(self):
        return [(n, t.shape) for n, t in zip(self.input_names, self._flat_inputs)]

    def build(self, input_shape) -> None:
        self.built = True

    def _check_input(self, input_shape) -> None:
        check_call_shapes(self, input_shape)

    def _inputs_from(self, inputs) -> list:
        if isinstance(inputs, dict):
            return [inputs[n] for n in self.input_names]
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        return [inputs]

    def call(self, inputs, training=None):
        given = self._inputs_from(inputs)
        values: dict[int, object] = {}
        for t, v in zip(self._flat_inputs, given):
            v = adjust_rank(v, t.shape)
            values[id(t)] = v.astype(t.dtype) if hasattr(v, "astype") and v.dtype != t.dtype else v

        def resolve(x):
            return values[id(x)] if isinstance(x, KerasTensor) else x

        for node in self._nodes:
            args, kwargs = jax.tree.map(resolve, (node.args, node.kwargs), is_leaf=is_keras_tensor)
            if node.layer._call_has_training and kwargs.get("training") is None:
                kwargs = {**kwargs, "training": training}
            out = node.layer(*args, **kwargs)
            for kt, o in zip(jax.tree.leaves(node.outputs, is_leaf=is_keras_tensor), jax.tree.leaves(out)):
                values[id(kt)] = o
        return jax.tree.map(lambda t: values[id(t)], self._outputs_struct, is_leaf=is_keras_tensor)

    # -- config -----------------------------------------------------------------------------
    def _local_node_index(self, layer, node) -> int:
        mine = [n for n in layer._inbound_nodes if any(n is m for m in self._nodes)]
        return next(i for i, n in enumerate(mine) if n is node)

    def _tensor_ref(self, t: KerasTensor) -> list:
        layer, node_index, tensor_index = t._history
        if isinstance(layer, InputLayer):
            return [layer.name, 0, tensor_index]
        index = self._local_node_index(layer, layer._inbound_nodes[node_index])
        # Keras counts a functional model's own construction as its node 0, so its calls start at 1.
        return [layer.name, index + 1 if isinstance(layer, Functional) else index, tensor_index]

    def _keras_tensor_entry(self, t: KerasTensor) -> dict:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype.name, "keras_history": self._tensor_ref(t)}}

    def get_config(self) -> dict:
        """Keras 3's functional config: every layer as ``serialize_keras_object`` writes it, plus its ``name``
        and ``inbound_nodes`` (the call arguments, each input tensor as a ``__keras_tensor__`` entry)."""
        layers = []
        for layer in self._layers:
            entry = serialize_sublayer(layer)
            if isinstance(layer, Functional):  # where Keras 3 finds (and writes) its functional models
                entry.update(module="keras.src.models.functional", registered_name="Functional")
            entry["name"] = layer.name
            nodes = []
            for node in self._nodes:
                if node.layer is layer:
                    args, kwargs = jax.tree.map(
                        lambda x: self._keras_tensor_entry(x) if isinstance(x, KerasTensor) else x,
                        (list(node.args), node.kwargs), is_leaf=is_keras_tensor)
                    nodes.append({"args": args, "kwargs": kwargs})
            entry["inbound_nodes"] = nodes
            layers.append(entry)

        def refs(struct):
            if isinstance(struct, dict):
                return {k: self._tensor_ref(v) for k, v in struct.items()}
            if isinstance(struct, (list, tuple)):
                return [self._tensor_ref(v) for v in struct]
            return self._tensor_ref(struct)

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": refs(self._inputs_struct), "output_layers": refs(self._outputs_struct)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """The model a functional config describes: Keras 3's, or the ``__tensor__`` references of older
        ``.kerasish`` files, or Keras 2's nested lists of inbound nodes."""
        created = {}
        outputs_by_node: dict[tuple[str, int], object] = {}
        pending = []
        # Keras's configs (entries with a "module") count a nested functional model's calls from 1.
        keras_format = any(isinstance(e, dict) and "module" in e for e in config["layers"])
        for entry in config["layers"]:
            layer = deserialize_sublayer(entry, custom_objects)
            name = entry.get("name") or layer.name
            created[name] = layer
            if isinstance(layer, InputLayer):
                outputs_by_node[(name, 0)] = layer.output_tensor
                continue
            for i, node in enumerate(entry.get("inbound_nodes", [])):
                pending.append((name, i, _node_call(node)))

        def tensor(ref):
            name, node_index, tensor_index = ref[:3]
            if keras_format and isinstance(created.get(name), Functional):
                node_index -= 1
            if (name, node_index) not in outputs_by_node:
                raise ConfigError(f"The model's config refers to call {ref[1]} of layer {name!r}, which it does "
                                  "not make.")
            out = outputs_by_node[(name, node_index)]
            return jax.tree.leaves(out, is_leaf=is_keras_tensor)[tensor_index]

        def ready(node) -> bool:
            refs = [_tensor_history(x) for x in jax.tree.leaves(node, is_leaf=_is_ref) if _is_ref(x)]
            shift = lambda name: 1 if keras_format and isinstance(created.get(name), Functional) else 0  # noqa: E731
            return all((r[0], r[1] - shift(r[0])) in outputs_by_node for r in refs)

        def restore(x):
            return tensor(_tensor_history(x)) if _is_ref(x) else x

        while pending:
            progressed = False
            for item in list(pending):
                name, i, node = item
                if not ready(node):
                    continue
                args, kwargs = jax.tree.map(restore, (node["args"], node["kwargs"]), is_leaf=_is_ref)
                outputs_by_node[(name, i)] = created[name](*args, **kwargs)
                pending.remove(item)
                progressed = True
            if not progressed:
                raise ConfigError("Cannot rebuild the model from its config: the layer graph is inconsistent.")

        def struct(refs):
            if isinstance(refs, dict):
                return {k: tensor(v) for k, v in refs.items()}
            if refs and isinstance(refs[0], list):
                return [tensor(r) for r in refs]
            return tensor(refs)

        return cls(struct(config["input_layers"]), struct(config["output_layers"]), name=config.get("name"),
                   trainable=config.get("trainable", True))


def _is_ref(x) -> bool:
    return isinstance(x, dict) and ("__tensor__" in x or x.get("class_name") == "__keras_tensor__")


def _tensor_history(ref: dict) -> list:
    if "__tensor__" in ref:
        return ref["__tensor__"]
    history = (ref.get("config") or {}).get("keras_history")
    if not isinstance(history, (list, tuple)) or len(history) < 3:
        raise ConfigError(f"A tensor in the model's config has no valid keras_history: {ref!r}.")
    return list(history)


def _node_call(node) -> dict:
    """``{"args", "kwargs"}`` of one call; Keras 2 wrote ``[[layer, node, tensor, kwargs], ...]`` instead."""
    if isinstance(node, dict):
        return {"args": node.get("args", []), "kwargs": node.get("kwargs") or {}}
    if not isinstance(node, list) or not all(isinstance(r, list) and len(r) >= 3 for r in node):
        raise ConfigError(f"Cannot read an inbound node of the model's config: {node!r}.")
    tensors = [{"__tensor__": list(r[:3])} for r in node]
    kwargs = node[0][3] if len(node[0]) > 3 and isinstance(node[0][3], dict) else {}
    return {"args": [tensors[0] if len(tensors) == 1 else tensors], "kwargs": kwargs}


registry.register_builtin(Functional, "Model")  # a config naming "Model" is a functional model's
Model.functional_class = Functional  # what Model(inputs, outputs) makes (model.py cannot import this module)
