"""``serialize_keras_object`` / ``deserialize_keras_object``: any kerasish object as Keras 3's config dict.

The dict has Keras's shape: ``{"module", "class_name", "config", "registered_name"}`` (plus
``"build_config"`` for a built layer or model and ``"compile_config"`` for a compiled model), with
Keras's module names (``"keras.layers"``, ``"keras.optimizers"``, ...) for kerasish's own classes.
Values that are not JSON (NumPy and JAX arrays, bytes, slices, ``...``) are tagged as Keras tags them.

Differences from Keras, on purpose: nothing is ever imported by the name a config gives (classes resolve
through kerasish's own, the registered ones, :class:`~kerasish.saving.registry.CustomObjectScope` and
``custom_objects``), and a Python ``lambda`` is refused (Keras stores its bytecode): kerasish never stores
or runs code from a config. A model's ``compile_config`` holds kerasish's compile arguments (see
:mod:`kerasish.saving.compile_config`).
"""

from __future__ import annotations

import types

import numpy as np

from kerasish.errors import ConfigError
from kerasish.saving import registry

_PLAIN = (str, int, float, bool)


def _is_layer_class(cls) -> bool:
    # By the base class's home rather than an import: kerasish.layers imports this module's package.
    return isinstance(cls, type) and any(c.__name__ == "Layer" and c.__module__ == "kerasish.layers.base"
                                         for c in cls.__mro__)


def _category(obj) -> tuple[str, str] | None:
    """``(keras module, kind)`` of one of kerasish's own object kinds, or None."""
    from kerasish import constraints, initializers, losses, metrics, mixed_precision, optimizers, regularizers
    from kerasish.optimizers.schedules import LearningRateSchedule

    if _is_layer_class(type(obj)):
        return ("keras", "model") if getattr(obj, "is_model", False) else ("keras.layers", "layer")
    for cls, module, kind in ((optimizers.Optimizer, "keras.optimizers", "optimizer"),
                              (LearningRateSchedule, "keras.optimizers.schedules", "schedule"),
                              (losses.Loss, "keras.losses", "loss"), (metrics.Metric, "keras.metrics", "metric"),
                              (initializers.Initializer, "keras.initializers", "initializer"),
                              (regularizers.Regularizer, "keras.regularizers", "regularizer"),
                              (constraints.Constraint, "keras.constraints", "constraint"),
                              (mixed_precision.DTypePolicy, "keras", "dtype_policy")):
        if isinstance(obj, cls):
            return module, kind
    return None


def _is_builtin(cls) -> bool:
    return cls.__module__.startswith("kerasish.") and cls not in registry._NAMES


def serialize_keras_object(obj):
    """The config dict of ``obj`` (Keras's format), which :func:`deserialize_keras_object` turns back.

    Args:
        obj: a layer, model, optimizer, schedule, loss, metric, initializer, regularizer, constraint, dtype
            policy, a registered or plain function, any object with ``get_config()``, or plain data (lists,
            tuples, dicts, numbers, strings, NumPy/JAX arrays) holding them.

    Raises:
        ConfigError: for a lambda, or an object that has no ``get_config()``.

    Example:
        >>> kerasish.saving.serialize_keras_object(kerasish.optimizers.Adam())["class_name"]
        'Adam'
    """
    import jax

    from kerasish.backend import is_keras_tensor

    if obj is None or isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(x) for x in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {k: serialize_keras_object(getattr(obj, k))
                                                      for k in ("start", "stop", "step")}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if is_keras_tensor(obj):
        history = obj._history and [obj._history[0].name, *obj._history[1:]]
        return {"class_name": "__keras_tensor__",
                "config": {"shape": obj.shape, "dtype": obj.dtype.name, "keras_history": history}}
    if isinstance(obj, jax.Array):
        host = np.asarray(obj)
        return {"class_name": "__tensor__", "config": {"value": host.tolist(), "dtype": host.dtype.name}}
    if isinstance(obj, (np.ndarray, np.generic)):
        if isinstance(obj, np.ndarray) and obj.ndim > 0:
            return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
        return obj.item()
    if isinstance(obj, np.dtype):
        return obj.name
    if isinstance(obj, types.FunctionType):
        if obj.__name__ == "<lambda>":
            raise ConfigError("Cannot serialize a lambda: kerasish never stores code. Define a named function and "
                              "register it with @kerasish.saving.register_keras_serializable().")
        # Keras 3 serializes every function this way, its own activations and losses included.
        return {"module": "builtins", "class_name": "function", "config": registry.get_registered_name(obj),
                "registered_name": "function"}
    return _serialize_object(obj)


