"""kerasish.ops and Python operators on KerasTensors: graph nodes with shapes from jax.eval_shape (None where a
size depends on an unknown input size), models that train, summarize, save and load — compared with Keras 3."""

import json

import keras
import numpy as np
import pytest

import kerasish
from kerasish import layers, ops


def _build(lib):
    inputs = lib.Input(shape=(6,))
    other = lib.Input(shape=(6,))
    h = lib.layers.Dense(6, name="dense")(inputs)
    x = h + inputs * 2.0 - other / 3.0
    x = lib.ops.reshape(x, (-1, 3, 2))
    first = x[:, 0]
    x = lib.ops.concatenate([first, -x[:, 1], abs(x[:, 2]) ** 2], axis=-1)
    x = lib.ops.where(x > 0.1, x, lib.ops.zeros_like(x))
    x = lib.ops.sum(lib.ops.expand_dims(x, -1), axis=-1) @ lib.ops.ones((6, 2))
    out = lib.layers.Dense(1, name="head")(lib.ops.nn.relu(x))
    return lib.Model([inputs, other], out)


def _copy_weights(src, dst):
    for name in ("dense", "head"):
        dst.get_layer(name).set_weights(src.get_layer(name).get_weights())


def test_operators_and_ops_build_the_same_model_as_keras(rng):
    km, sm = _build(keras), _build(kerasish)
    _copy_weights(km, sm)
    x = [rng.normal(size=(5, 6)).astype("float32"), rng.normal(size=(5, 6)).astype("float32")]
    np.testing.assert_allclose(sm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert sm.output_shape == km.output_shape == (None, 1)


def test_op_model_trains_summarizes_saves_and_loads(tmp_path, rng):
    model = _build(kerasish)
    x = [rng.normal(size=(16, 6)).astype("float32"), rng.normal(size=(16, 6)).astype("float32")]
    y = rng.normal(size=(16, 1)).astype("float32")
    model.compile("adam", "mse")
    model.fit(x, y, epochs=2, verbose=0)
    text = []
    model.summary(print_fn=text.append)
    summary = "\n".join(text)
    for op in ("reshape", "concatenate", "get_item", "where", "relu"):
        assert op in summary
    path = tmp_path / "m.kerasish"
    model.save(path)
    loaded = kerasish.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_saved_ops_are_names_never_code(tmp_path):
    inputs = kerasish.Input(shape=(3,))
    model = kerasish.Model(inputs, ops.exp(inputs))
    config = model.get_config()
    text = json.dumps(config)
    assert '"op": "exp"' in text
    hostile = json.loads(text.replace('"op": "exp"', '"op": "convert_to_numpy.__globals__"'))
    with pytest.raises(kerasish.KerasishError, match="not a kerasish.ops function"):
        kerasish.Model.from_config(hostile)
    with pytest.raises(kerasish.KerasishError, match="not a kerasish.ops function"):
        kerasish.Model.from_config(json.loads(text.replace('"op": "exp"', '"op": "os.system"')))


def test_an_op_on_a_function_argument_refuses_to_be_recorded_with_a_clear_error():
    inputs = kerasish.Input(shape=(3,))
    with pytest.raises(kerasish.KerasishError, match="cannot record"):
        ops.map(lambda v: v * 2, inputs)


def test_keras_tensor_has_no_value():
    inputs = kerasish.Input(shape=(3,))
    with pytest.raises(kerasish.KerasishError, match="no value"):
        np.asarray(inputs)
    with pytest.raises(kerasish.KerasishError, match="no value"):
        bool(inputs)


@pytest.mark.parametrize("build", [
    lambda lib: lib.layers.Dense(3)(lib.Input(shape=(None, 4))),
    lambda lib: lib.layers.Conv1D(3, 3)(lib.Input(shape=(None, 10))),
    lambda lib: lib.layers.GlobalMaxPooling1D()(lib.layers.Conv1D(3, 3)(lib.Input(shape=(None, 10)))),
    lambda lib: lib.layers.Conv2D(2, 3, strides=2)(lib.Input(shape=(None, 9, 1))),
    lambda lib: lib.ops.transpose(lib.Input(shape=(None, 4))),
    lambda lib: lib.ops.reshape(lib.Input(shape=(None, 4)), (-1, 2)),
    lambda lib: lib.ops.sum(lib.Input(shape=(None, 4)), axis=0),
])
def test_unknown_sizes_stay_unknown_as_in_keras(build):
    assert build(kerasish).shape == tuple(build(keras).shape)


def test_variable_length_sequences_fit(rng):
    inputs = kerasish.Input(shape=(None, 4))
    model = kerasish.Model(inputs, layers.Dense(3)(inputs))
    assert model.output_shape == (None, None, 3)
    model.compile("sgd", "mse")
    model.fit(rng.normal(size=(8, 5, 4)), rng.normal(size=(8, 5, 3)), epochs=1, verbose=0)
    assert model.predict(rng.normal(size=(2, 7, 4)), verbose=0).shape == (2, 7, 3)
