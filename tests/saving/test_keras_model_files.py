""".keras model files both ways: Keras 3 saves, kerasish loads (and the reverse), with the same predictions and,
for compiled models, the same optimizer state, so that training continues the same in the other framework."""

import warnings

import keras
import numpy as np
import pytest

import kerasish

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 6)).astype("float32")
Y = RNG.standard_normal((16, 2)).astype("float32")


def _sequential(lib, dropout=0.0):
    """(Dropout draws different masks in the two frameworks: training continues the same only without it.)"""
    return lib.Sequential([lib.Input((6,)), lib.layers.Dense(8, activation="relu"), lib.layers.BatchNormalization(),
                           lib.layers.Dropout(dropout), lib.layers.Dense(2)], name="seq")


def _functional(lib):
    """Two inputs, a shared layer, a nested Sequential, two outputs."""
    a, b = lib.Input((6,), name="a"), lib.Input((6,), name="b")
    shared = lib.layers.Dense(4, activation="tanh", name="shared")
    inner = lib.Sequential([lib.layers.Dense(5, name="inner_dense"), lib.layers.LayerNormalization(name="ln")],
                           name="inner")
    merged = lib.layers.Concatenate(name="cat")([inner(shared(a)), shared(b)])
    return lib.Model([a, b], [lib.layers.Dense(2, name="out1")(merged), lib.layers.Dense(1, name="out2")(merged)],
                     name="multi")


def _define_subclass(lib, package):
    @lib.saving.register_keras_serializable(package=package)
    class Net(lib.Model):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = lib.layers.Dense(units, activation="relu")
            self.norm = lib.layers.BatchNormalization()
            self.head = lib.layers.Dense(2)

        def call(self, x, training=False):
            return self.head(self.norm(self.hidden(x), training=training))

        def get_config(self):
            return {**super().get_config(), "units": self.units}
    return Net


def _predict(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _close(a, b, tol=1e-5):
    for x, y in zip(_predict(*a), _predict(*b)):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def _fit_once(model, x, y):
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)


@pytest.mark.parametrize("direction", ["keras_to_kerasish", "kerasish_to_keras"])
def test_compiled_sequential_continues_training_in_the_other_framework(tmp_path, direction):
    first, second = (keras, kerasish) if direction == "keras_to_kerasish" else (kerasish, keras)
    model = _sequential(first)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = (kerasish.models.load_model if second is kerasish else keras.saving.load_model)(tmp_path / "m.keras")
    _close((loaded, X), (model, X))
    iterations = loaded.optimizer.iterations
    assert int(getattr(iterations, "value", iterations)) == 8
    _fit_once(model, X, Y)
    _fit_once(loaded, X, Y)
    _close((loaded, X), (model, X))
    assert loaded.get_compile_config()["loss"] == "mse" if hasattr(loaded, "get_compile_config") else True


@pytest.mark.parametrize("direction", ["keras_to_kerasish", "kerasish_to_keras"])
def test_functional_multi_io_shared_nested(tmp_path, direction):
    first, second = (keras, kerasish) if direction == "keras_to_kerasish" else (kerasish, keras)
    model = _functional(first)
    model.set_weights([RNG.standard_normal(w.shape).astype("float32") for w in model.get_weights()])
    model.save(tmp_path / "m.keras")
    loaded = (kerasish.models.load_model if second is kerasish else keras.saving.load_model)(tmp_path / "m.keras")
    x = [X, X[::-1].copy()]
    _close((loaded, x), (model, x))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


@pytest.mark.parametrize("direction", ["keras_to_kerasish", "kerasish_to_keras"])
def test_registered_subclassed_model(tmp_path, direction):
    first, second = (keras, kerasish) if direction == "keras_to_kerasish" else (kerasish, keras)
    package = f"test_keras_model_files_{direction}"
    net_first, _ = _define_subclass(first, package), _define_subclass(second, package)
    model = net_first(units=5)
    model(X)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = (kerasish.models.load_model if second is kerasish else keras.saving.load_model)(tmp_path / "m.keras")
    assert type(loaded).__name__ == "Net" and loaded.units == 5
    _close((loaded, X), (model, X))


def test_unregistered_subclass_needs_custom_objects(tmp_path):
    class Plain(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    class PlainK(kerasish.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = kerasish.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Plain()
    model(X)
    model.save(tmp_path / "m.keras")
    with pytest.raises(kerasish.FileFormatError, match="Plain"):
        kerasish.models.load_model(tmp_path / "m.keras")
    loaded = kerasish.models.load_model(tmp_path / "m.keras", custom_objects={"Plain": PlainK})
    _close((loaded, X), (model, X))


def test_compile_false_and_include_optimizer_false(tmp_path):
    model = _sequential(kerasish, dropout=0.1)
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras", include_optimizer=False)
    uncompiled = kerasish.models.load_model(tmp_path / "m.keras", compile=False)
    assert not uncompiled.compiled
    _close((uncompiled, X), (model, X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = keras.saving.load_model(tmp_path / "m.keras")
    assert int(twin.optimizer.iterations) == 0  # no optimizer state in the file
    _close((twin, X), (model, X))


def test_kerasish_keras_file_resumes_exactly(tmp_path):
    """Dropout key and step ride along in metadata.json: continuing from the file equals not stopping."""
    kerasish.utils.set_random_seed(3)
    model = _sequential(kerasish, dropout=0.3)
    model.compile(optimizer="adam", loss="mse")
    _fit_once(model, X, Y)
    model.save(tmp_path / "m.keras")
    loaded = kerasish.models.load_model(tmp_path / "m.keras")
    _fit_once(model, X, Y)
    _fit_once(loaded, X, Y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
