"""kerasish: Keras-style models that compile to one jitted JAX function over one state pytree."""

from kerasish import (
    activations,
    callbacks,
    constraints,
    datasets,
    errors,
    export,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    regularizers,
    saving,
    utils,
)
from kerasish.errors import (
    ConfigError,
    FileFormatError,
    InputError,
    KerasishError,
    NotBuiltError,
    NotCompiledError,
)
from kerasish.layers import Input, KerasTensor, Layer
from kerasish.models import Functional, Model, Sequential

__version__ = "0.1.0"


def __getattr__(name):
    # kerasish.runs (config-driven runs) pulls in pydantic and omegaconf: loaded on first use only
    if name == "runs":
        import importlib

        return importlib.import_module("kerasish.runs")
    raise AttributeError(f"module 'kerasish' has no attribute {name!r}")

__all__ = [
    "ConfigError", "FileFormatError", "Functional", "Input", "InputError", "KerasTensor", "KerasishError", "Layer", "Model",
    "NotBuiltError", "NotCompiledError", "Sequential", "activations", "callbacks", "constraints", "datasets", "errors", "export", "initializers",
    "layers", "losses", "metrics", "optimizers", "regularizers", "runs", "saving", "utils",
]
