"""Weight initializers by their Keras names and arguments.

Each initializer is a small config object whose ``__call__(key, shape, dtype)``
has the signature of ``jax.nn.initializers`` (so flax.nnx modules take it as
``kernel_init``). Random values are drawn with NumPy from a generator seeded by
the key: the same key gives the same weights, and building a model compiles
nothing (an eager ``jax.random`` draw costs an XLA compilation per new weight
shape, about a second for a convolution kernel on a CPU).
"""

from __future__ import annotations

import contextvars
import math

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError, unknown_identifier
from kerasish.utils.random import next_seed


def _host_rng(key) -> np.random.Generator:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key).astype(np.uint64).ravel())


def _truncated_normal(rng: np.random.Generator, shape, lower=-2.0, upper=2.0) -> np.ndarray:
    """Standard normal values redrawn until they fall in [lower, upper]."""
    out = rng.standard_normal(shape)
    bad = (out < lower) | (out > upper)
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = (out < lower) | (out > upper)
    return out


def _scaled(values: np.ndarray, scale, offset=None) -> np.ndarray:
    """``offset + scale * values`` computed in place: the same operations, so the same values, without a
    second float64 copy of a large weight."""
    values *= scale
    if offset is not None:
        values += offset
    return values


def _fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """Keras's fans: a kernel ``(..., in, out)`` has a receptive field of the leading dims; with both
    ``input_axes`` and ``output_axes`` given, the products of those axes' sizes."""
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# Set by kerasish.saving while it builds a model from a file's config: called with (shape, dtype, host bytes)
# before each weight is sampled (host bytes: what the draw holds on the host besides the weight, see
# Initializer.draw_bytes_per_value), it refuses (raises) once the load would pass its limits.
WEIGHT_BUDGET: contextvars.ContextVar = contextvars.ContextVar("kerasish_weight_budget", default=None)


