"""Keras 3's weights files both ways: ``.weights.h5`` (with the optimizer's state), sharded weights, and
Keras 2's legacy ``.h5`` — each written by one framework and read by the other, checked on predictions."""

import warnings

import h5py
import keras
import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError, FileFormatError
from kerasish.saving.keras_layout import weight_paths

RNG = np.random.default_rng(0)


def _inputs(lib, shape):
    return lib.Input(shape) if not isinstance(shape, list) else [lib.Input(s) for s in shape]


def _model(lib, build, shape):
    inputs = _inputs(lib, shape)
    layer = build(lib)
    outputs = layer(*inputs) if isinstance(inputs, list) else layer(inputs)
    return lib.Model(inputs, outputs)


def _data(shape, n=3):
    if isinstance(shape, list):
        return [RNG.standard_normal((n, *s)).astype("float32") for s in shape]
    return RNG.standard_normal((n, *shape)).astype("float32")


# Layers whose weights sit below sublayers, renamed attributes or cells in Keras's files.
FAMILIES = {
    "dense": (lambda k: k.layers.Dense(3), (4,)),
    "batch_norm": (lambda k: k.layers.BatchNormalization(), (4,)),
    "conv2d": (lambda k: k.layers.Conv2D(2, 3), (5, 5, 2)),
    "separable": (lambda k: k.layers.SeparableConv2D(2, 3), (5, 5, 2)),
    "embedding": (lambda k: k.layers.Embedding(7, 3), (4,)),
    "layer_norm": (lambda k: k.layers.LayerNormalization(), (3, 4)),
    "mha": (lambda k: k.layers.MultiHeadAttention(2, 4), [(3, 5), (3, 5)]),
    "gqa": (lambda k: k.layers.GroupQueryAttention(4, 2, 1), [(3, 5), (3, 5)]),
    "lstm": (lambda k: k.layers.LSTM(3), (4, 2)),
    "gru_seq": (lambda k: k.layers.GRU(3, return_sequences=True), (4, 2)),
    "bidirectional": (lambda k: k.layers.Bidirectional(k.layers.GRU(3)), (4, 2)),
    "time_distributed": (lambda k: k.layers.TimeDistributed(k.layers.Dense(3)), (4, 2)),
    "stacked_cells": (lambda k: k.layers.RNN(k.layers.StackedRNNCells([k.layers.SimpleRNNCell(3),
                                                                       k.layers.SimpleRNNCell(2)])), (4, 2)),
    "conv_lstm": (lambda k: k.layers.ConvLSTM1D(2, 3), (4, 5, 2)),
    "einsum_dense": (lambda k: k.layers.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c"), (4,)),
    "nested_sequential": (lambda k: k.Sequential([k.layers.Dense(2), k.layers.BatchNormalization(),
                                                  k.layers.Dense(3)]), (4,)),
}


def _pair(family):
    build, shape = FAMILIES[family]
    km, sm = _model(keras, build, shape), _model(kerasish, build, shape)
    km.set_weights([RNG.standard_normal(w.shape).astype(w.dtype) for w in km.get_weights()])
    return km, sm, _data(shape)


def _close(a, b):
    for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_weights_h5_both_ways(tmp_path, family):
    km, sm, x = _pair(family)
    km.save_weights(tmp_path / "keras.weights.h5")
    sm.load_weights(tmp_path / "keras.weights.h5")
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))
    # and back: every variable at Keras's path, Keras reads the file
    sm.set_weights([RNG.standard_normal(w.shape).astype(w.dtype) for w in sm.get_weights()])
    sm.save_weights(tmp_path / "kerasish.weights.h5")
    with h5py.File(tmp_path / "kerasish.weights.h5") as f:
        assert all(path in f for path, _ in weight_paths(sm))
    km.load_weights(tmp_path / "kerasish.weights.h5")
    _close(km.predict(x, verbose=0), sm.predict(x, verbose=0))


