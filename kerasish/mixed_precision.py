"""Mixed precision: dtype policies for layers, as ``keras.mixed_precision``.

A :class:`DTypePolicy` names two dtypes: the *compute* dtype a layer computes in (its inputs are cast
to it, its output has it) and the *variable* dtype its weights are stored in. ``"mixed_bfloat16"``
computes in bfloat16 with float32 weights: half the activation memory and the fast matrix units of
TPUs and recent GPUs, while the optimizer still updates float32 weights. ``"mixed_float16"`` does the
same in float16, whose narrow range needs loss scaling (:class:`LossScaleOptimizer`, which
``compile`` adds by itself under that policy).

Every layer takes its policy from ``dtype=`` or, by default, from the global policy at the time it
is made::

    kerasish.mixed_precision.set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([..., layers.Dense(10), layers.Activation("softmax", dtype="float32")])

What stays float32 under a mixed policy, as in Keras 3: the weights, the normalization layers'
statistics (BatchNormalization, LayerNormalization, GroupNormalization compute in float32 and return
the compute dtype), softmax's arithmetic, losses and metrics.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError
from kerasish.optimizers import LossScaleOptimizer

__all__ = [
    "DTypePolicy",
    "LossScaleOptimizer",
    "Policy",
    "dtype_policy",
    "global_policy",
    "set_dtype_policy",
    "set_global_policy",
]

_MIXED = {"mixed_float16": ("float16", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}
_STANDARD = ("float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16")


def _parse(name: Any) -> tuple[str, str]:
    """``(compute_dtype, variable_dtype)`` for a policy name, or ConfigError listing the valid names."""
    if not isinstance(name, str):
        raise ConfigError(f"A dtype policy name must be a string such as 'mixed_bfloat16', got {name!r} "
                          f"(of type {type(name).__name__}).")
    if name in _MIXED:
        return _MIXED[name]
    try:
        dtype = np.dtype(jnp.dtype(name))
    except TypeError:
        dtype = None
    # Only canonical dtype names ("float64", "int32"), not aliases like "float" or "f4".
    if dtype is None or dtype.name != name:
        raise ConfigError(f"Unknown dtype policy {name!r}. Valid policies are {', '.join(map(repr, _STANDARD))}, "
                          f"or the name of another dtype (such as 'float64' or 'int32').")
    return name, name


class DTypePolicy:
    """A layer's dtype policy: the dtype it computes in and the dtype of its weights.

    Args:
        name: ``"float32"``, ``"float16"``, ``"bfloat16"`` (compute and weights in that dtype),
            ``"mixed_float16"`` or ``"mixed_bfloat16"`` (compute in float16/bfloat16, weights in
            float32), or another dtype name (``"float64"``, ``"int32"``). ``None`` takes the global
            policy's name.

    Raises:
        ConfigError: for an unknown name, listing the valid ones.

    Example:
        >>> policy = DTypePolicy("mixed_bfloat16")
        >>> policy.compute_dtype, policy.variable_dtype
        ('bfloat16', 'float32')
        >>> layer = kerasish.layers.Dense(10, dtype=policy)
    """

    def __init__(self, name: str | None = None):
        if name is None:
            name = global_policy().name
        self._name = name
        self._compute_dtype, self._variable_dtype = _parse(name)
        # np.dtype objects for the per-call checks: comparing to a string parses it each time
        self._compute = np.dtype(jnp.dtype(self._compute_dtype))
        self._variable = np.dtype(jnp.dtype(self._variable_dtype))
        self._float_compute = bool(jnp.issubdtype(self._compute, jnp.floating))
        self._mixed = self._compute_dtype != self._variable_dtype

    @property
    def name(self) -> str:
        """The policy's name, e.g. ``"mixed_bfloat16"``."""
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype layers compute in (and cast their floating inputs to), as a string."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype layers create their weights in, as a string."""
        return self._variable_dtype

    @property
    def is_mixed(self) -> bool:
        """Whether the compute and variable dtypes differ (weights are cast while a layer computes)."""
        return self._mixed

    def get_config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other) -> bool:
        return isinstance(other, DTypePolicy) and other._name == self._name

    def __hash__(self) -> int:
        return hash(("DTypePolicy", self._name))

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras's legacy name (keras.mixed_precision.Policy)

_global: DTypePolicy | None = None


def global_policy() -> DTypePolicy:
    """The policy layers made from now on take when they are given no ``dtype`` ("float32" by default)."""
    global _global
    if _global is None:
        _global = DTypePolicy("float32")
    return _global


def set_global_policy(policy: DTypePolicy | str) -> None:
    """Set the policy of the layers made from now on (layers that exist keep theirs).

    Args:
        policy: a :class:`DTypePolicy` or a policy name (``"mixed_bfloat16"``, ``"float32"``, ...).

    Raises:
        ConfigError: for anything else, or an unknown name.

    Example:
        >>> kerasish.mixed_precision.set_global_policy("mixed_bfloat16")
        >>> kerasish.layers.Dense(4).compute_dtype
        'bfloat16'
        >>> kerasish.mixed_precision.set_global_policy("float32")
    """
    global _global
    if isinstance(policy, str):
        policy = DTypePolicy(policy)
    if not isinstance(policy, DTypePolicy):
        raise ConfigError(f"set_global_policy takes a DTypePolicy or a policy name such as 'mixed_bfloat16', "
                          f"got {policy!r} (of type {type(policy).__name__}).")
    _global = policy


set_dtype_policy = set_global_policy  # keras.config.set_dtype_policy
dtype_policy = global_policy  # keras.config.dtype_policy

_POLICY_CLASS_NAMES = ("DTypePolicy", "FloatDTypePolicy", "Policy")


def get(identifier: Any, owner: str = "dtype") -> DTypePolicy:
    """The policy for a layer's ``dtype=`` argument.

    Args:
        identifier: ``None`` (the global policy), a :class:`DTypePolicy`, a policy or dtype name, a
            dtype object (``jnp.float32``, ``np.dtype("int32")``), or a serialized policy
            (``{"class_name": "DTypePolicy", "config": {"name": ...}}``, as Keras 3 saves it).
        owner: what the argument belongs to, for the error message (e.g. ``"Dense 'dense_1'"``).

    Raises:
        ConfigError: naming ``owner`` and the value, when it is none of these.
    """
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        config = identifier.get("config")
        if identifier.get("class_name") not in _POLICY_CLASS_NAMES or not isinstance(config, dict):
            raise ConfigError(f"{owner}: a serialized dtype policy must be {{'class_name': 'DTypePolicy', "
                              f"'config': {{'name': ...}}}}, got {identifier!r}.")
        identifier = config.get("name")
    elif not isinstance(identifier, str):
        try:
            identifier = np.dtype(jnp.dtype(identifier)).name
        except TypeError:
            raise ConfigError(f"{owner}: dtype must be a dtype, a policy name (such as 'mixed_bfloat16') or a "
                              f"DTypePolicy, got {identifier!r}.") from None
    try:
        return DTypePolicy(identifier)
    except ConfigError as e:
        raise ConfigError(f"{owner}: {e}") from None


def serialize(policy: DTypePolicy) -> dict[str, Any]:
    """The policy as Keras 3 saves it in a layer's config."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}