class Initializer:
    """Base class: ``init(key, shape, dtype) -> array``; subclasses implement ``sample``.

    Values are drawn in float64 on the host, then cast to ``dtype``: while a weight is drawn, the host
    holds at most ``draw_bytes_per_value`` bytes per value besides the weight itself (the float64 draw,
    8, and the cast copy or a truncated normal's masks, up to 4 more); the load budget counts them.
    """

    draw_bytes_per_value = 12

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        raise NotImplementedError("Initializer subclasses override sample()")

    def __call__(self, *args, **kwargs):
        """``init(key, shape, dtype=float32)`` (jax.nn.initializers's form) or ``init(shape, dtype=None)``.

        The second is Keras's standalone form: the key is the initializer's ``seed`` if it has an int one
        (the same values at every call, as Keras), else a fresh one from the global seed stream.
        """
        key, shape, dtype = self._call_args(args, kwargs)
        shape = tuple(int(d) for d in shape)
        budget = WEIGHT_BUDGET.get()
        if budget is not None:
            budget(shape, dtype, math.prod(shape) * self.draw_bytes_per_value)
        # Cast and transfer from the host: jnp.asarray would compile a program per shape.
        return jax.device_put(np.asarray(self.sample(_host_rng(key), shape), dtype=jnp.dtype(dtype)))

    def _call_args(self, args, kwargs):
        kwargs = dict(kwargs)
        keras_form = ("key" not in kwargs and (not args and "shape" in kwargs)
                      or (args and isinstance(args[0], (tuple, list, int, np.integer))))
        if not keras_form:
            names = ("key", "shape", "dtype")
            bound = dict(zip(names, args), **kwargs)
            if "key" not in bound or "shape" not in bound:
                raise InputError(f"{type(self).__name__}: call it as init(key, shape, dtype) or "
                                 f"init(shape, dtype=None); got args={args!r}, kwargs={kwargs!r}.")
            return bound["key"], bound["shape"], bound.get("dtype") or jnp.float32
        bound = dict(zip(("shape", "dtype"), args), **kwargs)
        shape = bound["shape"]
        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        seed = getattr(self, "seed", None)
        seed = seed if isinstance(seed, (int, np.integer)) else next_seed()
        return np.array([0, int(seed)], np.uint32), shape, bound.get("dtype") or jnp.float32

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class Zeros(Initializer):
    def sample(self, rng, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, rng, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def sample(self, rng, shape):
        return np.full(shape, self.value, dtype=np.float64)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, rng, shape):
        return _scaled(rng.standard_normal(shape), self.stddev, self.mean)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def sample(self, rng, shape):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def sample(self, rng, shape):
        return _scaled(_truncated_normal(rng, shape), self.stddev, self.mean)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigError(f"VarianceScaling mode must be fan_in, fan_out or fan_avg, got {mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ConfigError(f"VarianceScaling distribution must be truncated_normal, untruncated_normal or "
                              f"uniform, got {distribution!r}.")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.input_axes, self.output_axes = input_axes, output_axes

    def sample(self, rng, shape):
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return _scaled(rng.standard_normal(shape), math.sqrt(variance))
        # Truncated at two standard deviations, rescaled so the variance is `variance` (as Keras).
        return _scaled(_truncated_normal(rng, shape), math.sqrt(variance) / 0.87962566103423978)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _vs(scale, mode, distribution):
    class _Named(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    return _Named


class GlorotUniform(_vs(1.0, "fan_avg", "uniform")):
    pass


class GlorotNormal(_vs(1.0, "fan_avg", "truncated_normal")):
    pass


class HeNormal(_vs(2.0, "fan_in", "truncated_normal")):
    pass


class HeUniform(_vs(2.0, "fan_in", "uniform")):
    pass


class LecunNormal(_vs(1.0, "fan_in", "truncated_normal")):
    pass


class LecunUniform(_vs(1.0, "fan_in", "uniform")):
    pass


class Orthogonal(Initializer):
    draw_bytes_per_value = 40  # the draw, its QR factors and their products, all float64

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = gain, seed

    def sample(self, rng, shape):
        if len(shape) < 2:
            raise ConfigError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q[:rows, :cols].reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        self.gain = gain

    def sample(self, rng, shape):
        if len(shape) != 2:
            raise ConfigError(f"Identity initializer needs a 2D shape, got {shape}.")
        return _scaled(np.eye(*shape), self.gain)

    def get_config(self):
        return {"gain": self.gain}


class STFT(Initializer):
    """Kernels of a Conv1D that computes a short-time Fourier transform (Keras's ``STFT``).

    For a kernel shape ``(frame_length, channels, fft_bins)`` the values are
    ``cos(-2π·t·f / n_fft)`` (``side="real"``) or ``sin(...)`` (``side="imag"``) with
    ``n_fft = 2·(fft_bins - 1)``, times the window and divided by the window's L2 norm
    (``scaling="density"``) or L1 norm (``"spectrum"``). Deterministic: ``key`` is ignored.

    Args:
        side: ``"real"`` or ``"imag"``.
        window: a ``scipy.signal.get_window`` name (``"hann"``, ``"hamming"``, ...), the window's values
            (length ``frame_length``) or None.
        scaling: ``"density"``, ``"spectrum"`` or None.
        periodic: use the periodic form of a named window (scipy's ``fftbins=True``).
    """

    draw_bytes_per_value = 40  # the angles, the kernel and the windowed kernel, float64

    def __init__(self, side="real", window="hann", scaling="density", periodic=False):
        if side not in ("real", "imag"):
            raise ConfigError(f"STFT: side must be 'real' or 'imag', got side={side!r}.")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ConfigError(f"STFT: scaling must be None, 'density' or 'spectrum', got scaling={scaling!r}.")
        if isinstance(window, str):
            _window(window, 1, False)  # an unknown name fails here, not at the first build
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def sample(self, rng, shape):
        if len(shape) != 3:
            raise ConfigError(f"STFT initializer needs a shape (frame_length, channels, fft_bins), got {shape}.")
        frame_length, _, bins = shape
        n_fft = (bins - 1) * 2
        t = np.arange(frame_length, dtype=np.float64).reshape(frame_length, 1, 1)
        f = np.arange(bins, dtype=np.float64).reshape(1, 1, bins)
        angle = -2.0 * np.pi * t * f / n_fft
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is None:
            return np.broadcast_to(kernel, shape).copy()
        win = (_window(self.window, frame_length, self.periodic) if isinstance(self.window, str)
               else np.asarray(self.window, np.float64))
        if win.shape != (frame_length,):
            raise ConfigError(f"STFT: the window must have shape ({frame_length},) (the frame length), "
                              f"got {win.shape}.")
        scale = {"density": np.sqrt(np.sum(win**2)), "spectrum": np.sum(np.abs(win)), None: 1.0}[self.scaling]
        return np.broadcast_to(kernel * win.reshape(frame_length, 1, 1) / scale, shape).copy()

    def get_config(self):
        window = self.window.tolist() if isinstance(self.window, np.ndarray) else self.window
        return {"side": self.side, "window": window, "periodic": self.periodic, "scaling": self.scaling}


def _window(name: str, length: int, periodic: bool) -> np.ndarray:
    from scipy.signal import get_window  # scipy comes with scikit-learn, a kerasish dependency

    try:
        return np.asarray(get_window(name, length, fftbins=periodic), np.float64)
    except ValueError as err:
        raise ConfigError(f"STFT: window={name!r} is not a scipy.signal window ({err}).") from None


# Keras's other names for the classes: the lowercase forms construct one, ``glorot_uniform(seed=1)``.
IdentityInitializer = identity = Identity
OrthogonalInitializer = orthogonal = Orthogonal
STFTInitializer = stft = STFT
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform, glorot_normal, he_normal, he_uniform = GlorotUniform, GlorotNormal, HeNormal, HeUniform
lecun_normal, lecun_uniform = LecunNormal, LecunUniform

_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "uniform": RandomUniform,
    "normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal,
    "identity": Identity,
    "stft": STFT,
    "zero": Zeros,
    "one": Ones,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}
