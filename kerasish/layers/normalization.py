"""Normalization layers (flax ``nnx.BatchNorm`` / ``nnx.LayerNorm``) with Keras defaults."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from kerasish import initializers, regularizers
from kerasish.backend import current_scope
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.utils.random import host_rngs, next_host_key


def _axis_size(layer, input_shape, axis):
    if not isinstance(input_shape, tuple) or not -len(input_shape) <= axis < len(input_shape):
        raise InputError(f"Layer {layer.name!r}: axis {axis} is out of range for input shape {input_shape}.")
    size = input_shape[axis]
    if size is None:
        raise InputError(f"Layer {layer.name!r}: the size of axis {axis} must be known, got input shape {input_shape}.")
    return size


class BatchNormalization(Layer):
    """Batch normalization (Keras defaults: momentum 0.99, epsilon 1e-3).

    Uses the batch's statistics and updates the moving ones when ``training``
    and the layer is trainable; otherwise normalizes with the moving statistics
    (a frozen BatchNormalization runs in inference mode, as in Keras).
    Weights: gamma, beta, moving_mean, moving_variance.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ConfigError(f"BatchNormalization: axis must be an int, got {axis!r}.")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        size = _axis_size(self, input_shape, self.axis)
        module = nnx.BatchNorm(size, axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
                               use_bias=self.center, use_scale=self.scale, bias_init=self.beta_initializer,
                               scale_init=self.gamma_initializer, use_fast_variance=False,
                               rngs=host_rngs())
        names = {}
        if self.scale:
            names["gamma"] = ("scale", True, self.gamma_regularizer)
        if self.center:
            names["beta"] = ("bias", True, self.beta_regularizer)
        names["moving_mean"] = ("mean", False, None)
        names["moving_variance"] = ("var", False, None)
        self._adopt_nnx(module, names)
        self.moving_mean.assign(self.moving_mean_initializer(next_host_key(), (size,), self.dtype))
        self.moving_variance.assign(self.moving_variance_initializer(next_host_key(), (size,), self.dtype))
        self._size = size

    def _check_input(self, input_shape):
        if isinstance(input_shape, tuple) and -len(input_shape) <= self.axis < len(input_shape):
            if input_shape[self.axis] not in (None, self._size):
                raise InputError(f"Layer {self.name!r} (BatchNormalization) was built for {self._size} features "
                                 f"on axis {self.axis}, got input shape {input_shape}.")
            return
        raise InputError(f"Layer {self.name!r}: axis {self.axis} is out of range for input shape {input_shape}.")

    def call(self, inputs, training=False):
        module = self._nnx_module()
        use_batch_stats = bool(training) and self.trainable
        mask = None
        scope = current_scope()
        if use_batch_stats and scope is not None and scope.sample_mask is not None \
                and scope.sample_mask.shape[0] == inputs.shape[0]:
            # Padded rows (a last partial batch) must not enter the batch statistics.
            rows = scope.sample_mask.reshape((-1,) + (1,) * (inputs.ndim - 1)) > 0
            mask = jnp.broadcast_to(rows, inputs.shape)
        out = module(inputs, use_running_average=not use_batch_stats, mask=mask)
        if use_batch_stats:
            self.moving_mean.assign(module.mean[...])
            self.moving_variance.assign(module.var[...])
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}


class LayerNormalization(Layer):
    """Layer normalization over one axis (Keras default epsilon 1e-3). Weights: gamma, beta."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ConfigError(f"LayerNormalization: only a single axis is supported, got {axis!r}.")
            axis = axis[0]
        self.axis = int(axis)
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        size = _axis_size(self, input_shape, self.axis)
        module = nnx.LayerNorm(size, epsilon=self.epsilon, use_bias=self.center, use_scale=self.scale,
                               bias_init=self.beta_initializer, scale_init=self.gamma_initializer,
                               reduction_axes=self.axis, feature_axes=self.axis, use_fast_variance=False,
                               rngs=host_rngs())
        names = {}
        if self.scale:
            names["gamma"] = ("scale", True, self.gamma_regularizer)
        if self.center:
            names["beta"] = ("bias", True, self.beta_regularizer)
        self._adopt_nnx(module, names)

    def call(self, inputs):
        return self._nnx_module()(inputs)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}
