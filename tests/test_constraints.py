"""kerasish.constraints against Keras 3 (JAX backend) as the oracle."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from kerasish import constraints
from kerasish.errors import ConfigError

CASES = [
    ("MaxNorm", {}),
    ("MaxNorm", {"max_value": 0.5, "axis": 1}),
    ("MaxNorm", {"max_value": 1.5, "axis": [0, 1, 2]}),
    ("NonNeg", {}),
    ("UnitNorm", {}),
    ("UnitNorm", {"axis": -1}),
    ("UnitNorm", {"axis": [0, 1]}),
    ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 0.8, "max_value": 1.2, "rate": 0.5, "axis": 1}),
    ("MinMaxNorm", {"min_value": 2.0, "max_value": 3.0, "rate": 1.0, "axis": [0, 1]}),
]


def _weights(rng, shape):
    w = rng.normal(size=shape).astype(np.float32) * rng.uniform(0.1, 3.0)
    w[..., 0] = 0.0  # an all-zero slice along every axis but the last: exercises epsilon
    return w


@pytest.mark.parametrize("shape", [(5, 4), (3, 3, 4, 6)])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_constraint_matches_keras(rng, name, kwargs, shape):
    axis = kwargs.get("axis", 0)
    if isinstance(axis, list) and max(axis) >= len(shape):
        kwargs = {**kwargs, "axis": [0, 1]}  # a Dense kernel: the Conv-kernel axes clipped to its rank
    w = _weights(rng, shape)
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(keras.constraints, name)(**kwargs)
    expected = np.asarray(theirs(keras.ops.convert_to_tensor(w)))
    np.testing.assert_allclose(np.asarray(ours(jnp.asarray(w))), expected, rtol=1e-6, atol=1e-6)
    # Jitted (as in the train step) gives the same.
    np.testing.assert_allclose(np.asarray(jax.jit(ours)(jnp.asarray(w))), expected, rtol=1e-6, atol=1e-6)
    assert ours.get_config() == theirs.get_config()


def test_epsilon_on_zero_and_tiny_weights():
    w = np.zeros((4, 3), np.float32)
    w[:, 1] = 1e-6
    for name in ("MaxNorm", "UnitNorm", "MinMaxNorm"):
        ours = np.asarray(getattr(constraints, name)()(jnp.asarray(w)))
        theirs = np.asarray(getattr(keras.constraints, name)()(keras.ops.convert_to_tensor(w)))
        assert np.all(np.isfinite(ours))
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_base_constraint_is_identity():
    w = jnp.arange(6.0).reshape(2, 3)
    assert constraints.Constraint()(w) is w
    assert constraints.Constraint().get_config() == {}


@pytest.mark.parametrize("name", ["max_norm", "non_neg", "unit_norm", "min_max_norm",
                                  "MaxNorm", "NonNeg", "UnitNorm", "MinMaxNorm"])
def test_get_by_name_as_keras(name):
    ours = constraints.get(name)
    theirs = keras.constraints.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.get_config() == theirs.get_config()


def test_snake_case_aliases_are_the_classes():
    assert constraints.max_norm is constraints.MaxNorm
    assert constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm
    assert constraints.min_max_norm is constraints.MinMaxNorm


def test_get_none_instance_callable_and_unknown():
    assert constraints.get(None) is None
    c = constraints.MaxNorm(3)
    assert constraints.get(c) is c
    assert isinstance(constraints.get(constraints.UnitNorm), constraints.UnitNorm)

    def fn(w):
        return w

    assert constraints.get(fn) is fn
    with pytest.raises(ConfigError, match="max_norm"):
        constraints.get("maxnorm_typo")
    with pytest.raises(ConfigError):
        constraints.get(3)
    with pytest.raises(ConfigError):
        constraints.serialize(fn)


@pytest.mark.parametrize("c", [constraints.MaxNorm(3, axis=[0, 1]), constraints.NonNeg(), constraints.UnitNorm(1),
                               constraints.MinMaxNorm(0.5, 2.0, 0.3, 1), constraints.Constraint()])
def test_serialize_round_trip(c):
    config = constraints.serialize(c)
    assert config["class_name"] == type(c).__name__
    for back in (constraints.deserialize(config), constraints.get(config)):
        assert type(back) is type(c)
        assert back.get_config() == c.get_config()
    # Keras reads our config.
    keras_obj = keras.constraints.deserialize({"module": "keras.constraints", "registered_name": None, **config})
    assert keras_obj.get_config() == c.get_config()
    assert constraints.serialize(None) is None


def test_deserialize_unknown_class():
    with pytest.raises(ConfigError, match="MaxNorm"):
        constraints.deserialize({"class_name": "Nope", "config": {}})


def test_layer_constraints_train_like_keras():
    # Same weights, same SGD steps: Keras applies each weight's constraint after every update.
    import kerasish

    def build(mod):
        return mod.Sequential([mod.Input(shape=(6,)),
                               mod.layers.Dense(5, kernel_constraint="max_norm", bias_constraint="non_neg"),
                               mod.layers.Dense(2, kernel_constraint=mod.constraints.UnitNorm(axis=0))])

    rng = np.random.default_rng(0)
    ours, theirs = build(kerasish), build(keras)
    weights = [rng.normal(size=w.shape).astype("float32") * 3 for w in theirs.get_weights()]
    x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 2)).astype("float32")
    for m, mod in ((ours, kerasish), (theirs, keras)):
        m.set_weights(weights)
        m.compile(optimizer=mod.optimizers.SGD(0.05), loss="mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(ours.get_weights()[0], axis=0).max() <= 2 + 1e-5
    config = ours.layers[0].get_config()
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
