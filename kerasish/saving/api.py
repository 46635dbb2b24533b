"""Saving and loading by file name, as Keras's ``save_model`` / ``load_model`` / ``save_weights`` /
``load_weights`` (the model methods call these).

The name's suffix picks the format:

==========================  ==========================================================================
``.keras``                  Keras 3's model file (:mod:`kerasish.saving.keras_file`): what Keras code
                            writes, and what Keras, KerasHub and other tools read. The default.
``.kerasish``               kerasish's own model file (:mod:`kerasish.saving.model_file`): safetensors
                            weights and a sha256 per member; still written and read.
``.weights.h5``             Keras 3's weights file.
``.weights.json``           Keras 3's sharded weights (an index and several ``.weights.h5`` shards).
``.weights.safetensors``    kerasish's weights file.
``.h5`` / ``.hdf5``         Keras 2's legacy HDF5 files (:mod:`kerasish.saving.legacy_h5`): whole models
                            read by ``load_model``, weights by ``load_weights`` (by order or by name).
==========================  ==========================================================================
"""

from __future__ import annotations

import os

from kerasish.errors import ConfigError

_MODEL_SUFFIXES = (".keras", ".kerasish", ".h5", ".hdf5")
_WEIGHTS_SUFFIXES = (".weights.h5", ".weights.json", ".weights.safetensors", ".keras", ".kerasish", ".h5", ".hdf5")


