"""What loading a file may cost, decided by the caller, not by the file; and what a loaded weight may hold.

* **Model size.** While a model is built from a file's config, every weight's bytes are counted
  before it is allocated (:func:`budget`): the weight that would take the model over ``max_bytes`` is
  refused with a :class:`FileFormatError` naming the file, the parameters and bytes so far and the
  limit, so memory never passes the limit. What is counted is the peak of building: the weights so
  far, the next one, and the host memory its initial values are drawn in (float64, 8 bytes a value,
  plus up to 4 for the cast: ``Initializer.draw_bytes_per_value``), so a model of exactly
  ``max_bytes`` bytes of weights does not load under that limit.
* **What the file holds.** The weights member's declared size is known before anything is built; a
  file's weights hold at least half of the model's bytes less 1 MiB (:func:`floor`), so the model is
  refused while it is built as soon as its weights pass what that member can hold
  (:func:`most_weights`): an edited config asking for 2 GB over a 12 KB weights member is refused
  before its big weight is allocated, whatever ``max_bytes`` is. A ``MemoryError`` while building
  anyway is reported as the model needing more memory than available, not as a malformed config. The limit is ``load_model``'s ``max_bytes=`` keyword, else
  :data:`MAX_MODEL_BYTES`, else (the default, None) half of the memory this process may use: the
  smallest of physical memory, the cgroup's memory limit and ``RLIMIT_AS``.
* **Members.** The weights a file holds are then bounded by what the model's variables take (see
  :func:`weights_bound`): a member or file declaring more (a decompression bomb) or much less
  (another architecture) is refused before a byte of it is read.
* **Non-finite weights.** Loaded weights holding NaN or inf give a warning naming each variable and
  how many values (``nonfinite="warn"``, the default), an error (``"raise"``), or nothing (``"ignore"``).

``load_model`` and ``load_weights`` set these for their call with :func:`options`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
import warnings

import numpy as np

from kerasish.errors import ConfigError, FileFormatError

# None: half of the memory this process may use (see memory_available); else a number of bytes.
MAX_MODEL_BYTES: int | None = None
# State arrays an optimizer keeps per trainable weight, at most (Adam with amsgrad keeps three), each
# at least float32; bounds an optimizer member before it is read.
OPTIMIZER_SLOTS = 4
NONFINITE_MODES = ("warn", "raise", "ignore")


@dataclasses.dataclass(frozen=True)
class _Options:
    max_bytes: int | float | None = None
    nonfinite: str = "warn"


_OPTIONS: contextvars.ContextVar[_Options] = contextvars.ContextVar("kerasish_load_options", default=_Options())


@contextlib.contextmanager
def options(max_bytes=None, nonfinite: str = "warn"):
    """Within the block, loaders bound models by ``max_bytes`` and treat non-finite weights per ``nonfinite``.

    Raises:
        ConfigError: ``max_bytes`` not a positive number (``math.inf`` lifts the bound), ``nonfinite``
            not one of "warn", "raise", "ignore".
    """
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, float))
                                  or not max_bytes > 0):
        raise ConfigError(f"max_bytes must be a positive number of bytes (math.inf for no limit) or None for "
                          f"the default, got {max_bytes!r}.")
    if nonfinite not in NONFINITE_MODES:
        raise ConfigError(f"nonfinite must be one of {NONFINITE_MODES}, got {nonfinite!r}.")
    token = _OPTIONS.set(_Options(max_bytes, nonfinite))
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def memory_available() -> int:
    """The memory this process may use: the smallest of physical memory, its cgroup's limit, ``RLIMIT_AS``."""
    found = []
    with contextlib.suppress(ValueError, OSError, AttributeError):
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError), open(path) as f:
            text = f.read().strip()
            if text.isdigit():
                found.append(int(text))
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft not in (resource.RLIM_INFINITY, -1) and soft > 0:
            found.append(soft)
    found = [n for n in found if n > 0]
    return min(found) if found else 16 * 2**30


def max_model_bytes() -> int | float:
    """The limit in force: the ``max_bytes`` of the current :func:`options`, :data:`MAX_MODEL_BYTES`, or half
    of :func:`memory_available`."""
    chosen = _OPTIONS.get().max_bytes
    if chosen is None:
        chosen = MAX_MODEL_BYTES
    return chosen if chosen is not None else memory_available() // 2


