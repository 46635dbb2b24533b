"""``kerasish.ops`` functions and Python operators on KerasTensors: each call becomes an :class:`OpLayer` node of
the functional graph.

An ``OpLayer`` holds the op's public name (``"reshape"``, ``"image.resize"``) and its non-tensor arguments in
JSON form; loading looks the name up in ``kerasish.ops`` (its public names only) — a saved model records ops by
name and arguments, never as code.
"""

from __future__ import annotations

import jax
import numpy as np

from kerasish import ops as _ops
from kerasish.errors import ConfigError, FileFormatError
from kerasish.layers.base import Layer
from kerasish.layers.symbolic import KerasTensor
from kerasish.ops import _dispatch


def op_path(op) -> str:
    """The public name of an op function: ``"reshape"`` for ``kerasish.ops.reshape``, ``"image.resize"``."""
    name = getattr(op, "__name__", "")
    if getattr(_ops, name, None) is op:
        return name
    if getattr(_ops.image, name, None) is op:
        return f"image.{name}"
    raise ConfigError(f"{name or op!r} is not a public kerasish.ops function; a functional model records only "
                      "those. Wrap other computations in a Layer.")


def resolve_op(path: str):
    """The op function a saved name refers to; only names in ``kerasish.ops.__all__`` (or ``image.__all__``)."""
    module, _, name = path.rpartition(".")
    namespace = {"": _ops, "image": _ops.image}.get(module)
    if namespace is None or name not in namespace.__all__ or name in ("image", "linalg", "nn", "numpy"):
        raise FileFormatError(f"OpLayer: {path!r} is not a kerasish.ops function.")
    return getattr(namespace, name)


# -- arguments as JSON: tensors become {"__input__": i}; tuples, slices, Ellipsis and arrays are tagged ----------

def encode(value, tensors: list):
    if isinstance(value, KerasTensor):
        tensors.append(value)
        return {"__input__": len(tensors) - 1}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [encode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {"__dict__": {str(k): encode(v, tensors) for k, v in value.items()}}
    if isinstance(value, slice):
        return {"__slice__": [encode(value.start, tensors), encode(value.stop, tensors), encode(value.step, tensors)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, (np.ndarray, np.generic, jax.Array)):
        array = np.asarray(value)
        return {"__array__": array.tolist(), "dtype": array.dtype.name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "dtype") and hasattr(value, "name") and isinstance(getattr(value, "name", None), str):
        return {"__dtype__": np.dtype(value).name}
    raise ConfigError(f"An op on KerasTensors got an argument of type {type(value).__name__} ({value!r:.80}) that "
                      "a model file cannot record; wrap the computation in a Layer.")


def decode(value, inputs):
    if isinstance(value, list):
        return [decode(v, inputs) for v in value]
    if not isinstance(value, dict):
        return value
    if "__input__" in value:
        return inputs[value["__input__"]]
    if "__tuple__" in value:
        return tuple(decode(v, inputs) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: decode(v, inputs) for k, v in value["__dict__"].items()}
    if "__slice__" in value:
        return slice(*(decode(v, inputs) for v in value["__slice__"]))
    if "__ellipsis__" in value:
        return Ellipsis
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=value["dtype"])
    if "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    raise FileFormatError(f"OpLayer: unknown argument encoding {sorted(value)}.")


class OpLayer(Layer):
    """One ``kerasish.ops`` call (or Python operator) on KerasTensors inside a functional model."""

    autocast = False  # an op keeps its inputs' dtypes

    def __init__(self, op: str, arguments: dict, **kwargs):
        self.op = op
        self.arguments = arguments
        self._fn = resolve_op(op)
        kwargs.setdefault("name", None)
        if kwargs["name"] is None:
            from kerasish.layers.base import unique_name

            kwargs["name"] = unique_name(op.rpartition(".")[2])
        super().__init__(**kwargs)
        self.built = True

    def build(self, input_shape) -> None:
        self.built = True

    def call(self, *inputs):
        args = decode(self.arguments["args"], inputs)
        kwargs = {k: decode(v, inputs) for k, v in self.arguments["kwargs"].items()}
        return self._fn(*args, **kwargs)

    @property
    def summary_type(self) -> str:
        """The op's name as Keras shows it in summaries: ``add`` -> ``Add``, ``get_item`` -> ``GetItem``."""
        return "".join(part.capitalize() for part in self.op.rpartition(".")[2].split("_"))

    def get_config(self) -> dict:
        return {**super().get_config(), "op": self.op, "arguments": self.arguments}


def symbolic_op(op, args: tuple, kwargs: dict):
    tensors: list = []
    arguments = {"args": encode(list(args), tensors), "kwargs": encode(dict(kwargs), tensors)["__dict__"]}
    return OpLayer(op_path(op), arguments)(*tensors)


_dispatch.set_symbolic_handler(symbolic_op)

