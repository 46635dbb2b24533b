"""Vocabulary lookup layers (Keras 3): StringLookup and IntegerLookup.

Keras runs these through TensorFlow hash tables; here the vocabulary is a Python dict (strings) or
a sorted array searched with ``jnp.searchsorted`` (integers).

Where they run:

- ``IntegerLookup`` maps integers to integers with ``jnp`` ops, so it is an ordinary layer: it works
  inside a jitted model, on symbolic inputs, in ``fit``/``predict``. (Tokens must fit in int32, JAX's
  default integer; only ``oov_method="farmhash"`` hashes on the host, through ``jax.pure_callback``.)
- ``StringLookup`` takes strings, which JAX arrays cannot hold: it runs on the host, on NumPy arrays
  or lists of strings, and returns JAX arrays (``int32`` indices, or float32 encodings). Use it in the
  data pipeline, before the model: ``model.fit(lookup(words), y)``. ``invert=True`` maps indices back
  to a NumPy array of strings. Calling it on a symbolic input raises an ``InputError`` saying so.

``adapt`` counts tokens on the host and orders the vocabulary as Keras does (by count, high to low,
ties by the token, high to low). A learned vocabulary (``adapt`` or ``set_vocabulary``) is written into
``get_config()["vocabulary"]`` (and ``idf_weights``), so a saved model keeps it; Keras keeps it in a
separate asset file and writes ``None`` there.
"""

from __future__ import annotations

import collections
import numbers
import os

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.preprocessing_encoding import _is_text, _is_traced, _no_sparse, _salt, encode_categorical
from kerasish.layers.preprocessing_hash import hash_buckets
from kerasish.layers.symbolic import KerasTensor

LOOKUP_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_DROPPED = np.iinfo(np.int32).max  # where a mask token goes in the encoded modes: outside every one-hot


def _listify(value):
    if value is None or isinstance(value, str):
        return value
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(value).tolist()] \
        if isinstance(value, (np.ndarray, jax.Array)) else list(value)