def nonfinite_mode() -> str:
    return _OPTIONS.get().nonfinite


# -- sizing a model before it is built ----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ModelSize:
    """A model's variables as its config builds them: ``(path, shape, dtype name, trainable)`` each."""

    variables: tuple

    @property
    def params(self) -> int:
        return sum(math.prod(shape) for _, shape, _, _ in self.variables)

    @property
    def bytes(self) -> int:
        return sum(math.prod(shape) * np.dtype(dtype).itemsize for _, shape, dtype, _ in self.variables)

    @property
    def optimizer_bound(self) -> int:
        """At most what an optimizer's state over the trainable variables takes (see OPTIMIZER_SLOTS)."""
        trainable = sum(math.prod(s) * max(np.dtype(d).itemsize, 4) for _, s, d, t in self.variables if t)
        return OPTIMIZER_SLOTS * trainable + 64 * 2**10

    @classmethod
    def of(cls, model) -> ModelSize:
        return cls(tuple((v.path, tuple(v.shape), np.dtype(v.dtype).name, bool(v.trainable)) for v in model.weights))


@contextlib.contextmanager
def budget(what: str = "the model this config describes", *, weights_declared: int | None = None,
           weights_member: str = "the weights member"):
    """While a model is built from a file's config: every weight is counted before it is allocated (its
    initializer is called), and refused, so a config declaring ``Dense(units=2*10**8)`` never allocates
    its kernel, once

    * (with ``weights_declared``, the bytes the file's weights member declares, known before building) the
      weights so far pass :func:`most_weights` of it: a file's weights hold at least half of the model's
      bytes less 1 MiB (:func:`floor`), so a config asking for more does not belong to them. ``load_model``
      assigns every weight from the file, so this holds on every load path that builds a model (only
      ``load_weights`` with ``skip_mismatch``/``by_name`` loads a model larger than its file, and it builds
      nothing);
    * the weights so far, plus this weight, plus the host memory drawing its initial values holds besides
      it (the float64 values, see ``Initializer.draw_bytes_per_value``), pass :func:`max_model_bytes`.

    Raises (inside the block):
        FileFormatError: naming the weight (shape, dtype, bytes), the parameters and bytes so far, and the
            member and its declared bytes or the limit and how to raise it. Callers prefix the file's name.
    """
    from kerasish import initializers

    limit = max_model_bytes()
    held = most_weights(weights_declared) if weights_declared is not None else None
    seen = {"params": 0, "bytes": 0}

    def count(shape, dtype, draw_bytes: int = 0) -> None:
        params = math.prod(shape)
        nbytes = params * np.dtype(dtype).itemsize
        seen["params"] += params
        seen["bytes"] += nbytes
        weight = (f"the last a weight of shape {tuple(shape)} and dtype {np.dtype(dtype).name} taking {nbytes:,} "
                  "bytes")
        if held is not None and seen["bytes"] > held:
            raise FileFormatError(
                f"{what} asks for more weights than the file holds: {weights_member} declares {weights_declared:,} "
                f"bytes, too few for the weights this config asks for ({seen['bytes']:,} bytes so far, "
                f"{seen['params']:,} parameters, {weight}; a file's weights hold at least half of the model's bytes "
                f"less 1 MiB, so at most {held:,} bytes of weights fit). Refused before that weight was allocated: "
                "the config was edited, or does not belong to these weights.")
        peak = seen["bytes"] + draw_bytes
        if peak > limit:
            shown = f"{int(limit):,}" if limit != math.inf else "inf"
            raise FileFormatError(
                f"{what} needs more memory than allowed: its weights would take at least {seen['bytes']:,} bytes "
                f"({seen['params']:,} parameters, {weight}), and drawing that weight's initial values holds "
                f"{draw_bytes:,} more on the host: {peak:,} bytes, over the limit of {shown} bytes; refused before "
                "that weight was allocated. If you trust the file and have the memory, raise the limit: "
                "load_model(..., max_bytes=N) or kerasish.saving.limits.MAX_MODEL_BYTES = N.")

    token = initializers.WEIGHT_BUDGET.set(count)
    try:
        yield
    finally:
        initializers.WEIGHT_BUDGET.reset(token)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (NumPy's MemoryError, or an accelerator's RESOURCE_EXHAUSTED)."""
    return isinstance(exc, MemoryError) or (type(exc).__name__ in ("XlaRuntimeError", "JaxRuntimeError")
                                            and "RESOURCE_EXHAUSTED" in str(exc))


def memory_message(source: str, exc: BaseException) -> str:
    """What to say when building a model from a file ran out of memory under the limit in force."""
    limit = max_model_bytes()
    shown = f"{int(limit):,}" if limit != math.inf else "inf"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{source}: the model it describes needs more memory than is available: building it from its config "
            f"failed to allocate ({type(exc).__name__}: {first}). The limit in force was {shown} bytes; pass a "
            "smaller one (load_model(..., max_bytes=N) or kerasish.saving.limits.MAX_MODEL_BYTES = N) to have "
            "such files refused before they allocate, or load it where more memory is free.")


def check_size(size: ModelSize, source: str) -> None:
    """Refuse a built model over the limit (weights a budget did not see: created without an initializer)."""
    limit = max_model_bytes()
    if size.bytes > limit:
        shown = f"{int(limit):,}" if limit != math.inf else "inf"
        raise FileFormatError(f"{source}: the model has {size.params:,} parameters taking {size.bytes:,} bytes, "
                              f"over the limit of {shown} bytes. If you trust the file and have the memory, raise "
                              "the limit: load_model(..., max_bytes=N) or kerasish.saving.limits.MAX_MODEL_BYTES = N.")


def floor(needed: int) -> int:
    """The fewest bytes a file's weights may declare for variables taking ``needed``: half of them (a writer
    may have narrowed dtypes) less 1 MiB (a slightly smaller architecture gets the loader's precise
    message, naming the variable and both shapes)."""
    return max(0, needed // 2 - 2**20)


def most_weights(declared: int) -> int:
    """The most bytes of variables a file's weights declaring ``declared`` bytes may be for: the largest
    ``needed`` whose :func:`floor` is at most ``declared``."""
    return 2 * (declared + 2**20) + 1


def weights_bound(source: str, member: str, declared: int, needed: int, *, slack: int, floor: int,
                  skip_mismatch: bool = False) -> None:
    """Refuse a weights member (or file) declaring ``declared`` bytes for variables that take ``needed``.

    Over ``needed + slack`` (headers) is a decompression bomb or another, bigger architecture; under
    ``floor`` is another architecture. With ``skip_mismatch`` (weights of other shapes are skipped, so
    the file may hold more) only the limit in force bounds it, and there is no floor.
    """
    upper = max(max_model_bytes(), needed + slack) if skip_mismatch else needed + slack
    if declared > upper:
        raise FileFormatError(f"{source}: {member} declares {declared:,} bytes, but the model's variables take "
                              f"{needed:,} bytes (at most {int(upper):,} expected with headers and any optimizer "
                              "state); refused before "
                              "reading it (a decompression bomb, or the weights of another architecture).")
    if not skip_mismatch and declared < floor:
        raise FileFormatError(f"{source}: {member} declares {declared:,} bytes, too few for the model's variables "
                              f"({needed:,} bytes): the file's weights are not this architecture's.")


# -- non-finite values --------------------------------------------------------------------------------
def check_finite(named_values, source: str, what: str = "weights") -> None:
    """Warn about (or refuse, or ignore, per :func:`options`) NaN and inf in ``(name, array)`` pairs."""
    mode = nonfinite_mode()
    if mode == "ignore":
        return
    bad = []
    for name, value in named_values:
        value = np.asarray(value)
        if value.dtype.kind not in "fc" and value.dtype.name not in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
            continue
        count = int(value.size - np.count_nonzero(np.isfinite(value)))
        if count:
            bad.append(f"{name!r} ({count} of {value.size} values NaN or inf)")
    if not bad:
        return
    listed = ", ".join(bad[:10]) + (f", and {len(bad) - 10} more" if len(bad) > 10 else "")
    message = f"{source}: non-finite values in {len(bad)} {what}: {listed}."
    if mode == "raise":
        raise FileFormatError(message + " Refused (nonfinite='raise').")
    warnings.warn(message + " Loaded as they are; pass nonfinite='raise' to refuse such files, or 'ignore'.",
                  UserWarning, stacklevel=2)


__all__ = ["MAX_MODEL_BYTES", "ModelSize", "budget", "check_finite", "check_size", "max_model_bytes",
           "memory_available", "memory_message", "most_weights", "options", "out_of_memory", "weights_bound"]
