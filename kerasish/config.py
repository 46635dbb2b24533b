"""Global settings, as ``keras.config``.

What each does in kerasish:

* ``floatx`` / ``set_floatx``: the default float dtype; new layers' dtype policy follows it (see
  :func:`kerasish.backend.set_floatx`). ``epsilon`` / ``set_epsilon``: the fuzz factor (kerasish's own
  losses keep 1e-7). ``image_data_format`` / ``set_image_data_format``: always ``"channels_last"``
  (kerasish's layers' default; ``"channels_first"`` is refused with a clear error).
* ``dtype_policy`` / ``set_dtype_policy``: the global mixed-precision policy (``kerasish.mixed_precision``).
* ``max_epochs`` / ``max_steps_per_epoch`` (and ``KERAS_MAX_EPOCHS`` / ``KERAS_MAX_STEPS_PER_EPOCH`` in
  the environment): caps on ``fit``'s epochs and steps per epoch for debugging runs. ``fit`` applies
  ``max_epochs``; ``max_steps_per_epoch`` is recorded but not applied yet (pass ``steps_per_epoch=``).
* ``backend`` is ``"jax"``; ``set_backend`` accepts ``"jax"`` only. ``is_nnx_enabled`` is True: kerasish's
  layers are built on ``flax.nnx``.
* Flash attention: kerasish leaves the choice of attention kernel to XLA (``jax.nn.dot_product_attention``),
  so ``enable_flash_attention`` records the request (``is_flash_attention_enabled`` reports it) and
  changes nothing else; ``MultiHeadAttention(flash_attention=True)`` is refused by the layer itself.
* Interactive logging: with it off, :class:`kerasish.utils.Progbar` writes through Python's ``logging``
  (logger ``"kerasish"``) instead of drawing on stdout.
* Traceback filtering: kerasish does not rewrite tracebacks; the switch is recorded and reported only.
* ``prefetch`` / ``set_prefetch`` (and ``KERASISH_PREFETCH`` in the environment; kerasish additions): how many
  batches of a generator, iterable, grain or torch loader are made ahead of the step on a background thread and
  placed on the device (default None: 2 on an accelerator, 0 on the CPU; 0 turns it off for every stream). A
  PyDataset prefetches its ``max_queue_size`` instead. See ``kerasish.engine.prefetch``.
* ``resident_data`` / ``set_resident_data`` (and ``KERASISH_RESIDENT_DATA``; kerasish additions): the largest
  fraction of the device's memory that ``fit``'s training arrays may take to be placed on the device once and
  gathered there by the fused steps (default None: 0.25 on an accelerator, 0 (off) on the CPU, where it
  measured slower; there, placing copies nothing: the arrays are read where they lie). See
  ``kerasish.engine.resident``.
* ``enable_unsafe_deserialization``: turns safe mode off for every later load (a ``Lambda``'s function
  must still come from ``custom_objects``: kerasish never loads code).
"""

from __future__ import annotations

import os

from kerasish import mixed_precision as _mixed_precision
from kerasish import settings as _settings
from kerasish.backend import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from kerasish.errors import ConfigError
from kerasish.layers import base as _layer_base
from kerasish.mixed_precision import dtype_policy, set_dtype_policy
from kerasish.saving import registry as _registry
from kerasish.saving.registry import enable_unsafe_deserialization
from kerasish.utils.io_utils import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)

__all__ = [
    "backend", "disable_flash_attention", "disable_interactive_logging", "disable_traceback_filtering",
    "dtype_policy", "enable_flash_attention", "enable_interactive_logging", "enable_traceback_filtering",
    "enable_unsafe_deserialization", "epsilon", "floatx", "image_data_format", "is_flash_attention_enabled",
    "is_interactive_logging_enabled", "is_nnx_enabled", "is_traceback_filtering_enabled", "max_epochs",
    "max_steps_per_epoch", "prefetch", "resident_data", "set_backend", "set_dtype_policy", "set_epsilon", "set_floatx",
    "set_image_data_format", "set_max_epochs", "set_max_steps_per_epoch", "set_prefetch", "set_resident_data",
]


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"The environment variable {name} must be an integer, got {value!r}.") from None


def _env_prefetch() -> int | None:
    value = _env_int("KERASISH_PREFETCH")
    if value is not None and value < 0:
        raise ConfigError(f"The environment variable KERASISH_PREFETCH must be an integer >= 0, got {value!r}.")
    return value


def _env_resident() -> float | None:
    value = os.environ.get("KERASISH_RESIDENT_DATA")
    if value is None or value == "":
        return None
    try:
        fraction = float(value)
    except ValueError:
        fraction = -1.0
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError("The environment variable KERASISH_RESIDENT_DATA must be a fraction in [0, 1] "
                          f"(0 turns device-resident data off), got {value!r}.")
    return fraction


_PREFETCH = _env_prefetch()
_RESIDENT = _env_resident()
_MAX_EPOCHS: int | None = _env_int("KERAS_MAX_EPOCHS")
_MAX_STEPS_PER_EPOCH: int | None = _env_int("KERAS_MAX_STEPS_PER_EPOCH")
_FLASH_ATTENTION: bool | None = None
_TRACEBACK_FILTERING = True


def _reset() -> None:
    """``clear_session``'s part here: layer names, the dtype policy and the switches back to their defaults
    (the caps and floatx stay, as in Keras)."""
    global _FLASH_ATTENTION, _TRACEBACK_FILTERING
    _FLASH_ATTENTION, _TRACEBACK_FILTERING = None, True
    _mixed_precision.set_global_policy(floatx())
    _registry._reset_unsafe_deserialization()


