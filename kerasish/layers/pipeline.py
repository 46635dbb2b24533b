"""Pipeline (Keras 3): a list of layers applied one after the other, as one layer (for preprocessing)."""

from __future__ import annotations

from kerasish.backend import current_scope
from kerasish.errors import ConfigError
from kerasish.layers.base import Layer
from kerasish.saving.sublayers import deserialize_sublayer, serialize_sublayer


class Pipeline(Layer):
    """Applies ``layers`` in order, each to the previous one's output; unlike a ``Sequential`` it is a plain
    layer (no ``fit``), meant for preprocessing and augmentation chains, e.g. inside a ``tf.data``-free
    input function or at the top of a model.

    Args:
        layers: a list of layers.
        name: the layer's name.

    Call arguments: ``inputs``; ``training`` — True by default, as Keras (augmentation layers then augment),
    unless a training step or an evaluation says otherwise; it is passed to the layers that take it. Masks
    flow from layer to layer as in a model.
    """

    def __init__(self, layers, name=None, **kwargs):
        if not isinstance(layers, (list, tuple)) or not all(isinstance(layer, Layer) for layer in layers):
            raise ConfigError(f"Pipeline: layers must be a list of kerasish layers, got {layers!r}.")
        super().__init__(name=name, **kwargs)
        self._pipeline_layers = list(layers)

    @property
    def layers(self) -> list:
        return self._pipeline_layers

    def _resolve_training(self, kwargs: dict) -> dict:
        if kwargs.get("training") is None and current_scope() is None:
            kwargs = {**kwargs, "training": True}  # Keras's default for Pipeline.call
        return super()._resolve_training(kwargs)

    def build(self, input_shape):
        """The layers build on the first call, each on the shape it receives."""

    def call(self, inputs, training=True):
        for layer in self._pipeline_layers:
            kwargs = {"training": training} if layer._call_has_training else {}
            inputs = layer(inputs, **kwargs)
        return inputs

    def compute_mask(self, inputs, mask=None):
        return None  # the last layer's output already carries its own mask

    def get_config(self):
        return {"layers": [serialize_sublayer(layer) for layer in self._pipeline_layers], "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = config.get("layers")
        if not isinstance(layers, (list, tuple)):
            raise ConfigError(f"A Pipeline config needs 'layers': a list of layer configs, got {layers!r}.")
        return cls([deserialize_sublayer(entry, custom_objects) for entry in layers], name=config.get("name"))