class _IndexLookup(Layer):
    """Shared vocabulary logic; subclasses decide the token type and where the lookup runs."""

    _is_string = False

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=None, idf_weights=None,
                 invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False, oov_method="floormod",
                 salt=None, vocabulary_size=None, has_input_vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, numbers.Integral)
                                       or max_tokens <= 1):
            raise ConfigError(f"{layer}: max_tokens must be None or an integer greater than 1, got {max_tokens!r}.")
        if pad_to_max_tokens and max_tokens is None:
            raise ConfigError(f"{layer}: pad_to_max_tokens=True needs max_tokens, got max_tokens=None.")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, numbers.Integral) \
                or num_oov_indices < 0:
            raise ConfigError(f"{layer}: num_oov_indices must be an integer >= 0, got {num_oov_indices!r}.")
        if oov_method not in ("floormod", "farmhash"):
            raise ConfigError(f"{layer}: oov_method must be 'floormod' or 'farmhash', got {oov_method!r}.")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in LOOKUP_MODES:
            raise ConfigError(f"{layer}: output_mode must be one of {LOOKUP_MODES}, got {output_mode!r}.")
        if invert and output_mode != "int":
            raise ConfigError(f"{layer}: invert=True needs output_mode='int', got output_mode={output_mode!r}.")
        if sparse and output_mode == "int":
            raise ConfigError(f"{layer}: sparse=True needs an encoded output_mode, got output_mode='int'.")
        _no_sparse(layer, sparse)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ConfigError(f"{layer}: idf_weights is only used with output_mode='tf_idf', "
                              f"got output_mode={output_mode!r}.")
        if salt is not None and not self._is_string and oov_method != "farmhash":
            raise ConfigError(f"{layer}: salt needs oov_method='farmhash', got oov_method={oov_method!r}.")
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.invert = bool(invert)
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.oov_method = oov_method
        self.salt = _salt(layer, salt)
        self._tokens: list = []
        self._idf = None
        self._learned = False
        self._frozen_vocab_size = vocabulary_size
        self.input_vocabulary = None if isinstance(vocabulary, str) else _listify(vocabulary)
        self.input_idf_weights = _listify(idf_weights)
        self._has_input_vocabulary = (vocabulary is not None) if has_input_vocabulary is None \
            else bool(has_input_vocabulary)
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ConfigError(f"{layer}: with a vocabulary, output_mode='tf_idf' also needs idf_weights.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
            self._learned = False

    # -- vocabulary ----------------------------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def _token(self, value):
        """A vocabulary entry in this layer's token type (override)."""
        return value

    def vocabulary_size(self) -> int:
        """The vocabulary size, mask and OOV indices included."""
        return self._token_start_index() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The vocabulary: index ``i`` of the list is the token looked up as ``i`` (special tokens included)."""
        if not include_special_tokens:
            return list(self._tokens)
        specials = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        return specials + list(self._tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Set the vocabulary (a list/array of unique tokens, or a text file with one per line)."""
        layer = type(self).__name__
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ConfigError(f"{layer}.set_vocabulary: output_mode='tf_idf' needs idf_weights.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ConfigError(f"{layer}.set_vocabulary: idf_weights is only used with output_mode='tf_idf', "
                              f"got output_mode={self.output_mode!r}.")
        if isinstance(vocabulary, (str, os.PathLike)):
            if not os.path.exists(vocabulary):
                raise InputError(f"{layer}.set_vocabulary: the vocabulary file {str(vocabulary)!r} does not exist.")
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = f.read().splitlines()
            while vocabulary and vocabulary[-1] == "":
                vocabulary.pop()
        vocab = [self._token(v) for v in np.asarray(vocabulary, dtype=object).reshape(-1)]
        if not vocab:
            raise InputError(f"{layer}.set_vocabulary: the vocabulary is empty.")
        start = self._token_start_index()
        specials = [self._token(self.mask_token)] * self._oov_start_index() + \
            [self._token(self.oov_token)] * self.num_oov_indices
        has_specials = vocab[:start] == specials
        tokens = vocab[start:] if has_specials else vocab
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise InputError(f"{layer}.set_vocabulary: the vocabulary repeats the token(s) {repeated}.")
        if self.mask_token is not None and self._token(self.mask_token) in tokens:
            raise InputError(f"{layer}.set_vocabulary: the mask token {self.mask_token!r} appears in the vocabulary; "
                             f"give special tokens only at its start, in this order: {specials}.")
        if self.invert and self.oov_token is not None and self._token(self.oov_token) in tokens:
            raise InputError(f"{layer}.set_vocabulary: the OOV token {self.oov_token!r} appears in the vocabulary; "
                             f"give special tokens only at its start, in this order: {specials}.")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise InputError(f"{layer}.set_vocabulary: the vocabulary has {start + len(tokens)} entries, more than "
                             f"max_tokens={self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            weights = np.asarray(idf_weights, "float64").reshape(-1)
            if weights.shape[0] != len(vocab):
                raise InputError(f"{layer}.set_vocabulary: idf_weights has {weights.shape[0]} entries, the "
                                 f"vocabulary {len(vocab)}.")
            front = 0 if has_specials else start
            back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
            self._idf = np.pad(weights, (front, back), constant_values=(np.average(weights), 0)).astype("float32")
        self._learned = True
        self._record_vocabulary_size()

    def _record_vocabulary_size(self):
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is not None \
                and self.built and self._frozen_vocab_size != self.vocabulary_size():
            raise ConfigError(f"Layer {self.name!r}: with output_mode={self.output_mode!r} the vocabulary size cannot "
                              f"change after the layer is called ({self._frozen_vocab_size} -> "
                              f"{self.vocabulary_size()}).")
        self._frozen_vocab_size = self.vocabulary_size()

    def _set_tokens(self, tokens: list) -> None:
        self._tokens = list(tokens)
        self._table = {t: i + self._token_start_index() for i, t in enumerate(self._tokens)}

    def _as_tokens(self, data) -> np.ndarray:
        """``data`` as an array of this layer's tokens (override)."""
        return np.asarray(data)

    def adapt(self, data, steps=None) -> None:
        """Learn the vocabulary from an array (or list) of tokens, or an iterable of batches (host side)."""
        if self._has_input_vocabulary:
            raise ConfigError(f"Layer {self.name!r} ({type(self).__name__}) was given a vocabulary; it cannot adapt.")
        if isinstance(data, (list, tuple, np.ndarray, jax.Array)) or np.isscalar(data):
            arr = self._as_tokens(data)
            batches = [arr[..., None] if arr.ndim == 1 else arr]
        else:
            batches = data
        counts: collections.Counter = collections.Counter()
        doc_counts: collections.Counter = collections.Counter()
        num_docs = 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            rows = self._as_tokens(batch)
            if rows.ndim <= 1:
                rows = rows.reshape(1, -1)  # a rank-1 batch is one document
            counts.update(self._token(t) for t in rows.reshape(-1).tolist())
            if self.output_mode == "tf_idf":
                for row in rows.reshape(rows.shape[0], -1).tolist():
                    doc_counts.update({self._token(t) for t in row})
                num_docs += rows.shape[0]
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(self._token(special), None)
        tokens = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            tokens = tokens[:self.max_tokens - self._token_start_index()]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            idf = np.log(1.0 + num_docs / (1.0 + np.asarray([doc_counts[t] for t in tokens], "float64")))
            idf = np.pad(idf, (self._token_start_index(), 0), constant_values=np.mean(idf) if len(idf) else 0.0)
            if self.pad_to_max_tokens:
                idf = np.pad(idf, (0, self.max_tokens - idf.shape[0]))
            self._idf = idf.astype("float32")
        self._learned = True
        self._record_vocabulary_size()

    # -- lookups -----------------------------------------------------------------------------
    def _depth(self) -> int:
        if self.pad_to_max_tokens:
            return self.max_tokens
        if self._frozen_vocab_size is None:
            raise ConfigError(f"Layer {self.name!r} ({type(self).__name__}): with output_mode={self.output_mode!r} "
                              "and pad_to_max_tokens=False, set the vocabulary (vocabulary=... or adapt) before "
                              "calling the layer.")
        return self._frozen_vocab_size

    def _oov_buckets_numpy(self, values: np.ndarray) -> np.ndarray:
        if not self._is_string and self.oov_method == "floormod":
            return np.mod(values.astype(np.int64), self.num_oov_indices)
        return hash_buckets(values, self.num_oov_indices, self.salt)

    def _encode(self, indices):
        if self.output_mode == "int":
            return indices
        out = encode_categorical(indices, "count" if self.output_mode == "tf_idf" else self.output_mode,
                                 self._depth(), self.compute_dtype)
        if self.output_mode == "tf_idf":
            out = out * jnp.asarray(self._idf, out.dtype)
        return out

    def _check_no_oov(self, found, values) -> None:
        if self.num_oov_indices == 0 and not _is_traced(found) and not bool(np.all(np.asarray(found))):
            missing = np.asarray(values)[~np.asarray(found)]
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) has num_oov_indices=0, so every input must "
                             f"be in the vocabulary; found {missing.reshape(-1)[:10].tolist()} (set "
                             "num_oov_indices=1 to map them to an OOV index).")

    def get_config(self):
        vocabulary = self.input_vocabulary
        idf = self.input_idf_weights
        if self._learned:  # adapted or set after construction: keep the current vocabulary
            vocabulary = self.get_vocabulary()
            idf = None if self._idf is None else self._idf.tolist()
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "idf_weights": idf, "vocabulary": vocabulary, "vocabulary_size": self._frozen_vocab_size,
                "oov_method": self.oov_method, "salt": self.salt}


