"""Nested structures (as ``keras.tree``): flatten, map and repack lists, tuples, dicts and namedtuples.

The rules are Keras 3's (its optree backend's):

* The containers are ``list``, ``tuple``, ``namedtuple`` (and other named tuples such as
  ``os.stat_result``), ``dict``, ``collections.OrderedDict``, ``collections.defaultdict`` and
  ``collections.deque``. Everything else is a leaf: arrays, strings, numbers, ``None``, kerasish
  ``Variable``\\ s and ``KerasTensor``\\ s, and objects that are JAX pytrees (a ``Variable`` is one for
  ``jax.jit``'s sake, yet here it is a single leaf, as in Keras).
* A ``dict`` (and a ``defaultdict``) is visited in sorted key order (insertion order when the keys do not
  sort); an ``OrderedDict`` in its own order. Repacking gives back the caller's key order.
* Two structures match when their containers are of the same kind (list is not tuple; two namedtuple
  classes differ) and have the same length or keys; ``dict``, ``OrderedDict`` and ``defaultdict`` match
  each other when their keys do. A mismatch raises ``ValueError``, as in Keras.

This module is plain Python (no optree, which is a dependency of Keras, not of kerasish): the structures
given to it are small (model inputs, configs, shapes), and pure Python keeps Keras's exact rules.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path", "is_nested",
    "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to", "pack_sequence_as",
    "traverse",
]


class MAP_TO_NONE:  # noqa: N801 (Keras's name)
    """Returned by a :func:`traverse` function to put ``None`` in place of a sub-structure."""


_DICTS = (dict, collections.OrderedDict, collections.defaultdict)


def _is_named_tuple(x) -> bool:
    cls = type(x)
    return issubclass(cls, tuple) and cls is not tuple and (hasattr(cls, "_fields") or hasattr(cls, "n_fields"))


def _is_node(x, none_is_leaf: bool = True) -> bool:
    cls = type(x)
    if cls in (list, tuple, collections.deque) or cls in _DICTS:
        return True
    if x is None:
        return not none_is_leaf
    return _is_named_tuple(x)


def _keys(d) -> list:
    """A dict's keys in visiting order: sorted, except an OrderedDict's (and unsortable keys) in order."""
    if type(d) is collections.OrderedDict:
        return list(d)
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def _children(x) -> tuple[list, list]:
    """``(paths, values)`` of a container's direct children, in visiting order."""
    if x is None:
        return [], []
    if type(x) in _DICTS:
        keys = _keys(x)
        return keys, [x[k] for k in keys]
    values = list(x)
    return list(range(len(values))), values


def _rebuild(x, values: list):
    """A container like ``x`` holding ``values`` (in visiting order)."""
    cls = type(x)
    if x is None:
        return None
    if cls in _DICTS:
        by_key = dict(zip(_keys(x), values))
        items = [(k, by_key[k]) for k in x]  # the caller's key order
        if cls is collections.defaultdict:
            return collections.defaultdict(x.default_factory, items)
        return cls(items)
    if cls is list:
        return values
    if cls is tuple:
        return tuple(values)
    if cls is collections.deque:
        return collections.deque(values, maxlen=x.maxlen)
    if hasattr(cls, "_fields"):
        return cls(*values)
    return cls(values)  # a structseq such as os.stat_result


def _kind(x):
    return "dict" if type(x) in _DICTS else type(x)


def _same_node(a, b, none_is_leaf: bool = True) -> None:
    """ValueError unless ``b`` is a container of ``a``'s kind with the same length or keys."""
    if not _is_node(b, none_is_leaf) or _kind(a) != _kind(b):
        expected = "None" if a is None else f"an instance of {type(a).__name__}"
        raise ValueError(f"The two structures don't have the same nested structure: expected {expected}, "
                         f"got {b!r}.")
    if type(a) in _DICTS:
        if set(a) != set(b):
            raise ValueError(f"The two structures don't have the same nested structure: dictionary keys "
                             f"{sorted(map(repr, a))} and {sorted(map(repr, b))} differ.")
    elif len(a) != len(b):
        raise ValueError(f"The two structures don't have the same nested structure: {type(a).__name__} of "
                         f"length {len(a)} and of length {len(b)}.")


