"""Where Keras 3 keeps each variable in its HDF5 weights (``.weights.h5`` and a ``.keras`` file's
``model.weights.h5``).

Keras names a variable by the path of attributes that reaches its layer from the model, not by layer
names: ``layers/dense_1/vars/0`` is the first variable of the second ``Dense`` in a model's ``layers``
list (list items are named by their snake-cased class, numbered per class), ``layers/lstm/cell/vars/2``
the third of the LSTM's ``cell`` attribute, ``dense_a/vars/0`` a subclassed model's ``self.dense_a``.
A layer's own variables (trainable first, then non-trainable, in creation order) are ``vars/0``,
``vars/1``, ...; its sublayers follow under their attribute names, public names before private ones,
each sublayer once (the first path that reaches it).

kerasish layers keep their sublayers in attributes named as Keras names them, so one walk mirrors
Keras's. Where the names differ, two tables below say how (looked up along the class's MRO, so a user's
subclass of MultiHeadAttention is saved as Keras saves it):

* ``_ATTR_RENAMES``: ``{kerasish attribute: Keras attribute}`` (Keras reaches MultiHeadAttention's
  projections through the public properties ``query_dense``, ...);
* ``_OWN_VARS_GROUP``: the Keras sublayer that owns what kerasish keeps on the layer itself
  (``"cell"`` for ConvLSTM, whose weights Keras keeps on its cell).
"""

from __future__ import annotations

from kerasish.layers.base import Layer, to_snake_case

# kerasish's bookkeeping attributes that hold layers; Keras's walk never sees them.
_INTERNAL = frozenset({"_layers", "_input_layer", "_operations", "_inbound_nodes", "_nodes"})


_ATTR_RENAMES = {
    "MultiHeadAttention": {"_query_dense": "query_dense", "_key_dense": "key_dense",
                           "_value_dense": "value_dense", "_output_dense": "output_dense"},
}
# kerasish classes whose __name__ is not the name of Keras's Python class (list items are named after it).
_KERAS_CLASS_NAMES = {"GroupQueryAttention": "GroupedQueryAttention"}
_OWN_VARS_GROUP = {"ConvLSTM1D": "cell", "ConvLSTM2D": "cell", "ConvLSTM3D": "cell"}


def _by_class(table: dict, layer, default):
    """The entry of the nearest kerasish class in the layer's MRO (a user's subclass inherits it; a
    kerasish subclass, such as GroupedQueryAttention of MultiHeadAttention, has its own)."""
    for cls in type(layer).__mro__:
        if cls.__module__.startswith("kerasish."):
            return table.get(cls.__name__, default)
    return default


def _name_key(name: str) -> str:
    return f"~{name}" if name.startswith("_") else name


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _own_variables(layer) -> list:
    out, seen = [], set()
    for v in (*layer._trainable_vars, *layer._non_trainable_vars):
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _holds_layers(value) -> bool:
    if isinstance(value, Layer):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and any(isinstance(v, Layer) or _holds_layers(v) for v in value)


def keras_layers(model) -> list:
    """``model.layers`` as Keras 3 lists them for saving (a Sequential's without its InputLayer)."""
    return list(model.layers)


def _children(layer) -> list[tuple[str, object]]:
    """``(Keras attribute name, layer or container)`` in the order Keras's walk visits them."""
    renames = _by_class(_ATTR_RENAMES, layer, {})
    graph = getattr(layer, "config_holds_graph", False)
    found: dict[str, object] = {}
    for attr, value in vars(layer).items():
        if attr in _INTERNAL or attr.startswith("__") or not _holds_layers(value):
            continue
        found.setdefault(renames.get(attr, attr), value)
    first = []
    if graph:  # Sequential and Functional: their layers first, then any attributes a subclass added
        first = [("layers", keras_layers(layer))]
    elif getattr(layer, "is_model", False):  # a subclassed model: Keras's `layers` property sorts with the rest
        found.setdefault("layers", keras_layers(layer))
    return first + sorted(found.items(), key=lambda item: _name_key(item[0]))


def weight_paths(model) -> list[tuple[str, object]]:
    """``(HDF5 path of the variable's dataset, variable)`` for every variable Keras would save for ``model``.

    Paths are relative to the file's root, e.g. ``"layers/dense/vars/0"``.
    """
    out: list[tuple[str, object]] = []
    _walk(model, "", set(), out)
    return out


def saveable_groups(model) -> list[tuple[str, str]]:
    """``(group path, name)`` of every layer Keras records (with a ``vars`` group named after it)."""
    groups: list[tuple[str, str]] = []
    _walk(model, "", set(), [], groups)
    return groups


def _walk(layer, path: str, visited: set, out: list, groups: list | None = None) -> None:
    if id(layer) in visited:
        return
    visited.add(id(layer))
    own_group = _join(path, _by_class(_OWN_VARS_GROUP, layer, ""))
    for i, var in enumerate(_own_variables(layer)):
        out.append((_join(own_group, "vars", str(i)), var))
    if groups is not None:
        groups.append((path, layer.name))
    for attr, child in _children(layer):
        if isinstance(child, Layer):
            _walk(child, _join(path, attr), visited, out, groups)
        else:
            _walk_container(child, _join(path, attr), visited, out, groups, set())


def _walk_container(container, path: str, visited: set, out: list, groups, seen_containers: set) -> None:
    if id(container) in seen_containers:
        return
    seen_containers.add(id(container))
    items = list(container.values()) if isinstance(container, dict) else list(container)
    used: dict[str, int] = {}
    for item in items:
        if isinstance(item, Layer):
            cls = type(item).__name__
            name = _unique(to_snake_case(_KERAS_CLASS_NAMES.get(cls, cls)), used)
            _walk(item, _join(path, name), visited, out, groups)
        elif isinstance(item, (list, tuple, dict)):
            _walk_container(item, _join(path, _unique("container", used)), visited, out, groups, seen_containers)


def _unique(name: str, used: dict[str, int]) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