def test_subclassed_model_paths_follow_keras_attribute_walk(tmp_path):
    def make(lib):
        class Net(lib.Model):
            def __init__(self):
                super().__init__()
                self.dense_a = lib.layers.Dense(2)
                self.z_dense = lib.layers.Dense(3)
                self.blocks = [lib.layers.Dense(2), lib.layers.Dense(2), lib.layers.BatchNormalization()]
                self._hidden = lib.layers.Dense(1)

            def call(self, x):
                for block in self.blocks:
                    x = block(x)
                return self._hidden(self.z_dense(self.dense_a(x)))
        net = Net()
        net(np.ones((2, 3), "float32"))
        return net

    km, sm = make(keras), make(kerasish)
    km.set_weights([RNG.standard_normal(w.shape).astype(w.dtype) for w in km.get_weights()])
    km.save_weights(tmp_path / "k.weights.h5")
    with h5py.File(tmp_path / "k.weights.h5") as f:
        keras_paths = []
        f.visititems(lambda name, obj: keras_paths.append(name) if isinstance(obj, h5py.Dataset) else None)
    assert sorted(p for p, _ in weight_paths(sm)) == sorted(keras_paths)
    sm.load_weights(tmp_path / "k.weights.h5")
    x = _data((3,))
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))


OPTIMIZERS = ["adam", "sgd", "rmsprop", "adagrad", "adamw", "adamax", "adadelta", "ftrl", "nadam",
              kerasish.optimizers.SGD(momentum=0.9), kerasish.optimizers.Adam(amsgrad=True),
              kerasish.optimizers.RMSprop(momentum=0.5, centered=True)]


def _mlp(lib):
    return lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="relu"), lib.layers.BatchNormalization(),
                           lib.layers.Dense(2)])


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: o if isinstance(o, str) else repr(o.get_config())[:60])
def test_optimizer_state_travels_both_ways(tmp_path, opt):
    """Training continues the same in the other framework: the optimizer's slots and step went along."""
    x, y = RNG.standard_normal((16, 4)).astype("float32"), RNG.standard_normal((16, 2)).astype("float32")
    sm, km = _mlp(kerasish), _mlp(keras)
    keras_opt = opt if isinstance(opt, str) else getattr(keras.optimizers, type(opt).__name__)(
        **{k: v for k, v in opt.get_config().items() if k in ("momentum", "centered", "amsgrad")})
    sm.compile(opt, "mse")
    km.compile(keras_opt, "mse")
    sm.fit(x, y, batch_size=8, epochs=2, verbose=0)
    km.fit(x, y, batch_size=8, epochs=1, verbose=0)  # builds Keras's optimizer; its state is then replaced
    sm.save_weights(tmp_path / "s.weights.h5")
    km.load_weights(tmp_path / "s.weights.h5")
    assert int(km.optimizer.iterations) == int(sm.optimizer.iterations.value) == 4
    for model in (sm, km):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    _close(km.predict(x, verbose=0), sm.predict(x, verbose=0))
    km.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    km.save_weights(tmp_path / "k.weights.h5")
    sm.load_weights(tmp_path / "k.weights.h5")
    assert int(sm.optimizer.iterations.value) == int(km.optimizer.iterations) == 7
    for model in (sm, km):
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))


def test_optimizer_state_of_another_optimizer_is_skipped_with_a_warning(tmp_path):
    x, y = np.ones((8, 4), "float32"), np.ones((8, 2), "float32")
    km = _mlp(keras)
    km.compile("adam", "mse")
    km.fit(x, y, verbose=0)
    km.save_weights(tmp_path / "k.weights.h5")
    sm = _mlp(kerasish)
    sm.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="skipping the optimizer state"):
        sm.load_weights(tmp_path / "k.weights.h5")
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))


