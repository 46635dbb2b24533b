"""``clone_model``: the same architecture with new layers and new weights (Keras's ``keras.models.clone_model``)."""

from __future__ import annotations

import jax

from kerasish.errors import ConfigError
from kerasish.layers.core import Input, InputLayer
from kerasish.layers.symbolic import KerasTensor, is_keras_tensor
from kerasish.models.functional import Functional
from kerasish.models.sequential import Sequential
from kerasish.saving.api import save_model

__all__ = ["clone_model", "save_model"]


def _default_clone(layer):
    return type(layer).from_config(layer.get_config())


def _wrap(clone_function, call_function, recursive: bool, cache: dict):
    """``clone_function`` made to clone each layer once (shared layers stay shared) and, with
    ``recursive``, to clone nested Sequential and functional models layer by layer."""
    clone_function = clone_function or _default_clone

    def clone(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(layer, clone_function=clone_function, recursive=True,
                                               call_function=None if isinstance(layer, Sequential) else call_function,
                                               cache=cache)
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]

    return clone


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive: bool = False,
                **kwargs):
    """A new model with the architecture of ``model`` and newly initialized weights.

    Sequential and functional models are rebuilt layer by layer (each layer through ``clone_function``);
    any other model is rebuilt from its config (``from_config(get_config())``). A compiled model's clone
    is compiled with the same arguments.

    Args:
        model: the model to clone.
        input_tensors: symbolic tensors (``kerasish.Input``) to build the clone on, in the structure of
            ``model``'s inputs (one tensor for a Sequential model); by default new inputs like the model's.
        clone_function: ``fn(layer) -> layer`` called on every layer (not the inputs); by default a new
            layer from the layer's config. Return the layer itself to share it (and its weights).
        call_function: functional models only: ``fn(layer, *args, **kwargs)`` called instead of
            ``layer(*args, **kwargs)`` when the graph is rebuilt (to wrap or replace calls).
        recursive: also clone the layers of nested Sequential and functional models one by one (with
            ``clone_function``); otherwise a nested model goes whole through ``clone_function``.

    Raises:
        ConfigError: ``input_tensors`` or ``clone_function`` given for a subclassed model, ``call_function``
            for a Sequential model, or inputs that do not match the model's.

    Example:
        >>> clone = kerasish.models.clone_model(model)
        >>> clone.set_weights(model.get_weights())  # to copy the weights too
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ConfigError(f"clone_model: unexpected keyword arguments {tuple(kwargs)}.")
    if clone_function is not None and not callable(clone_function):
        raise ConfigError(f"clone_model: clone_function must be callable, got {clone_function!r}.")
    if call_function is not None and not callable(call_function):
        raise ConfigError(f"clone_model: call_function must be callable, got {call_function!r}.")
    cache = {} if cache is None else cache
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ConfigError("clone_model: call_function is for functional models only; a Sequential model's "
                              "layers are listed, not called, when it is built.")
        clone = _clone_sequential(model, _wrap(clone_function, None, recursive, cache), input_tensors)
    elif isinstance(model, Functional):
        clone = _clone_functional(model, _wrap(clone_function, call_function, recursive, cache), input_tensors,
                                  call_function)
    else:
        if clone_function is not None or input_tensors is not None or call_function is not None:
            raise ConfigError("clone_model: clone_function, input_tensors and call_function apply to Sequential and "
                              f"functional models only; got a {type(model).__name__}.")
        clone = type(model).from_config(model.get_config())
        shape = getattr(model, "_build_input_shape", None)
        if shape is not None and not clone.built:
            clone.build(shape)
    _compile_like(model, clone)
    return clone


def _new_input(tensor: KerasTensor, name=None) -> KerasTensor:
    return Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=name)


def _clone_sequential(model: Sequential, clone, input_tensors):
    layers = [clone(layer) for layer in model.layers]
    original = model._input_layer
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ConfigError(f"clone_model: a Sequential model takes one input tensor, got {len(input_tensors)}.")
            input_tensors = input_tensors[0]
        if not is_keras_tensor(input_tensors):
            raise ConfigError(f"clone_model: input_tensors must be a kerasish.Input tensor, got {input_tensors!r}.")
        layers = [input_tensors, *layers]
    elif original is not None:
        layers = [Input(batch_shape=original.batch_shape, dtype=original.output_tensor.dtype, name=original.name),
                  *layers]
    return Sequential(layers, name=model.name, trainable=model.trainable)


def _clone_functional(model: Functional, clone, input_tensors, call_function):
    if input_tensors is None:
        inputs = jax.tree.map(lambda t: _new_input(t, t._history[0].name), model._inputs_struct,
                              is_leaf=is_keras_tensor)
    else:
        given = jax.tree.leaves(input_tensors, is_leaf=is_keras_tensor)
        if not all(is_keras_tensor(t) for t in given):
            raise ConfigError(f"clone_model: every entry of input_tensors must be a kerasish.Input tensor, got "
                              f"{input_tensors!r}.")
        if (jax.tree.structure(input_tensors, is_leaf=is_keras_tensor)
                != jax.tree.structure(model._inputs_struct, is_leaf=is_keras_tensor)):
            # a single tensor for a one-input model given as a list of one is fine
            if not (len(given) == 1 and len(model._flat_inputs) == 1):
                raise ConfigError(f"clone_model: input_tensors must have the structure of the model's inputs "
                                  f"{model._inputs_struct!r}, got {input_tensors!r}.")
        inputs = input_tensors
    values = {id(old): new for old, new in zip(model._flat_inputs, jax.tree.leaves(inputs, is_leaf=is_keras_tensor))}

    def resolve(x):
        return values[id(x)] if isinstance(x, KerasTensor) else x

    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        layer = clone(node.layer)
        args, kwargs = jax.tree.map(resolve, (node.args, node.kwargs), is_leaf=is_keras_tensor)
        out = call_function(layer, *args, **kwargs) if call_function is not None else layer(*args, **kwargs)
        for old, new in zip(jax.tree.leaves(node.outputs, is_leaf=is_keras_tensor),
                            jax.tree.leaves(out, is_leaf=is_keras_tensor)):
            values[id(old)] = new
    outputs = jax.tree.map(resolve, model._outputs_struct, is_leaf=is_keras_tensor)
    cls = type(model) if type(model) is Functional or _functional_constructor(type(model)) else Functional
    return cls(inputs, outputs, name=model.name)


def _functional_constructor(cls) -> bool:
    """Whether a Functional subclass is made as ``cls(inputs, outputs, name=...)``."""
    import inspect

    try:
        params = list(inspect.signature(cls.__init__).parameters)
    except (TypeError, ValueError):
        return False
    return params[1:3] == ["inputs", "outputs"]


def _compile_like(model, clone) -> None:
    """Compile ``clone`` as ``model`` was, with a new optimizer (of the same config) of its own."""
    if not getattr(model, "compiled", False):
        return
    config = dict(model.get_compile_config() or {})
    optimizer = config.get("optimizer")
    if optimizer is not None and hasattr(optimizer, "get_config"):
        config["optimizer"] = type(optimizer).from_config(optimizer.get_config())
    clone.compile_from_config(config)