def _serialize_object(obj) -> dict:
    cls = type(obj)
    category = _category(obj)
    if category is not None and category[1] == "dtype_policy":
        from kerasish import mixed_precision

        return mixed_precision.serialize(obj)
    if not hasattr(obj, "get_config"):
        raise ConfigError(f"Cannot serialize {obj!r} (of type {cls.__name__}): to be serializable, a class must "
                          "implement get_config().")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise ConfigError(f"{cls.__name__}.get_config() must return a dict, got {config!r}.")
    if category is not None and _is_builtin(cls) and cls.__name__ == "Functional":
        # Keras 3 finds (and writes) its functional models in this module, under a registered name.
        entry = {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional"}
    elif category is not None and _is_builtin(cls):
        entry = {"module": category[0], "class_name": cls.__name__, "registered_name": None}
    else:
        entry = {"module": cls.__module__, "class_name": cls.__name__,
                 "registered_name": registry.get_registered_name(cls)}
    entry = {"module": entry["module"], "class_name": entry["class_name"],
             "config": serialize_keras_object(config), "registered_name": entry["registered_name"]}
    if category is not None and category[1] in ("layer", "model") and getattr(obj, "built", False):
        shape = getattr(obj, "_build_input_shape", None) or getattr(obj, "_build_shape", None)
        if shape is not None:
            entry["build_config"] = {"input_shape": serialize_keras_object(shape)}
    if category is not None and category[1] == "model" and hasattr(obj, "_saved_compile_config"):
        compiled = obj._saved_compile_config()  # the model's (kerasish.models.Model), as Keras asks the model
        if compiled is not None:
            entry["compile_config"] = compiled
    return entry


# -- deserialization ----------------------------------------------------------------------------------
def _as_shape(value):
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, int) for v in value):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        return [_as_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_shape(v) for k, v in value.items()}
    return value


def _builtin_function(name: str):
    """One of kerasish's activation, loss or metric functions by name, or None."""
    from kerasish import activations, losses, metrics

    for module in (activations, losses, metrics):
        fn = getattr(module, name, None)
        if isinstance(fn, types.FunctionType):
            return fn
    return None


def _from_module(module, class_name: str, inner: dict, custom_objects: dict):
    """A kerasish built-in object from Keras's module name and class name, or None if there is none."""
    from kerasish import constraints, initializers, losses, metrics, mixed_precision, optimizers, regularizers
    from kerasish.optimizers import schedules

    entry = {"class_name": class_name, "config": inner}
    module = module or ""
    if class_name in ("DTypePolicy", "FloatDTypePolicy", "Policy") and module in ("keras", ""):
        return mixed_precision.get(entry)
    tries = {"keras.optimizers": optimizers.deserialize, "keras.optimizers.schedules": schedules.deserialize,
             "keras.losses": losses.deserialize, "keras.metrics": metrics.deserialize,
             "keras.initializers": initializers.deserialize, "keras.regularizers": regularizers.deserialize,
             "keras.constraints": constraints.deserialize}
    if module in tries:
        return tries[module](entry)
    # Keras names its layers' module "keras.layers", a functional model's "keras.src.models.functional": any
    # module of the keras package names one of kerasish's own classes (nothing is imported by that name).
    keras_module = module in ("keras", "") or module.startswith("keras.")
    if keras_module and class_name in registry._BUILTINS:
        return registry.deserialize_layer(entry, custom_objects)
    if module:
        return None
    for deserialize in tries.values():  # no module given (an older or hand-written config): try each kind
        try:
            return deserialize(entry)
        except (ConfigError, TypeError):
            continue
    return None


def deserialize_keras_object(config, custom_objects: dict | None = None, safe_mode: bool = True, **kwargs):
    """The object a :func:`serialize_keras_object` dict (or Keras 3's) describes.

    Args:
        config: the dict (or plain data holding such dicts; a string is returned as is unless it names a
            custom object).
        custom_objects: ``{name: class or function}`` for classes that are not kerasish's or registered.
        safe_mode: refuse ``Lambda`` layers (see ``load_model``).
        **kwargs: ``module_objects`` (a dict of further names to look up), as Keras's.

    Raises:
        ConfigError: an unknown class or function, a malformed config, or a serialized lambda.
    """
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise ConfigError(f"deserialize_keras_object: unexpected keyword arguments {sorted(kwargs)}.")
    custom_objects = dict(custom_objects or {})
    if module_objects:
        custom_objects = {**module_objects, **custom_objects}
    with registry.safe_mode_scope(safe_mode):
        return _deserialize(config, custom_objects)


def _lookup(name, custom_objects):
    return registry.get_registered_object(name, custom_objects) if isinstance(name, str) else None


