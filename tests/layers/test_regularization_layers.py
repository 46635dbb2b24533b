"""Regularization layers against Keras 3: SpatialDropout1D/2D, GaussianNoise, GaussianDropout, ActivityRegularization."""

import jax
import numpy as np
import pytest

import kerasish
from kerasish.backend import StatelessScope
from kerasish.errors import ConfigError, InputError, KerasishError
from kerasish.layers.regularization import (
    ActivityRegularization,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
)

from .helpers import assert_close, keras, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

CUSTOM = {c.__name__: c for c in (SpatialDropout1D, SpatialDropout2D, GaussianNoise, GaussianDropout,
                                  ActivityRegularization)}


def _train(layer, x, key=0):
    with StatelessScope({}, rng=jax.random.PRNGKey(key), training=True):
        return np.asarray(layer(x))


@pytest.mark.parametrize("cls, kwargs, input_shape", [
    (SpatialDropout1D, {"rate": 0.5}, (2, 5, 3)),
    (SpatialDropout2D, {"rate": 0.3}, (2, 4, 4, 3)),
    (SpatialDropout2D, {"rate": 0.3, "data_format": "channels_first"}, (2, 3, 4, 4)),
    (GaussianNoise, {"stddev": 0.5, "seed": 3}, (2, 6)),
    (GaussianDropout, {"rate": 0.4}, (2, 3, 4)),
    (ActivityRegularization, {"l1": 0.01, "l2": 0.02}, (3, 4)),
], ids=["sd1d", "sd2d", "sd2d_cf", "gnoise", "gdropout", "activity"])
def test_standard_checks_identity_at_inference(cls, kwargs, input_shape):
    out = run_layer_test(cls, kwargs, input_shape, expected_output_shape=input_shape, expected_num_weights=0,
                         training_parity=False, custom_objects=CUSTOM)
    np.testing.assert_array_equal(np.asarray(out["model"](out["x"], training=False)), out["x"])
    np.testing.assert_array_equal(np.asarray(out["keras_model"](out["x"], training=False)), out["x"])
    config = out["layer"].get_config()
    for key, value in kwargs.items():
        assert config[key] == value


@pytest.mark.parametrize("cls, shape, spatial, rate", [
    (SpatialDropout1D, (64, 10, 32), (1,), 0.3),
    (SpatialDropout2D, (32, 5, 6, 32), (1, 2), 0.5),
])
def test_spatial_dropout_drops_whole_channels_and_rescales(cls, shape, spatial, rate):
    x = np.abs(make_inputs(shape)) + 0.1  # no zeros of its own
    layer = cls(rate)
    y = _train(layer, x, key=1)
    zeros = y == 0
    # Whole channels: along the spatial axes a channel is either all zeros or all kept.
    assert np.all(zeros.all(axis=spatial) | (~zeros).all(axis=spatial))
    dropped = zeros.all(axis=spatial)  # (batch, channels)
    assert abs(dropped.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / dropped.size)
    np.testing.assert_allclose(y[~zeros], x[~zeros] / (1 - rate), rtol=1e-6)
    assert not np.array_equal(y, _train(layer, x, key=2))  # another step, another mask
    np.testing.assert_array_equal(_train(layer, x, key=1), y)  # same key, same mask


def test_spatial_dropout_2d_channels_first():
    x = np.abs(make_inputs((32, 16, 5, 5))) + 0.1
    y = _train(SpatialDropout2D(0.5, data_format="channels_first"), x)
    zeros = y == 0
    assert np.all(zeros.all(axis=(2, 3)) | (~zeros).all(axis=(2, 3)))
    assert 0.3 < zeros.all(axis=(2, 3)).mean() < 0.7


def test_gaussian_noise_statistics():
    x = make_inputs((200, 100))
    layer = GaussianNoise(0.3)
    y = _train(layer, x)
    noise = y - x
    assert abs(noise.mean()) < 5 * 0.3 / np.sqrt(noise.size)
    assert abs(noise.std() - 0.3) < 0.01
    assert not np.array_equal(y, _train(layer, x, key=1))


def test_gaussian_dropout_statistics():
    x = np.abs(make_inputs((200, 100))) + 1.0
    rate = 0.3
    layer = GaussianDropout(rate)
    y = _train(layer, x)
    factor = y / x
    std = np.sqrt(rate / (1 - rate))
    assert abs(factor.mean() - 1.0) < 5 * std / np.sqrt(factor.size)  # mean of the output is the input
    assert abs(factor.std() - std) < 0.02
    assert not np.array_equal(y, _train(layer, x, key=1))


@pytest.mark.parametrize("layer", [SpatialDropout1D(0.5), GaussianNoise(0.5), GaussianDropout(0.5)],
                         ids=["sd1d", "gnoise", "gdropout"])
def test_stochastic_modes(layer):
    x = make_inputs((4, 5, 6))
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # outside any scope: inference
    with StatelessScope({}, rng=jax.random.PRNGKey(0), training=False):
        np.testing.assert_array_equal(np.asarray(layer(x)), x)
    with StatelessScope({}, rng=jax.random.PRNGKey(0), training=True):
        np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    with pytest.raises(KerasishError, match="random key"):
        jax.jit(lambda v: layer(v, training=True))(x)
    eager = [np.asarray(layer(x, training=True)) for _ in range(2)]  # eagerly: the global seed stream
    assert not np.array_equal(eager[0], eager[1])


