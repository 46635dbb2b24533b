"""``.kerasish`` model files: one zip archive with the architecture, the weights and the training state.

Members (never pickled; nothing in them is code):

* ``metadata.json``: format name and version, kerasish/jax/flax versions, save date,
  and the sha256 and size of every other member;
* ``config.json``: the architecture, ``{"class_name", "config"}`` through the layer registry;
* ``model.weights.safetensors``: every variable (see :mod:`kerasish.saving.weights`);
* ``compile.json`` (if compiled and the compile arguments serialize): optimizer, losses, metrics,
  loss weights, steps_per_execution;
* ``optimizer.safetensors`` (if trained and ``include_optimizer``): optimizer state, dropout key, step.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os

from kerasish.engine import state as engine_state
from kerasish.errors import ConfigError, FileFormatError, KerasishError
from kerasish.saving import files, limits
from kerasish.saving.archive import (
    FORMAT,
    FORMAT_VERSION,
    MODEL_SUFFIX,
    _dumps,
    _json_default,
    _loads,
    read_model_archive,
)
from kerasish.saving.compile_config import compile_config, compile_kwargs
from kerasish.saving.registry import deserialize_layer, resolve_class, safe_mode_scope, serialize_layer
from kerasish.saving.weights import (
    assign_weights,
    check_member_sizes,
    optimizer_state_to_bytes,
    read_optimizer_state,
    read_weights,
    restore_optimizer_state,
    variables_to_bytes,
)


def _as_shape(value):
    """JSON lists back into the tuples build() expects (a list of shapes stays a list)."""
    if isinstance(value, list) and all(v is None or isinstance(v, int) for v in value):
        return tuple(value)
    if isinstance(value, list):
        return [_as_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_shape(v) for k, v in value.items()}
    return value


# -- architecture ------------------------------------------------------------------------------------
def model_config(model) -> dict:
    """``{"class_name", "config"[, "build_config"]}`` for ``config.json`` and ``to_json``."""
    entry = serialize_layer(model)
    shape = getattr(model, "_build_input_shape", None)
    if shape is not None and not getattr(model, "config_holds_graph", False):
        entry["build_config"] = {"input_shape": shape}  # a subclassed model builds from its first input
    return entry


def build_model(config, custom_objects, safe_mode: bool, source: str, error=FileFormatError):
    """A model from its config, resolving classes only through the registry and ``custom_objects``.

    Any failure, including the ones a malformed config makes deep inside a layer, becomes ``error``
    naming ``source``: a config read from a file is data, and bad data is the file's fault.
    """
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise error(f"{source}: a model config must be an object with 'class_name' and 'config'.")
    try:
        with safe_mode_scope(safe_mode):
            cls = resolve_class(config.get("class_name"), custom_objects)
            if not getattr(cls, "is_model", False):
                raise ConfigError(f"the config describes a {cls.__name__} layer, not a model.")
            model = deserialize_layer(config, custom_objects)
            build = config.get("build_config")
            if not model.built and isinstance(build, dict) and build.get("input_shape") is not None:
                model.build(_as_shape(build["input_shape"]))
    except KerasishError as e:
        raise error(f"{source}: {e}") from e
    except Exception as e:  # TypeError, KeyError, ... from a malformed config
        if limits.out_of_memory(e):
            raise error(limits.memory_message(source, e)) from e
        raise error(f"{source}: the model config is malformed ({type(e).__name__}: {e}).") from e
    return model


def to_json(model, **kwargs) -> str:
    """The model's architecture as a JSON string (``json.dumps`` keyword arguments pass through)."""
    import kerasish

    entry = {**model_config(model), "kerasish_version": kerasish.__version__}
    return json.dumps(entry, default=_json_default, **kwargs)


def model_from_json(json_string: str, custom_objects: dict | None = None, safe_mode: bool = True):
    """A new model (fresh weights) from :func:`to_json`'s output.

    Args:
        json_string: the JSON text.
        custom_objects: ``{name: class or function}`` for classes that are not kerasish's or registered,
            and for ``Lambda`` functions.
        safe_mode: refuse ``Lambda`` layers (see :func:`load_model`).

    Raises:
        ConfigError: invalid JSON, an unknown class, a Lambda in safe mode, or any malformed entry.
    """
    with limits.budget("the model this JSON describes"):  # see kerasish.saving.limits.MAX_MODEL_BYTES
        return build_model(_loads(json_string, "model_from_json", ConfigError), custom_objects, safe_mode,
                           "model_from_json", ConfigError)


def _training_state(model):
    """Optimizer variables' values, the run's key and step (the live ones while ``fit`` runs: a callback
    saving). No optimizer state once weights were frozen or unfrozen since the last fit: the trainer
    would start it afresh at the next fit, and it no longer fits the trainable weights a loader sees."""
    rng, step = engine_state.seed_state(model)
    if not engine_state.optimizer_current(model):
        return None, rng, step
    return [v.value for v in model.optimizer.variables], rng, step