def _leaves(x, none_is_leaf: bool = True, is_leaf: Callable | None = None, path=(), out=None) -> list:
    out = [] if out is None else out
    if (is_leaf is not None and is_leaf(x)) or not _is_node(x, none_is_leaf):
        out.append((path, x))
        return out
    for key, child in zip(*_children(x)):
        _leaves(child, none_is_leaf, is_leaf, path + (key,), out)
    return out


def _up_to(shallow, x, none_is_leaf: bool = True, is_leaf: Callable | None = None) -> list:
    """``x``'s sub-structures at the places of ``shallow``'s leaves (``x`` may be deeper, never shallower)."""
    if (is_leaf is not None and is_leaf(shallow)) or not _is_node(shallow, none_is_leaf):
        return [x]
    _same_node(shallow, x, none_is_leaf)
    out = []
    keys, values = _children(shallow)
    for key, child in zip(keys, values):
        out.extend(_up_to(child, x[key], none_is_leaf, is_leaf))
    return out


def _pack(structure, leaves, none_is_leaf: bool = True, is_leaf: Callable | None = None):
    if (is_leaf is not None and is_leaf(structure)) or not _is_node(structure, none_is_leaf):
        return next(leaves)
    return _rebuild(structure, [_pack(c, leaves, none_is_leaf, is_leaf) for c in _children(structure)[1]])


def is_nested(structure) -> bool:
    """Whether ``structure`` is a container (list, tuple, namedtuple, dict, deque), not a leaf.

    Example:
        >>> kerasish.tree.is_nested({"a": 1}), kerasish.tree.is_nested(None)
        (True, False)
    """
    return _is_node(structure)


def flatten(structure) -> list:
    """The leaves of ``structure`` in order (dicts by sorted key); a leaf gives ``[leaf]``.

    Example:
        >>> kerasish.tree.flatten({"b": [1, 2], "a": None})
        [None, 1, 2]
    """
    return [leaf for _, leaf in _leaves(structure)]


def flatten_with_path(structure) -> list[tuple[tuple, Any]]:
    """``[(path, leaf), ...]``: each path is the tuple of indices and keys that leads to its leaf.

    Example:
        >>> kerasish.tree.flatten_with_path([{"foo": 42}])
        [((0, 'foo'), 42)]
    """
    return _leaves(structure)


def map_structure(func: Callable, *structures, none_is_leaf: bool = True):
    """``func`` applied to the leaves of ``structures`` (same layout), in a structure like the first's.

    Args:
        func: called with one leaf of each structure.
        *structures: one or more structures with the same layout.
        none_is_leaf: if False, ``None`` entries are kept as they are and not passed to ``func``.

    Raises:
        TypeError: no structure, or ``func`` is not callable.
        ValueError: the structures' layouts differ.
    """
    if not structures:
        raise ValueError("map_structure needs at least one structure.")
    if not callable(func):
        raise TypeError(f"map_structure: func must be callable, got {func!r}.")
    first = structures[0]
    flat = [[leaf for _, leaf in _leaves(first, none_is_leaf)]]
    for other in structures[1:]:
        parts = _up_to(first, other, none_is_leaf)
        for part in parts:
            if _is_node(part, none_is_leaf):
                raise ValueError("The two structures don't have the same nested structure: "
                                 f"{part!r} is nested where the first structure has a leaf.")
        flat.append(parts)
    return _pack(first, iter([func(*args) for args in zip(*flat)]), none_is_leaf)


def map_structure_up_to(shallow_structure, func: Callable, *structures):
    """``func`` applied to the sub-structures of ``structures`` found at the leaves of ``shallow_structure``.

    The structures may be nested deeper than ``shallow_structure`` (what is below one of its leaves is
    passed whole to ``func``), never shallower. ``None`` in ``shallow_structure`` is a leaf.

    Keras 3.15's own implementation (on optree) raises for a ``None`` in ``shallow_structure``; this one
    follows Keras's documented behaviour (``map_structure_up_to([None, None], len, [[1, 1], [2, 2]])`` is
    ``[2, 2]``).

    Raises:
        ValueError: a structure does not match ``shallow_structure`` down to its leaves.
    """
    if not structures:
        raise ValueError("map_structure_up_to needs at least one structure.")
    if not callable(func):
        raise TypeError(f"map_structure_up_to: func must be callable, got {func!r}.")
    parts = [_up_to(shallow_structure, s) for s in structures]
    return _pack(shallow_structure, iter([func(*args) for args in zip(*parts)]))


