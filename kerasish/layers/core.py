"""Core layers: Input, Dense, Activation, Dropout, Flatten, Reshape, Lambda, Embedding."""

from __future__ import annotations

import math
import numbers

import jax.numpy as jnp
import numpy as np
from flax import nnx

from kerasish import activations, constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.keras_compat import accept_only_default
from kerasish.layers.symbolic import KerasTensor
from kerasish.utils.random import host_rngs


def _rngs():
    return host_rngs()


def _dims(shape, what: str, name) -> tuple:
    """``shape`` as a tuple of dimensions, each a non-negative int (NumPy integers accepted) or None (any size);
    anything else (a negative size, a string, a float, a bool) is a ConfigError, as Keras refuses them."""
    bad = not isinstance(shape, (list, tuple))
    if not bad:
        for d in shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0):
                bad = True
                break
    if bad:
        raise ConfigError(f"Input {name!r}: {what} must be a tuple of non-negative ints or None (any size), got "
                          f"{shape!r}.")
    return tuple(None if d is None else int(d) for d in shape)


class InputLayer(Layer):
    """The layer behind :func:`Input`: it holds the input's shape and dtype.

    ``dtype`` is the input's dtype (float32 by default, whatever the global dtype policy, as Keras 3);
    the layers after it cast floating inputs to their own compute dtype.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, ragged=None, **kwargs):
        super().__init__(name=name, **kwargs)
        accept_only_default(f"InputLayer {self.name!r}", {"sparse": bool(sparse), "ragged": bool(ragged),
                                                          "optional": optional},
                            {"sparse": False, "ragged": False, "optional": False})
        if input_tensor is not None:
            raise ConfigError(f"InputLayer {self.name!r}: input_tensor is not supported by kerasish; use "
                              "kerasish.Input(...) itself as the input.")
        try:
            self._input_dtype = jnp.dtype(dtype or "float32")
        except TypeError:
            raise ConfigError(f"Input {name!r}: dtype must be a dtype such as 'float32' or 'int32', "
                              f"got {dtype!r}.") from None
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size <= 0):
            raise ConfigError(f"Input {self.name!r}: batch_size must be a positive integer or None, got "
                              f"{batch_size!r}.")
        if batch_shape is None:
            if shape is None:
                raise ConfigError("Input needs a shape, e.g. kerasish.Input(shape=(28, 28, 1)).")
            if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
                shape = (shape,)
            batch_shape = (batch_size,) + _dims(shape, "shape", self.name)
        elif batch_size is not None:
            raise ConfigError(f"Input {self.name!r}: give batch_size or batch_shape, not both (got batch_size="
                              f"{batch_size!r}, batch_shape={batch_shape!r}).")
        self.batch_shape = _dims(batch_shape, "batch_shape", self.name)
        self.built = True
        tensor = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        tensor._history = (self, 0, 0)
        from kerasish.layers.symbolic import Node

        self._inbound_nodes.append(Node(self, (), {}, tensor))
        self.output_tensor = tensor

    @property
    def dtype(self):
        """The input's dtype (not a weight dtype: an input layer has no weights)."""
        return self._input_dtype

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype.name, "sparse": False, "ragged": False,
                "name": self.name, "optional": False}


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, *, sparse=None, tensor=None,
          optional=False, ragged=None) -> KerasTensor:
    """A symbolic input for the functional API (the shape excludes the batch).

    ``shape`` is a tuple of non-negative ints or None (any size); an int ``n`` means ``(n,)``. Negative sizes,
    strings, floats and bools are refused (ConfigError), as Keras refuses them. ``batch_size`` is a positive int
    or None, and cannot be given with ``batch_shape``.
    ``sparse``, ``ragged``, ``optional`` and ``tensor`` are Keras's, accepted only when off (None/False).
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name, batch_shape=batch_shape,
                      sparse=sparse, input_tensor=tensor, optional=optional, ragged=ragged).output_tensor


def _last_dim(layer: Layer, input_shape, what: str = "last") -> int:
    if not isinstance(input_shape, tuple) or not input_shape or input_shape[-1] is None:
        raise InputError(f"Layer {layer.name!r} needs a known {what} input dimension, got input shape {input_shape}.")
    return int(input_shape[-1])


class Dense(Layer):
    """Densely connected layer: ``activation(inputs @ kernel + bias)`` (flax ``nnx.Linear``).

    Args:
        units: output size, a positive int (a NumPy integer is taken as its value; a bool is refused).
        activation: name or callable; ``None`` is linear.
        use_bias: whether to add a bias.
        kernel_initializer / bias_initializer: names or initializers (Keras defaults).
        kernel_regularizer / bias_regularizer: names or regularizers.
        kernel_constraint / bias_constraint: names or constraints, applied after each update.
        lora_rank, lora_alpha, quantization_config: Keras's LoRA and quantization options, accepted as None
            (as Keras's configs carry them); kerasish implements neither.

    Input shape: ``(batch, ..., input_dim)``, rank 2 or more (an unbatched ``(input_dim,)`` is refused, as
    Keras's ``min_ndim=2``). Output shape: ``(batch, ..., units)``.
    """

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units <= 0:
            raise ConfigError(f"Dense: units must be a positive integer, got {units!r}.")
        for arg, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                           ("quantization_config", quantization_config)):
            if value is not None:  # Keras configs carry them as None
                raise ConfigError(f"Dense: {arg}={value!r} is not supported by kerasish (no LoRA or quantization); "
                                  "leave it None.")
        self.units = int(units)  # a NumPy integer is taken as its value
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get_argument("Dense", "kernel_constraint", kernel_constraint)
        self.bias_constraint = constraints.get_argument("Dense", "bias_constraint", bias_constraint)

    def _check_rank(self, input_shape):
        if isinstance(input_shape, tuple) and len(input_shape) < 2:  # as Keras's min_ndim=2: a batch axis first
            raise InputError(f"Layer {self.name!r} (Dense) expects inputs of rank >= 2 (batch, ..., features), got "
                             f"input shape {input_shape}.")

    def build(self, input_shape):
        self._check_rank(input_shape)
        in_dim = _last_dim(self, input_shape)
        module = nnx.Linear(in_dim, self.units, use_bias=self.use_bias, kernel_init=self.kernel_initializer,
                            bias_init=self.bias_initializer, rngs=_rngs())
        names = {"kernel": ("kernel", True, self.kernel_regularizer, self.kernel_constraint)}
        if self.use_bias:
            names["bias"] = ("bias", True, self.bias_regularizer, self.bias_constraint)
        self._adopt_nnx(module, names)
        self.input_dim = in_dim

    def _check_input(self, input_shape):
        self._check_rank(input_shape)
        if isinstance(input_shape, tuple) and input_shape and input_shape[-1] not in (None, self.input_dim):
            raise InputError(
                f"Layer {self.name!r} (Dense) expects inputs whose last dimension is {self.input_dim}, "
                f"got input shape {input_shape}."
            )

    def call(self, inputs):
        return self.activation(self._nnx_module()(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint), "quantization_config": None}


class Activation(Layer):
    """Applies an activation function by name or callable."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout (flax ``nnx.Dropout``), active only when ``training``.

    Args:
        rate: fraction of the units to drop, in [0, 1).
        noise_shape: shape of the keep mask, broadcast over the input (``None`` dims take the input's).
        seed: accepted for Keras compatibility; keys come from the model's RNG stream.
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ConfigError(f"Dropout: rate must be in [0, 1), got {rate!r}.")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        broadcast_dims = ()
        if self.noise_shape is not None:
            broadcast_dims = tuple(i for i, d in enumerate(self.noise_shape) if d == 1)
        drop = nnx.Dropout(self.rate, broadcast_dims=broadcast_dims)
        return drop(inputs, deterministic=False, rngs=self.random_key(inputs))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Flatten(Layer):
    """Flattens all but the batch dimension (``channels_first`` inputs in channels-last order, as Keras)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            # Keras flattens in channels-last order, so a Dense after it sees the same feature order.
            inputs = jnp.moveaxis(inputs, 1, -1)
        return jnp.reshape(inputs, (inputs.shape[0], -1))

    def get_config(self):
        from kerasish.settings import image_data_format

        return {**super().get_config(), "data_format": self.data_format or image_data_format()}


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(1 for d in self.target_shape if d == -1) > 1:
            raise ConfigError(f"Reshape: at most one -1 in target_shape, got {self.target_shape}.")

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or any(d is None for d in input_shape[1:]):
            return
        size = math.prod(input_shape[1:])
        target = math.prod(d for d in self.target_shape if d != -1)
        ok = size % target == 0 if -1 in self.target_shape else size == target
        if not ok:
            raise InputError(
                f"Layer {self.name!r} (Reshape) cannot reshape samples of shape {input_shape[1:]} "
                f"({size} values) to {self.target_shape}."
            )

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        return jnp.reshape(inputs, (inputs.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Lambda(Layer):
    """Wraps a function of the inputs as a layer.

    Its config names the function; ``from_config`` resolves it only from
    ``custom_objects`` (kerasish never deserializes code).
    """

    config_holds_code = True  # its config names a function: refused in safe mode (see saving.registry)

    def __init__(self, function, output_shape=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ConfigError(f"Lambda: function must be callable, got {function!r}.")
        self.function = function
        self.output_shape_arg = output_shape
        self.arguments = arguments or {}

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        return {**super().get_config(), "function": getattr(self.function, "__name__", repr(self.function)),
                "output_shape": self.output_shape_arg, "arguments": self.arguments}


class Embedding(Layer):
    """Turns integer indices into dense vectors (flax ``nnx.Embed``).

    Args:
        input_dim: vocabulary size (largest index + 1), a positive int.
        output_dim: embedding size, a positive int.
        embeddings_initializer: Keras default ``"uniform"`` (±0.05).
        mask_zero: index 0 is padding: the output carries a ``(batch, steps)`` mask that is
            False there, which masking-aware layers downstream (LSTM, attention, pooling) use.

    Under a mixed-precision policy the indices are never cast (as Keras, ``autocast = False``): the
    rows are looked up in the float32 table and returned in the compute dtype.
    """

    autocast = False

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        accept_only_default(f"{type(self).__name__} {self.name!r}",
                            {"weights": weights, "lora_rank": lora_rank, "lora_alpha": lora_alpha,
                             "quantization_config": quantization_config},
                            {"weights": None, "lora_rank": None, "lora_alpha": None, "quantization_config": None})
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise ConfigError(f"{type(self).__name__} {self.name!r}: {arg} must be a positive integer, got "
                                  f"{value!r}.")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get_argument("Embedding", "embeddings_constraint",
                                                                embeddings_constraint)
        self.mask_zero = bool(mask_zero)

    def build(self, input_shape):
        module = nnx.Embed(self.input_dim, self.output_dim, embedding_init=self.embeddings_initializer,
                           rngs=_rngs())
        self._adopt_nnx(module, {"embeddings": ("embedding", True, self.embeddings_regularizer,
                                                self.embeddings_constraint)}, autocast=False)

    def compute_mask(self, inputs, mask=None):
        return jnp.not_equal(inputs, 0) if self.mask_zero else None

    def call(self, inputs):
        if not jnp.issubdtype(inputs.dtype, jnp.integer):
            inputs = inputs.astype(jnp.int32)
        out = self._nnx_module()(inputs)
        dtype = self._dtype_policy._compute
        return out if out.dtype == dtype else out.astype(dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero, "quantization_config": None}




class Masking(Layer):
    """Masks the timesteps whose features all equal ``mask_value``, and zeroes them.

    Args:
        mask_value: the padding value; a timestep is masked when every feature equals it.

    Input ``(batch, steps, features...)``; the output carries a ``(batch, steps)`` mask.
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.number)):
            raise ConfigError(f"Masking: mask_value must be a number, got {mask_value!r}.")
        self.mask_value = float(mask_value)

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise InputError(f"Layer {self.name!r} (Masking) expects (batch, steps, ...) inputs, got shape "
                             f"{input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def _keep(self, inputs):
        axes = tuple(range(2, inputs.ndim))
        return jnp.any(inputs != self.mask_value, axis=axes) if axes else inputs != self.mask_value

    def compute_mask(self, inputs, mask=None):
        return self._keep(inputs)

    def call(self, inputs):
        keep = self._keep(inputs)
        return jnp.where(keep.reshape(keep.shape + (1,) * (inputs.ndim - keep.ndim)), inputs, 0).astype(inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