def _path(filepath) -> str:
    if not isinstance(filepath, (str, os.PathLike)):
        raise ConfigError(f"Expected a file path (str or os.PathLike), got {type(filepath).__name__}.")
    return os.fspath(filepath)


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Save ``model`` (architecture, weights, compile arguments, optimizer state) to one file.

    Args:
        model: the model.
        filepath: a path ending in ``.keras`` (Keras 3's format) or ``.kerasish`` (kerasish's own).
        overwrite: if False, refuse to replace an existing file.
        zipped: None or True (both formats are one zip archive); False is refused.
        **kwargs: ``include_optimizer`` (default True): also save the optimizer state.
    """
    filepath = _path(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    if kwargs:
        raise ConfigError(f"save_model: unexpected keyword arguments {sorted(kwargs)}.")
    if zipped is False:
        raise ConfigError("save_model: zipped=False (a directory of files) is not supported; a model is saved as "
                          "one zip archive.")
    if filepath.endswith(".keras"):
        from kerasish.saving import keras_file

        keras_file.save_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
    elif filepath.endswith(".kerasish"):
        from kerasish.saving import model_file

        model_file.save_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
    elif filepath.endswith((".h5", ".hdf5")):
        from kerasish.saving import legacy_h5

        legacy_h5.save_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
    else:
        raise ConfigError(f"Invalid filepath extension for saving. Please add the `.keras` extension (Keras 3's "
                          f"format; `.kerasish` for kerasish's own), e.g. `model.save('my_model.keras')`. "
                          f"Received: filepath={filepath}")


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True, *,
               max_bytes=None, nonfinite: str = "warn"):
    """A model read from a ``.keras``, ``.kerasish`` or legacy ``.h5`` file.

    Loading is bounded by what the caller allows, not by what the file declares (see
    :mod:`kerasish.saving.limits`): as the model is built from the file's config, each weight is counted
    before it is allocated and the model is refused once over ``max_bytes`` or over what the file's
    weights can hold (an edited config); the file's weights must
    then fit what the model needs (a member declaring more, a decompression bomb, or much less, another
    architecture, is refused before it is read).

    Args:
        filepath: the file.
        custom_objects: ``{name: class or function}`` for custom classes that are not registered.
        compile: compile the model as it was saved (and restore the optimizer state the file holds).
        safe_mode: refuse files that would run code (a Lambda's function). kerasish never runs code
            from a file, so a Lambda's function must come from ``custom_objects`` in any case.
        max_bytes: (kerasish) the most memory building the model may take: its weights, and while
            each is drawn, the host copy its initial values are drawn in (12 bytes a value for most
            initializers), so a model of exactly ``max_bytes`` bytes of weights needs a little more;
            ``math.inf`` for no limit. None: ``kerasish.saving.limits.MAX_MODEL_BYTES`` if set, else
            half of the memory this process may use (physical memory, cgroup limit and ``RLIMIT_AS``,
            the smallest). Independently of it, a config asking for more weights than the file's
            weights can hold is refused as it is built.
        nonfinite: (kerasish) weights holding NaN or inf: ``"warn"`` (a UserWarning naming each
            variable and how many values), ``"raise"`` (a FileFormatError) or ``"ignore"``.

    Raises:
        ConfigError: an unknown suffix, or an invalid ``max_bytes`` / ``nonfinite``.
        FileFormatError: anything wrong with the file, or a model over ``max_bytes``.
    """
    from kerasish.saving import limits

    filepath = _path(filepath)
    with limits.options(max_bytes=max_bytes, nonfinite=nonfinite):
        return _load_model(filepath, custom_objects, compile, safe_mode)


def _load_model(filepath: str, custom_objects, compile: bool, safe_mode: bool):
    if filepath.endswith(".keras"):
        from kerasish.saving import keras_file

        return keras_file.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if filepath.endswith((".h5", ".hdf5")):
        from kerasish.saving import legacy_h5

        return legacy_h5.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    if filepath.endswith(".kerasish"):
        from kerasish.saving import model_file

        return model_file.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    raise ConfigError(f"File format not supported: filepath={filepath}. load_model reads `.keras` (Keras 3), "
                      "`.kerasish` (kerasish) and legacy `.h5` files; weights files go to model.load_weights.")


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None, **kwargs) -> None:
    """Save ``model``'s weights to ``.weights.h5`` (Keras 3's format; with ``max_shard_size`` in GB, sharded
    into several files listed by a ``.weights.json`` index) or ``.weights.safetensors`` (kerasish's)."""
    filepath = _path(filepath)
    if kwargs:
        raise ConfigError(f"save_weights: unexpected keyword arguments {sorted(kwargs)}.")
    if max_shard_size is not None:
        if not filepath.endswith(".weights.json"):
            raise ConfigError(f"save_weights: with max_shard_size, the filepath must end in `.weights.json` (the "
                              f"index of the shards). Received: filepath={filepath}")
        from kerasish.saving import keras_sharded

        keras_sharded.save_weights(model, filepath, max_shard_size, overwrite=overwrite)
    elif filepath.endswith(".weights.h5"):
        from kerasish.saving import keras_file

        keras_file.save_weights(model, filepath, overwrite=overwrite)
    elif filepath.endswith(".weights.safetensors"):
        from kerasish.saving import weights

        weights.save_weights(model, filepath, overwrite=overwrite)
    else:
        raise ConfigError(f"The filename must end in `.weights.h5` (Keras 3's format; `.weights.safetensors` for "
                          f"kerasish's). Received: filepath={filepath}")


def load_weights(model, filepath, skip_mismatch: bool = False, **kwargs) -> None:
    """Load weights into ``model`` from any of the formats in this module's table.

    Args:
        model: a built model.
        filepath: the file.
        skip_mismatch: leave the layers whose saved weights do not fit as they are (with a warning)
            instead of raising. A file's weights are bounded by what the model needs before they are
            read; with ``skip_mismatch`` by the memory limit of :mod:`kerasish.saving.limits` instead.
        **kwargs: ``by_name`` (legacy ``.h5`` files only): match layers by name instead of by order.
            ``nonfinite`` (kerasish): weights holding NaN or inf: ``"warn"`` (the default, a UserWarning
            naming each variable and how many values), ``"raise"`` (a FileFormatError) or ``"ignore"``.
    """
    from kerasish.saving import limits

    filepath = _path(filepath)
    by_name = kwargs.pop("by_name", False)
    nonfinite = kwargs.pop("nonfinite", "warn")
    if kwargs:
        raise ConfigError(f"load_weights: unexpected keyword arguments {sorted(kwargs)}.")
    with limits.options(nonfinite=nonfinite):
        _load_weights(model, filepath, skip_mismatch, by_name)


def _load_weights(model, filepath: str, skip_mismatch: bool, by_name: bool) -> None:
    legacy = filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")
    if by_name and not legacy:
        raise ConfigError(f"load_weights: by_name=True applies to legacy `.h5` files only. Received: {filepath}")
    if filepath.endswith((".weights.h5", ".keras")):
        from kerasish.saving import keras_file

        keras_file.load_weights(model, filepath, skip_mismatch=skip_mismatch)
    elif filepath.endswith(".weights.json"):
        from kerasish.saving import keras_sharded

        keras_sharded.load_weights(model, filepath, skip_mismatch=skip_mismatch)
    elif legacy:
        from kerasish.saving import legacy_h5

        legacy_h5.load_weights(model, filepath, by_name=by_name, skip_mismatch=skip_mismatch)
    elif filepath.endswith((".weights.safetensors", ".kerasish")):
        from kerasish.saving import weights

        weights.load_weights(model, filepath, skip_mismatch=skip_mismatch)
    else:
        raise ConfigError(f"load_weights: unknown file type {filepath!r}; it reads {', '.join(_WEIGHTS_SUFFIXES)}.")
