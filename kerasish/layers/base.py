"""The Layer base class: Keras's user contract over pure, scope-resolved variables."""

from __future__ import annotations

import collections
import functools
import inspect
import re
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kerasish import initializers, mixed_precision, regularizers
from kerasish.backend import AutocastScope, StatelessScope, Variable, autocast_dtype, current_scope, to_array
from kerasish.errors import ConfigError, InputError, KerasishError, NotBuiltError
from kerasish.layers import nnx_bridge
from kerasish.layers.layer_graph import LayerGraphAPI
from kerasish.layers.masking import get_mask, get_masks, set_mask, set_masks
from kerasish.layers.symbolic import Node, any_symbolic
from kerasish.metrics.base import Metric
from kerasish.saving import registry
from kerasish.utils.random import next_host_key

_NAME_COUNTS: collections.Counter = collections.Counter()


def unique_name(prefix: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... as Keras names layers."""
    n = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def _marking_built(build):
    """A subclass's ``build``, which marks the layer built when it returns (as Keras): a layer built by hand,
    ``layer.build(shape)``, keeps the weights it made (``set_weights`` then sticks)."""
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        build(self, *args, **kwargs)
        self.built = True
        if getattr(self, "_build_shape", None) is None and args:
            self._build_shape = args[0]

    wrapper._marks_built = True
    return wrapper


def to_snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()  # Conv2D -> conv2d, as Keras


_BASE_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "input_dim")


def _cast_floating(x, dtype):
    """``x`` cast to ``dtype`` if it is a floating array of another dtype (its mask kept); else ``x``."""
    x_dtype = getattr(x, "dtype", None)
    if x_dtype is None or x_dtype == dtype or not isinstance(x, (jax.Array, np.ndarray)) \
            or not jnp.issubdtype(x_dtype, jnp.floating):
        return x
    y = to_array(x, dtype)
    mask = get_mask(x)
    if mask is not None:
        set_mask(y, mask)
    return y


def shape_of(x) -> Any:
    """The shape (tuple) of an array, or a structure of shapes for a structure of arrays."""
    if isinstance(x, (list, tuple)):
        return [shape_of(t) for t in x]
    if isinstance(x, dict):
        return {k: shape_of(v) for k, v in x.items()}
    return tuple(x.shape)


class Layer(LayerGraphAPI):
    """Base class of all layers.

    Subclasses create weights in ``build(input_shape)`` with :meth:`add_weight`
    and compute in ``call(inputs, training=None)``. A layer builds itself on its
    first call, when the input shape is known, so ``Dense(64)`` needs no input size.

    Args:
        name: unique name; by default the snake-cased class name with a counter.
        trainable: whether the layer's weights are updated by training.
        dtype: the layer's dtype policy: a dtype (``"float32"``), a policy name (``"mixed_bfloat16"``:
            compute in bfloat16, weights in float32) or a ``kerasish.mixed_precision.DTypePolicy``.
            By default the global policy at the time the layer is made (see
            ``kerasish.mixed_precision.set_global_policy``).
        input_shape: on the first layer of a ``Sequential``, the shape of one sample.
        activity_regularizer: a regularizer applied to the layer's outputs in training and test
            steps; the penalty (divided by the batch size, padded rows of a partial batch left out,
            as Keras) is added to the loss.

    Masks: a layer with ``supports_masking = True`` passes its input's mask on; one whose
    ``call`` declares ``mask`` receives it (and ``<arg>_mask`` arguments, such as
    MultiHeadAttention's ``query_mask``, receive the masks of ``<arg>``); ``compute_mask``
    decides the output's mask (see ``kerasish.layers.masking``).

    Mixed precision (as Keras 3's autocast): floating inputs are cast to ``compute_dtype`` before
    ``call`` (integer inputs are left alone), weights are created in ``variable_dtype``, and while
    ``call`` runs, a layer whose two dtypes differ reads its floating weights in ``compute_dtype``
    (gradients still reach the float32 weights). A layer that must compute in float32 sets the class
    attribute ``autocast = False``: its inputs and weights then reach ``call`` in their own dtypes.
    """

    supports_masking = False
    input_spec = None  # an InputSpec (or a list of them) checked on every call, as Keras
    autocast = True  # cast floating inputs (and, when mixed, weights) to the compute dtype
    _convert_input_args = True  # False where inputs are converted elsewhere (functional models)

    def __init__(self, *, name: str | None = None, trainable: bool = True, dtype=None, activity_regularizer=None,
                 **kwargs):
        object.__setattr__(self, "_layers", [])
        object.__setattr__(self, "_metrics", [])
        object.__setattr__(self, "_eager_losses", [])
        object.__setattr__(self, "_tracking", True)
        unknown = set(kwargs) - set(_BASE_KWARGS)
        if unknown:
            raise ConfigError(
                f"{type(self).__name__} got unexpected keyword argument(s) {sorted(unknown)}."
            )
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.activity_regularizer = regularizers.get_argument(type(self).__name__, "activity_regularizer",
                                                              activity_regularizer)
        self._trainable = bool(trainable)
        self._dtype_policy = mixed_precision.get(dtype, f"{type(self).__name__} {self.name!r}")
        self.built = False
        self._trainable_vars: list[Variable] = []
        self._non_trainable_vars: list[Variable] = []
        self._inbound_nodes: list[Node] = []
        self._build_shape = None
        self._batch_input_shape = None
        if kwargs.get("batch_input_shape") is not None:
            self._batch_input_shape = tuple(kwargs["batch_input_shape"])
        elif kwargs.get("input_shape") is not None:
            self._batch_input_shape = (kwargs.get("batch_size"),) + tuple(kwargs["input_shape"])
        elif kwargs.get("input_dim") is not None:
            self._batch_input_shape = (kwargs.get("batch_size"), int(kwargs["input_dim"]))
        try:
            params = inspect.signature(self.call).parameters
        except (TypeError, ValueError):
            params = {}
        self._call_has_training = "training" in params
        self._call_has_mask = "mask" in params
        # query_mask <- the mask of the array given as `query`, and so on.
        self._call_arg_masks = {p[:-len("_mask")]: p for p in params
                                if p.endswith("_mask") and p[:-len("_mask")] in params}
        self._call_arg_names = [p for p in params if p not in ("self", "args", "kwargs")]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__ and not getattr(cls.__dict__["build"], "_marks_built", False):
            cls.build = _marking_built(cls.__dict__["build"])
        if cls.__module__.startswith("kerasish."):  # kerasish's own classes: configs may name them
            registry.register_builtin(cls)

    # -- attribute tracking: sublayers assigned as attributes are part of the layer --------
    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_tracking", False) and name != "_layers":
            candidates = value if isinstance(value, (list, tuple)) else [value]
            if isinstance(value, dict):
                candidates = list(value.values())
            for item in candidates:
                if isinstance(item, Layer) and item is not self and all(item is not l for l in self._layers):
                    self._layers.append(item)
                elif isinstance(item, Metric) and all(item is not m for m in self._metrics):
                    self._metrics.append(item)  # as Keras: a metric set as an attribute is the layer's
        object.__setattr__(self, name, value)

    def _all_sublayers(self) -> list:
        out, stack = [], list(self._layers)
        while stack:
            layer = stack.pop(0)
            if all(layer is not o for o in out):
                out.append(layer)
                stack.extend(layer._layers)
        return out

    def _tracked_metrics(self) -> list:
        """The metrics this layer and its sublayers hold as attributes (Keras's ``layer.metrics``); a
        nested model's own metrics belong to it, not to the model that contains it."""
        out = list(self._metrics)
        for layer in self._layers:
            if hasattr(layer, "train_step"):  # a model: it keeps its own
                continue
            out.extend(m for m in layer._tracked_metrics() if all(m is not o for o in out))
        return out

    def add_loss(self, loss) -> None:
        """Add a loss term (a scalar) to the current call, as Keras's ``layer.add_loss``.

        Inside a step (or any ``StatelessScope``) it joins the call's losses, which the default
        ``compute_loss`` adds to the total (and ``stateless_call(..., return_losses=True)``
        returns); called eagerly it is kept in ``layer.losses`` until the layer is called again.
        """
        scope = current_scope()
        if scope is not None:
            scope.losses.append(loss)
        else:
            self._eager_losses.append(loss)

    @property
    def losses(self) -> list:
        """The losses added during the current call (activity regularization, ``add_loss``), plus
        the weight regularization of the trainable weights, as Keras's ``layer.losses``."""
        override = self.__dict__.get("_losses_override")
        if override is not None:
            out = list(override)
        else:
            scope = current_scope()
            if scope is not None:
                out = list(scope.losses)
            else:
                out = [loss for layer in [self, *self._all_sublayers()] for loss in layer._eager_losses]
        for v in self.trainable_weights:
            if v.regularizer is not None:
                out.append(v.regularizer(v.value))
        return out

    def stateless_call(self, trainable_variables, non_trainable_variables, *args, return_losses: bool = False,
                       rng=None, rng_step=None, sample_mask=None, **kwargs):
        """Call the layer as a pure function of its variables' values (Keras's ``stateless_call``).

        Returns ``(outputs, non_trainable_variables)`` (the updated values, e.g. BatchNormalization
        statistics), and with ``return_losses=True`` also the losses the call added. Stochastic
        layers draw from the current step's key (inside ``fit``) or from ``rng`` (a kerasish
        addition, with an optional ``rng_step`` folded in first); ``sample_mask`` marks a padded
        batch's real rows.
        """
        tw, ntw = self.trainable_variables, self.non_trainable_variables
        trainable_variables, non_trainable_variables = list(trainable_variables), list(non_trainable_variables)
        if len(trainable_variables) != len(tw) or len(non_trainable_variables) != len(ntw):
            raise InputError(f"{type(self).__name__} {self.name!r} has {len(tw)} trainable and {len(ntw)} "
                             f"non-trainable variables; stateless_call got {len(trainable_variables)} and "
                             f"{len(non_trainable_variables)} values.")
        values = {id(v): a for v, a in zip(tw, trainable_variables)}
        values.update({id(v): a for v, a in zip(ntw, non_trainable_variables)})
        training = bool(kwargs.get("training") or False)
        with StatelessScope(values, rng=rng, training=training, sample_mask=sample_mask, rng_step=rng_step) as scope:
            outputs = self(*args, **kwargs)
        new_non_trainable = [scope.values[id(v)] for v in ntw]
        if return_losses:
            return outputs, new_non_trainable, list(scope.losses)
        return outputs, new_non_trainable

    # -- dtypes -----------------------------------------------------------------------------
    @property
    def dtype_policy(self) -> mixed_precision.DTypePolicy:
        """The layer's ``kerasish.mixed_precision.DTypePolicy``."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value) -> None:
        self._dtype_policy = mixed_precision.get(value, f"{type(self).__name__} {self.name!r}")

    @property
    def dtype(self):
        """The dtype of the layer's weights (the policy's variable dtype), as a ``jnp.dtype``."""
        return self._dtype_policy._variable

    @property
    def variable_dtype(self) -> str:
        """The dtype the layer's weights are created in, e.g. ``"float32"``."""
        return self._dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        """The dtype the layer computes in and returns, e.g. ``"bfloat16"`` under ``"mixed_bfloat16"``."""
        return self._dtype_policy.compute_dtype

    def _autocast_inputs(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        """Floating arrays among the call's arguments cast to the compute dtype (Keras's input autocast)."""
        policy = self._dtype_policy
        if not (self.autocast and self._convert_input_args and policy._float_compute):
            return args, kwargs
        dtype = policy._compute
        if len(args) != 1 or getattr(args[0], "dtype", None) != dtype:  # one array already right: the common case
            args = jax.tree.map(lambda x: _cast_floating(x, dtype), args)
        if any(not isinstance(v, (bool, int, float, str, type(None))) for v in kwargs.values()):
            kwargs = jax.tree.map(lambda x: _cast_floating(x, dtype), kwargs)
        return args, kwargs

    def _call_autocast(self, args: tuple, kwargs: dict):
        """``self.call`` inside the right AutocastScope: the compute dtype for a mixed layer, none for a
        layer with ``autocast = False``; no scope at all (one check) when nothing needs casting."""
        current = autocast_dtype()
        policy = self._dtype_policy
        if current is None and not policy._mixed:  # float32 models: this check is all they pay
            return self.call(*args, **kwargs)
        wanted = policy._compute if self.autocast and policy._float_compute else None
        if wanted == current:
            return self.call(*args, **kwargs)
        with AutocastScope(wanted):
            return self.call(*args, **kwargs)

    # -- trainability --------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._layers:
            layer.trainable = value

    # -- weights -----------------------------------------------------------------------------
    def add_weight(self, *args, **kwargs) -> Variable:
        """A new weight of this layer, with Keras 3's signature and defaults: ``shape`` ``()`` when not given,
        ``initializer`` ``"glorot_uniform"`` for floats and ``"zeros"`` otherwise, ``dtype`` the layer's
        variable dtype, ``name`` ``"variable"``, ``"variable_1"``, ... Its first value draws a fresh key from the
        global seed stream. ``autocast=False`` keeps the weight in its own dtype inside a mixed-precision call.

        The name may also come first, as Keras 2 and older kerasish wrote it:
        ``add_weight("kernel", (3, 4), initializer="zeros")``.
        """
        if args and isinstance(args[0], str):
            for key, value in zip(("name", "shape", "initializer", "dtype", "trainable"), args):
                if key in kwargs:
                    raise TypeError(f"add_weight() got multiple values for argument {key!r}")
                kwargs[key] = value
            args = ()
        return self._add_weight(*args, **kwargs)

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable: bool = True, autocast: bool = True,
                    regularizer=None, constraint=None, aggregation: str = "none",
                    overwrite_with_gradient: bool = False, name: str | None = None) -> Variable:
        if overwrite_with_gradient:
            raise ConfigError(f"Layer {self.name!r}: add_weight(overwrite_with_gradient=True) (float8 training's "
                              "scales) is not supported by kerasish.")
        shape = () if shape is None else tuple(shape)
        dtype = jnp.dtype(dtype or self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if jnp.issubdtype(dtype, jnp.floating) else "zeros"
        if name is None:
            taken = {v.name for v in (*self._trainable_vars, *self._non_trainable_vars)}
            name, k = "variable", 1
            while name in taken:
                name, k = f"variable_{k}", k + 1
        init = initializers.get(initializer)
        value = init(next_host_key(), shape, dtype)
        return self._track_variable(Variable(value, name=name, trainable=trainable,
                                             regularizer=regularizers.get(regularizer), constraint=constraint,
                                             autocast=autocast, aggregation=aggregation))

    add_weight.__signature__ = inspect.signature(_add_weight)  # Keras's, for introspection

    def _track_variable(self, var: Variable) -> Variable:
        var.path = f"{self.name}/{var.name}"
        (self._trainable_vars if var.trainable else self._non_trainable_vars).append(var)
        return var

    def _adopt_nnx(self, module, names: dict[str, tuple[str, bool, Any]], autocast: bool = True) -> None:
        """Take a freshly initialized flax.nnx module's weights as this layer's variables (see
        :func:`kerasish.layers.nnx_bridge.adopt`)."""
        nnx_bridge.adopt(self, module, names, autocast)

    def _nnx_module(self, dtype=None):
        """The nnx module around the current weight values (floating ones cast to ``dtype`` if given)."""
        return nnx_bridge.module(self, dtype)

    def _sublayers_flat(self) -> list[Layer]:
        return list(self._layers)

    @property
    def weights(self) -> list[Variable]:
        """All weights in Keras's order: own trainable, own non-trainable, then sublayers'."""
        out, seen = [], set()
        for v in self._trainable_vars + self._non_trainable_vars:
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._layers:
            for v in layer.weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        out, seen = [], set()
        for v in self._trainable_vars:
            if v.trainable and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
        for layer in self._layers:
            for v in layer.trainable_weights:
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
        return out

    @property
    def non_trainable_weights(self) -> list[Variable]:
        trainable = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays, in Keras 3's order and shapes."""
        from kerasish.distribution import to_host

        return [to_host(v.value) for v in self.weights]

    def set_weights(self, weights) -> None:
        """Set the weights from a list of arrays in Keras 3's order and shapes. Nothing is assigned unless every
        value fits (count, shape, a numeric dtype): an InputError names the layer and the weight."""
        from kerasish.layers.weight_values import checked_weight_values

        own = self.weights
        for var, w in zip(own, checked_weight_values(self, own, weights)):
            var.assign(w)

    def count_params(self) -> int:
        if not self.built:
            raise NotBuiltError(
                f"Layer {self.name!r} is not built yet: call it on data or give it an input shape first."
            )
        return int(sum(int(np.prod(v.shape)) for v in self.weights))

    # -- building and calling ----------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights once the input shape is known (override)."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        """The layer's computation (override)."""
        return inputs

    def _check_input(self, input_shape) -> None:
        """Raise InputError when ``input_shape`` cannot feed this built layer (override)."""

    def _maybe_build(self, input_shape) -> None:
        if self.built:
            self._check_input(input_shape)
            return
        # Weights are created eagerly, even when the first call happens inside a trace.
        with jax.ensure_compile_time_eval():
            self.build(input_shape)
        self.built = True
        self._build_shape = input_shape

    def compute_mask(self, inputs, mask=None):
        """The output mask for ``inputs`` carrying ``mask`` (override); by default, ``mask``
        passes through when ``supports_masking`` and is dropped otherwise."""
        return mask if self.supports_masking else None

    def _with_masks(self, args: tuple, kwargs: dict) -> tuple[dict, Any]:
        """Fill ``mask=``/``<arg>_mask=`` from the masks the inputs carry; returns the kwargs and the input mask."""
        if "mask" in kwargs:
            mask = kwargs["mask"]
            if not self._call_has_mask:
                kwargs = {k: v for k, v in kwargs.items() if k != "mask"}
        else:
            mask = get_masks(args[0])
            if mask is not None and self._call_has_mask:
                kwargs = {**kwargs, "mask": mask}
        if self._call_arg_masks:
            bound = dict(zip(self._call_arg_names, args))
            bound.update(kwargs)
            for arg, mask_arg in self._call_arg_masks.items():
                if kwargs.get(mask_arg) is None and bound.get(arg) is not None:
                    m = get_mask(bound[arg])
                    if m is not None:
                        kwargs = {**kwargs, mask_arg: m}
        return kwargs, mask

    def _add_activity_penalty(self, outputs) -> None:
        scope = current_scope()
        if scope is None:  # an eager call outside any step: there is no loss to add to
            return
        for out in jax.tree.leaves(outputs):
            x = jnp.asarray(out)
            if x.dtype in (jnp.float16, jnp.bfloat16):  # a loss: computed in float32 under mixed precision
                x = x.astype(jnp.float32)
            if x.ndim == 0:
                scope.losses.append(self.activity_regularizer(x))
                continue
            w = scope.sample_mask
            if w is None or jnp.shape(w) != (x.shape[0],):
                w = jnp.ones((x.shape[0],), x.dtype)
            w = jnp.asarray(w, x.dtype)
            rows = x * w.reshape(w.shape + (1,) * (x.ndim - 1))
            scope.losses.append(self.activity_regularizer(rows) / jnp.maximum(jnp.sum(w), 1.0))

    def random_key(self, inputs=None):
        """A new key for a stochastic layer (dropout, noise, augmentation) in training mode.

        Inside a step (fit, train_on_batch, a ``StatelessScope`` with an rng) it comes from the step's RNG
        stream. Called eagerly on concrete ``inputs`` (``RandomFlip()(images, training=True)`` to look
        at augmented images, as in Keras), it comes from the global seed stream
        (``kerasish.utils.set_random_seed``), new at every call. Under a ``jax.jit`` of your own with no
        scope there is no key to vary from call to call, so that is an error rather than a mask frozen
        into the program.
        """
        scope = current_scope()
        if scope is not None and scope.has_rng():
            return scope.next_rng()
        if inputs is not None and not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(inputs)):
            return jnp.asarray(next_host_key())
        raise KerasishError(f"Layer {self.name!r} ({type(self).__name__}) needs a random key in training mode: "
                            "call it inside a training step (fit, train_on_batch), a StatelessScope with an rng, "
                            "or eagerly on concrete arrays.")

    def _warn_mask_dropped(self) -> None:
        if not getattr(self, "_warned_mask", False):
            object.__setattr__(self, "_warned_mask", True)
            warnings.warn(f"Layer {self.name!r} ({type(self).__name__}) got an input with a mask but does not "
                          "support masking: the mask stops here and later layers will not see it.", stacklevel=3)

    def _resolve_training(self, kwargs: dict) -> dict:
        if self._call_has_training:
            if kwargs.get("training") is None:
                scope = current_scope()
                kwargs = {**kwargs, "training": bool(scope.training) if scope is not None else False}
        else:
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        return kwargs

    def __call__(self, *args, **kwargs):
        if not args:
            if "inputs" not in kwargs:
                raise InputError(f"Layer {self.name!r} was called without inputs.")
            args = (kwargs.pop("inputs"),)
        if self.input_spec is not None:
            from kerasish.layers.input_spec import assert_input_compatibility

            assert_input_compatibility(self.input_spec, args[0], self.name)
        if any_symbolic((args, kwargs)):
            return self._symbolic_call(args, kwargs)
        inputs = args[0]
        if self._eager_losses and current_scope() is None:
            self._eager_losses.clear()  # an eager call's added losses replace the last call's
        if not self.built:
            self._maybe_build(shape_of(inputs))
        else:
            self._check_input(shape_of(inputs))
        kwargs, mask = self._with_masks(args, kwargs)
        out = self._call_autocast(*self._autocast_inputs(args, self._resolve_training(kwargs)))
        leaves = jax.tree.leaves(out)
        if not (leaves and all(get_mask(o) is not None for o in leaves)):  # a model's inner layers set it
            if mask is not None and not (self.supports_masking or self._call_has_mask
                                         or type(self).compute_mask is not Layer.compute_mask):
                self._warn_mask_dropped()
            set_masks(out, self.compute_mask(inputs, mask))
        if self.activity_regularizer is not None:
            self._add_activity_penalty(out)
        # Remembered for summary() of subclassed models (free under jit: it runs at trace time).
        object.__setattr__(self, "_last_output_shape", jax.tree.map(
            lambda o: (None,) + tuple(o.shape[1:]) if hasattr(o, "shape") else None, out))
        return out

    # -- config ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": mixed_precision.serialize(self._dtype_policy)}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def get_build_config(self) -> dict | None:
        """What Keras 3 writes as the layer's ``build_config``: ``{"input_shape": ...}`` once built, or None."""
        shape = getattr(self, "_build_input_shape", None) or self._build_shape
        return {"input_shape": shape} if self.built and shape is not None else None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
