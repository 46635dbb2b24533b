"""Keras's functional forms of saving: ``save_model(model, path)``, ``save_weights(model, path)``, ...

They do what the model methods do, with ``.kerasish`` model files and ``.weights.safetensors`` weight
files (see :mod:`kerasish.saving.model_file` and :mod:`kerasish.saving.weights`). Keras's ``.keras`` and
``.h5`` names are refused with the same errors as ``model.save``.
"""

from __future__ import annotations

from kerasish.errors import ConfigError


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Save ``model`` to one ``.kerasish`` file (as ``model.save``).

    Args:
        model: the model.
        filepath: a path ending in ``.kerasish``.
        overwrite: if False, refuse to replace an existing file.
        zipped: None or True (a ``.kerasish`` file is always one zip archive); False is refused.
        **kwargs: ``include_optimizer`` (default True): also save the optimizer state.
    """
    from kerasish.saving import model_file

    include_optimizer = kwargs.pop("include_optimizer", True)
    if kwargs:
        raise ConfigError(f"save_model: unexpected keyword arguments {sorted(kwargs)}.")
    if zipped is False:
        raise ConfigError("save_model: zipped=False is not supported; a .kerasish file is always one zip archive.")
    model_file.save_model(model, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True):
    """A model read from a ``.kerasish`` file; see :func:`kerasish.saving.model_file.load_model`."""
    from kerasish.saving import model_file

    return model_file.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None, **kwargs) -> None:
    """Save ``model``'s weights to a ``.weights.safetensors`` file (as ``model.save_weights``).

    ``max_shard_size`` (Keras's sharded weights) is not supported: the weights go to one file.
    """
    from kerasish.saving import weights

    if kwargs:
        raise ConfigError(f"save_weights: unexpected keyword arguments {sorted(kwargs)}.")
    if max_shard_size is not None:
        raise ConfigError(f"save_weights: max_shard_size={max_shard_size!r} is not supported; kerasish writes the "
                          "weights to one .weights.safetensors file.")
    weights.save_weights(model, filepath, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch: bool = False, **kwargs) -> None:
    """Load weights from a ``.weights.safetensors`` or ``.kerasish`` file into ``model`` (as
    ``model.load_weights``)."""
    from kerasish.saving import weights

    if kwargs:
        raise ConfigError(f"load_weights: unexpected keyword arguments {sorted(kwargs)}.")
    weights.load_weights(model, filepath, skip_mismatch=skip_mismatch)
