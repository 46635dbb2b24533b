"""Activation layers against Keras 3: ReLU, LeakyReLU, PReLU, ELU, Softmax, Identity."""

import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError, InputError
from kerasish.layers.activation import ELU, Identity, LeakyReLU, PReLU, ReLU, Softmax

from .helpers import assert_close, keras, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

CUSTOM = {c.__name__: c for c in (ReLU, LeakyReLU, PReLU, ELU, Softmax, Identity)}


def _inputs(shape, seed=0):
    """Standard normal inputs times 3, so that thresholds and max values are crossed."""
    return 3.0 * make_inputs(shape, seed=seed)


@pytest.mark.parametrize("kwargs", [
    {},
    {"max_value": 1.5},
    {"negative_slope": 0.2},
    {"threshold": 0.5},
    {"max_value": 6.0, "negative_slope": 0.1, "threshold": 1.0},
    {"max_value": 0.0},
], ids=["plain", "max", "slope", "threshold", "all", "max0"])
def test_relu(kwargs):
    run_layer_test(ReLU, kwargs, input_data=_inputs((4, 5, 3)), expected_num_weights=0, custom_objects=CUSTOM)


@pytest.mark.parametrize("kwargs", [{}, {"negative_slope": 0.05}, {"negative_slope": 0.0}])
def test_leaky_relu(kwargs):
    run_layer_test(LeakyReLU, kwargs, input_data=_inputs((4, 6)), expected_num_weights=0, custom_objects=CUSTOM)
    assert LeakyReLU(**kwargs).get_config()["negative_slope"] == keras.layers.LeakyReLU(**kwargs).negative_slope


@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.5}, {"alpha": 2.0}])
def test_elu(kwargs):
    run_layer_test(ELU, kwargs, input_data=_inputs((4, 6)), expected_num_weights=0, custom_objects=CUSTOM)


def test_identity():
    out = run_layer_test(Identity, {}, input_data=_inputs((3, 2, 4)), expected_num_weights=0,
                         custom_objects=CUSTOM)
    np.testing.assert_array_equal(np.asarray(out["layer"](out["x"])), out["x"])


@pytest.mark.parametrize("kwargs, input_shape, alpha_shape", [
    ({}, (4, 5), (5,)),
    ({"shared_axes": [1, 2]}, (2, 3, 4, 5), (1, 1, 5)),
    ({"shared_axes": 1}, (2, 3, 4), (1, 4)),
    ({"alpha_initializer": "ones"}, (3, 2, 4), (2, 4)),
    ({"alpha_regularizer": "l2"}, (3, 4), (4,)),
], ids=["dense", "images_per_channel", "shared_int", "ones_init", "regularizer"])
def test_prelu(kwargs, input_shape, alpha_shape):
    """Keras's alpha shape rules; outputs equal Keras's with the same alpha (both directions, by run_layer_test)."""
    out = run_layer_test(PReLU, kwargs, input_data=_inputs(input_shape), expected_num_weights=1,
                         expected_num_trainable_weights=1, custom_objects=CUSTOM)
    assert out["layer"].alpha.shape == alpha_shape
    assert out["layer"].get_config()["shared_axes"] == keras.layers.PReLU(**kwargs).get_config()["shared_axes"]


def test_prelu_alpha_is_trained_and_regularized_like_keras():
    """One SGD step on Input -> Dense -> PReLU(l2 on alpha): same loss and weights as Keras."""
    def build(module):
        inp = module.Input(shape=(3,))
        h = module.layers.Dense(4, name="d")(inp)
        cls = PReLU if module is kerasish else keras.layers.PReLU
        return module.Model(inp, cls(alpha_regularizer="l2", name="p")(h))

    ours, theirs = build(kerasish), build(keras)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") * 0.5 for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 4)).astype("float32")
    for m, mod in ((ours, kerasish), (theirs, keras)):
        m.compile(optimizer=mod.optimizers.SGD(learning_rate=0.1), loss="mse")
    loss_ours, loss_theirs = ours.train_on_batch(x, y), theirs.train_on_batch(x, y)
    assert_close(np.ravel(loss_ours)[0], np.ravel(loss_theirs)[0], "loss with the alpha penalty")
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, "weights after one SGD step")