class StringLookup(_IndexLookup):
    """Maps strings to integer indices from a vocabulary (or back, with ``invert=True``). Host-side.

    Index layout (as Keras): the mask token first (``mask_token`` set, ``"int"`` mode only), then
    ``num_oov_indices`` OOV indices, then the vocabulary. Unknown strings map to the OOV index (several:
    by FarmHash, or SipHash with ``salt``, exactly as Keras).

    Args:
        max_tokens: the largest vocabulary ``adapt`` keeps, special tokens included.
        num_oov_indices: indices for unknown tokens (0: unknown tokens are an error).
        mask_token: a token mapped to index 0 (none by default).
        oov_token: what ``invert=True`` returns for OOV indices (``"[UNK]"``).
        vocabulary: a list/array of unique strings, or a text file path (one token per line).
        idf_weights: with ``output_mode="tf_idf"``, one weight per vocabulary entry.
        invert: map indices back to strings.
        output_mode: ``"int"``, ``"one_hot"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        pad_to_max_tokens: encoded outputs have ``max_tokens`` columns however small the vocabulary.
        sparse: must be False. encoding: the text encoding of byte inputs. salt: see above.

    See the module docstring for where it runs (the host, before the model).
    """

    _is_string = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, name=name, salt=salt, **kwargs)

    def _token(self, value):
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        return None if value is None else str(value)

    def _as_tokens(self, data) -> np.ndarray:
        arr = np.asarray(data, dtype=object)
        return np.vectorize(self._token, otypes=[object])(arr) if arr.size else arr

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, KerasTensor) or _is_traced(inputs):
            raise InputError(f"Layer {self.name!r} ({type(self).__name__}) maps strings, which JAX arrays and "
                             "symbolic inputs cannot hold: call it on NumPy arrays or lists in the data pipeline, "
                             "before the model.")
        self.built = True
        return self.call(inputs)

    def call(self, inputs):
        if self.invert:
            idx = np.asarray(inputs)
            if _is_text(idx) or not np.issubdtype(idx.dtype, np.integer):
                raise InputError(f"Layer {self.name!r} (StringLookup, invert=True) expects integer indices, got "
                                 f"dtype {idx.dtype}.")
            vocab = np.asarray(self.get_vocabulary(), dtype=object)
            inside = (idx >= self._token_start_index()) & (idx < len(vocab))
            out = np.where(inside, vocab[np.clip(idx, 0, len(vocab) - 1)], self.oov_token)
            if self.mask_token is not None:
                out = np.where(idx == 0, self.mask_token, out)
            return out.astype(str)
        return self._encode(jnp.asarray(self.lookup_indices(inputs).astype(np.int32)))

    def lookup_indices(self, inputs) -> np.ndarray:
        """The vocabulary indices of string ``inputs`` (int64 NumPy, same shape), before any encoding."""
        tokens = self._as_tokens(inputs)
        if not (tokens.size == 0 or all(isinstance(t, str) for t in tokens.reshape(-1))):
            raise InputError(f"Layer {self.name!r} (StringLookup) expects strings, got {np.asarray(inputs).dtype}.")
        flat = tokens.reshape(-1).tolist()
        default = -1 if self.num_oov_indices != 1 else self._oov_start_index()
        out = np.fromiter((self._table.get(t, default) for t in flat), np.int64, len(flat)).reshape(tokens.shape)
        found = np.fromiter((t in self._table for t in flat), bool, len(flat)).reshape(tokens.shape)
        if self.mask_token is not None:
            masked = tokens == self.mask_token
            out = np.where(masked, 0 if self.output_mode == "int" else _DROPPED, out)
            found = found | masked
        self._check_no_oov(found, tokens)
        if self.num_oov_indices > 1:
            out = np.where(found, out, self._oov_buckets_numpy(tokens) + self._oov_start_index())
        return out

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(_IndexLookup):
    """Maps integer tokens to contiguous indices from a vocabulary (or back, with ``invert=True``).

    Runs on ``jnp`` (a sorted vocabulary and ``searchsorted``), so it works inside a jitted model.
    Unknown tokens map to the OOV index; with several OOV indices, to ``token % num_oov_indices``
    (``oov_method="floormod"``, Keras's default) or by FarmHash/SipHash of the token's decimal text
    (``"farmhash"``, computed on the host through ``jax.pure_callback``).

    Args:
        max_tokens, num_oov_indices, vocabulary, idf_weights, invert, output_mode, pad_to_max_tokens,
        sparse, salt: as :class:`StringLookup`.
        mask_token: an integer mapped to index 0 (none by default).
        oov_token: what ``invert=True`` returns for OOV indices (``-1``).
        vocabulary_dtype: ``"int64"`` (the only value Keras accepts; JAX computes in int32).
        oov_method: ``"floormod"`` or ``"farmhash"``.
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ConfigError(f"IntegerLookup: vocabulary_dtype must be 'int64', got {vocabulary_dtype!r}.")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name, **kwargs)

    def _token(self, value):
        return None if value is None else int(value)

    def _as_tokens(self, data) -> np.ndarray:
        arr = np.asarray(data)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"IntegerLookup ({self.name!r}) expects integers, got dtype {arr.dtype}.")
        return arr.astype(np.int64)

    def _set_tokens(self, tokens: list) -> None:
        super()._set_tokens(tokens)
        keys = np.asarray(tokens, np.int64)
        order = np.argsort(keys, kind="stable")
        self._sorted_keys = keys[order]
        self._sorted_index = (order + self._token_start_index()).astype(np.int64)

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)):
            inputs = np.asarray(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        x = jnp.asarray(inputs)
        if not jnp.issubdtype(x.dtype, jnp.integer):
            raise InputError(f"Layer {self.name!r} (IntegerLookup) expects integers, got dtype {x.dtype}.")
        if self.invert:
            vocab = jnp.asarray(np.asarray([self.oov_token if t is None else t for t in self.get_vocabulary()]))
            inside = (x >= self._token_start_index()) & (x < vocab.shape[0])
            out = jnp.where(inside, vocab[jnp.clip(x, 0, vocab.shape[0] - 1)], self.oov_token)
            if self.mask_token is not None:
                out = jnp.where(x == 0, self.mask_token, out)
            return out
        default = self._oov_start_index() if self.num_oov_indices == 1 else -1
        if self._tokens:
            keys = jnp.asarray(self._sorted_keys, x.dtype)
            pos = jnp.clip(jnp.searchsorted(keys, x), 0, keys.shape[0] - 1)
            found = keys[pos] == x
            out = jnp.where(found, jnp.asarray(self._sorted_index, jnp.int32)[pos], default)
        else:
            found = jnp.zeros(x.shape, bool)
            out = jnp.full(x.shape, default, jnp.int32)
        if self.mask_token is not None:
            masked = x == self.mask_token
            out = jnp.where(masked, 0 if self.output_mode == "int" else _DROPPED, out)
            found = found | masked
        self._check_no_oov(found, x)
        if self.num_oov_indices > 1:
            if self.oov_method == "floormod":
                buckets = jnp.mod(x, self.num_oov_indices)
            elif _is_traced(x):
                spec = jax.ShapeDtypeStruct(x.shape, jnp.int32)
                buckets = jax.pure_callback(
                    lambda a: self._oov_buckets_numpy(np.asarray(a)).astype(np.int32), spec, x)
            else:
                buckets = jnp.asarray(self._oov_buckets_numpy(np.asarray(inputs)), jnp.int32)
            out = jnp.where(found, out, buckets + self._oov_start_index())
        return self._encode(out.astype(jnp.int32))

    def get_config(self):
        config = super().get_config()
        config["vocabulary_dtype"] = self.vocabulary_dtype
        return config


__all__ = ["IntegerLookup", "StringLookup"]
