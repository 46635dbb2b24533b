"""Layer (de)serialization through a registry of known classes (no pickling, no code in configs).

A class name read from a config resolves only through a dictionary: the
user's ``custom_objects``, the classes registered with
:func:`register_serializable`, or kerasish's own layers and models. Nothing is
imported by the name a config gives, so a config cannot make kerasish run code
that the user's program did not already define.

This module is a leaf: it imports no layer or model. kerasish's own classes register
themselves as they are defined (``Layer.__init_subclass__`` calls :func:`register_builtin`).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import types
from collections.abc import Callable, Iterator

from kerasish.errors import ConfigError

# "package>Name" -> class, and back. Filled by @register_serializable; it is also the dict
# get_custom_objects() returns (as Keras's GLOBAL_CUSTOM_OBJECTS), so users may add entries by hand.
_REGISTERED: dict[str, type] = {}
_NAMES: dict[type, str] = {}
# The dicts of the custom_object_scope blocks active in this context, innermost last.
_SCOPES: contextvars.ContextVar[tuple[dict, ...]] = contextvars.ContextVar("kerasish_custom_object_scopes",
                                                                             default=())
# keras.config.enable_unsafe_deserialization(): safe mode off everywhere, whatever a loader is given.
_UNSAFE_DESERIALIZATION = False
# kerasish's own layers and models by class name, filled as they are defined.
_BUILTINS: dict[str, type] = {}


def register_builtin(cls: type, *names: str) -> type:
    """Record one of kerasish's own classes under its ``__name__`` (and ``names``), for configs to name.

    Under its own name, the first class defined keeps it; names given explicitly are the class's
    (``register_builtin(Functional, "Model")``). Private classes (``_Name``) are not recorded.
    """
    if names:
        _BUILTINS.update({name: cls for name in names})
    elif not cls.__name__.startswith("_"):
        _BUILTINS.setdefault(cls.__name__, cls)
    return cls

# True while a file or JSON string is being turned into a model in safe mode:
# a context variable so that nested from_config calls (which only forward
# custom_objects) see it too.
_SAFE_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("kerasish_safe_mode", default=False)


def register_serializable(package: str = "Custom", name: str | None = None) -> Callable[[type], type]:
    """Class decorator: register a custom layer (or model) so that saved models find it by name.

    The class is stored under ``"package>Name"`` (Keras's key), which becomes the
    ``class_name`` in its serialized config; ``load_model`` and ``model_from_json``
    then rebuild it without ``custom_objects``. The class needs ``get_config()``
    returning its constructor arguments (and, if those are not plain JSON, a
    ``from_config``).

    Args:
        package: a namespace for the name, so that two libraries' ``MyLayer`` differ.
        name: the name inside the package; defaults to the class's ``__name__``.

    Returns:
        The decorator, which returns the class unchanged.

    Example:
        >>> @kerasish.saving.register_serializable(package="my_lib")
        ... class Scale(kerasish.layers.Layer):
        ...     def __init__(self, factor=2.0, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.factor = factor
        ...     def call(self, x):
        ...         return x * self.factor
        ...     def get_config(self):
        ...         return {**super().get_config(), "factor": self.factor}
    """
    if not isinstance(package, str) or ">" in package or not package:
        raise ConfigError(f"register_serializable: package must be a non-empty string without '>', got {package!r}.")

    def decorator(cls: type) -> type:
        if not isinstance(cls, (type, types.FunctionType)):
            raise ConfigError(f"register_serializable decorates classes and functions, got {cls!r}.")
        if isinstance(cls, type) and not hasattr(cls, "get_config"):
            raise ConfigError(f"Cannot register {cls.__name__}: it has no get_config() method.")
        key = f"{package}>{name or cls.__name__}"
        old = _REGISTERED.get(key)
        # Re-running a class definition (a notebook cell, a reloaded module) replaces it;
        # a different class under the same key is a clash the user must resolve.
        if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ConfigError(f"{key!r} is already registered to {old.__module__}.{old.__qualname__}; "
                              f"choose another package or name for {cls.__module__}.{cls.__qualname__}.")
        _REGISTERED[key] = cls
        _NAMES[cls] = key
        return cls

    return decorator


register_keras_serializable = register_serializable


def get_registered_name(obj) -> str:
    """The name a class or function (or an instance's class) is serialized under: ``"package>Name"`` or
    its ``__name__``."""
    cls = obj if isinstance(obj, (type, types.FunctionType)) else type(obj)
    return _NAMES.get(cls, cls.__name__)


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects: dict | None = None):
    """The class or function known under ``name``, or None.

    Looked up in the active :class:`CustomObjectScope` blocks (innermost first), then ``custom_objects``,
    then the registered classes (:func:`get_custom_objects`), then ``module_objects``; a registered name's
    bare class name (``"Name"`` for ``"package>Name"``) may also be given in ``custom_objects``.
    """
    custom_objects = custom_objects or {}
    for scope in reversed(_SCOPES.get()):
        if name in scope:
            return scope[name]
    if name in custom_objects:
        return custom_objects[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    if isinstance(name, str) and ">" in name:
        return custom_objects.get(name.split(">", 1)[1])
    return None


def get_custom_objects() -> dict:
    """The global dict of custom objects: registered classes and functions by ``"package>Name"``.

    It is the live dict (as Keras's): entries added to it are found by name when configs and model files
    are loaded (``get_custom_objects()["MyLayer"] = MyLayer``). Prefer :func:`register_serializable`.
    """
    return _REGISTERED


def custom_objects_in_scope() -> dict:
    """The entries of the active :class:`CustomObjectScope` blocks merged (inner ones win)."""
    merged: dict = {}
    for scope in _SCOPES.get():
        merged.update(scope)
    return merged


class CustomObjectScope:
    """``with CustomObjectScope({"MyLayer": MyLayer}):`` makes the names resolvable while loading.

    Inside the block, configs, JSON and model files may name these classes and functions as if they were
    passed as ``custom_objects``; blocks nest (the inner one wins). Also used as ``custom_object_scope``.

    Args:
        custom_objects: ``{name: class or function}`` (several dicts may be given; None is skipped).

    Example:
        >>> with kerasish.saving.custom_object_scope({"Scale": Scale}):
        ...     model = kerasish.models.load_model("model.kerasish")
    """

    def __init__(self, custom_objects=None, *more):
        merged: dict = {}
        for entry in (custom_objects, *more):
            if entry is None:
                continue
            if not isinstance(entry, dict):
                raise ConfigError(f"CustomObjectScope takes dicts of {{name: class or function}}, got {entry!r}.")
            merged.update(entry)
        self.custom_objects = merged
        self._tokens: list = []

    def __enter__(self) -> CustomObjectScope:
        self._tokens.append(_SCOPES.set(_SCOPES.get() + (self.custom_objects,)))
        return self

    def __exit__(self, *exc) -> None:
        _SCOPES.reset(self._tokens.pop())


custom_object_scope = CustomObjectScope


@contextlib.contextmanager
def safe_mode_scope(safe_mode: bool = True) -> Iterator[None]:
    """While active, :func:`deserialize_layer` refuses ``Lambda`` layers (see ``load_model``)."""
    token = _SAFE_MODE.set(bool(safe_mode))
    try:
        yield
    finally:
        _SAFE_MODE.reset(token)


def in_safe_mode() -> bool:
    return _SAFE_MODE.get() and not _UNSAFE_DESERIALIZATION


def enable_unsafe_deserialization() -> None:
    """Turn safe mode off for every later load (``keras.config.enable_unsafe_deserialization``).

    kerasish never stores or loads code: a ``Lambda`` layer's function must still come from
    ``custom_objects``. What this lifts is the refusal to run user functions named by a file.
    """
    global _UNSAFE_DESERIALIZATION
    _UNSAFE_DESERIALIZATION = True


def _reset_unsafe_deserialization() -> None:
    global _UNSAFE_DESERIALIZATION
    _UNSAFE_DESERIALIZATION = False


def serialize_layer(layer) -> dict:
    """``{"class_name": ..., "config": ...}``; a registered class is named ``"package>Name"``."""
    return {"class_name": get_registered_name(layer), "config": layer.get_config()}


def resolve_class(name, custom_objects: dict | None = None) -> type:
    """The class for a config's ``class_name``, looked up in dictionaries only (never imported)."""
    if not isinstance(name, str):
        raise ConfigError(f"A layer config needs a string 'class_name', got {name!r}.")
    cls = get_registered_object(name, custom_objects) or _BUILTINS.get(name)
    if cls is None:
        raise ConfigError(f"Unknown layer class {name!r}: kerasish resolves class names only among its own layers, "
                          f"classes registered with @kerasish.saving.register_serializable, and custom_objects; "
                          f"pass custom_objects={{'{name}': cls}}.")
    if not isinstance(cls, type):
        raise ConfigError(f"custom_objects[{name!r}] must be a class, got {cls!r}.")
    return cls


def deserialize_layer(entry: dict, custom_objects: dict | None = None):
    """A new layer from ``{"class_name": ..., "config": ...}``; classes come from the registry or custom_objects.

    A class whose config names a Python function to run (``Lambda``: ``config_holds_code = True``) is
    refused in safe mode, and its function comes from ``custom_objects`` only.
    """
    if not isinstance(entry, dict):
        raise ConfigError(f"A layer entry must be a dict with 'class_name' and 'config', got {type(entry).__name__}.")
    custom_objects = custom_objects or {}
    name = entry.get("class_name")
    cls = resolve_class(name, custom_objects)
    config = entry.get("config", {})
    if not isinstance(config, dict):
        raise ConfigError(f"The config of a {name!r} layer must be a dict, got {type(config).__name__}.")
    config = dict(config)
    if getattr(cls, "config_holds_code", False):
        function = config.get("function")
        if isinstance(function, dict) and function.get("class_name") in ("__lambda__", "function"):
            inner = function.get("config")
            if function.get("class_name") == "function" and isinstance(inner, str):
                function = inner  # a named function, serialized as Keras 3 names them
            else:
                raise ConfigError(
                    f"Lambda layer {config.get('name')!r} holds a Python lambda as marshalled bytecode. kerasish "
                    "never runs code read from a file, in safe mode or not: rebuild the model with a named "
                    "function and pass it as custom_objects={name: function}.")
        if in_safe_mode():
            raise ConfigError(
                f"Lambda layer {config.get('name')!r} (function {function!r}) cannot be loaded in safe mode: a "
                f"Lambda runs arbitrary Python. If you trust this file, pass safe_mode=False and "
                f"custom_objects={{{function!r}: your_function}}.")
        fn = get_registered_object(function, custom_objects) if isinstance(function, str) else None
        if fn is None:
            raise ConfigError(f"Lambda layer {config.get('name')!r} wraps function {function!r}: "
                              "kerasish never deserializes code, so pass custom_objects={name: function}.")
        config["function"] = fn
    if _accepts_custom_objects(cls.from_config):
        # Nested models pass custom_objects on to their own layers.
        return cls.from_config(config, custom_objects=custom_objects)
    return cls.from_config(config)


def _accepts_custom_objects(fn) -> bool:
    try:
        return "custom_objects" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