def test_sharded_weights_both_ways(tmp_path):
    def make(lib):
        return lib.Sequential([lib.Input((4,)), lib.layers.Dense(100), lib.layers.Dense(100), lib.layers.Dense(100),
                               lib.layers.Dense(3)])
    x = _data((4,))
    km = make(keras)
    km.save_weights(tmp_path / "k.weights.json", max_shard_size=0.00005)
    assert (tmp_path / "k_00001.weights.h5").exists()
    sm = make(kerasish)
    sm.load_weights(tmp_path / "k.weights.json")
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))
    sm.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in sm.get_weights()])
    sm.save_weights(tmp_path / "s.weights.json", max_shard_size=0.00005)
    assert (tmp_path / "s_00001.weights.h5").exists()
    km.load_weights(tmp_path / "s.weights.json")
    _close(km.predict(x, verbose=0), sm.predict(x, verbose=0))
    with pytest.raises(ConfigError, match=r"must end in `\.weights\.json`"):
        sm.save_weights(tmp_path / "s.weights.h5", max_shard_size=1)


def test_sharded_index_cannot_name_files_elsewhere(tmp_path):
    (tmp_path / "evil.weights.json").write_text('{"weight_map": {"/layers/dense/vars": "../x.weights.h5"}}')
    sm = kerasish.Sequential([kerasish.Input((4,)), kerasish.layers.Dense(3)])
    with pytest.raises(FileFormatError, match="plain"):
        sm.load_weights(tmp_path / "evil.weights.json")


# -- Keras 2's legacy HDF5 files -----------------------------------------------------------------------
def _functional(lib, names=("d1", "bn", "d2"), units=2):
    inputs = lib.Input((4,))
    h = lib.layers.Dense(3, activation="relu", name=names[0])(inputs)
    h = lib.layers.BatchNormalization(name=names[1])(h)
    return lib.Model(inputs, lib.layers.Dense(units, name=names[2])(h))


@pytest.fixture
def legacy_weights(tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    km = _functional(keras)
    km.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in km.get_weights()])
    with h5py.File(tmp_path / "w.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, km)
    return km, tmp_path / "w.h5"


def test_legacy_weights_by_order(legacy_weights):
    km, path = legacy_weights
    sm = _functional(kerasish, names=("a", "b", "c"))  # other names: matched by order
    sm.load_weights(path)
    x = _data((4,))
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))
    other = kerasish.Sequential([kerasish.Input((4,)), kerasish.layers.Dense(3)])
    with pytest.raises(FileFormatError, match="layer count mismatch.*by_name=True"):
        other.load_weights(path)


def test_legacy_weights_by_name_and_skip_mismatch(legacy_weights):
    km, path = legacy_weights
    sm = _functional(kerasish, names=("d1", "other", "d2"), units=5)  # d2 has another shape
    with pytest.raises(FileFormatError, match=r"shape mismatch.*'d2'"):
        sm.load_weights(path, by_name=True)
    with pytest.warns(UserWarning, match="Skipped"):
        sm.load_weights(path, by_name=True, skip_mismatch=True)
    np.testing.assert_array_equal(sm.get_layer("d1").get_weights()[0], km.get_layer("d1").get_weights()[0])
    assert not np.array_equal(sm.get_layer("other").get_weights()[0], km.get_layer("bn").get_weights()[0])
    with pytest.raises(ConfigError, match="by_name=True applies to legacy"):
        sm.load_weights(path.with_name("x.weights.h5"), by_name=True)


def test_legacy_whole_model_file(tmp_path):
    km = _functional(keras)
    km.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in km.get_weights()])
    km.compile("adam", "mse", metrics=["mae"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km.save(tmp_path / "m.h5")
    with pytest.warns(UserWarning, match="optimizer state is not restored"):
        sm = kerasish.models.load_model(tmp_path / "m.h5")
    x = _data((4,))
    _close(sm.predict(x, verbose=0), km.predict(x, verbose=0))
    assert sm.compiled
    weights_only = tmp_path / "w.h5"
    from keras.src.legacy.saving import legacy_h5_format
    with h5py.File(weights_only, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, km)
    with pytest.raises(FileFormatError, match="no model config"):
        kerasish.models.load_model(weights_only)