def test_stochastic_layers_train_via_fit_and_differ_across_steps():
    model = kerasish.Sequential([
        kerasish.Input(shape=(6, 4)), GaussianNoise(0.1), kerasish.layers.Dense(8, activation="relu"),
        SpatialDropout1D(0.3), GaussianDropout(0.2), kerasish.layers.Flatten(), kerasish.layers.Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 6, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))  # inference
    tw = [v.value for v in model.trainable_weights]
    a, _ = model.stateless_call(tw, [], x[:8], training=True, rng=jax.random.PRNGKey(0), rng_step=1)
    b, _ = model.stateless_call(tw, [], x[:8], training=True, rng=jax.random.PRNGKey(0), rng_step=2)
    assert not np.allclose(np.asarray(a), np.asarray(b))


def test_activity_regularization_penalty_matches_keras():
    x = make_inputs((4, 3, 5))
    ours, theirs = ActivityRegularization(l1=0.01, l2=0.03), keras.layers.ActivityRegularization(l1=0.01, l2=0.03)
    with StatelessScope({}, training=True) as scope:
        y = ours(x)
    theirs(x)
    np.testing.assert_array_equal(np.asarray(y), x)
    assert len(scope.losses) == 1 and len(theirs.losses) == 1
    assert_close(scope.losses[0], theirs.losses[0], "activity penalty (divided by the batch size, as Keras 3)")


def _activity_model(module):
    L = module.layers
    cls = ActivityRegularization if module is kerasish else keras.layers.ActivityRegularization
    inp = module.Input(shape=(3,))
    h = L.Dense(5, name="d1")(inp)
    h = cls(l1=0.05, l2=0.1, name="act")(h)
    return module.Model(inp, L.Dense(2, name="d2")(h))


@pytest.mark.parametrize("batch_size", [8, 5], ids=["full_batch", "partial_last_batch"])
def test_activity_regularization_trains_like_keras(batch_size):
    """SGD through fit: the weights before the layer move as Keras's (whose loss holds the penalty)."""
    ours, theirs = _activity_model(kerasish), _activity_model(keras)
    rng = np.random.default_rng(2)
    weights = [rng.normal(size=w.shape).astype("float32") for w in theirs.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    for m, mod in ((ours, kerasish), (theirs, keras)):
        m.compile(optimizer=mod.optimizers.SGD(learning_rate=0.1), loss="mse")
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    hist = ours.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    their_hist = theirs.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    # The reported loss holds the penalty too (the engine adds the layers' losses, as Keras).
    np.testing.assert_allclose(hist.history["loss"], their_hist.history["loss"], rtol=1e-4)
    np.testing.assert_allclose(ours.evaluate(x, y, batch_size=batch_size, verbose=0),
                               theirs.evaluate(x, y, batch_size=batch_size, verbose=0), rtol=1e-4)
    after = ours.get_weights()
    for a, b in zip(after, theirs.get_weights()):
        assert_close(a, b, "weights after fit", atol=1e-5, rtol=1e-4)
    # Without the penalty the first layer would move differently: the check above can fail.
    plain = _activity_model(kerasish)
    plain.set_weights(weights)
    plain.get_layer("act").l1 = plain.get_layer("act").l2 = 0.0
    plain.compile(optimizer=kerasish.optimizers.SGD(learning_rate=0.1), loss="mse")
    plain.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    assert not np.allclose(plain.get_weights()[0], after[0], atol=1e-4)


@pytest.mark.parametrize("cls, kwargs, arg", [
    (SpatialDropout1D, {"rate": 1.0}, "rate"),
    (SpatialDropout1D, {"rate": -0.1}, "rate"),
    (SpatialDropout2D, {"rate": 0.5, "data_format": "nhwc"}, "data_format"),
    (SpatialDropout2D, {"rate": "half"}, "rate"),
    (SpatialDropout1D, {"rate": 0.5, "seed": "x"}, "seed"),
    (GaussianNoise, {"stddev": -1.0}, "stddev"),
    (GaussianNoise, {"stddev": 1.5}, "stddev"),
    (GaussianDropout, {"rate": 1.0}, "rate"),
    (GaussianDropout, {"rate": None}, "rate"),
    (ActivityRegularization, {"l1": -0.1}, "l1"),
    (ActivityRegularization, {"l2": "big"}, "l2"),
    (GaussianNoise, {"stddev": 0.1, "sttdev": 0.2}, "sttdev"),
])
def test_bad_arguments_raise_config_error(cls, kwargs, arg):
    with pytest.raises(ConfigError, match=arg):
        cls(**kwargs)


def test_spatial_dropout_rank_errors():
    with pytest.raises(InputError, match="rank 3"):
        SpatialDropout1D(0.5)(np.zeros((2, 3), "float32"))
    with pytest.raises(InputError, match="rank 4"):
        SpatialDropout2D(0.5)(np.zeros((2, 3, 4), "float32"))