def assert_same_structure(a, b, check_types=None) -> None:
    """ValueError unless ``a`` and ``b`` nest the same containers the same way (leaves may differ).

    ``check_types`` is accepted for Keras's sake and ignored (Keras deprecated it too).
    """
    del check_types
    for part in _up_to(a, b):
        if _is_node(part):
            raise ValueError(f"The two structures don't have the same nested structure: {part!r} is nested where "
                             "the first structure has a leaf.")


def assert_same_paths(a, b) -> None:
    """ValueError unless ``a`` and ``b`` have the same leaf paths (container kinds may differ: a list
    matches a tuple or a namedtuple with the same positions)."""
    a_paths = {p for p, _ in _leaves(a)}
    b_paths = {p for p, _ in _leaves(b)}
    if a_paths != b_paths:
        msg = "`a` and `b` don't have the same paths."
        if a_paths - b_paths:
            msg += f"\nPaths in `a` missing in `b`:\n{a_paths - b_paths}"
        if b_paths - a_paths:
            msg += f"\nPaths in `b` missing in `a`:\n{b_paths - a_paths}"
        raise ValueError(msg)


def pack_sequence_as(structure, flat_sequence):
    """``flat_sequence``'s items put in the places of ``structure``'s leaves (the inverse of :func:`flatten`).

    Raises:
        TypeError: ``flat_sequence`` is not a sequence.
        ValueError: it has more or fewer items than ``structure`` has leaves.
    """
    if isinstance(flat_sequence, (str, bytes)) or not hasattr(flat_sequence, "__len__"):
        raise TypeError(f"pack_sequence_as: flat_sequence must be a sequence, got {type(flat_sequence).__name__}.")
    flat = list(flat_sequence)
    n = len(_leaves(structure))
    if len(flat) != n:
        raise ValueError(f"pack_sequence_as: the structure has {n} leaves; flat_sequence has {len(flat)} items.")
    return _pack(structure, iter(flat))


def traverse(func: Callable, structure, top_down: bool = True):
    """Calls ``func`` on every sub-structure (depth first) and builds the result from what it returns.

    Top-down (``top_down=True``), a parent is visited before its children: ``func`` returning None goes
    on into the children; anything else replaces the sub-structure and its children are not visited.
    Bottom-up, children are visited first: None keeps the (rebuilt) sub-structure, anything else replaces
    it. To put ``None`` in a place, return :class:`MAP_TO_NONE`.

    Example:
        >>> seen = []
        >>> kerasish.tree.traverse(seen.append, [(1, 2), [3]])
        [(1, 2), [3]]
        >>> seen
        [[(1, 2), [3]], (1, 2), 1, 2, [3], 3]
    """
    if not callable(func):
        raise TypeError(f"traverse: func must be callable, got {func!r}.")

    def children_done(x):
        if not _is_node(x):
            return x
        return _rebuild(x, [visit(c) for c in _children(x)[1]])

    def visit(x):
        if top_down:
            out = func(x)
            if out is None:
                return children_done(x)
        else:
            done = children_done(x)
            out = func(done)
            if out is None:
                return done
        return None if out is MAP_TO_NONE else out

    return visit(structure)


def lists_to_tuples(structure):
    """The structure with every list turned into a tuple."""
    return traverse(lambda x: tuple(x) if isinstance(x, list) else None, structure, top_down=False)


def _is_shape(x) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(d, (int, type(None))) for d in x)


def map_shape_structure(func: Callable, structure):
    """:func:`map_structure` over shapes: a list or tuple of ints and Nones is passed whole to ``func``.

    Example:
        >>> kerasish.tree.map_shape_structure(len, {"a": (None, 3), "b": [(2,), (4, 5)]})
        {'a': 2, 'b': [1, 2]}
    """
    return _pack(structure, iter([func(leaf) for _, leaf in _leaves(structure, is_leaf=_is_shape)]),
                 is_leaf=_is_shape)