@pytest.mark.parametrize("kwargs, input_shape", [
    ({}, (3, 5)),
    ({"axis": 1}, (2, 4, 3)),
    ({"axis": [1, 2]}, (2, 3, 4)),
    ({"axis": (-1,)}, (2, 3, 4)),
], ids=["last", "axis1", "two_axes", "one_axis_list"])
def test_softmax(kwargs, input_shape):
    out = run_layer_test(Softmax, kwargs, input_data=_inputs(input_shape), expected_num_weights=0,
                         custom_objects=CUSTOM)
    axis = kwargs.get("axis", -1)
    np.testing.assert_allclose(np.asarray(out["layer"](out["x"])).sum(axis=tuple(np.atleast_1d(axis))), 1.0,
                               rtol=1e-5)


@pytest.mark.parametrize("mask_kind", ["bool", "float", "broadcast"])
def test_softmax_mask_matches_keras(mask_kind):
    x = _inputs((3, 4, 6))
    rng = np.random.default_rng(5)
    if mask_kind == "broadcast":
        mask = rng.random((4, 6)) > 0.4
    else:
        mask = rng.random((3, 4, 6)) > 0.4
    mask[..., 0] = True  # every row keeps one position
    if mask_kind == "float":
        mask = mask.astype("float32")
    ours = np.asarray(Softmax()(x, mask=mask))
    theirs = np.asarray(keras.layers.Softmax()(x, mask=mask))
    assert_close(ours, theirs, f"masked softmax ({mask_kind})")
    assert np.all(ours[np.broadcast_to(np.asarray(mask) == 0, ours.shape)] == 0)
    assert not np.allclose(ours, np.asarray(Softmax()(x)))  # the mask changes the result


def test_softmax_mask_not_broadcastable():
    with pytest.raises(InputError, match="broadcastable"):
        Softmax()(np.zeros((2, 3), "float32"), mask=np.ones((2, 4), bool))


@pytest.mark.parametrize("cls, kwargs, arg", [
    (ReLU, {"max_value": -1.0}, "max_value"),
    (ReLU, {"negative_slope": -0.1}, "negative_slope"),
    (ReLU, {"negative_slope": None}, "negative_slope"),
    (ReLU, {"threshold": -1.0}, "threshold"),
    (ReLU, {"threshold": "high"}, "threshold"),
    (LeakyReLU, {"negative_slope": -0.3}, "negative_slope"),
    (LeakyReLU, {"negative_slope": None}, "negative_slope"),
    (ELU, {"alpha": "one"}, "alpha"),
    (PReLU, {"shared_axes": [0]}, "shared_axes"),
    (PReLU, {"shared_axes": "1"}, "shared_axes"),
    (PReLU, {"alpha_constraint": 3}, "alpha_constraint"),
    (PReLU, {"alpha_initializer": "no_such_init"}, "no_such_init"),
    (Softmax, {"axis": 1.5}, "axis"),
    (Softmax, {"axis": []}, "axis"),
    (ReLU, {"max_valu": 1.0}, "max_valu"),
])
def test_bad_arguments_raise_config_error(cls, kwargs, arg):
    with pytest.raises(ConfigError, match=arg):
        cls(**kwargs)


def test_prelu_input_errors():
    with pytest.raises(InputError, match="shared axis 3"):
        PReLU(shared_axes=[3])(np.zeros((2, 3, 4), "float32"))
    layer = PReLU()
    layer(np.zeros((2, 3), "float32"))
    with pytest.raises(InputError, match="PReLU"):
        layer(np.zeros((2, 4), "float32"))


def test_activation_layers_train_in_a_model():
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), kerasish.layers.Dense(8), PReLU(),
                                 kerasish.layers.Dense(8), ReLU(max_value=6.0), kerasish.layers.Dense(8), LeakyReLU(), ELU(), kerasish.layers.Dense(3),
                                 Softmax()])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, size=64)
    before = model.layers[1].get_weights()[0].copy()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.array_equal(before, model.layers[1].get_weights()[0])  # PReLU's alpha was trained
