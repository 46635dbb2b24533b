"""Bad input gets a clear kerasish error, raised before any compute, naming the argument and values."""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError, NotCompiledError


@pytest.fixture
def model():
    m = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


X = np.zeros((10, 4), "float32")
Y = np.zeros((10,), "int32")


def test_length_mismatch(model):
    with pytest.raises(InputError, match=r"same number of samples: x has 10, y has 9"):
        model.fit(X, Y[:9], verbose=0)


def test_feature_shape_mismatch(model):
    with pytest.raises(InputError, match=r"expects samples of shape \(4,\), but x has samples of shape \(5,\)"):
        model.fit(np.zeros((10, 5), "float32"), Y, verbose=0)
    with pytest.raises(InputError, match=r"expects samples of shape \(4,\)"):
        model.predict(np.zeros((10, 2, 2), "float32"), verbose=0)


def test_sparse_labels_out_of_range(model):
    with pytest.raises(InputError, match=r"3 classes, so sparse labels must be in \[0, 2\], but y has labels in \[0, 5\]"):
        model.fit(X, np.array([0, 1, 2, 5, 0, 0, 0, 0, 0, 0]), verbose=0)
    with pytest.raises(InputError, match=r"labels in \[-1, 0\]"):
        model.evaluate(X, np.array([-1] + [0] * 9), verbose=0)


def test_categorical_needs_one_hot():
    m = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(InputError, match="one-hot"):
        m.fit(X, np.zeros((10, 1)), verbose=0)


def test_non_numeric(model):
    with pytest.raises(InputError, match=r"x must be numeric, but it has dtype <U1"):
        model.fit(np.full((10, 4), "a"), Y, verbose=0)
    with pytest.raises(InputError, match=r"y must be numeric.*object"):
        model.fit(X, np.array([None] * 10, dtype=object), verbose=0)


@pytest.mark.parametrize("kind,kwargs,match", [
    ("optimizer", {"optimizer": "adamm", "loss": "mse"}, r"Unknown optimizer 'adamm'.*adam"),
    ("loss", {"optimizer": "adam", "loss": "mse2"}, r"Unknown loss 'mse2'.*mean_squared_error"),
    ("metric", {"optimizer": "adam", "loss": "mse", "metrics": ["acuracy"]}, r"Unknown metric 'acuracy'.*accuracy"),
])
def test_unknown_names(kind, kwargs, match):
    m = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3)])
    with pytest.raises(ConfigError, match=match):
        m.compile(**kwargs)


def test_unknown_activation():
    with pytest.raises(ConfigError, match=r"Unknown activation 'rellu'.*relu.*sigmoid"):
        layers.Dense(3, activation="rellu")


def test_fit_before_compile():
    m = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3)])
    for call in (lambda: m.fit(X, Y), lambda: m.evaluate(X, Y), lambda: m.train_on_batch(X, Y)):
        with pytest.raises(NotCompiledError, match="compile"):
            call()


def test_empty_data(model):
    with pytest.raises(InputError, match="empty"):
        model.fit(np.zeros((0, 4), "float32"), np.zeros((0,), "int32"), verbose=0)
    with pytest.raises(InputError, match="empty"):
        model.fit(iter([]), verbose=0)


def test_nan_check_is_on_by_default_for_arrays(model):
    bad = X.copy()
    bad[3, 1] = np.nan
    bad[4, 0] = np.inf
    before = model.get_weights()
    with pytest.raises(InputError, match=r"x contains 2 NaN or infinite value\(s\); the first is in sample 3"):
        model.fit(bad, Y, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # refused before any step
    model.fit(bad, Y, epochs=1, check_finite=False, verbose=0)  # the opt-out trains on it
    assert np.isnan(model.get_weights()[0]).any()


def test_y_structure_mismatch():
    inp = kerasish.Input(shape=(4,))
    m = kerasish.Model(inp, {"a": layers.Dense(1)(inp), "b": layers.Dense(1)(inp)})
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(InputError, match=r"y is a dict with keys \['a', 'c'\], but the model's outputs are \['a', 'b'\]"):
        m.fit(X, {"a": np.zeros((10, 1)), "c": np.zeros((10, 1))}, verbose=0)
    with pytest.raises(InputError, match="2 outputs"):
        m.fit(X, np.zeros((10, 1)), verbose=0)


def test_missing_targets(model):
    with pytest.raises(InputError, match="No targets"):
        model.fit(X, verbose=0)


def test_bad_generator_items(model):
    with pytest.raises(InputError, match=r"\(x, y\[, sample_weight\]\)"):
        model.fit(iter([X]), verbose=0)


def test_bad_batch_size_and_validation_split(model):
    with pytest.raises(InputError, match="batch_size must be a positive integer"):
        model.fit(X, Y, batch_size=0, verbose=0)
    with pytest.raises(InputError, match="validation_split must be in"):
        model.fit(X, Y, validation_split=1.5, verbose=0)


def test_layer_input_mismatch_names_the_layer():
    dense = layers.Dense(3, name="head")
    dense(np.zeros((2, 4), "float32"))
    with pytest.raises(InputError, match=r"Layer 'head' \(Dense\) expects inputs whose last dimension is 4"):
        dense(np.zeros((2, 5), "float32"))
    with pytest.raises(InputError, match=r"Layer 'conv' \(Conv2D\) expects inputs of rank 4"):
        layers.Conv2D(2, 3, name="conv")(np.zeros((2, 8), "float32"))


def test_bad_layer_arguments():
    with pytest.raises(ConfigError, match="units must be a positive integer"):
        layers.Dense(0)
    with pytest.raises(ConfigError, match=r"Conv2D: padding must be one of \['valid', 'same'\], got 'full'"):
        layers.Conv2D(4, 3, padding="full")
    with pytest.raises(ConfigError, match=r"unexpected keyword argument\(s\) \['unit'\]"):
        layers.Dense(3, unit=4)
    with pytest.raises(ConfigError, match=r"rate must be in \[0, 1\)"):
        layers.Dropout(1.0)


def test_errors_are_kerasish_errors(model):
    with pytest.raises(kerasish.KerasishError):
        model.fit(X, Y[:3], verbose=0)
