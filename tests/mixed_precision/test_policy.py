"""DTypePolicy, the global policy and the forms a layer's ``dtype=`` takes (Keras 3's names and dtypes)."""

import jax.numpy as jnp
import keras
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError
from kerasish.mixed_precision import (
    DTypePolicy,
    Policy,
    dtype_policy,
    global_policy,
    set_dtype_policy,
    set_global_policy,
)

NAMES = ["float32", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"]


@pytest.mark.parametrize("name", NAMES)
def test_policy_dtypes_match_keras(name):
    ours, theirs = DTypePolicy(name), keras.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == \
        (theirs.name, theirs.compute_dtype, theirs.variable_dtype)
    assert repr(ours) == repr(theirs) == f'<DTypePolicy "{name}">'
    assert ours == DTypePolicy(name) and ours != DTypePolicy("float64")
    assert DTypePolicy.from_config(ours.get_config()) == ours


@pytest.mark.parametrize("bad", ["mixed_float32", "float", "half", "nonsense", ""])
def test_unknown_policy_name_lists_the_valid_ones(bad):
    with pytest.raises(ConfigError) as info:
        DTypePolicy(bad)
    message = str(info.value)
    assert repr(bad) in message
    assert all(name in message for name in NAMES)


def test_policy_name_must_be_a_string():
    with pytest.raises(ConfigError, match="string"):
        DTypePolicy(16)


def test_global_policy_default_set_and_aliases():
    assert global_policy().name == "float32" and dtype_policy() is global_policy()
    set_global_policy("mixed_bfloat16")
    assert global_policy() == DTypePolicy("mixed_bfloat16")
    set_dtype_policy(Policy("mixed_float16"))
    assert dtype_policy().name == "mixed_float16"
    assert Policy is DTypePolicy
    assert DTypePolicy().name == "mixed_float16"  # no name: the global one
    with pytest.raises(ConfigError, match="set_global_policy"):
        set_global_policy(3)
    with pytest.raises(ConfigError, match="mixed_bf16"):
        set_global_policy("mixed_bf16")
    assert global_policy().name == "mixed_float16"  # a rejected policy changes nothing


def test_layers_take_the_global_policy_at_construction():
    before = layers.Dense(2)
    set_global_policy("mixed_bfloat16")
    after = layers.Dense(2)
    set_global_policy("float32")
    assert before.dtype_policy.name == "float32"
    assert after.dtype_policy.name == "mixed_bfloat16"
    assert after.compute_dtype == "bfloat16" and after.variable_dtype == "float32"
    assert after.dtype == jnp.float32 and isinstance(after.dtype, np.dtype)


@pytest.mark.parametrize("given, name", [
    ("mixed_float16", "mixed_float16"),
    (DTypePolicy("mixed_bfloat16"), "mixed_bfloat16"),
    (jnp.float16, "float16"),
    (np.dtype("bfloat16"), "bfloat16"),
    ({"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}, "mixed_bfloat16"),
    ({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float16"}, "registered_name": None},
     "float16"),
])
def test_layer_dtype_argument_forms(given, name):
    layer = layers.Dense(2, dtype=given)
    assert layer.dtype_policy.name == name
    assert layer.compute_dtype == keras.DTypePolicy(name).compute_dtype
    assert layer.variable_dtype == keras.DTypePolicy(name).variable_dtype


@pytest.mark.parametrize("bad", ["mixed_half", {"class_name": "Dense", "config": {}}, object()])
def test_bad_layer_dtype_names_the_layer(bad):
    with pytest.raises(ConfigError, match="Dense 'odd'"):
        layers.Dense(2, dtype=bad, name="odd")


def test_dtype_policy_setter():
    layer = layers.Dense(2)
    layer.dtype_policy = "mixed_bfloat16"
    assert layer.compute_dtype == "bfloat16"
    out = layer(np.ones((1, 3), np.float32))
    assert out.dtype == jnp.bfloat16 and layer.kernel.value.dtype == jnp.float32


def test_public_names():
    assert kerasish.mixed_precision.LossScaleOptimizer is kerasish.optimizers.LossScaleOptimizer
