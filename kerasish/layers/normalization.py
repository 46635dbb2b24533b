"""Normalization layers (flax ``nnx.BatchNorm`` / ``nnx.LayerNorm``) with Keras defaults.

Under a mixed-precision policy, BatchNormalization, LayerNormalization and GroupNormalization compute in
float32 (statistics of bfloat16/float16 values lose too much) and return the compute dtype, as Keras 3:
they set ``autocast = False``, so their inputs are not cast down and their weights read in float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from kerasish import constraints, initializers, regularizers
from kerasish.backend import current_scope
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.keras_compat import accept_only_default
from kerasish.utils.random import host_rngs, next_host_key


def _axis_size(layer, input_shape, axis):
    if not isinstance(input_shape, tuple) or not -len(input_shape) <= axis < len(input_shape):
        raise InputError(f"Layer {layer.name!r}: axis {axis} is out of range for input shape {input_shape}.")
    size = input_shape[axis]
    if size is None:
        raise InputError(f"Layer {layer.name!r}: the size of axis {axis} must be known, got input shape {input_shape}.")
    return size


class _BetaGamma(Layer):
    """The ``beta_*`` / ``gamma_*`` regularizer and constraint arguments shared by the normalization layers.

    Args:
        beta_regularizer / gamma_regularizer: names or regularizers, added to the training loss.
        beta_constraint / gamma_constraint: names or constraints, applied after each update.

    These layers compute in float32 at least (``_float32_in``) and return ``compute_dtype``
    (``_out``); their weights never autocast.
    """

    autocast = False

    @staticmethod
    def _float32_in(x):
        dtype = jnp.promote_types(x.dtype, jnp.float32)
        return x if x.dtype == dtype else x.astype(dtype)

    def _out(self, y):
        dtype = self._dtype_policy._compute
        return y if y.dtype == dtype else y.astype(dtype)

    def _init_beta_gamma(self, beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint):
        cls = type(self).__name__
        self.beta_regularizer = regularizers.get_argument(cls, "beta_regularizer", beta_regularizer)
        self.gamma_regularizer = regularizers.get_argument(cls, "gamma_regularizer", gamma_regularizer)
        self.beta_constraint = constraints.get_argument(cls, "beta_constraint", beta_constraint)
        self.gamma_constraint = constraints.get_argument(cls, "gamma_constraint", gamma_constraint)

    def _beta_gamma_config(self):
        return {"beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}


class BatchNormalization(_BetaGamma):
    """Batch normalization (Keras defaults: momentum 0.99, epsilon 1e-3).

    Uses the batch's statistics and updates the moving ones when ``training``
    and the layer is trainable; otherwise normalizes with the moving statistics
    (a frozen BatchNormalization runs in inference mode, as in Keras).
    Weights: gamma, beta, moving_mean, moving_variance.
    """

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, synchronized=False, renorm=False,
                 renorm_clipping=None, renorm_momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        accept_only_default(f"BatchNormalization {self.name!r}",
                            {"synchronized": synchronized, "renorm": renorm, "renorm_clipping": renorm_clipping},
                            {"synchronized": False, "renorm": False, "renorm_clipping": None})
        self.renorm_momentum = float(renorm_momentum)  # unused without renorm; kept for the config
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
        self._init_beta_gamma(beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        size = _axis_size(self, input_shape, self.axis)
        module = nnx.BatchNorm(size, axis=self.axis, momentum=self.momentum, epsilon=self.epsilon,
                               use_bias=self.center, use_scale=self.scale, bias_init=self.beta_initializer,
                               scale_init=self.gamma_initializer, use_fast_variance=False,
                               rngs=host_rngs())
        names = {}
        if self.scale:
            names["gamma"] = ("scale", True, self.gamma_regularizer, self.gamma_constraint)
        if self.center:
            names["beta"] = ("bias", True, self.beta_regularizer, self.beta_constraint)
        names["moving_mean"] = ("mean", False, None)
        names["moving_variance"] = ("var", False, None)
        self._adopt_nnx(module, names, autocast=False)
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
        inputs = self._float32_in(inputs)
        module = self._nnx_module(inputs.dtype)  # float16 weights (a "float16" policy) computed on in float32
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
        return self._out(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                **self._beta_gamma_config(), "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(_BetaGamma):
    """Layer normalization (Keras default epsilon 1e-3). Weights: gamma, beta.

    ``axis`` is an int or a list of ints: statistics are taken over all of them together, and gamma/beta
    have the shape of those axes (as Keras). One axis uses ``nnx.LayerNorm``; several use the same formula
    written out (``x * inv + (beta - mean * inv)`` with ``inv = gamma / sqrt(var + epsilon)``, as Keras).
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        accept_only_default(f"LayerNormalization {self.name!r}", {"rms_scaling": rms_scaling},
                            {"rms_scaling": False})
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes) \
                or len(set(axes)) != len(axes):
            raise ConfigError(f"LayerNormalization: axis must be an int or a list of distinct ints, got {axis!r}.")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) and len(axes) > 1 else int(axes[0])
        self._axis_listed = isinstance(axis, (list, tuple))  # for the config: [-1] stays a list
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self._init_beta_gamma(beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        if isinstance(self.axis, list):
            self._build_several(input_shape)
            return
        size = _axis_size(self, input_shape, self.axis)
        module = nnx.LayerNorm(size, epsilon=self.epsilon, use_bias=self.center, use_scale=self.scale,
                               bias_init=self.beta_initializer, scale_init=self.gamma_initializer,
                               reduction_axes=self.axis, feature_axes=self.axis, use_fast_variance=False,
                               rngs=host_rngs())
        names = {}
        if self.scale:
            names["gamma"] = ("scale", True, self.gamma_regularizer, self.gamma_constraint)
        if self.center:
            names["beta"] = ("bias", True, self.beta_regularizer, self.beta_constraint)
        self._adopt_nnx(module, names, autocast=False)

    def _build_several(self, input_shape):
        for a in self.axis:
            _axis_size(self, input_shape, a)
        rank = len(input_shape)
        self._axes = tuple(sorted(a % rank for a in self.axis))
        shape = tuple(input_shape[a] for a in self._axes)
        self._broadcast = tuple(input_shape[d] if d in self._axes else 1 for d in range(rank))
        self.gamma = self.add_weight("gamma", shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint, autocast=False) if self.scale else None
        self.beta = self.add_weight("beta", shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint, autocast=False) if self.center else None

    def _check_input(self, input_shape):
        if isinstance(self.axis, list) and self.built and len(input_shape) != len(self._broadcast):
            raise InputError(f"Layer {self.name!r} (LayerNormalization) was built for inputs of rank "
                             f"{len(self._broadcast)}, got shape {input_shape}.")

    def call(self, inputs):
        if not isinstance(self.axis, list):
            return self._out(self._nnx_module()(self._float32_in(inputs)))
        xc = self._float32_in(inputs)
        compute = xc.dtype
        mean = jnp.mean(xc, axis=self._axes, keepdims=True)
        var = jnp.mean(jnp.square(xc - mean), axis=self._axes, keepdims=True)
        inv = jax.lax.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.value.reshape(self._broadcast).astype(compute)
        shift = -mean * inv
        if self.beta is not None:
            shift = shift + self.beta.value.reshape(self._broadcast).astype(compute)
        return self._out(xc * inv + shift)

    def get_config(self):
        # Keras turns an int axis into a one-element list when it builds.
        listed = self.built or self._axis_listed
        axis = [self.axis] if listed and isinstance(self.axis, int) else self.axis
        return {**super().get_config(), "axis": axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                **self._beta_gamma_config(), "rms_scaling": False}


class GroupNormalization(_BetaGamma):
    """Group normalization (Keras defaults: 32 groups, epsilon 1e-3); ``groups=-1`` is instance normalization.

    The math is ``nnx.GroupNorm``'s (statistics over each group's channels and all non-batch axes), with the
    channel axis moved last around it when ``axis`` is another one. Weights: gamma, beta.
    """

    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ConfigError(f"GroupNormalization: groups must be a positive int (or -1 for instance "
                              f"normalization), got groups={groups!r}.")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"GroupNormalization: axis must be an int, got axis={axis!r}.")
        self.groups = groups
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self._init_beta_gamma(beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        size = _axis_size(self, input_shape, self.axis)
        if self.axis % len(input_shape) == 0:
            raise InputError(f"Layer {self.name!r} (GroupNormalization): axis {self.axis} is the batch axis "
                             f"of input shape {input_shape}.")
        if self.groups == -1:
            self.groups = size  # as Keras: the config then names the number of channels
        if size < self.groups or size % self.groups:
            raise InputError(f"Layer {self.name!r} (GroupNormalization): groups={self.groups} must divide the "
                             f"{size} channels on axis {self.axis} (input shape {input_shape}).")
        module = nnx.GroupNorm(size, num_groups=self.groups, epsilon=self.epsilon, use_bias=self.center,
                               use_scale=self.scale, bias_init=self.beta_initializer,
                               scale_init=self.gamma_initializer, use_fast_variance=False, rngs=host_rngs())
        names = {}
        if self.scale:
            names["gamma"] = ("scale", True, self.gamma_regularizer, self.gamma_constraint)
        if self.center:
            names["beta"] = ("bias", True, self.beta_regularizer, self.beta_constraint)
        self._adopt_nnx(module, names, autocast=False)
        self._size = size

    def _check_input(self, input_shape):
        if isinstance(input_shape, tuple) and -len(input_shape) <= self.axis < len(input_shape) \
                and input_shape[self.axis] in (None, self._size):
            return
        raise InputError(f"Layer {self.name!r} (GroupNormalization) was built for {self._size} channels on "
                         f"axis {self.axis}, got input shape {input_shape}.")

    def call(self, inputs):
        inputs = self._float32_in(inputs)
        axis = self.axis % inputs.ndim
        x = inputs if axis == inputs.ndim - 1 else jnp.moveaxis(inputs, axis, -1)
        y = self._nnx_module()(x)
        return self._out(y if axis == inputs.ndim - 1 else jnp.moveaxis(y, -1, axis))

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                **self._beta_gamma_config()}


