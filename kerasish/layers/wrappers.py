"""Layer wrappers: TimeDistributed (Keras 3) applies a layer to every timestep with one call."""

from __future__ import annotations

import inspect

import jax.numpy as jnp

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer


def _declares(layer: Layer, arg: str) -> bool:
    try:
        return arg in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


class TimeDistributed(Layer):
    """Applies ``layer`` to every temporal slice of ``(batch, time, ...)`` inputs.

    Time is folded into the batch, so the wrapped layer runs once on ``(batch * time, ...)``
    (not once per step) and shares its weights across timesteps; its weights are this layer's.

    Args:
        layer: the layer to apply; it is built on the per-timestep shape ``(batch, ...)``.

    Call arguments:
        inputs: ``(batch, time, ...)``, rank 3 or more.
        training: passed to the wrapped layer if its ``call`` takes it.
        mask: optional ``(batch, time, ...)`` mask, folded like the inputs and passed to the wrapped
            layer if its ``call`` takes ``mask``; the output mask is the input mask (as Keras).

    Input shape:
        ``(batch, time, ...)``.

    Output shape:
        ``(batch, time) + `` the wrapped layer's per-step output shape without its batch.

    Example:
        >>> td = TimeDistributed(Dense(8))
        >>> td(np.zeros((2, 10, 4), "float32")).shape
        (2, 10, 8)
    """

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ConfigError(f"TimeDistributed: layer must be a kerasish Layer instance, got {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            raise InputError(f"Layer {self.name!r} (TimeDistributed) expects inputs of rank 3 or more "
                             f"(batch, time, ...), got input shape {input_shape}.")
        batch, steps = input_shape[:2]
        folded = None if batch is None or steps is None else batch * steps
        return (folded,) + tuple(input_shape[2:])

    def _check_input(self, input_shape):
        self._child_shape(input_shape)

    def build(self, input_shape):
        self.layer._maybe_build(self._child_shape(input_shape))

    def call(self, inputs, training=None, mask=None):
        inputs = jnp.asarray(inputs)
        batch, steps = inputs.shape[:2]
        kwargs = {}
        if _declares(self.layer, "training"):
            kwargs["training"] = training
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.ndim < 2 or mask.shape[:2] != (batch, steps):
                raise InputError(f"Layer {self.name!r} (TimeDistributed): the mask's first two dimensions must be "
                                 f"the inputs' (batch, time) = {(batch, steps)}, got mask shape {tuple(mask.shape)}.")
            if _declares(self.layer, "mask"):
                kwargs["mask"] = mask.reshape((batch * steps,) + mask.shape[2:])
        out = self.layer(inputs.reshape((batch * steps,) + inputs.shape[2:]), **kwargs)
        return out.reshape((batch, steps) + out.shape[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        from kerasish.saving.registry import serialize_layer

        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        from kerasish.saving.registry import deserialize_layer

        config = dict(config)
        if "layer" not in config:
            raise ConfigError("TimeDistributed config needs a 'layer' entry.")
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)
