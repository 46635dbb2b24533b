"""Layer wrappers (Keras 3): the Wrapper base class, TimeDistributed (a layer applied to every timestep with
one call) and SpectralNormalization (a layer's kernel divided by its largest singular value)."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp

from kerasish import initializers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.saving.sublayers import deserialize_sublayer, serialize_sublayer


def _declares(layer: Layer, arg: str) -> bool:
    try:
        return arg in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


class Wrapper(Layer):
    """Base class of the layers that wrap another layer (``TimeDistributed``, ``SpectralNormalization``, yours).

    Args:
        layer: the wrapped kerasish layer; its weights are the wrapper's.

    ``build`` builds the wrapped layer on the wrapper's input shape; ``get_config`` holds the wrapped layer's
    serialized config under ``"layer"`` and ``from_config`` rebuilds it. Subclasses override ``call``; the
    default calls the wrapped layer (Keras's own ``Wrapper`` leaves ``call`` to subclasses).
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ConfigError(f"{type(self).__name__}: layer must be a kerasish Layer instance, got {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer._maybe_build(input_shape)

    def call(self, inputs, *args, **kwargs):
        return self.layer(inputs, *args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "layer": serialize_sublayer(self.layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        if "layer" not in config:
            raise ConfigError(f"{cls.__name__} config needs a 'layer' entry.")
        layer = deserialize_sublayer(config.pop("layer"), custom_objects)
        return cls(layer, **config)


class TimeDistributed(Wrapper):
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


def _l2_normalize(x):
    # keras.ops.normalize over all axes: x * min(rsqrt(sum(x**2)), 1 / 1e-7).
    return x * jnp.minimum(jax.lax.rsqrt(jnp.sum(jnp.square(x))), 1e7)


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's kernel by its spectral norm (largest singular value) in training
    (Miyato et al., 2018), estimated by ``power_iterations`` steps of power iteration per call.

    Args:
        layer: a layer with a ``kernel`` (Dense, Conv*) or ``embeddings`` (Embedding) weight.
        power_iterations: power-iteration steps per training call, >= 1.

    As Keras: in a training call the kernel (reshaped to ``(-1, out)``) is replaced by ``kernel / sigma`` and the
    non-trainable estimate ``vector_u (1, out)`` is updated, both by assignment, before the wrapped layer runs
    (an all-zero kernel is left alone); an inference call uses the kernel as it stands. Inside a jitted step the
    assignment holds for that step's forward pass (the trained kernel itself stays unnormalized, as Keras's
    JAX backend). Weights (Keras's order): the kernel, ``vector_u``, the wrapped layer's others. The output has
    the inputs' dtype when they are floating; an Embedding's float rows are not cast to its indices' integer
    dtype (Keras does, which truncates them).
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or power_iterations <= 0:
            raise ConfigError(f"SpectralNormalization: power_iterations must be a positive integer, "
                              f"got {power_iterations!r}.")
        self.power_iterations = power_iterations

    def build(self, input_shape):
        super().build(input_shape)
        kernel = getattr(self.layer, "kernel", None)
        if kernel is None:
            kernel = getattr(self.layer, "embeddings", None)
        if kernel is None or not hasattr(kernel, "assign"):
            raise ConfigError(f"SpectralNormalization: {type(self.layer).__name__} has no 'kernel' nor "
                              "'embeddings' weight to normalize.")
        self.kernel = kernel
        self._trainable_vars.append(kernel)  # Keras's weight order: the kernel, vector_u, the layer's others
        self.vector_u = self.add_weight(name="vector_u", shape=(1, kernel.shape[-1]),
                                        initializer=initializers.TruncatedNormal(stddev=0.02),
                                        dtype=kernel.dtype, trainable=False)

    def normalized_weights(self):
        """``(new vector_u, kernel / sigma)`` from the current kernel and ``vector_u``."""
        kernel = self.kernel.value
        w = kernel.reshape(-1, kernel.shape[-1])
        u = self.vector_u.value
        for _ in range(self.power_iterations):
            v = _l2_normalize(u @ w.T)
            u = _l2_normalize(v @ w)
        u, v = jax.lax.stop_gradient(u), jax.lax.stop_gradient(v)
        sigma = (v @ w) @ u.T
        return u.astype(self.vector_u.dtype), (w / sigma).reshape(kernel.shape).astype(kernel.dtype)

    def call(self, inputs, training=False):
        if training:
            u, kernel = self.normalized_weights()
            zero = jnp.all(self.kernel.value == 0)
            self.vector_u.assign(jnp.where(zero, self.vector_u.value, u))
            self.kernel.assign(jnp.where(zero, self.kernel.value, kernel))
        out = self.layer(inputs)
        dtype = jnp.asarray(inputs).dtype
        # Keras casts to the inputs' dtype even when they are an Embedding's indices (outputs then truncated to
        # integers); kerasish casts only floating inputs' outputs.
        return out.astype(dtype) if jnp.issubdtype(dtype, jnp.floating) else out

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