_CLASSES.update(IdentityInitializer=Identity, OrthogonalInitializer=Orthogonal, STFTInitializer=STFT)


def get(identifier) -> Initializer:
    """Resolve an initializer from a Keras name, a config dict, an instance or a callable."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise unknown_identifier("initializer", identifier, list(_BY_NAME))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic, jax.Array)):
        return _FromArray(identifier)
    if callable(identifier):
        return identifier
    raise ConfigError(f"Cannot interpret {identifier!r} as an initializer.")


class _FromArray(Initializer):
    """``get(array)``: an initializer that returns that array (cast), for its own shape only (as Keras)."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def sample(self, rng, shape):
        if tuple(shape) != self.value.shape:
            raise InputError(f"This initializer holds an array of shape {self.value.shape}; it was asked for "
                             f"shape={tuple(shape)}.")
        return self.value


def deserialize(config: dict, custom_objects: dict | None = None) -> Initializer:
    """An initializer from ``serialize``'s (or Keras's) ``{"class_name": ..., "config": ...}``.

    Args:
        config: the dict; Keras's extra keys (``module``, ``registered_name``) are ignored.
        custom_objects: optional ``{name: class}`` for initializers defined outside kerasish.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ConfigError(f"A serialized initializer must be a dict with 'class_name' and 'config'; got {config!r}.")
    name = config["class_name"]
    custom = dict(custom_objects or {})
    cls = custom.get(name) or _CLASSES.get(name) or _BY_NAME.get(name)
    if cls is None:
        raise unknown_identifier("initializer", name, sorted({*_CLASSES, *custom}))
    return cls.from_config(config.get("config") or {})


def serialize(init) -> dict | str:
    if isinstance(init, Initializer):
        return {"class_name": type(init).__name__, "config": init.get_config()}
    raise ConfigError(f"Cannot serialize initializer {init!r}: only kerasish initializers are serializable.")


def _resolve_for_variable(initializer, shape, dtype):
    from kerasish.utils.random import next_host_key

    return get(initializer)(next_host_key(), shape, dtype)


def _install() -> None:
    from kerasish import backend

    backend.set_initializer_resolver(_resolve_for_variable)


_install()
