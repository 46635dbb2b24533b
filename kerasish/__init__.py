"""kerasish: Keras-style models that compile to one jitted JAX function over one state pytree."""

import contextlib

from kerasish import (
    activations,
    callbacks,
    config,
    constraints,
    datasets,
    distribution,
    errors,
    export,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    ops,
    optimizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from kerasish.backend import StatelessScope, Variable
from kerasish.errors import (
    ConfigError,
    FileFormatError,
    InputError,
    KerasishError,
    NotBuiltError,
    NotCompiledError,
    StorageError,
)
from kerasish.layers import Input, KerasTensor, Layer
from kerasish.models import Functional, Model, Sequential


@contextlib.contextmanager
def device(name: str):
    """``with kerasish.device("cpu:0"):`` (as ``keras.device``): weights created and computations run inside
    the block go to that device (``jax.default_device``). Names: ``"cpu"``, ``"gpu:1"``, ... (see
    ``kerasish.distribution.list_devices()``)."""
    import jax

    kind, _, index = str(name).lower().partition(":")
    try:
        target = jax.devices(kind)[int(index or 0)]
    except (RuntimeError, IndexError, ValueError):
        raise ConfigError(f"kerasish.device: no device {name!r}; available: "
                          f"{distribution.list_devices()}.") from None
    with jax.default_device(target):
        yield target

__version__ = "0.1.0"


def __getattr__(name):
    # kerasish.runs (config-driven runs) pulls in pydantic and omegaconf: loaded on first use only
    if name in ("runs", "applications"):  # applications: imported on first use as well
        import importlib

        return importlib.import_module(f"kerasish.{name}")
    raise AttributeError(f"module 'kerasish' has no attribute {name!r}")

__all__ = [
    "ConfigError", "FileFormatError", "Functional", "Input", "InputError", "KerasTensor", "KerasishError", "Layer", "Model",
    "NotBuiltError", "NotCompiledError", "Sequential", "StatelessScope", "StorageError", "Variable", "activations", "applications", "callbacks", "config", "constraints", "datasets", "device", "distribution", "errors", "export", "initializers",
    "layers", "losses", "metrics", "mixed_precision", "ops", "optimizers", "random", "regularizers", "runs", "saving", "tree", "utils",
]
