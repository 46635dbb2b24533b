"""Categorical encoding layers (Keras 3): CategoryEncoding, Discretization, Hashing, HashedCrossing.

CategoryEncoding and Discretization are plain ``jnp`` math: they run inside a jitted model like any
other layer. Hashing and HashedCrossing reproduce TensorFlow's string hashes (FarmHash
``Fingerprint64``, SipHash, ``FingerprintCat64``; see :mod:`kerasish.layers.preprocessing_hash`), which
are 64-bit integer programs over bytes: they run on the host. Called on concrete arrays (or lists of
strings) they hash directly; called on traced numeric inputs inside a jitted model they reach the host
through ``jax.pure_callback`` (shapes are static, so this works in ``fit``/``predict``). Strings cannot
live in JAX arrays, so string inputs are host-only: hash them in the data pipeline, before the model.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.preprocessing_hash import (
    CROSS_HASH_KEY,
    as_hash_bytes,
    fingerprint64,
    fingerprint_cat64,
    hash_buckets,
)

ENCODE_MODES = ("int", "one_hot", "multi_hot", "count")


def encode_categorical(indices, output_mode: str, depth: int, dtype="float32", count_weights=None):
    """Keras's ``encode_categorical_inputs``: integer indices as one-hot, multi-hot or count vectors.

    ``one_hot`` encodes every element (a trailing axis of size 1 is replaced by ``depth``);
    ``multi_hot`` and ``count`` reduce axis 1 (axis 0 for rank-1 inputs) into one vector per row.
    Indices outside ``[0, depth)`` contribute nothing.
    """
    x = jnp.asarray(indices)
    if output_mode == "int":
        return x.astype(dtype)
    if x.ndim == 0:
        x = x[None]
    x = x.astype(jnp.int32)
    if output_mode == "one_hot":
        if x.ndim > 1 and x.shape[-1] == 1:
            x = x[..., 0]
        return jax.nn.one_hot(x, depth, dtype=dtype)
    axis = 1 if x.ndim > 1 else 0
    if output_mode == "multi_hot":
        return jnp.max(jax.nn.one_hot(x, depth, dtype=dtype), axis=axis)
    if count_weights is not None:
        w = jnp.asarray(count_weights)
        return jnp.sum(jax.nn.one_hot(x, depth, dtype=w.dtype) * w[..., None], axis=axis)
    return jnp.sum(jax.nn.one_hot(x, depth, dtype=dtype), axis=axis)


def _check_mode(layer: str, output_mode, allowed) -> str:
    if output_mode == "binary":
        output_mode = "multi_hot"
    if output_mode not in allowed:
        raise ConfigError(f"{layer}: output_mode must be one of {tuple(allowed)}, got {output_mode!r}.")
    return output_mode


def _no_sparse(layer: str, sparse) -> bool:
    if sparse:
        raise ConfigError(f"{layer}: sparse=True needs sparse tensors, which JAX arrays are not (Keras allows it "
                          "only on the TensorFlow backend); got sparse=True.")
    return False


def _is_traced(x) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(x))


def _is_text(arr: np.ndarray) -> bool:
    return arr.dtype.kind in ("U", "S", "O")


class CategoryEncoding(Layer):
    """Encodes integer features as one-hot, multi-hot or count vectors of size ``num_tokens``.

    Args:
        num_tokens: the number of categories; inputs must lie in ``[0, num_tokens)``.
        output_mode: ``"multi_hot"`` (default; one vector per row marking the values present),
            ``"one_hot"`` (one vector per element) or ``"count"`` (how often each value occurs).
        sparse: must be False (JAX has no sparse outputs here).

    Call arguments: ``inputs`` (integers, rank 0, 1 or 2), and ``count_weights`` (same shape, ``"count"``
    mode only): weights summed instead of ones.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        self.output_mode = _check_mode("CategoryEncoding", output_mode, ("count", "one_hot", "multi_hot"))
        if num_tokens is None or isinstance(num_tokens, bool) or not isinstance(num_tokens, numbers.Integral) \
                or num_tokens < 1:
            raise ConfigError(f"CategoryEncoding: num_tokens must be a positive integer (use IntegerLookup when the "
                              f"number of categories is not known), got {num_tokens!r}.")
        self.num_tokens = int(num_tokens)
        self.sparse = _no_sparse("CategoryEncoding", sparse)

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise InputError(f"Layer {self.name!r} (CategoryEncoding): count_weights is only used with "
                                 f"output_mode='count', got output_mode={self.output_mode!r}.")
            count_weights = jnp.asarray(count_weights, self.compute_dtype)
        x = jnp.asarray(inputs)
        if not _is_traced(x) and x.size:
            lo, hi = int(jnp.min(x)), int(jnp.max(x))
            if lo < 0 or hi >= self.num_tokens:
                raise InputError(f"Layer {self.name!r} (CategoryEncoding): input values must be in the range "
                                 f"[0, {self.num_tokens}), got values from {lo} to {hi}.")
        return encode_categorical(x, self.output_mode, self.num_tokens, self.compute_dtype, count_weights)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}