def _follow_floatx(old: str, new: str) -> None:
    # As in Keras, the default dtype policy is floatx's; a policy set on purpose (another name) stays.
    if _mixed_precision.global_policy().name == old:
        _mixed_precision.set_global_policy(new)


# kerasish.backend cannot import the layers or the policies (they import it): wire them here.
_settings._NAME_COUNTS = _layer_base._NAME_COUNTS  # get_uid and layer names share one counter, as in Keras
_settings._ON_SET_FLOATX[:] = [_follow_floatx]
_settings._ON_CLEAR_SESSION[:] = [_reset]


def set_backend(backend: str) -> None:
    """Accepts ``"jax"`` only: kerasish runs on JAX (Keras's ``set_backend`` reloads Keras on another one).

    Raises:
        ConfigError: for any other backend name.
    """
    if backend != "jax":
        raise ConfigError(f"set_backend({backend!r}): kerasish runs on JAX only; the only backend is 'jax'.")


def is_nnx_enabled() -> bool:
    """True: kerasish's layers are built on ``flax.nnx`` (Keras's JAX backend makes this optional)."""
    return True


def _check_cap(name: str, value) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{name} must be a positive integer or None, got {value!r}.")
    return value


def set_max_epochs(max_epochs: int | None) -> None:
    """Cap the epochs of every ``fit`` (for quick debugging runs); None removes the cap.

    Also settable with the ``KERAS_MAX_EPOCHS`` environment variable.
    """
    global _MAX_EPOCHS
    _MAX_EPOCHS = _check_cap("max_epochs", max_epochs)


def set_max_steps_per_epoch(max_steps_per_epoch: int | None) -> None:
    """Cap the steps of every epoch of ``fit`` (for quick debugging runs); None removes the cap.

    Also settable with the ``KERAS_MAX_STEPS_PER_EPOCH`` environment variable.
    """
    global _MAX_STEPS_PER_EPOCH
    _MAX_STEPS_PER_EPOCH = _check_cap("max_steps_per_epoch", max_steps_per_epoch)


def max_epochs() -> int | None:
    """The cap on ``fit``'s epochs (None: no cap)."""
    return _MAX_EPOCHS


def max_steps_per_epoch() -> int | None:
    """The cap on the steps of each epoch of ``fit`` (None: no cap)."""
    return _MAX_STEPS_PER_EPOCH


def enable_flash_attention() -> None:
    """Record a request for flash attention (kerasish leaves the attention kernel to XLA; see the module)."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = True


def disable_flash_attention() -> None:
    """Record that flash attention is not wanted (see :func:`enable_flash_attention`)."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = False


def is_flash_attention_enabled() -> bool | None:
    """The recorded flash-attention setting: None (the default: automatic), True or False."""
    return _FLASH_ATTENTION


def enable_traceback_filtering() -> None:
    """Recorded only: kerasish does not rewrite tracebacks (see the module)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = True


def disable_traceback_filtering() -> None:
    """Recorded only: kerasish does not rewrite tracebacks (see the module)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = False


def is_traceback_filtering_enabled() -> bool:
    """The recorded traceback-filtering switch (True by default, as in Keras)."""
    return _TRACEBACK_FILTERING


def set_prefetch(batches: int | None) -> None:
    """Make ``batches`` batches of generators and iterables ahead of the step, on a background thread that also
    places them on the device; 0 turns prefetching off (for PyDatasets too, which prefetch their
    ``max_queue_size``). None (the default) is 2 on an accelerator and 0 on the CPU: there JAX's asynchronous
    dispatch already overlaps making the next batch with the step, and the thread costs more than it saves
    unless the generator waits (for storage, say). Also settable with the ``KERASISH_PREFETCH`` environment
    variable. A kerasish addition; see ``kerasish.engine.prefetch``.

    Raises:
        ConfigError: for anything but None or an integer >= 0.
    """
    global _PREFETCH
    if batches is not None and (isinstance(batches, bool) or not isinstance(batches, int) or batches < 0):
        raise ConfigError(f"set_prefetch takes None or an integer >= 0 (0 turns prefetching off), got {batches!r}.")
    _PREFETCH = batches


def set_resident_data(fraction: float | None) -> None:
    """Let ``fit`` place its training arrays on the device once when they take at most ``fraction`` of the
    device's memory (on the CPU: of the memory the process may use); its fused calls then gather their batches
    there (the epoch's shuffled order too) instead of gathering on the host and transferring every call. 0 turns
    it off; None (the default) is 0.25 on an accelerator and 0 on the CPU (there XLA's gather inside the
    loop measured slower than NumPy's, which JAX's asynchronous dispatch overlaps with the steps: the tiny
    MLP at 0.85-0.9x). On the CPU, placing copies nothing: the arrays are read where they lie
    (``kerasish.engine.in_place``). Also settable with ``KERASISH_RESIDENT_DATA``. A kerasish addition; see
    ``kerasish.engine.resident``.

    Raises:
        ConfigError: for anything but None or a number in [0, 1].
    """
    global _RESIDENT
    if fraction is not None and (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
                                 or not 0 <= fraction <= 1):
        raise ConfigError(f"set_resident_data takes None or a fraction in [0, 1] (0 turns it off), got {fraction!r}.")
    _RESIDENT = None if fraction is None else float(fraction)


def resident_data() -> float | None:
    """The largest fraction of device memory fit's arrays may take to be placed on the device, as set (None:
    the default, 0.25 on an accelerator, 0 on the CPU; 0: off)."""
    return _RESIDENT


def prefetch() -> int | None:
    """The batches of a generator or iterable made ahead of the step, as set (None: 2 on an accelerator, 0 on the
    CPU; 0: off)."""
    return _PREFETCH