# -- save / load -------------------------------------------------------------------------------------
def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Save a model to one ``.kerasish`` file, atomically. See ``Model.save``."""
    import flax
    import jax

    import kerasish

    filepath = os.fspath(filepath)
    if not str(filepath).endswith(MODEL_SUFFIX):
        raise ConfigError(f"Invalid filepath extension for saving. Please add the `{MODEL_SUFFIX}` extension, "
                          f"e.g. `model.save('my_model{MODEL_SUFFIX}')`. Received: filepath={filepath}")
    if not overwrite and os.path.exists(filepath):
        raise ConfigError(f"{filepath} exists; pass overwrite=True to replace it.")
    members = {"config.json": _dumps(model_config(model), f"model {model.name!r}'s config"),
               "model.weights.safetensors": variables_to_bytes(model.weights)}
    compiled = compile_config(model) if getattr(model, "compiled", False) else None
    if compiled is not None:
        members["compile.json"] = _dumps(compiled, "compile arguments")
        opt_state, rng, step = _training_state(model)
        if include_optimizer and opt_state is not None:
            members["optimizer.safetensors"] = optimizer_state_to_bytes(opt_state, rng, step)
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "kerasish_version": kerasish.__version__,
                "jax_version": jax.__version__, "flax_version": flax.__version__,
                "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "members": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                            for name, data in members.items()}}
    files.write_archive(filepath, {"metadata.json": _dumps(metadata, "metadata"), **members})


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True):
    """Load a model saved with ``model.save`` (Keras's arguments).

    The archive's directory and JSON members are verified before anything is built (member names and
    sizes, sha256s); classes resolve only through kerasish's layers, registered classes and
    ``custom_objects``; the model's weights are counted against the memory limit as it is built (see
    :mod:`kerasish.saving.limits`), and the tensor members are decompressed only once their declared
    sizes fit what it needs; weights are checked shape by shape (and for NaN and inf). With ``compile=True`` a model saved compiled is compiled again and, when the file
    holds it, gets its optimizer state, dropout key and step back, so training continues exactly.

    Args:
        filepath: a ``.kerasish`` file.
        custom_objects: ``{name: class or function}`` for unregistered custom classes and Lambda functions.
        compile: whether to compile the model (and restore the optimizer state) as it was saved.
        safe_mode: refuse ``Lambda`` layers. kerasish never stores code, so a Lambda's function must come
            from ``custom_objects``; safe mode additionally refuses to run any user function named by a file.

    Raises:
        ConfigError: the path does not end in ``.kerasish``.
        FileFormatError: anything wrong with the file, naming it and the member, variable or class.
    """
    filepath = os.fspath(filepath)
    if not str(filepath).endswith(MODEL_SUFFIX):
        raise ConfigError(f"load_model reads `{MODEL_SUFFIX}` files (weights files go to model.load_weights). "
                          f"Received: filepath={filepath}")
    custom_objects = dict(custom_objects or {})
    built = {}

    def build_then_bound(members, declared):
        # The JSON members are read and verified; the model is built (each weight counted against the limit
        # before it is allocated), and only then are the tensor members, bounded by what it needs, read.
        config = _loads(members["config.json"], f"{filepath}: config.json")
        if compile and "compile.json" in members:
            built["compiled"] = _loads(members["compile.json"], f"{filepath}: compile.json")
        with limits.budget(weights_declared=declared["model.weights.safetensors"],
                           weights_member="member 'model.weights.safetensors'"):
            model = build_model(config, custom_objects, safe_mode, f"{filepath}: config.json")
        limits.check_size(limits.ModelSize.of(model), f"{filepath}: config.json")
        check_member_sizes(model, declared, filepath)
        built["model"] = model

    members = read_model_archive(filepath, build_then_bound)
    model, compiled = built["model"], built.get("compiled")
    weights_source = f"{filepath}: model.weights.safetensors"
    weights = read_weights(members["model.weights.safetensors"], weights_source)
    compile_source, optimizer_source = f"{filepath}: compile.json", f"{filepath}: optimizer.safetensors"
    optimizer_state = None
    if compiled is not None and "optimizer.safetensors" in members:
        optimizer_state = read_optimizer_state(members["optimizer.safetensors"], optimizer_source)
    assign_weights(model, weights, weights_source)
    if compiled is not None:
        try:
            model.compile(**compile_kwargs(compiled, custom_objects))
        except Exception as e:
            raise FileFormatError(f"{compile_source}: cannot compile the model from it "
                                  f"({type(e).__name__}: {e}).") from e
    if optimizer_state is not None:
        try:
            restore_optimizer_state(model, optimizer_state, optimizer_source)
        except FileFormatError:
            raise
        except Exception as e:
            raise FileFormatError(f"{optimizer_source}: cannot restore the optimizer state "
                                  f"({type(e).__name__}: {e}).") from e
    return model
