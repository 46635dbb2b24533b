"""TextVectorization (Keras 3): raw strings to token indices or bag-of-words vectors, on the host.

Strings cannot live in JAX arrays, so this layer (like Keras, which runs it as TensorFlow string ops
outside the compiled model) works on the host: call it on a NumPy array or a list of strings, in the
data pipeline, and feed the result (a JAX array) to the model::

    vectorize = TextVectorization(max_tokens=20000, output_sequence_length=200)
    vectorize.adapt(train_texts)
    model.fit(vectorize(train_texts), y)

Each string is standardized (ASCII-lowercased and/or stripped of ASCII punctuation, as
``tf.strings.lower`` and Keras's punctuation pattern), split (on whitespace runs, or into characters),
optionally turned into n-grams joined by spaces, and looked up in a :class:`StringLookup` whose
index 0 is the padding token ``""`` and index 1 the OOV token ``"[UNK]"``.

Differences: a callable ``split`` receives a 1-D NumPy array of strings and must return one list of
tokens per string (Keras hands it a TensorFlow tensor); ``ragged=True`` and ``sparse=True`` are
refused (no ragged or sparse JAX arrays); ``output_mode="one_hot"`` with a split one-hot encodes every
token of the padded sequences, ``(batch, longest, depth)`` (padding rows are zeros).
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer
from kerasish.layers.lookup import _DROPPED, StringLookup
from kerasish.layers.symbolic import KerasTensor

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT = ("whitespace", "character")
# ASCII punctuation as Keras's default strip pattern lists it.
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ngrams(tokens: list, widths) -> list:
    out = []
    for w in widths:
        out.extend(" ".join(tokens[i:i + w]) for i in range(len(tokens) - w + 1))
    return out


class TextVectorization(Layer):
    """Maps raw strings to sequences of token indices (or to multi-hot/count/TF-IDF vectors).

    Args:
        max_tokens: the largest vocabulary ``adapt`` keeps, the padding and OOV tokens included.
        standardize: ``"lower_and_strip_punctuation"`` (default), ``"lower"``, ``"strip_punctuation"``,
            None, or a callable taking and returning a NumPy array of strings.
        split: ``"whitespace"`` (default), ``"character"``, None (inputs are already tokens), or a callable
            (see the module docstring).
        ngrams: None, an int ``n`` (all n-grams of 1..n tokens) or a tuple of n-gram widths.
        output_mode: ``"int"`` (default), ``"multi_hot"``, ``"count"``, ``"tf_idf"`` or ``"one_hot"``.
        output_sequence_length: ``"int"`` mode: pad (with 0) or truncate every sequence to this length;
            None pads to the longest sequence of the batch.
        pad_to_max_tokens: encoded outputs have ``max_tokens`` columns.
        vocabulary: a list of strings or a text file path; idf_weights: with ``"tf_idf"``.
        sparse, ragged: must be False. encoding: the encoding of byte-string inputs.

    Returns JAX arrays: int32 indices of shape ``(batch, length)``, or float32 ``(batch, depth)``.
    """

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, vocabulary_size=None,
                 has_input_vocabulary=None, **kwargs):
        if not (standardize is None or callable(standardize) or standardize in STANDARDIZE):
            raise ConfigError(f"TextVectorization: standardize must be one of {STANDARDIZE}, None or a callable, "
                              f"got {standardize!r}.")
        if not (split is None or callable(split) or split in SPLIT):
            raise ConfigError(f"TextVectorization: split must be one of {SPLIT}, None or a callable, got {split!r}.")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1)
                or (isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and n >= 1 for n in ngrams))):
            raise ConfigError(f"TextVectorization: ngrams must be None, a positive int or a tuple of positive ints, "
                              f"got {ngrams!r}.")
        if output_sequence_length is not None and (output_mode != "int" or isinstance(output_sequence_length, bool)
                                                   or not isinstance(output_sequence_length, int)
                                                   or output_sequence_length < 0):
            raise ConfigError(f"TextVectorization: output_sequence_length must be None or an int >= 0, and only with "
                              f"output_mode='int'; got {output_sequence_length!r} with output_mode={output_mode!r}.")
        if ragged:
            raise ConfigError("TextVectorization: ragged=True needs ragged tensors, which JAX arrays are not (Keras "
                              "allows it only on the TensorFlow backend); got ragged=True.")
        super().__init__(name=name, **kwargs)
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights, pad_to_max_tokens=pad_to_max_tokens,
            mask_token="", output_mode=output_mode, sparse=sparse, encoding=encoding, vocabulary_size=vocabulary_size,
            has_input_vocabulary=has_input_vocabulary)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding

    # -- vocabulary (delegated) ------------------------------------------------------------------
    def get_vocabulary(self, include_special_tokens=True) -> list:
        """The vocabulary (index ``i`` is token ``i``; ``""`` and ``"[UNK]"`` first unless excluded)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary from an array or list of strings, or an iterable of batches of them."""
        if isinstance(data, (list, tuple, np.ndarray, str)):
            batches = [np.asarray(data, dtype=object).reshape(-1, 1) if np.ndim(data) <= 1 else np.asarray(data)]
        else:
            batches = data
        token_rows = []
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            token_rows.extend(self._token_lists(batch))
        width = max([len(r) for r in token_rows], default=0)
        padded = np.full((len(token_rows), width), "", dtype=object)  # "" is the mask token: never counted
        for i, row in enumerate(token_rows):
            padded[i, :len(row)] = row
        self._lookup_layer.adapt(padded if width else np.zeros((0, 1), object))

    # -- preprocessing -------------------------------------------------------------------------
    def _standardized(self, inputs) -> np.ndarray:
        arr = np.asarray(inputs, dtype=object)
        arr = np.vectorize(self._lookup_layer._token, otypes=[object])(arr) if arr.size else arr
        if callable(self._standardize):
            return np.asarray(self._standardize(arr.astype(str)), dtype=object)
        if self._standardize in ("lower", "lower_and_strip_punctuation") and arr.size:
            arr = np.vectorize(lambda s: s.translate(_ASCII_LOWER), otypes=[object])(arr)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation") and arr.size:
            arr = np.vectorize(lambda s: _PUNCTUATION.sub("", s), otypes=[object])(arr)
        return arr

    def _token_lists(self, inputs) -> list:
        """One list of tokens (n-grams included) per input row."""
        arr = self._standardized(inputs)
        if self._split is None:
            rows = [list(r) for r in (arr.reshape(-1, 1) if arr.ndim <= 1 else arr.reshape(arr.shape[0], -1))]
        else:
            if arr.ndim > 1:
                if arr.shape[-1] != 1:
                    raise InputError(f"Layer {self.name!r} (TextVectorization) splits strings: inputs must have "
                                     f"rank 1 or a last dimension of 1, got shape {arr.shape}.")
                arr = arr.reshape(arr.shape[:-1])
            flat = arr.reshape(-1)
            if self._split == "whitespace":
                rows = [[t for t in _WHITESPACE.split(s) if t] for s in flat]
            elif self._split == "character":
                rows = [list(s) for s in flat]
            else:
                rows = [[self._lookup_layer._token(t) for t in r] for r in self._split(flat.astype(str))]
        if self._ngrams is not None:
            rows = [_ngrams(r, self._ngrams) for r in rows]
        return rows

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, KerasTensor) or not isinstance(inputs, (str, bytes, list, tuple, np.ndarray)):
            raise InputError(f"Layer {self.name!r} (TextVectorization) processes strings, which JAX arrays and "
                             "symbolic inputs cannot hold: call it on NumPy arrays or lists of strings in the data "
                             f"pipeline, before the model; got {type(inputs).__name__}.")
        self.built = True
        return self.call(inputs)

    def call(self, inputs):
        if self._split is None and self._ngrams is None:
            indices = self._lookup_layer.lookup_indices(self._standardized(inputs))
            if self._output_mode != "int":
                return self._lookup_layer._encode(jnp.asarray(indices.astype(np.int32)))
            if self._output_sequence_length is not None:
                length = self._output_sequence_length
                indices = indices[..., :length]
                pad = [(0, 0)] * (indices.ndim - 1) + [(0, length - indices.shape[-1])]
                indices = np.pad(indices, pad)
            return jnp.asarray(indices.astype(np.int32))
        rows = self._token_lists(inputs)
        flat = [t for r in rows for t in r]
        ids = self._lookup_layer.lookup_indices(np.asarray(flat, dtype=object)) if flat else np.zeros(0, np.int64)
        if self._output_mode == "int":
            width = self._output_sequence_length
            if width is None:
                width = max([len(r) for r in rows], default=0)
            fill = 0
        else:
            width = max([len(r) for r in rows], default=0)
            fill = _DROPPED
        out = np.full((len(rows), max(width, 1) if fill == _DROPPED else width), fill, np.int64)
        start = 0
        for i, r in enumerate(rows):
            n = min(len(r), width)
            out[i, :n] = ids[start:start + n]
            start += len(r)
        if self._output_mode == "int":
            return jnp.asarray(out.astype(np.int32))
        if self._output_mode == "one_hot":
            return jax.nn.one_hot(out[:, :width], self._lookup_layer._depth(), dtype=self.compute_dtype)
        return self._lookup_layer._encode(jnp.asarray(out.astype(np.int32)))

    def get_config(self):
        lookup = self._lookup_layer.get_config()
        return {**super().get_config(), "max_tokens": lookup["max_tokens"], "standardize": self._standardize,
                "split": self._split, "ngrams": list(self._ngrams_arg) if isinstance(self._ngrams_arg, tuple)
                else self._ngrams_arg, "output_mode": self._output_mode,
                "output_sequence_length": self._output_sequence_length,
                "pad_to_max_tokens": lookup["pad_to_max_tokens"], "sparse": False, "ragged": False,
                "vocabulary": lookup["vocabulary"], "idf_weights": lookup["idf_weights"], "encoding": self._encoding,
                "vocabulary_size": self.vocabulary_size()}


__all__ = ["TextVectorization"]
