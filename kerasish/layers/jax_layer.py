"""JaxLayer and FlaxLayer (Keras 3): a plain JAX function, or a flax.linen module, as a kerasish layer."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.backend import Variable, current_scope
from kerasish.errors import ConfigError
from kerasish.layers.base import Layer
from kerasish.saving import registry
from kerasish.utils.random import next_host_key

_CALL_ARGS = ("params", "state", "rng", "inputs", "training")
_INIT_ARGS = ("rng", "inputs", "training")


def _is_var(x) -> bool:
    return isinstance(x, Variable)


def _arguments(fn, what: str, allowed) -> list[str]:
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        raise ConfigError(f"JaxLayer: {what} must be a function, got {fn!r}.") from None
    if "inputs" not in names:
        raise ConfigError(f"JaxLayer: {what} must take an argument named 'inputs', got arguments {names}.")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ConfigError(f"JaxLayer: {what} takes unsupported argument(s) {unknown}; the supported ones are "
                          f"{list(allowed)}.")
    return names


def _function_name(fn):
    if fn is None:
        return None
    return registry.get_registered_name(fn)


def _resolve_function(name, custom_objects, what: str):
    if name is None or callable(name):
        return name
    if isinstance(name, dict):  # Keras's {"class_name": "function", "config": name} form
        name = name.get("config")
    fn = registry.get_registered_object(name, custom_objects)
    if fn is None:
        raise ConfigError(f"JaxLayer config names {what} {name!r}: kerasish never deserializes code, so pass "
                          f"custom_objects={{{name!r}: function}} (or register it with "
                          "kerasish.saving.register_serializable).")
    return fn


class JaxLayer(Layer):
    """A JAX function ``call_fn`` (and its parameters) as a layer, as Keras's ``JaxLayer``.

    ``call_fn`` takes, by these names, ``inputs`` and any of ``params`` (the trainable weights, a pytree),
    ``state`` (non-trainable weights; then it returns ``(outputs, new_state)``), ``rng`` (a key in training,
    None otherwise) and ``training``. The weights come from ``params`` / ``state`` given here, or from
    ``init_fn(rng, inputs[, training])`` called at build time on all-ones inputs of the input shape
    (returning ``params``, or ``(params, state)`` when ``call_fn`` takes ``state``).

    Args:
        call_fn: the model function.
        init_fn: the initializer function, when ``params`` / ``state`` are not given.
        params / state: initial pytrees of arrays; array leaves become weights (floating ones in the layer's
            dtype), other leaves stay as they are.
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
        native_serialization_platforms: accepted for Keras compatibility (a TensorFlow export option).

    Weights: the leaves of ``params`` (trainable) then of ``state``, in ``jax.tree`` order, named
    ``variable``, ``variable_1``, ... as Keras names them. ``get_config`` names the functions; loading it back
    needs them in ``custom_objects`` (or registered), as kerasish never deserializes code.
    """

    def __init__(self, call_fn, init_fn=None, params=None, state=None, seed=None,
                 native_serialization_platforms=None, **kwargs):
        super().__init__(**kwargs)
        self.call_fn = call_fn
        self.init_fn = init_fn
        self.seed = seed
        self.native_serialization_platforms = native_serialization_platforms
        self.call_fn_arguments = _arguments(call_fn, "call_fn", _CALL_ARGS)
        self.init_fn_arguments = None if init_fn is None else _arguments(init_fn, "init_fn", _INIT_ARGS)
        self._counter = 0
        self.params = self._variables(params, trainable=True)
        self.state = self._variables(state, trainable=False)
        wants_weights = "params" in self.call_fn_arguments or "state" in self.call_fn_arguments
        if init_fn is None and params is None and state is None and wants_weights:
            raise ConfigError("JaxLayer: init_fn, params and state cannot all be None when call_fn takes "
                              "'params' or 'state'.")
        if params is not None or state is not None:
            self.built = True

    def _variables(self, values, trainable: bool):
        if values is None:
            return None

        def make(value):
            if isinstance(value, (np.ndarray, np.generic, jax.Array, bool, int, float)):
                array = jnp.asarray(value)
                if jnp.issubdtype(array.dtype, jnp.floating):
                    array = array.astype(self.dtype)
                name = "variable" if self._counter == 0 else f"variable_{self._counter}"
                self._counter += 1
                return self._track_variable(Variable(array, name=name, trainable=trainable))
            return value

        return jax.tree.map(make, values)

    def _init_rng(self):
        return jnp.asarray(next_host_key())

    def _call_rng(self, inputs, training: bool):
        return self.random_key(inputs) if training else None

    def build(self, input_shape):
        if self.params is not None or self.state is not None:
            return
        if "params" not in self.call_fn_arguments and "state" not in self.call_fn_arguments:
            return
        inputs = jax.tree.map(lambda s: jnp.ones(tuple(1 if d is None else d for d in s)), input_shape,
                              is_leaf=lambda s: isinstance(s, tuple))
        values = {"rng": self._init_rng(), "inputs": inputs, "training": True}
        result = self.init_fn(*[values[a] for a in self.init_fn_arguments])
        params, state = result if "state" in self.call_fn_arguments else (result, None)
        self.params = self._variables(params, trainable=True)
        self.state = self._variables(state, trainable=False)

    def call(self, inputs, training=False):
        def value(v):
            return v.value if isinstance(v, Variable) else v

        values = {"params": jax.tree.map(value, self.params, is_leaf=_is_var),
                  "state": jax.tree.map(value, self.state, is_leaf=_is_var),
                  "rng": self._call_rng(inputs, bool(training)), "inputs": inputs, "training": bool(training)}
        out = self.call_fn(*[values[a] for a in self.call_fn_arguments])
        if "state" not in self.call_fn_arguments:
            return out
        out, new_state = out
        scope = current_scope()
        for var, new in zip(jax.tree.leaves(self.state, is_leaf=_is_var), jax.tree.leaves(new_state)):
            if not isinstance(var, Variable):
                continue
            if isinstance(new, jax.core.Tracer) and (scope is None or id(var) not in scope.values):
                continue  # an abstract call (output-shape inference) that holds no state to update
            var.assign(new)
        return out

    def get_config(self):
        return {**super().get_config(), "call_fn": _function_name(self.call_fn),
                "init_fn": _function_name(self.init_fn),
                "native_serialization_platforms": self.native_serialization_platforms}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["call_fn"] = _resolve_function(config["call_fn"], custom_objects, "call_fn")
        config["init_fn"] = _resolve_function(config.get("init_fn"), custom_objects, "init_fn")
        return cls(**config)


class FlaxLayer(JaxLayer):
    """A ``flax.linen`` module as a layer, as Keras's ``FlaxLayer``: its ``"params"`` collection is the
    trainable weights, its other collections (``"batch_stats"``, ...) the non-trainable state.

    Args:
        module: a ``flax.linen.Module`` instance.
        method: the module method to apply (default ``__call__``); a ``training`` argument of it receives the
            call's training flag.
        variables: the module's initial variables (``module.init(...)``); without them they are initialized at
            build time, with ``"params"`` and ``"dropout"`` keys.

    In training, the call gets ``rngs={"dropout": key}``. ``get_config`` names the module's class and the
    method; loading it back needs the module class in ``custom_objects``.
    """

    def __init__(self, module, method=None, variables=None, **kwargs):
        self.module = module
        self.method = method
        target = method if method is not None else type(module).__call__
        has_training = "training" in inspect.signature(target).parameters

        def call_fn(params, state, rng, inputs, training):
            from flax.linen import DenyList

            extra = {"training": training} if has_training else {}
            return self.module.apply(self._merge(params, state), inputs, rngs=rng or {}, method=self.method,
                                     mutable=DenyList(["params"]), **extra)

        def init_fn(rng, inputs):
            keys = jax.random.split(rng)
            extra = {"training": True} if has_training else {}
            return self._split(self.module.init({"params": keys[0], "dropout": keys[1]}, inputs,
                                                method=self.method, **extra))

        params, state = self._split(variables)
        super().__init__(call_fn=call_fn, init_fn=init_fn, params=params, state=state, **kwargs)

    @staticmethod
    def _merge(params, state) -> dict:
        return {**(params or {}), **(state or {})}

    @staticmethod
    def _split(variables):
        if variables is None:
            return None, None
        variables = dict(variables)
        params = {"params": variables.pop("params")} if "params" in variables else {}
        return params, variables

    def _call_rng(self, inputs, training: bool):
        return {"dropout": self.random_key(inputs)} if training else {}

    def get_config(self):
        config = Layer.get_config(self)
        method = self.method.__name__ if self.method is not None else None
        return {**config, "module": type(self.module).__name__, "method": method}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        module_cls = registry.get_registered_object(config["module"], custom_objects)
        if module_cls is None:
            raise ConfigError(f"FlaxLayer config names module {config['module']!r}: pass custom_objects="
                              f"{{{config['module']!r}: ModuleClass}} (or a module instance).")
        module = module_cls() if isinstance(module_cls, type) else module_cls
        method = config.get("method")
        config["module"] = module
        config["method"] = getattr(module, method) if isinstance(method, str) else method
        return cls(**config)
