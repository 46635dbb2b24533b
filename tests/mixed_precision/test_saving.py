"""Saved models keep their layers' dtype policies; configs in Keras 3's form and the older plain names load."""

import json

import numpy as np
import pytest

import kerasish
from kerasish import layers, optimizers
from kerasish.mixed_precision import set_global_policy
from kerasish.optimizers import LossScaleOptimizer


def build_mixed():
    set_global_policy("mixed_bfloat16")
    model = kerasish.Sequential([
        kerasish.Input((6, 6, 1)),
        layers.Conv2D(4, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.Flatten(),
        layers.Dense(8, dtype="float32"),
        layers.Dense(3),
        layers.Activation("softmax", dtype="float32"),
    ])
    set_global_policy("float32")  # loading must not depend on the global policy at load time
    return model


def policies(model) -> list[str]:
    return [layer.dtype_policy.name for layer in model.layers]


def test_save_and_load_keep_the_policies(tmp_path, rng):
    model = build_mixed()
    model.compile("adam", "sparse_categorical_crossentropy")
    x = rng.normal(size=(8, 6, 6, 1)).astype(np.float32)
    model.fit(x, rng.integers(0, 3, size=8), epochs=1, verbose=0)
    want = ["mixed_bfloat16", "mixed_bfloat16", "mixed_bfloat16", "float32", "mixed_bfloat16", "float32"]
    assert policies(model) == want
    path = str(tmp_path / "mixed.kerasish")
    model.save(path)
    loaded = kerasish.saving.load_model(path)
    assert policies(loaded) == want
    assert loaded.dtype_policy.name == "mixed_bfloat16"
    assert all(w.dtype == np.float32 for w in loaded.weights)
    assert [layer.output.dtype for layer in loaded.layers] == [layer.output.dtype for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_configs_hold_keras_dtype_policies():
    model = build_mixed()
    config = json.loads(model.to_json())
    dtypes = [entry["config"]["dtype"] for entry in config["config"]["layers"]]
    assert dtypes[0] == "float32"  # the InputLayer, as Keras 3 writes it: the input's dtype
    assert dtypes[1] == {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"},
                         "registered_name": None}
    assert dtypes[4]["config"] == {"name": "float32"}
    again = kerasish.saving.model_from_json(model.to_json())
    assert policies(again) == policies(model)


def test_functional_model_round_trips_its_policies():
    set_global_policy("mixed_bfloat16")
    inputs = kerasish.Input((4,))
    hidden = layers.Dense(5)(inputs)
    outputs = layers.Dense(2, dtype="float32")(layers.LayerNormalization()(hidden))
    model = kerasish.Model(inputs, outputs)
    set_global_policy("float32")
    again = kerasish.saving.model_from_json(model.to_json())
    assert policies(again)[1:] == ["mixed_bfloat16", "mixed_bfloat16", "float32"]  # [0]: the InputLayer
    assert again.outputs[0].dtype == np.float32 and again.layers[1].output.dtype == "bfloat16"


@pytest.mark.parametrize("dtype", ["mixed_bfloat16", {"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}])
def test_from_config_takes_a_plain_name_or_a_policy_dict(dtype):
    layer = layers.Dense.from_config({"name": "d", "units": 2, "dtype": dtype})
    assert layer.dtype_policy.name == "mixed_bfloat16"


def test_a_float16_model_keeps_its_loss_scale_optimizer_and_scale(tmp_path, rng):
    set_global_policy("mixed_float16")
    model = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(2)])
    model.compile(optimizers.Adam(0.01), "mse")
    model.train_on_batch(np.full((4, 3), 10.0, np.float32), np.full((4, 2), 100.0, np.float32))  # overflows
    scale = float(model.optimizer.dynamic_scale.value)
    assert scale == 2.0**14
    set_global_policy("float32")
    path = str(tmp_path / "f16.kerasish")
    model.save(path)
    loaded = kerasish.saving.load_model(path)
    assert isinstance(loaded.optimizer, LossScaleOptimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert float(loaded.optimizer.dynamic_scale.value) == scale
    assert loaded.layers[0].compute_dtype == "float16"