class UnitNormalization(Layer):
    """Scale each vector along ``axis`` (an int or a list of ints) to unit L2 norm, as ``keras.ops.normalize``:
    ``x * min(rsqrt(sum(x**2)), 1e12)`` (an all-zero vector stays zero). No weights."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) and not isinstance(a, bool)
                                                            for a in axis):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise ConfigError(f"UnitNormalization: axis must be an int or a non-empty list of ints, got {axis!r}.")

    def _axes(self):
        return tuple(self.axis) if isinstance(self.axis, list) else (self.axis,)

    def _check_input(self, input_shape):
        n = len(input_shape) if isinstance(input_shape, tuple) else 0
        for a in self._axes():
            if not -n <= a < n:
                raise InputError(f"Layer {self.name!r} (UnitNormalization): axis {self.axis} is out of range "
                                 f"for input shape {input_shape}.")

    def build(self, input_shape):
        self._check_input(input_shape)

    def call(self, inputs):
        x = inputs if jnp.issubdtype(inputs.dtype, jnp.floating) else inputs.astype(self.compute_dtype)
        square_sum = jnp.sum(jnp.square(x), axis=self._axes(), keepdims=True)
        return x * jnp.minimum(jax.lax.rsqrt(square_sum), 1e12)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """Root-mean-square normalization: ``x * rsqrt(mean(x**2, axis) + epsilon) * scale`` (no centering).

    Args:
        axis: an int or a list of ints, the axes averaged over (and spanned by ``scale``).
        epsilon: added to the mean square.

    Weights: ``scale`` of the input's sizes on ``axis`` (sorted), initialized to ones. Statistics are
    taken in float32 at least and the result returns in the input's dtype, as Keras's ``rms_normalization``.
    A ``scale`` over non-trailing axes is broadcast along those axes (Keras's own broadcast lines it up
    with the trailing axes, which only agrees when the axes are trailing).
    """

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) and not isinstance(a, bool)
                                                            for a in axis):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise ConfigError(f"RMSNormalization: axis must be an int or a non-empty list of ints, got {axis!r}.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
            raise ConfigError(f"RMSNormalization: epsilon must be a non-negative number, got {epsilon!r}.")
        self.epsilon = float(epsilon)

    def _axes(self, rank: int) -> tuple[int, ...]:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        return tuple(sorted(a % rank for a in axes))

    def build(self, input_shape):
        if not isinstance(input_shape, tuple):
            raise InputError(f"Layer {self.name!r} (RMSNormalization) takes one input, got shape {input_shape}.")
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            _axis_size(self, input_shape, a)
        self._rank = len(input_shape)
        shape = tuple(input_shape[a] for a in self._axes(self._rank))
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self._rank:
            raise InputError(f"Layer {self.name!r} (RMSNormalization) was built for inputs of rank {self._rank}, "
                             f"got input shape {input_shape}.")

    def call(self, inputs):
        dtype = inputs.dtype
        x = inputs.astype(jnp.promote_types(dtype, jnp.float32))
        axes = self._axes(x.ndim)
        inv = jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axes, keepdims=True) + self.epsilon)
        scale_shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
        y = x * inv * jnp.reshape(self.scale.value.astype(x.dtype), scale_shape)
        return y.astype(dtype)

    def get_config(self):
        axis = self.axis if isinstance(self.axis, list) else [self.axis]  # Keras writes a list
        return {**super().get_config(), "axis": axis, "epsilon": self.epsilon}
