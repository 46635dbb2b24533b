"""Keras-named optimizers, each a factory of an ``optax.GradientTransformation``.

An optimizer here holds Keras 3's arguments and defaults; ``build()`` turns
them into one optax chain::

    inject_hyperparams(lambda learning_rate: chain(
        clipping,                  # clip_by_tensor_norm | clip_by_global_norm | clip
        <update rule>,             # e.g. scale_by_keras_adam, then scale by -learning_rate
        weight decay,              # + (-weight_decay * learning_rate * param)
    ))(learning_rate=float_or_schedule)

and every update matches Keras 3 (``optimizer.apply_gradients``) to float32
rounding, multi-step, with schedules too. Where optax has no piece with
Keras's exact arithmetic (Adam's epsilon, Nadam's momentum schedule, Adamax's
epsilon, per-tensor clipnorm), a small optax-style transformation below
supplies it.

The learning rate is an ``inject_hyperparams`` hyperparameter, so it lives in
the optimizer state: ``get_learning_rate(state)`` reads it and
``set_learning_rate(state, value)`` changes it without rebuilding or
retracing.

Example:
    >>> import jax.numpy as jnp, optax
    >>> from kerasish import optimizers
    >>> tx = optimizers.Adam(learning_rate=1e-3).build()
    >>> params = {"w": jnp.ones(3)}
    >>> state = tx.init(params)
    >>> updates, state = tx.update({"w": jnp.ones(3)}, state, params)
    >>> params = optax.apply_updates(params, updates)
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

import jax
import optax

from kerasish.errors import ConfigError, unknown_identifier

from . import schedules
from .transforms import (  # noqa: F401 - re-exported
    ScaleByKerasNadamState,
    _add_weight_decay,
    _inject_learning_rate,
    _scale_by_learning_rate,
    clip_by_tensor_norm,
    get_learning_rate,
    scale_by_keras_adam,
    scale_by_keras_adamax,
    scale_by_keras_nadam,
    set_learning_rate,
)

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "Lion",
    "Nadam",
    "Optimizer",
    "RMSprop",
    "ScaleByKerasNadamState",
    "clip_by_tensor_norm",
    "deserialize",
    "get",
    "get_learning_rate",
    "scale_by_keras_adam",
    "scale_by_keras_adamax",
    "scale_by_keras_nadam",
    "serialize",
    "set_learning_rate",
]

LearningRate = float | schedules.LearningRateSchedule | Callable[[jax.Array], jax.Array]


# --------------------------------------------------------------------------
# Optimizers.
# --------------------------------------------------------------------------

# Keras arguments kerasish does not implement; accepted at their defaults so
# that Keras configs load.
_KERAS_ONLY_DEFAULTS = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _check_learning_rate(learning_rate: Any) -> LearningRate:
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool):
        raise ConfigError(f"`learning_rate` must be a float or a schedule. Received: {learning_rate!r}")
    try:
        return float(learning_rate)
    except (TypeError, ValueError):
        raise ConfigError(f"`learning_rate` must be a float or a schedule. Received: {learning_rate!r}") from None


class Optimizer:
    """Keras-named factory around an ``optax.GradientTransformation``.

    Subclasses define the update rule; this base adds what every Keras
    optimizer shares: gradient clipping, decoupled weight decay and the
    learning rate (a float or a schedule). ``build()`` returns the optax
    transformation; the object itself holds only configuration.

    Args:
        learning_rate: A float, a ``schedules.LearningRateSchedule`` or any
            callable from the update count (0 for the first update) to a rate.
        weight_decay: If set, every update also does
            ``param -= param * weight_decay * learning_rate`` (Keras's
            decoupled decay, with the current rate).
        clipnorm: If set, each gradient tensor is clipped to this L2 norm.
        clipvalue: If set, gradients are clipped elementwise to
            ``[-clipvalue, clipvalue]``.
        global_clipnorm: If set, all gradients together are clipped to this
            global L2 norm. At most one of the three clipping arguments.
        name: The optimizer's name; Keras's default for the class if None.
        **kwargs: Keras's ``use_ema``, ``ema_momentum``,
            ``ema_overwrite_frequency``, ``loss_scale_factor`` and
            ``gradient_accumulation_steps`` are accepted at their defaults
            only; anything else is an error.

    Raises:
        ConfigError: On an unknown or unsupported keyword argument, or when
            more than one clipping argument is set.
    """

    _default_name = "optimizer"
    _hyperparameters: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate: LearningRate,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        self._check_kwargs(kwargs)
        clipping = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clipping.values()) > 1:
            given = ", ".join(f"{k}={v!r}" for k, v in clipping.items() if v is not None)
            raise ConfigError(
                f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: {given}."
            )
        self._learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name if name is not None else self._default_name

    def _check_kwargs(self, kwargs: dict[str, Any]) -> None:
        cls = type(self).__name__
        unknown = sorted(k for k in kwargs if k not in _KERAS_ONLY_DEFAULTS)
        if unknown:
            valid = [p for p in inspect.signature(type(self).__init__).parameters if p not in ("self", "kwargs")]
            raise ConfigError(
                f"{cls} got unexpected keyword argument(s): {', '.join(unknown)}. "
                f"Valid arguments are: {', '.join(valid)}."
            )
        for key, value in kwargs.items():
            default = _KERAS_ONLY_DEFAULTS[key]
            if value != default:
                raise ConfigError(
                    f"{cls}: `{key}={value!r}` is not supported by kerasish; only Keras's default "
                    f"({key}={default!r}) is accepted."
                )

    def _attach(self, model) -> None:
        """Called by ``model.compile``: ``learning_rate`` then reads and writes that model's state."""
        self._owner = weakref.ref(model)

    def _owner_state(self):
        owner = getattr(self, "_owner", None)
        model = owner() if owner is not None else None
        state = model._get_optimizer_state() if model is not None else None
        return model, state

    @property
    def learning_rate(self) -> LearningRate:
        """The learning rate the next update will use, as Keras's ``optimizer.learning_rate``.

        Once the compiled model has an optimizer state (from its first ``fit``) this is the
        current value, a float (for a schedule, its value at the current step); before, the
        value or schedule given. Setting it (a callback may, mid-fit) changes the rate the
        jitted step uses from its next update, without recompiling; a schedule cannot be set.
        """
        _, state = self._owner_state()
        if state is not None:
            return float(get_learning_rate(state))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(self._learning_rate, schedules.LearningRateSchedule) or callable(self._learning_rate):
            raise ConfigError(f"{type(self).__name__}: the learning rate is a schedule, {self._learning_rate!r}; "
                              "it cannot be set to a value.")
        value = _check_learning_rate(value)
        if callable(value):
            raise ConfigError(f"{type(self).__name__}: set learning_rate to a number, got {value!r}.")
        model, state = self._owner_state()
        self._learning_rate = value
        if state is not None:
            model._set_optimizer_state(set_learning_rate(state, value))
        elif model is not None:  # no state yet: the first fit initializes it with the new value
            model._tx = self.build()
            model._fn_cache.pop(("helper", "optimizer_init"), None)

    def _update_rule(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        """The optimizer's own update, including the scaling by ``-learning_rate``."""
        raise NotImplementedError(f"{type(self).__name__} : Optimizer subclasses override _update_rule(learning_rate).")

    def _clipping(self) -> list[optax.GradientTransformation]:
        # Keras treats a clipping value of 0 as "off".
        if self.clipnorm:
            return [clip_by_tensor_norm(self.clipnorm)]
        if self.global_clipnorm:
            return [optax.clip_by_global_norm(self.global_clipnorm)]
        if self.clipvalue:
            return [optax.clip(self.clipvalue)]
        return []

    def _transform(self, learning_rate: jax.Array) -> optax.GradientTransformation:
        parts = [*self._clipping(), self._update_rule(learning_rate)]
        if self.weight_decay is not None:
            # Keras decays the parameters before the rule's step; none of its
            # rules read the parameters, so adding the decay after is the same.
            parts.append(_add_weight_decay(self.weight_decay, learning_rate))
        return optax.chain(*parts)

    def build(self) -> optax.GradientTransformationExtraArgs:
        """Returns the optax transformation: clipping, update rule, weight decay, learning rate.

        Returns:
            An ``optax.GradientTransformationExtraArgs``; its ``update`` needs
            ``params`` when ``weight_decay`` is set, and is jittable.
        """
        return _inject_learning_rate(self._transform, self._learning_rate)

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (Keras's config keys) as a JSON-compatible dict."""
        learning_rate = self._learning_rate
        if isinstance(learning_rate, schedules.LearningRateSchedule):
            learning_rate = schedules.serialize(learning_rate)
        elif callable(learning_rate):
            raise ConfigError(
                f"{type(self).__name__}: a learning rate {learning_rate!r} that is not a "
                "LearningRateSchedule cannot be serialized."
            )
        config = {
            "name": self.name,
            "learning_rate": learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }
        config.update({k: getattr(self, k) for k in self._hyperparameters})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Creates an optimizer from ``get_config()``'s output (or Keras's).

        Args:
            config: A dict of constructor arguments; a dict ``learning_rate``
                is deserialized as a schedule.

        Returns:
            An optimizer of this class.
        """
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("learning_rate", *self._hyperparameters))
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    Keras's form: ``m = momentum·m - lr·g; param += m`` (Nesterov:
    ``param += momentum·m - lr·g``). The rate is applied before the
    momentum trace, so a changing rate matches Keras too.

    Args:
        learning_rate: A float or a schedule.
        momentum: Momentum in ``[0, 1]``; 0 disables it.
        nesterov: Whether to use Nesterov momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "sgd"
    _hyperparameters = ("momentum", "nesterov")

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ConfigError(f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}")
        self.momentum = momentum
        self.nesterov = nesterov

    def _update_rule(self, learning_rate):
        if not self.momentum:
            return _scale_by_learning_rate(learning_rate)
        return optax.chain(
            _scale_by_learning_rate(learning_rate),
            optax.trace(decay=self.momentum, nesterov=self.nesterov),
        )


class RMSprop(Optimizer):
    """RMSprop: ``param -= lr·g / √(v + ε)`` with ``v`` a moving average of ``g²``.

    ε sits inside the square root (Keras's placement). ``centered`` divides by
    the root of the variance instead (``v - ḡ²``); ``momentum`` accumulates the
    scaled steps.

    Args:
        learning_rate: A float or a schedule.
        rho: Decay rate of the moving averages.
        momentum: Momentum on the scaled steps; 0 disables it.
        epsilon: Added to ``v`` inside the square root.
        centered: Whether to normalize by the estimated variance.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "rm_sprop"
    _hyperparameters = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _update_rule(self, learning_rate):
        scale_by = optax.scale_by_stddev if self.centered else optax.scale_by_rms
        parts = [
            scale_by(decay=self.rho, eps=self.epsilon, eps_in_sqrt=True),
            _scale_by_learning_rate(learning_rate),
        ]
        if self.momentum > 0:
            parts.append(optax.trace(decay=self.momentum))
        return optax.chain(*parts)


class Adagrad(Optimizer):
    """Adagrad: ``param -= lr·g / √(Σg² + ε)``.

    Args:
        learning_rate: A float or a schedule.
        initial_accumulator_value: Starting value of the sum of squares.
        epsilon: Added to the sum inside the square root.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "adagrad"
    _hyperparameters = ("initial_accumulator_value", "epsilon")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def _update_rule(self, learning_rate):
        return optax.chain(
            optax.scale_by_rss(initial_accumulator_value=self.initial_accumulator_value, eps=self.epsilon),
            _scale_by_learning_rate(learning_rate),
        )


class Adadelta(Optimizer):
    """Adadelta: steps scaled by ``√(E[Δx²] + ε) / √(E[g²] + ε)``, times ``lr``.

    Args:
        learning_rate: A float or a schedule (Keras's default 0.001; the
            original paper uses 1.0).
        rho: Decay rate of the moving averages.
        epsilon: Added inside both square roots.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "adadelta"
    _hyperparameters = ("rho", "epsilon")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def _update_rule(self, learning_rate):
        return optax.chain(
            optax.scale_by_adadelta(rho=self.rho, eps=self.epsilon),
            _scale_by_learning_rate(learning_rate),
        )


class Adam(Optimizer):
    """Adam, with Keras's epsilon placement (see ``scale_by_keras_adam``).

    Args:
        learning_rate: A float or a schedule.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the second moment.
        epsilon: Added to the uncorrected ``√v``.
        amsgrad: Whether to use the running maximum of the second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "adam"
    _hyperparameters = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad

    def _update_rule(self, learning_rate):
        return optax.chain(
            scale_by_keras_adam(self.beta_1, self.beta_2, self.epsilon, self.amsgrad),
            _scale_by_learning_rate(learning_rate),
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (on by default).

    Args:
        learning_rate: A float or a schedule.
        weight_decay: Decay rate; each update does
            ``param -= param * weight_decay * learning_rate``.
        beta_1, beta_2, epsilon, amsgrad: See ``Adam``.
        clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.
    """

    _default_name = "adam_w"

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        if weight_decay is None:
            raise ConfigError("AdamW: `weight_decay` must be a float; received None (use Adam instead).")
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
            name,
            **kwargs,
        )


class Nadam(Optimizer):
    """Nadam (Adam with Nesterov momentum), Keras's form (see ``scale_by_keras_nadam``).

    Args:
        learning_rate: A float or a schedule.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the second moment.
        epsilon: Added to the corrected ``√v``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "nadam"
    _hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _update_rule(self, learning_rate):
        return optax.chain(
            scale_by_keras_nadam(self.beta_1, self.beta_2, self.epsilon),
            _scale_by_learning_rate(learning_rate),
        )


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), Keras's form (see ``scale_by_keras_adamax``).

    Args:
        learning_rate: A float or a schedule.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the infinity-norm moment.
        epsilon: Added to the infinity-norm moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "adamax"
    _hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _update_rule(self, learning_rate):
        return optax.chain(
            scale_by_keras_adamax(self.beta_1, self.beta_2, self.epsilon),
            _scale_by_learning_rate(learning_rate),
        )


class Lion(Optimizer):
    """Lion: ``param -= lr·sign(β1·m + (1-β1)·g)``, then ``m = β2·m + (1-β2)·g``.

    Args:
        learning_rate: A float or a schedule.
        beta_1: Interpolation between momentum and gradient for the sign.
        beta_2: Decay rate of the momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs:
            See ``Optimizer``.
    """

    _default_name = "lion"
    _hyperparameters = ("beta_1", "beta_2")

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ConfigError(f"`beta_1` must be between (0, 1]. Received: beta_1={beta_1!r}")
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def _update_rule(self, learning_rate):
        return optax.chain(
            optax.scale_by_lion(b1=self.beta_1, b2=self.beta_2),
            _scale_by_learning_rate(learning_rate),
        )


# --------------------------------------------------------------------------
# Identifiers.
# --------------------------------------------------------------------------

_OPTIMIZERS = {cls.__name__: cls for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Nadam, Adamax, Lion)}
_BY_LOWER_NAME = {name.lower(): cls for name, cls in _OPTIMIZERS.items()}


def get(identifier: Optimizer | str | dict[str, Any]) -> Optimizer:
    """Resolves an optimizer identifier, as ``compile(optimizer=...)`` accepts it.

    Args:
        identifier: An ``Optimizer`` (returned as is); a name such as
            ``"adam"`` or ``"RMSprop"`` (case-insensitive; Keras's defaults);
            or a dict ``{"class_name": ..., "config": ...}`` from ``serialize``
            (Keras's serialized optimizers load too).

    Returns:
        An ``Optimizer``.

    Raises:
        ConfigError: For an unknown name, naming it and listing the valid ones.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_LOWER_NAME.get(identifier.lower())
        if cls is None:
            raise unknown_identifier("optimizer", identifier, list(_BY_LOWER_NAME))
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ConfigError(
        f"Could not interpret optimizer identifier {identifier!r}: expected an Optimizer, "
        f"a name ({', '.join(sorted(_BY_LOWER_NAME))}) or a dict from serialize()."
    )


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Returns ``{"class_name": ..., "config": ...}`` for an optimizer.

    Args:
        optimizer: An ``Optimizer``.

    Returns:
        A JSON-compatible dict that ``deserialize`` turns back into an equal
        optimizer.
    """
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """Creates an optimizer from ``serialize``'s (or Keras's) output.

    Args:
        config: A dict with ``class_name`` and ``config``; Keras's extra
            ``module`` and ``registered_name`` keys are ignored.

    Returns:
        An ``Optimizer``.

    Raises:
        ConfigError: For an unknown class name or a malformed dict.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A serialized optimizer must be a dict with 'class_name' and 'config'; received {config!r}.")
    name = config["class_name"]
    cls = _OPTIMIZERS.get(name) or _BY_LOWER_NAME.get(str(name).lower())
    if cls is None:
        raise unknown_identifier("optimizer", name, list(_OPTIMIZERS))
    return cls.from_config(config.get("config", {}))
