"""kerasish.regularizers against Keras 3 (JAX backend) as the oracle."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

from kerasish import regularizers
from kerasish.errors import ConfigError

CASES = [
    ("L1", {}),
    ("L1", {"l1": 0.3}),
    ("L2", {}),
    ("L2", {"l2": 0.7}),
    ("L1L2", {}),
    ("L1L2", {"l1": 0.1, "l2": 0.2}),
    ("L1L2", {"l2": 0.05}),
    ("OrthogonalRegularizer", {}),
    ("OrthogonalRegularizer", {"factor": 0.5, "mode": "columns"}),
    ("OrthogonalRegularizer", {"factor": 2.0, "mode": "rows"}),
]


@pytest.mark.parametrize("shape", [(6, 4), (3, 7)])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_regularizer_matches_keras(rng, name, kwargs, shape):
    x = rng.normal(size=shape).astype(np.float32)
    x[0] = 0.0  # a zero row: exercises the orthogonal regularizer's epsilon
    ours = getattr(regularizers, name)(**kwargs)
    theirs = getattr(keras.regularizers, name)(**kwargs)
    expected = float(theirs(keras.ops.convert_to_tensor(x)))
    got = ours(jnp.asarray(x))
    assert got.shape == () and got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(jax.jit(ours)(jnp.asarray(x))), expected, rtol=1e-6, atol=1e-6)
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    assert ours_config.keys() == theirs_config.keys()
    for k, v in ours_config.items():
        assert v == (pytest.approx(theirs_config[k], rel=1e-6) if isinstance(v, float) else theirs_config[k])


@pytest.mark.parametrize("name", ["l1", "l2", "l1l2", "orthogonal_regularizer",
                                  "L1", "L2", "L1L2", "OrthogonalRegularizer"])
def test_get_by_name_as_keras(name):
    ours = regularizers.get(name)
    theirs = keras.regularizers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    assert ours_config.keys() == theirs_config.keys()
    for k, v in ours_config.items():  # Keras stores some factors as float32 tensors
        assert v == (pytest.approx(theirs_config[k], rel=1e-6) if isinstance(v, float) else theirs_config[k])


def test_defaults_as_keras():
    assert regularizers.L1().get_config() == {"l1": 0.01}
    assert regularizers.L2().get_config() == {"l2": 0.01}
    assert regularizers.L1L2().get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.OrthogonalRegularizer().get_config() == {"factor": 0.01, "mode": "rows"}
    # The l1_l2 helper (and its name) keeps Keras 2's 0.01 defaults.
    assert regularizers.l1_l2().get_config() == {"l1": 0.01, "l2": 0.01}
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    assert regularizers.l1 is regularizers.L1 and regularizers.l2 is regularizers.L2
    assert regularizers.orthogonal_regularizer is regularizers.OrthogonalRegularizer


def test_invalid_arguments():
    for bad in (-0.1, float("nan"), float("inf"), "0.1"):
        with pytest.raises(ConfigError):
            regularizers.L1(bad)
    with pytest.raises(ConfigError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ConfigError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(jnp.ones((2, 3, 4)))


def test_get_none_instance_callable_and_unknown():
    assert regularizers.get(None) is None
    r = regularizers.L2(0.2)
    assert regularizers.get(r) is r
    assert isinstance(regularizers.get(regularizers.L1), regularizers.L1)

    def fn(w):
        return jnp.sum(w)

    assert regularizers.get(fn) is fn
    with pytest.raises(ConfigError, match="orthogonal_regularizer"):
        regularizers.get("l3")
    with pytest.raises(ConfigError):
        regularizers.get(3)


@pytest.mark.parametrize("r", [regularizers.L1(0.3), regularizers.L2(0.2), regularizers.L1L2(0.1, 0.4),
                               regularizers.OrthogonalRegularizer(0.5, "columns")])
def test_serialize_round_trip(r):
    config = regularizers.serialize(r)
    assert config["class_name"] == type(r).__name__
    for back in (regularizers.deserialize(config), regularizers.get(config)):
        assert type(back) is type(r)
        assert back.get_config() == r.get_config()
    keras_obj = keras.regularizers.deserialize({"module": "keras.regularizers", "registered_name": None, **config})
    for k, v in r.get_config().items():
        assert v == (pytest.approx(keras_obj.get_config()[k], rel=1e-6) if isinstance(v, float)
                     else keras_obj.get_config()[k])
    assert regularizers.serialize(None) is None


def test_deserialize_unknown_class():
    with pytest.raises(ConfigError, match="L1L2"):
        regularizers.deserialize({"class_name": "Nope", "config": {}})