# -- Discretization's quantile summaries (Keras's algorithm, on the host) -------------------------------
def _summarize(values, epsilon):
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    points = values[int(step - 1)::int(step)]
    return np.stack([points, np.ones_like(points) * step])


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    fractions = cum / cum[-1]
    points = np.interp(percents, fractions, summary[0])
    cum = np.interp(percents, fractions, cum)
    return np.stack((points, cum - np.concatenate(([0.0], cum[:-1])))).astype("float32")


class Discretization(Layer):
    """Buckets numeric features by boundaries: ``x`` goes to bucket ``i`` when ``b[i-1] <= x < b[i]``.

    Args:
        bin_boundaries: sorted boundaries (``n`` of them make ``n + 1`` buckets); or None to
            learn ``num_bins`` buckets of about equal population with :meth:`adapt`.
        num_bins: the number of buckets to learn (with ``adapt``).
        epsilon: the accuracy of the quantile summary ``adapt`` keeps (smaller: more exact, more memory).
        output_mode: ``"int"`` (bucket indices, int32), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        sparse: must be False.

    ``adapt`` follows Keras's quantile-summary algorithm step for step (NumPy, on the host), so the
    same data gives the same boundaries.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 dtype=None, name=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.output_mode = _check_mode("Discretization", output_mode, ENCODE_MODES)
        self.sparse = _no_sparse("Discretization", sparse)
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral)
                                     or num_bins < 0):
            raise ConfigError(f"Discretization: num_bins must be a non-negative integer, got {num_bins!r}.")
        if num_bins is not None and bin_boundaries is not None:
            raise ConfigError(f"Discretization: give bin_boundaries or num_bins, not both; got "
                              f"bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}.")
        if num_bins is None and bin_boundaries is None:
            raise ConfigError("Discretization: give either bin_boundaries or num_bins.")
        if not (isinstance(epsilon, numbers.Real) and 0 < epsilon <= 1):
            raise ConfigError(f"Discretization: epsilon must be a number in (0, 1], got {epsilon!r}.")
        self.bin_boundaries = None if bin_boundaries is None else [float(b) for b in np.ravel(bin_boundaries)]
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = float(epsilon)
        self.summary = None if self.bin_boundaries else np.zeros((2, 0), "float32")

    @property
    def output_dtype(self):
        return "int32" if self.output_mode == "int" else self.compute_dtype

    def adapt(self, data, steps=None) -> None:
        """Learn ``num_bins`` quantile boundaries from an array or an iterable of batches (host NumPy)."""
        if self.num_bins is None:
            raise ConfigError(f"Layer {self.name!r} (Discretization) was given bin_boundaries; create it with "
                              "num_bins to adapt it.")
        self.summary = np.zeros((2, 0), "float32")
        if isinstance(data, (np.ndarray, jax.Array)) or not hasattr(data, "__iter__"):
            batches = [data]
        else:
            batches = data
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            summary = _summarize(np.asarray(batch).astype("float32"), self.epsilon)
            merged = np.concatenate((summary, self.summary), axis=1)
            self.summary = _compress(np.take(merged, np.argsort(merged[0]), axis=1), self.epsilon)
        if self.summary.shape[1] == 0:
            raise InputError(f"Discretization.adapt ({self.name!r}): data held no values.")
        self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ConfigError(f"Layer {self.name!r} (Discretization) has no bin boundaries: pass bin_boundaries "
                              "or call adapt() first.")
        x = jnp.asarray(inputs)
        bounds = jnp.asarray(self.bin_boundaries, x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else "float32")
        indices = jnp.digitize(x, bounds).astype(jnp.int32)
        return encode_categorical(indices, self.output_mode, len(self.bin_boundaries) + 1, self.output_dtype)

    def get_config(self):
        # As Keras's: no 'trainable', and the dtype as a name.
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name,
                "dtype": self.dtype_policy.name}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")  # an adapted layer: restore what it learned
            layer = cls(**config)
            layer.bin_boundaries = boundaries
            return layer
        return cls(**config)


def _host_or_callback(fn, x, out_dtype):
    """Run the host function ``fn`` (NumPy in, int64 NumPy out, same shape) on ``x``, through
    ``jax.pure_callback`` when ``x`` is traced."""
    if not _is_traced(x):
        return fn(np.asarray(x)).astype(out_dtype)
    spec = jax.ShapeDtypeStruct(x.shape, out_dtype)
    return jax.pure_callback(lambda a: fn(np.asarray(a)).astype(out_dtype), spec, x)


class Hashing(Layer):
    """Hashes values into ``num_bins`` buckets with TensorFlow's string hashes, as Keras does.

    Strings are hashed as UTF-8 bytes, integers as their decimal text, floats truncated to integers
    first: FarmHash ``Fingerprint64`` by default, SipHash-2-4 keyed by ``salt`` when given; the bucket
    is the hash modulo the number of bins. The results equal Keras's (TensorFlow's) bit for bit.

    Args:
        num_bins: the number of buckets (including the mask bucket when ``mask_value`` is set).
        mask_value: values equal to it go to bucket 0 and the others to ``1 + hash % (num_bins - 1)``.
        salt: an int or a pair of ints: hash with SipHash keyed by it.
        output_mode: ``"int"`` (default), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        sparse: must be False.

    Inside a jitted model (numeric inputs only) the hashing runs on the host through
    ``jax.pure_callback``; string inputs must be hashed before the model, on concrete arrays.
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int32" if output_mode == "int" else None
        super().__init__(**kwargs)
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) \
                or num_bins <= 0:
            raise ConfigError(f"Hashing: num_bins must be a positive integer, got {num_bins!r}.")
        self.num_bins = int(num_bins)
        self.output_mode = _check_mode("Hashing", output_mode, ENCODE_MODES)
        self.sparse = _no_sparse("Hashing", sparse)
        self.mask_value = mask_value
        self.salt = _salt("Hashing", salt)
        self.strong_hash = self.salt is not None

    def _hash_numpy(self, values: np.ndarray) -> np.ndarray:
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = np.vectorize(lambda v: as_hash_bytes(v) == as_hash_bytes(self.mask_value), otypes=[bool])(values) \
                if values.size else np.zeros(values.shape, bool)
        out = hash_buckets(values, bins, self.salt)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return out

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple, str, bytes)) or isinstance(inputs, np.ndarray) and _is_text(inputs):
            arr = np.asarray(inputs)
            if _is_text(arr):  # strings: host only, never traced
                return self._encode(jnp.asarray(self._hash_numpy(arr).astype(np.int32)))
            inputs = arr
        return super().__call__(inputs, *args, **kwargs)

    def _encode(self, indices):
        if self.output_mode == "int":
            return indices.astype(self.dtype if self.dtype in ("int32", "int64") else "int32")
        return encode_categorical(indices, self.output_mode, self.num_bins, self.compute_dtype)

    def call(self, inputs):
        return self._encode(jnp.asarray(_host_or_callback(self._hash_numpy, inputs, np.int32), jnp.int32))

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt, "mask_value": self.mask_value,
                "output_mode": self.output_mode, "sparse": self.sparse}


