"""Lookup, hashing, encoding and text layers.

Keras 3 runs StringLookup, IntegerLookup, TextVectorization, Hashing and HashedCrossing only with
TensorFlow installed (not the case here), so those are checked against the outputs Keras documents
and asserts in its own test suite (``keras/src/layers/preprocessing/*``), against an independent FarmHash
(``pyfarmhash``) for long strings, and against NumPy. CategoryEncoding and Discretization run in Keras
on JAX and are compared with it directly.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError, InputError
from kerasish.layers import (
    CategoryEncoding,
    Discretization,
    HashedCrossing,
    Hashing,
    IntegerLookup,
    StringLookup,
    TextVectorization,
)
from kerasish.layers.preprocessing_hash import fingerprint64
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras

WIRE = [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]]


def _round_trip(layer):
    clone = deserialize_layer(serialize_layer(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    return clone


# -- hashing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, data, expected", [
    ({"num_bins": 3}, [["A"], ["B"], ["C"], ["D"], ["E"]], [[1], [0], [1], [1], [2]]),
    ({"num_bins": 3, "mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]], [[1], [1], [0], [2], [2]]),
    ({"num_bins": 3, "salt": [133, 137]}, [["A"], ["B"], ["C"], ["D"], ["E"]], [[1], [2], [1], [0], [2]]),
    ({"num_bins": 3, "salt": 133}, [["A"], ["B"], ["C"], ["D"], ["E"]], [[0], [0], [2], [1], [0]]),
    ({"num_bins": 2}, WIRE, [[0], [0], [1], [0], [0]]),
    ({"num_bins": 3, "mask_value": "omar"}, WIRE, [[0], [1], [2], [1], [1]]),
    ({"num_bins": 2, "salt": [211, 137]}, WIRE, [[1], [0], [1], [0], [1]]),
    ({"num_bins": 3}, [[0], [1], [2], [3], [4]], [[1], [0], [1], [0], [2]]),
    ({"num_bins": 3, "salt": [133, 137]}, [[0], [1], [2], [3], [4]], [[1], [1], [2], [0], [1]]),
    ({"num_bins": 2}, [[1, 2], [2, 3], [3, 4]], [[1, 1], [1, 1], [1, 1]]),
], ids=lambda v: "" if isinstance(v, list) else str(v))
def test_hashing_matches_keras_documented_outputs(kwargs, data, expected):
    layer = Hashing(**kwargs)
    np.testing.assert_array_equal(np.asarray(layer(data)), expected)
    np.testing.assert_array_equal(np.asarray(_round_trip(layer)(np.asarray(data))), expected)


def test_fingerprint64_matches_farmhash_for_every_length_class():
    # pyfarmhash's fingerprint64 for strings of 20, 40 and 132 bytes (the > 16, > 32 and > 64 paths).
    assert fingerprint64(b"Hello") == 15404698994557526151  # TensorFlow's frozen Fingerprint64 values
    assert fingerprint64(b"World") == 18308117990299812472
    assert fingerprint64(b"twenty byte string!!") == 10314802928172955762
    assert fingerprint64(b"a string of forty bytes, give or take...") == 9883160657576768353
    assert fingerprint64(b"the quick brown fox jumps over the lazy dog " * 3) == 5861556989732575120


def test_hashing_integers_inside_jit_and_encoded_outputs():
    ints = np.array([[0, 1], [2, 3], [4, 4]])
    layer = Hashing(num_bins=3)
    eager = np.asarray(layer(ints))
    np.testing.assert_array_equal(np.asarray(jax.jit(layer)(jnp.asarray(ints))), eager)  # host callback
    assert eager.dtype == np.int32
    for mode in ("one_hot", "multi_hot", "count"):
        out = np.asarray(Hashing(num_bins=3, output_mode=mode)(ints))
        one_hot = np.eye(3)[eager]
        want = {"one_hot": one_hot, "multi_hot": one_hot.max(axis=1), "count": one_hot.sum(axis=1)}[mode]
        assert_close(out, want)
    with pytest.raises(ConfigError, match="num_bins"):
        Hashing(num_bins=0)
    with pytest.raises(ConfigError, match="salt"):
        Hashing(num_bins=2, salt="x")


def test_hashed_crossing_matches_keras_documented_outputs():
    feat1, feat2 = np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])
    np.testing.assert_array_equal(np.asarray(HashedCrossing(num_bins=5)((feat1, feat2))), [1, 4, 1, 1, 3])
    one_hot = HashedCrossing(num_bins=5, output_mode="one_hot")((feat1, feat2))
    assert_close(one_hot, np.eye(5)[[1, 4, 1, 1, 3]])
    layer = _round_trip(HashedCrossing(num_bins=7))
    ints = (np.array([[1], [2], [3]]), np.array([[4], [5], [6]]))
    eager = np.asarray(layer(ints))
    assert eager.shape == (3, 1)
    np.testing.assert_array_equal(np.asarray(jax.jit(layer)(tuple(map(jnp.asarray, ints)))), eager)
    with pytest.raises(InputError, match="two inputs"):
        layer(np.array([1, 2]))
    with pytest.raises(InputError, match="same shape"):
        layer((np.array([1, 2]), np.array([1, 2, 3])))


# -- CategoryEncoding and Discretization: Keras runs them on JAX ---------------------------------------
@pytest.mark.parametrize("mode, data", [
    ("multi_hot", [[0, 1], [0, 0], [1, 2], [3, 1]]), ("one_hot", [3, 2, 0, 1]), ("one_hot", [[3], [2], [0]]),
    ("count", [[0, 1], [0, 0], [1, 2], [3, 1]]), ("multi_hot", [1, 3]),
])
def test_category_encoding_matches_keras(mode, data):
    data = np.asarray(data)
    ours, theirs = CategoryEncoding(4, output_mode=mode), keras.layers.CategoryEncoding(4, output_mode=mode)
    assert_close(ours(data), theirs(data))
    assert set(theirs.get_config()) <= set(_round_trip(ours).get_config())


def test_category_encoding_count_weights_inside_a_model_and_errors():
    data, weights = np.array([[0, 1], [0, 0], [1, 2]]), np.array([[0.1, 0.2], [0.1, 0.1], [0.2, 0.3]], "float32")
    ours, theirs = CategoryEncoding(3, output_mode="count"), keras.layers.CategoryEncoding(3, output_mode="count")
    assert_close(ours(data, count_weights=weights), theirs(data, count_weights=weights))
    model = kerasish.Sequential([kerasish.Input(shape=(2,), dtype="int32"), CategoryEncoding(3)])
    assert_close(model.predict(data, verbose=0), keras.layers.CategoryEncoding(3)(data))
    with pytest.raises(InputError, match=r"\[0, 3\)"):
        ours(np.array([[0, 3]]))
    with pytest.raises(ConfigError, match="num_tokens"):
        CategoryEncoding(None)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_matches_keras(mode):
    data = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]], "float32")
    ours = Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    theirs = keras.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0], output_mode=mode)
    got, want = ours(data), theirs(data)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert_close(got, want)
    assert set(theirs.get_config()) <= set(_round_trip(ours).get_config())


def test_discretization_adapt_matches_keras_quantile_summary():
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(50, 2)).astype("float32") for _ in range(3)]
    ours = Discretization(num_bins=4, epsilon=0.05)
    ours.adapt(batches)
    theirs = keras.layers.Discretization(num_bins=4, epsilon=0.05)
    for b in batches:  # Keras's adapt() needs TensorFlow only to test for tf.data; its summary math is NumPy
        theirs.update_state(b)
    theirs.finalize_state()
    assert_close(ours.bin_boundaries, theirs.bin_boundaries)
    one = Discretization(num_bins=3)
    one.adapt(np.arange(20.0))
    clone = _round_trip(one)  # the learned boundaries survive the config
    assert_close(clone(np.array([-1.0, 7.0, 19.0])), [0, 1, 2])
    model = kerasish.Sequential([kerasish.Input(shape=(2,)), clone])
    assert_close(model.predict(np.array([[-1.0, 19.0]]), verbose=0), [[0, 2]])


# -- lookups ------------------------------------------------------------------------------------
VOCAB = ["a", "b", "c", "d"]
DATA = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]


def test_string_lookup_matches_keras_documented_outputs():
    np.testing.assert_array_equal(np.asarray(StringLookup(vocabulary=VOCAB)([["a", "c", "d"], ["d", "z", "b"]])),
                                  [[1, 3, 4], [4, 0, 2]])
    layer = StringLookup()
    layer.adapt([["a", "c", "d"], ["d", "z", "b"]])
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    np.testing.assert_array_equal(np.asarray(layer([["a", "c", "d"], ["d", "z", "b"]])), [[5, 3, 1], [1, 2, 4]])
    np.testing.assert_array_equal(
        np.asarray(StringLookup(vocabulary=VOCAB, num_oov_indices=2)([["a", "c", "d"], ["m", "z", "b"]])),
        [[2, 4, 5], [0, 1, 3]])  # "m" and "z" hash (FarmHash) to OOV buckets 0 and 1
    assert_close(StringLookup(vocabulary=VOCAB, output_mode="one_hot")(["a", "b", "c", "d", "z"]),
                 np.eye(5)[[1, 2, 3, 4, 0]])
    assert_close(StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(DATA), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    assert_close(StringLookup(vocabulary=VOCAB, output_mode="count")(DATA), [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    tf_idf = StringLookup(output_mode="tf_idf")
    tf_idf.set_vocabulary(VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    assert_close(tf_idf(DATA), [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]])
    tf_idf.set_vocabulary(["[UNK]"] + VOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    assert_close(tf_idf(DATA), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]])
    inverse = StringLookup(vocabulary=VOCAB, invert=True)
    np.testing.assert_array_equal(inverse([[1, 3, 4], [4, 0, 2]]), [["a", "c", "d"], ["d", "[UNK]", "b"]])


def test_string_lookup_adapt_tf_idf_mask_and_config():
    docs = [["x", "y", "y"], ["y", "z", ""]]
    layer = StringLookup(output_mode="tf_idf", mask_token="")
    layer.adapt(docs)
    assert layer.get_vocabulary() == ["[UNK]", "y", "z", "x"]  # by count, then by token (descending)
    idf = np.log(1 + 2 / (1 + np.array([2.0, 1.0, 1.0])))  # log(1 + documents / (1 + documents with the token))
    assert_close(layer._idf, np.concatenate([[idf.mean()], idf]))
    assert_close(layer(docs), [[0, 2 * idf[0], 0, idf[2]], [0, idf[0], idf[1], 0]])  # the mask token is dropped
    clone = _round_trip(layer)  # the adapted vocabulary and weights travel in the config
    assert_close(clone(docs), layer(docs))
    masked = StringLookup(vocabulary=VOCAB, mask_token="")
    np.testing.assert_array_equal(np.asarray(masked([["a", ""]])), [[2, 0]])
    assert masked.get_vocabulary()[:2] == ["", "[UNK]"]
    strict = StringLookup(vocabulary=VOCAB, num_oov_indices=0)
    with pytest.raises(InputError, match="num_oov_indices"):
        strict(["a", "q"])
    with pytest.raises(InputError, match="repeats"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(InputError, match="before the model"):
        StringLookup(vocabulary=VOCAB)(kerasish.Input(shape=(1,)))
    with pytest.raises(ConfigError, match="invert"):
        StringLookup(invert=True, output_mode="count")


def test_integer_lookup_matches_keras_documented_outputs_and_runs_in_a_model():
    vocab, data = [12, 36, 1138, 42], np.array([[12, 1138, 42], [42, 1000, 36]])
    layer = IntegerLookup(vocabulary=vocab)
    np.testing.assert_array_equal(np.asarray(layer(data)), [[1, 3, 4], [4, 0, 2]])
    adapted = IntegerLookup()
    adapted.adapt(data)
    assert adapted.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    np.testing.assert_array_equal(np.asarray(adapted(data)), [[5, 2, 1], [1, 3, 4]])
    np.testing.assert_array_equal(np.asarray(IntegerLookup(vocabulary=vocab, num_oov_indices=2)(
        np.array([[12, 1138, 42], [37, 1000, 36]]))), [[2, 4, 5], [1, 0, 3]])  # floormod: 37 % 2, 1000 % 2
    inverse = IntegerLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(np.asarray(inverse(np.array([[1, 3, 4], [4, 0, 2]]))),
                                  [[12, 1138, 42], [42, -1, 36]])
    assert_close(IntegerLookup(vocabulary=vocab, output_mode="multi_hot")(data), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    masked = IntegerLookup(vocabulary=vocab, mask_token=0)
    np.testing.assert_array_equal(np.asarray(masked(np.array([[12, 0, 7]]))), [[2, 0, 1]])
    # An ordinary layer: symbolic inputs, a jitted predict, and a config round trip.
    model = kerasish.Sequential([kerasish.Input(shape=(3,), dtype="int32"), _round_trip(layer),
                                 CategoryEncoding(5, output_mode="count")])
    assert_close(model.predict(data, verbose=0), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    farm = IntegerLookup(vocabulary=vocab, num_oov_indices=3, oov_method="farmhash")
    eager = np.asarray(farm(np.array([7, 8, 12])))
    np.testing.assert_array_equal(np.asarray(jax.jit(farm)(jnp.asarray([7, 8, 12]))), eager)
    want = [int(fingerprint64(str(v).encode())) % 3 for v in (7, 8)]
    np.testing.assert_array_equal(eager, want + [3])


# -- TextVectorization ----------------------------------------------------------------------------
def test_text_vectorization_matches_keras_documented_outputs():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    np.testing.assert_array_equal(np.asarray(layer([["foo qux bar"], ["qux baz"]])), [[4, 1, 3, 0], [1, 2, 0, 0]])
    fixed = TextVectorization(output_sequence_length=4, vocabulary=["earth", "wind", "and", "fire"])
    assert fixed.get_vocabulary() == ["", "[UNK]", "earth", "wind", "and", "fire"]
    sentence = ["Hello, World!. This is just a nice test!"]
    vocab = ["hello", "world", "this", "is", "nice", "test"]
    np.testing.assert_array_equal(np.asarray(TextVectorization(vocabulary=vocab)(sentence)),
                                  [[2, 3, 4, 5, 1, 1, 6, 7]])
    np.testing.assert_array_equal(np.asarray(TextVectorization(standardize="lower", vocabulary=["hello,"] + vocab)(
        sentence)), [[2, 1, 5, 6, 1, 1, 7, 1]])
    np.testing.assert_array_equal(np.asarray(TextVectorization(split="character", vocabulary=list("abcde"))(
        ["abcf"])), [[2, 3, 4, 1]])
    np.testing.assert_array_equal(np.asarray(TextVectorization(standardize="strip_punctuation",
                                                               vocabulary=["Hello", "World", "Test"])(
        ["Hello, World! Test."])), [[2, 3, 4]])
    np.testing.assert_array_equal(np.asarray(TextVectorization(standardize=None, vocabulary=["Hello", "world"])(
        ["Hello hello"])), [[2, 1]])
    np.testing.assert_array_equal(np.asarray(TextVectorization(split=None, vocabulary=["foo", "bar", "baz"])(
        [["foo"], ["bar"], ["unknown"]])), [[2], [3], [1]])
    three = ["foo", "bar", "baz"]
    assert_close(TextVectorization(output_mode="multi_hot", vocabulary=three)([["foo bar"], ["baz foo foo"]]),
                 [[0, 1, 1, 0], [0, 1, 0, 1]])
    assert_close(TextVectorization(output_mode="count", vocabulary=three)(["foo bar", "baz foo foo"]),
                 [[0, 1, 1, 0], [0, 2, 0, 1]])
    assert_close(TextVectorization(output_mode="tf_idf", vocabulary=three, idf_weights=[0.3, 0.5, 0.2])(
        ["foo bar", "baz foo foo"]), [[0.0, 0.3, 0.5, 0.0], [0.0, 0.6, 0.0, 0.2]])
    assert TextVectorization(output_mode="one_hot", vocabulary=three)(["foo bar"]).shape == (1, 2, 4)


def test_text_vectorization_ngrams_callables_max_tokens_and_config():
    bigrams = TextVectorization(ngrams=2)
    bigrams.adapt(["foo bar baz"])
    assert {"foo bar", "bar baz"} <= set(bigrams.get_vocabulary())
    skip = TextVectorization(ngrams=(1, 3))
    skip.adapt(["foo bar baz"])
    assert "foo bar baz" in skip.get_vocabulary() and "foo bar" not in skip.get_vocabulary()
    small = TextVectorization(max_tokens=5)
    small.adapt(["a b c d e f g h i j"])
    assert len(small.get_vocabulary()) == 5
    assert TextVectorization(max_tokens=8, output_mode="multi_hot", pad_to_max_tokens=True,
                             vocabulary=["x", "y"])(["x y"]).shape == (1, 8)
    seen = []

    def np_standardize(text):
        seen.append(text.dtype.kind)
        return np.char.replace(np.char.lower(text), ",", "")

    custom = TextVectorization(standardize=np_standardize, split=lambda a: [s.split("|") for s in a])
    custom.adapt(["Hello,|World.", "hello"])
    assert custom.get_vocabulary() == ["", "[UNK]", "hello", "world."] and set(seen) == {"U"}
    adapted = TextVectorization(max_tokens=10, output_mode="tf_idf")
    adapted.adapt(["foo bar", "bar baz", "baz bada boom"])
    clone = _round_trip(adapted)
    assert_close(clone(["foo baz baz"]), adapted(["foo baz baz"]))
    with pytest.raises(InputError, match="before the model"):
        adapted(jnp.zeros((2, 1)))
    with pytest.raises(ConfigError, match="ragged"):
        TextVectorization(ragged=True)
