"""Sequential: a plain stack of single-input, single-output layers."""

from __future__ import annotations

from kerasish import mixed_precision
from kerasish.errors import ConfigError, NotBuiltError
from kerasish.layers.base import Layer
from kerasish.layers.core import Input, InputLayer
from kerasish.layers.symbolic import KerasTensor
from kerasish.models.model import Model, adjust_rank, check_call_shapes


class Sequential(Model):
    """A linear stack of layers.

    The input shape comes from a leading ``kerasish.Input(shape)``, from
    ``input_shape=`` on the first layer, or from the first data the model sees.

    Example:
        >>> model = kerasish.Sequential([
        ...     kerasish.Input(shape=(64,)),
        ...     kerasish.layers.Dense(32, activation="relu"),
        ...     kerasish.layers.Dense(10, activation="softmax"),
        ... ])
    """

    config_holds_graph = True  # the config lists the layers

    config_holds_graph = True  # the config records the layers and how they connect

    _convert_input_args = False  # each layer casts its own inputs to its compute dtype

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        object.__setattr__(self, "_input_layer", None)  # not a tracked sublayer
        self._output_tensor = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def add(self, layer, rebuild: bool = True) -> None:
        """Append a layer (or set the input with ``kerasish.Input``)."""
        if isinstance(layer, KerasTensor):
            origin = layer._history[0] if layer._history else None
            if not isinstance(origin, InputLayer):
                raise ConfigError("Sequential.add() takes layers or a kerasish.Input(), not a layer's output tensor.")
            layer = origin
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self.layers:
                raise ConfigError("Sequential: an Input can only be the first entry.")
            object.__setattr__(self, "_input_layer", layer)
        elif isinstance(layer, Layer):
            if any(layer.name == l.name for l in self._layers):
                raise ConfigError(f"Sequential: all layer names must be unique; {layer.name!r} is already present.")
            self._layers.append(layer)
        else:
            raise ConfigError(f"Sequential.add() takes a Layer, got {type(layer).__name__}: {layer!r}.")
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild: bool = True) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ConfigError("Sequential.pop(): there are no layers to remove.")
        layer = self._layers.pop()
        self.built = False
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _known_input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._layers and self._layers[0]._batch_input_shape is not None:
            return self._layers[0]._batch_input_shape
        if self._build_input_shape is not None:
            return self._build_input_shape
        return None

    def _maybe_rebuild(self) -> None:
        shape = self._known_input_shape()
        self.built = False
        if shape is not None and self._layers:
            self.build(shape)

    def build(self, input_shape=None) -> None:
        if self.built:
            return
        input_shape = input_shape or self._known_input_shape()
        if input_shape is None:
            raise ConfigError(f"Sequential {self.name!r}: the input shape is unknown; give kerasish.Input(shape).")
        if not self._layers:
            raise ConfigError(f"Sequential {self.name!r} has no layers.")
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(input_shape):
            x = Input(batch_shape=tuple(input_shape), name=f"{self.name}_input")
            if self._input_layer is None:
                object.__setattr__(self, "_input_layer", x._history[0])
        x = self._input_layer.output_tensor
        for layer in self._layers:
            x = layer(x)
            if not isinstance(x, KerasTensor):
                raise ConfigError(f"Sequential: layer {layer.name!r} must have exactly one output tensor.")
        self._output_tensor = x
        self._build_input_shape = tuple(input_shape)
        self.built = True

    def _check_input(self, input_shape) -> None:
        check_call_shapes(self, input_shape)  # against the Input's shape (given, or from the first data)

    def call(self, inputs, training=None):
        x = inputs if self._input_layer is None else adjust_rank(inputs, self._input_layer.batch_shape)
        for layer in self._layers:
            x = layer(x, training=training) if layer._call_has_training else layer(x)
        return x

    @property
    def output_names(self) -> list[str]:
        return [self._layers[-1].name] if self._layers else ["output"]

    def _built_graph(self):
        if not self.built:
            self._maybe_rebuild()
        if not self.built:
            raise NotBuiltError(f"Sequential {self.name!r} has no input shape yet: give kerasish.Input(shape) "
                                "first, or call it on data.")

    @property
    def inputs(self) -> list[KerasTensor]:
        """The symbolic input, once the input shape is known (as Keras)."""
        self._built_graph()
        return [self._input_layer.output_tensor]

    @property
    def outputs(self) -> list[KerasTensor]:
        self._built_graph()
        return [self._output_tensor]

    @property
    def input(self):
        """The symbolic input tensor, once the input shape is known (as Keras)."""
        return self.inputs[0]

    @property
    def output(self):
        return self.outputs[0]

    @property
    def input_shape(self):
        self._built_graph()
        return tuple(self._input_layer.output_tensor.shape)

    @property
    def output_shape(self):
        self._built_graph()
        return tuple(self._output_tensor.shape)

    def _output_shapes(self) -> list[tuple]:
        return [self._output_tensor.shape]

    def _input_specs(self):
        if self._input_layer is None:
            return None
        return [(self._input_layer.name, self._input_layer.batch_shape)]

    def get_config(self) -> dict:
        """Keras 3's Sequential config: the layers as ``serialize_keras_object`` writes them, the input layer
        first when the input shape is known (with ``build_input_shape``)."""
        from kerasish.saving.sublayers import serialize_sublayer

        layers = [serialize_sublayer(layer) for layer in self._layers]
        shape = self._known_input_shape()
        if self._input_layer is not None and tuple(self._input_layer.batch_shape) == tuple(shape or ()):
            layers.insert(0, serialize_sublayer(self._input_layer))
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": mixed_precision.serialize(self.dtype_policy), "layers": layers}
        if shape is not None:
            config["build_input_shape"] = list(shape)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """The model a Sequential config describes (Keras 3's, or an older ``.kerasish`` file's)."""
        from kerasish.saving.sublayers import deserialize_sublayer

        model = cls(name=config.get("name"), trainable=config.get("trainable", True), dtype=config.get("dtype"))
        layers = [deserialize_sublayer(entry, custom_objects)
                  for entry in config["layers"]]
        if layers and isinstance(layers[0], InputLayer):
            model.add(layers.pop(0), rebuild=False)
        elif config.get("build_input_shape") is not None:
            model.add(Input(batch_shape=tuple(config["build_input_shape"])), rebuild=False)
        for layer in layers:
            model.add(layer, rebuild=False)
        model._maybe_rebuild()
        return model