def _deserialize(config, custom_objects: dict):
    if config is None or isinstance(config, (int, float, bool)):
        return config
    if isinstance(config, str):
        found = _lookup(config, custom_objects)
        return config if found is None else found
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, custom_objects) for x in config]
    if not isinstance(config, dict):
        raise ConfigError(f"deserialize_keras_object: cannot parse config {config!r}.")
    if "class_name" not in config or "config" not in config:
        return {k: _deserialize(v, custom_objects) for k, v in config.items()}
    class_name, inner = config["class_name"], config["config"] if config["config"] is not None else {}
    special = _special(class_name, inner, custom_objects)
    if special is not _NOT_SPECIAL:
        return special
    if class_name == "function":
        if not isinstance(inner, str):
            raise ConfigError(f"A serialized function needs its name as 'config', got {inner!r}.")
        fn = _lookup(inner, custom_objects) or _builtin_function(inner)
        if fn is None and ">" not in inner:  # a registered function named without its package
            fn = next((v for k, v in {**registry.get_custom_objects(), **custom_objects}.items()
                       if isinstance(k, str) and k.endswith(f">{inner}")), None)
        if fn is None:
            raise ConfigError(f"Unknown function {inner!r}: pass custom_objects={{{inner!r}: fn}} or register it "
                              "with @kerasish.saving.register_keras_serializable().")
        return fn
    if not isinstance(inner, dict):
        raise ConfigError(f"The config of a {class_name!r} must be a dict, got {inner!r}.")
    cls = _lookup(config.get("registered_name") or class_name, custom_objects) or _lookup(class_name, custom_objects)
    if cls is None:
        obj = _from_module(config.get("module"), class_name, inner, custom_objects)
        if obj is None:
            raise ConfigError(f"Could not locate class {class_name!r}: kerasish resolves class names among its own "
                              "classes, registered classes and custom_objects; pass custom_objects="
                              f"{{{class_name!r}: cls}} or register the class.")
    elif isinstance(cls, types.FunctionType):
        return cls
    else:
        obj = _from_class(cls, class_name, inner, custom_objects)
    _restore_state(obj, config, custom_objects)
    return obj


def _from_class(cls, class_name, inner, custom_objects):
    if _is_layer_class(cls):
        return registry.deserialize_layer({"class_name": class_name, "config": inner}, {class_name: cls,
                                                                                         **custom_objects})
    if not hasattr(cls, "from_config"):
        raise ConfigError(f"Cannot rebuild a {class_name!r}: {cls!r} has no from_config().")
    with registry.CustomObjectScope(custom_objects):
        return cls.from_config(_deserialize_config_values(inner, custom_objects))


def _deserialize_config_values(inner: dict, custom_objects: dict) -> dict:
    # Tagged values (arrays, bytes, ...) inside a custom class's config come back as objects; nested
    # objects stay configs, for the class's own from_config to rebuild (as in Keras).
    return {k: (_special(v["class_name"], v.get("config") or {}, custom_objects)
                if isinstance(v, dict) and str(v.get("class_name", "")).startswith("__") else v)
            for k, v in inner.items()}


def _restore_state(obj, config: dict, custom_objects: dict) -> None:
    build = config.get("build_config")
    if isinstance(build, dict) and build.get("input_shape") is not None and not getattr(obj, "built", True):
        shape = _as_shape(build["input_shape"])
        (obj._maybe_build if hasattr(obj, "_maybe_build") else obj.build)(shape)
    compiled = config.get("compile_config")
    if isinstance(compiled, dict) and compiled and hasattr(obj, "_compile_from_saved_config"):
        obj._compile_from_saved_config(compiled, custom_objects)


_NOT_SPECIAL = object()


def _special(class_name, inner, custom_objects):
    """The value of a Keras-tagged entry (``__numpy__``, ``__tensor__``, ...), or ``_NOT_SPECIAL``."""
    if class_name == "__numpy__":
        return np.asarray(inner["value"], dtype=inner["dtype"])
    if class_name == "__tensor__":
        import jax.numpy as jnp

        return jnp.asarray(np.asarray(inner["value"], dtype=inner["dtype"]))
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        return slice(*(_deserialize(inner.get(k), custom_objects) for k in ("start", "stop", "step")))
    if class_name == "__keras_tensor__":
        import sys

        symbolic = sys.modules["kerasish.layers.symbolic"]  # loaded with kerasish; not imported from here
        return symbolic.KerasTensor(inner["shape"], dtype=inner["dtype"])
    if class_name == "__lambda__":
        raise ConfigError("The config holds a serialized Python lambda: kerasish never loads code from a config "
                          "(whatever safe_mode says). Rebuild it with a named function passed in custom_objects.")
    if class_name == "__typespec__":
        raise ConfigError("The config holds a TensorFlow TypeSpec, which needs TensorFlow.")
    return _NOT_SPECIAL