def _salt(layer: str, salt):
    if salt is None:
        return None
    if isinstance(salt, numbers.Integral) and not isinstance(salt, bool):
        return [int(salt), int(salt)]
    if isinstance(salt, (list, tuple)) and len(salt) == 2 and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in salt):
        return [int(s) for s in salt]
    raise ConfigError(f"{layer}: salt must be an int or a pair of ints, got {salt!r}.")


def _feature_hash(value) -> int:
    if isinstance(value, (str, bytes)):
        return fingerprint64(as_hash_bytes(value))
    return int(value) & ((1 << 64) - 1)  # TensorFlow feeds integer features in as they are


class HashedCrossing(Layer):
    """Crosses features: hashes each tuple of values (one per input) into ``num_bins`` buckets.

    As ``tf.sparse.cross_hashed`` (Keras's implementation): the bucket of ``(a, b, ...)`` is
    ``FingerprintCat64`` chained over the features (strings fingerprinted, integers as they are),
    starting from TensorFlow's default key, modulo ``num_bins``. Results equal Keras's.

    Args:
        num_bins: the number of buckets.
        output_mode: ``"int"`` (default) or ``"one_hot"``.
        sparse: must be False.

    Call with a list or tuple of at least two inputs of the same shape ``()``, ``(batch,)`` or
    ``(batch, 1)``, integer or string. Numeric inputs work inside a jitted model (host callback).
    """

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None, **kwargs):
        if output_mode == "int" and dtype is None:
            dtype = "int32"
        super().__init__(name=name, dtype=dtype, **kwargs)
        if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) or num_bins <= 0:
            raise ConfigError(f"HashedCrossing: num_bins must be a positive integer, got {num_bins!r}.")
        self.num_bins = int(num_bins)
        self.output_mode = _check_mode("HashedCrossing", output_mode, ("int", "one_hot"))
        self.sparse = _no_sparse("HashedCrossing", sparse)

    def _cross_numpy(self, *features) -> np.ndarray:
        shape = features[0].shape
        columns = [np.asarray(f, dtype=object).reshape(-1) for f in features]
        out = []
        for row in zip(*columns):
            h = CROSS_HASH_KEY
            for value in row:
                h = fingerprint_cat64(h, _feature_hash(value))
            out.append(h % self.num_bins)
        return np.asarray(out, np.int64).reshape(shape)

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise InputError(f"Layer {self.name!r} (HashedCrossing) must be called on a list or tuple of at least "
                             f"two inputs, got {type(inputs).__name__}.")
        shape = tuple(np.shape(inputs[0]))
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise InputError(f"Layer {self.name!r} (HashedCrossing): inputs must have shape (), (batch,) or "
                             f"(batch, 1), got {shape}.")
        if any(tuple(np.shape(x)) != shape for x in inputs[1:]):
            raise InputError(f"Layer {self.name!r} (HashedCrossing): all inputs must have the same shape, got "
                             f"{[tuple(np.shape(x)) for x in inputs]}.")
        for x in inputs:
            kind = np.dtype(getattr(x, "dtype", None) or np.asarray(x).dtype).kind
            if kind not in "iuUSO":
                raise InputError(f"Layer {self.name!r} (HashedCrossing): inputs must be integers or strings, got "
                                 f"dtype {np.dtype(getattr(x, 'dtype', None) or np.asarray(x).dtype)}.")

    def __call__(self, inputs, *args, **kwargs):
        self._check(inputs)
        arrays = [x if isinstance(x, jax.Array) or hasattr(x, "shape") and not isinstance(x, np.ndarray)
                  else np.asarray(x) for x in inputs]
        if any(isinstance(a, np.ndarray) and _is_text(a) for a in arrays):
            return self._finish(jnp.asarray(self._cross_numpy(*[np.asarray(a) for a in arrays]), jnp.int32))
        return super().__call__(list(arrays), *args, **kwargs)

    def _finish(self, out):
        if self.output_mode == "int":
            return out.astype(self.dtype if self.dtype in ("int32", "int64") else "int32")
        return encode_categorical(out, "one_hot", self.num_bins, self.compute_dtype)

    def call(self, inputs):
        xs = [jnp.asarray(x) for x in inputs]
        if _is_traced(xs):
            spec = jax.ShapeDtypeStruct(xs[0].shape, jnp.int32)
            out = jax.pure_callback(lambda *a: self._cross_numpy(*map(np.asarray, a)).astype(np.int32), spec, *xs)
        else:
            out = jnp.asarray(self._cross_numpy(*[np.asarray(x) for x in inputs]), jnp.int32)
        return self._finish(out)

    def get_config(self):
        # As Keras's: no 'trainable', and the dtype as a name.
        return {"num_bins": self.num_bins, "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name,
                "dtype": self.dtype_policy.name}


__all__ = ["CategoryEncoding", "Discretization", "HashedCrossing", "Hashing"]
