"""Keras-named optimizers (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Nadam, Adamax, Lion) and their lookup.

Each is an :class:`~kerasish.optimizers.base.Optimizer` whose update rule is a chain of optax
pieces, and every update matches Keras 3 (``optimizer.apply_gradients``) to float32 rounding,
multi-step, with schedules too. Where optax has no piece with Keras's exact arithmetic (Adam's
epsilon, Nadam's momentum schedule, Adamax's epsilon, per-tensor clipnorm), a small
optax-style transformation in :mod:`.transforms` supplies it.

Example:
    >>> import jax.numpy as jnp, optax
    >>> from kerasish import optimizers
    >>> tx = optimizers.Adam(learning_rate=1e-3).to_optax()
    >>> params = {"w": jnp.ones(3)}
    >>> state = tx.init(params)
    >>> updates, state = tx.update({"w": jnp.ones(3)}, state, params)
    >>> params = optax.apply_updates(params, updates)
"""

from __future__ import annotations

from typing import Any

import optax

from kerasish.errors import ConfigError, unknown_identifier

from .base import LearningRate, Optimizer
from .transforms import (  # noqa: F401 - re-exported
    ScaleByKerasNadamState,
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

# Filled further by the modules of the other optimizers (extra, muon, multi) as they are imported.
_OPTIMIZERS = {cls.__name__: cls for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW, Nadam, Adamax, Lion)}
_BY_LOWER_NAME = {name.lower(): cls for name, cls in _OPTIMIZERS.items()}


def _register(*classes: type) -> None:
    """Make optimizer classes defined in other modules known to get / deserialize by name."""
    for cls in classes:
        _OPTIMIZERS[cls.__name__] = cls
        _BY_LOWER_NAME[cls.__name__.lower()] = cls


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
