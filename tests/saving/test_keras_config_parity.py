"""Keras 3 configs load in kerasish and kerasish's load in Keras 3, layer by layer and model by model.

For every spec of keras_layer_specs.py the layer is put in a one-layer functional model; the model's
config (``serialize_keras_object``, through JSON) is rebuilt by the other framework, and the two layers
must agree on class name, config (kerasish's serialized back, compared key by key with Keras's) and weight
shapes. Then whole models (Sequential, nested, shared layers, several inputs and outputs) and compile
configs, both ways.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

import kerasish
from tests.saving.keras_layer_specs import SPECS, build_layer, make_inputs

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

try:
    import tensorflow  # noqa: F401

    HAS_TF = True
except ImportError:
    HAS_TF = False


# -- helpers ------------------------------------------------------------------------------------------
def _json(obj):
    return json.loads(json.dumps(obj))


def normalize(value):
    """A config as plain JSON, with what both frameworks may write differently taken out.

    Nested ``{"class_name", "config"}`` entries lose ``module`` / ``registered_name`` (Keras reads an
    entry with or without them), and ``build_config`` / ``compile_config`` are compared elsewhere.
    """
    value = _json(value)

    def walk(v):
        if isinstance(v, dict):
            out = {k: walk(x) for k, x in v.items() if k not in ("build_config", "compile_config")}
            if "class_name" in out and "config" in out:
                out.pop("module", None)
                out.pop("registered_name", None)
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


def assert_same(a, b, path="config"):
    if isinstance(a, dict) and isinstance(b, dict):
        assert sorted(a) == sorted(b), f"{path}: keys differ: only Keras {sorted(set(a) - set(b))}, " \
                                       f"only kerasish {sorted(set(b) - set(a))}"
        for k in a:
            assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: Keras {a!r} != kerasish {b!r}"


def _input_dtype(spec):
    return "string" if spec.input_dtype == "str" else spec.input_dtype


def _functional(framework, spec):
    layer = build_layer(spec, framework.layers)
    shapes = spec.input_shape if spec.multi_input else [spec.input_shape]
    inputs = [framework.Input(shape=s, dtype=_input_dtype(spec)) for s in shapes]
    if spec.unpack_inputs:
        outputs = layer(*inputs)
    else:
        outputs = layer(inputs if spec.multi_input else inputs[0])
    return framework.Model(inputs if spec.multi_input else inputs[0], outputs), layer


def _weight_shapes(layer):
    return [tuple(w.shape) for w in layer.weights]


def _layer_config(framework, layer):
    return normalize(framework.saving.serialize_keras_object(layer)["config"])


def _ids(specs):
    return [s.test_id for s in specs]


def _class_name(framework, layer):
    return framework.saving.serialize_keras_object(layer)["class_name"]


def _standalone(framework, spec):
    layer = build_layer(spec, framework.layers)
    layer.build((None, *spec.input_shape))
    return layer


# -- one layer, both ways -----------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS, ids=_ids(SPECS))
def test_keras_layer_config_loads_in_kerasish(spec):
    if spec.needs_tf and not HAS_TF:
        pytest.skip("Keras builds this layer only with TensorFlow installed")
    if spec.extra.get("standalone"):
        layer = _standalone(keras, spec)
        mine = kerasish.saving.deserialize_keras_object(_json(keras.saving.serialize_keras_object(layer)))
        loaded = mine
    else:
        model, layer = _functional(keras, spec)
        config = _json(keras.saving.serialize_keras_object(model))
        loaded = kerasish.saving.deserialize_keras_object(config)
        mine = loaded.get_layer(layer.name)
    assert _class_name(kerasish, mine) == _class_name(keras, layer)
    assert_same(_layer_config(keras, layer), _layer_config(kerasish, mine))
    assert _weight_shapes(mine) == _weight_shapes(layer)
    assert (len(layer.weights) > 0) == spec.has_weights
    loaded(make_inputs(spec))  # and it runs


@pytest.mark.parametrize("spec", SPECS, ids=_ids(SPECS))
def test_kerasish_layer_config_loads_in_keras(spec):
    if spec.needs_tf and not HAS_TF:
        pytest.skip("Keras builds this layer only with TensorFlow installed")
    if spec.extra.get("keras_cannot_reload"):
        pytest.xfail(spec.extra["keras_cannot_reload"])
    if spec.extra.get("standalone"):
        layer = _standalone(kerasish, spec)
        theirs = keras.saving.deserialize_keras_object(_json(kerasish.saving.serialize_keras_object(layer)))
    else:
        model, layer = _functional(kerasish, spec)
        config = _json(kerasish.saving.serialize_keras_object(model))
        loaded = keras.saving.deserialize_keras_object(config)
        theirs = loaded.get_layer(layer.name)
    assert _class_name(keras, theirs) == _class_name(kerasish, layer)
    assert_same(_layer_config(keras, theirs), _layer_config(kerasish, layer))
    assert _weight_shapes(theirs) == _weight_shapes(layer)
    assert (len(layer.weights) > 0) == spec.has_weights


TF_SPECS = [s for s in SPECS if s.needs_tf]


@pytest.mark.parametrize("spec", TF_SPECS, ids=_ids(TF_SPECS))
def test_tensorflow_only_layers_write_keras_keys(spec):
    """Keras builds these only with TensorFlow: their configs are checked against Keras's keys, and reload."""
    layer = build_layer(spec, kerasish.layers)
    config = _layer_config(kerasish, layer)
    assert sorted(config) == sorted(spec.extra["keras_config_keys"].split())
    again = kerasish.saving.deserialize_keras_object(_json(kerasish.saving.serialize_keras_object(layer)))
    assert_same(config, _layer_config(kerasish, again))


# -- whole models, both ways ------------------------------------------------------------------------------
def _models(framework):
    """Sequential, nested, shared-layer and multi-input/multi-output models, the same in both frameworks."""
    L = framework.layers
    seq = framework.Sequential([framework.Input((6,)), L.Dense(4, activation="relu", name="d1"),
                                L.Dropout(0.2, name="drop"), L.Dense(2, name="d2")], name="seq")
    # A Sequential nested in a functional model, and a functional model nested in that.
    inner_in = framework.Input((4,), name="inner_in")
    inner = framework.Model(inner_in, L.Dense(3, name="inner_dense")(inner_in), name="inner")
    x_in = framework.Input((6,), name="x")
    nested = framework.Model(x_in, inner(framework.Sequential([L.Dense(4, name="s_dense")], name="sub")(x_in)),
                             name="nested")
    # One layer applied to two inputs (two nodes), and its output used twice.
    a, b = framework.Input((5,), name="a"), framework.Input((5,), name="b")
    shared = L.Dense(3, name="shared")
    sa, sb = shared(a), shared(b)
    merged = L.Concatenate(name="cat")([sa, sb, sa])
    shared_model = framework.Model([a, b], merged, name="shared_model")
    # Dict inputs, two named outputs, a layer with several inputs.
    p, q = framework.Input((4,), name="p"), framework.Input((4, 3), name="q")
    h = L.Add(name="add")([L.Dense(3, name="pd")(p), L.GlobalAveragePooling1D(name="gap")(q)])
    multi = framework.Model({"p": p, "q": q}, {"cls": L.Dense(2, activation="softmax", name="cls")(h),
                                               "reg": L.Dense(1, name="reg")(h)}, name="multi")
    return {"sequential": seq, "nested": nested, "shared": shared_model, "multi_io": multi}


def _model_inputs(name):
    rng = np.random.default_rng(0)
    return {"sequential": lambda: rng.random((2, 6), dtype=np.float32),
            "nested": lambda: rng.random((2, 6), dtype=np.float32),
            "shared": lambda: [rng.random((2, 5), dtype=np.float32), rng.random((2, 5), dtype=np.float32)],
            "multi_io": lambda: {"p": rng.random((2, 4), dtype=np.float32),
                                 "q": rng.random((2, 4, 3), dtype=np.float32)}}[name]()


def _summary(model):
    """Layer names, class names, configs and weight shapes, model by model, nested models included."""
    out = []
    for layer in model.layers:
        entry = (layer.name, type(layer).__name__ if type(layer).__name__ != "Functional" else "Functional",
                 _weight_shapes(layer))
        out.append(entry)
        if hasattr(layer, "layers"):
            out.append(_summary(layer))
    return out


def _copy_weights(src, dst):
    dst.set_weights([np.asarray(w) for w in src.get_weights()])


def _assert_models_agree(keras_model, mine, data):
    assert _summary(keras_model) == _summary(mine)
    for theirs in keras_model.layers:
        ours = mine.get_layer(theirs.name)
        if not hasattr(theirs, "layers"):
            assert_same(_layer_config(keras, theirs), _layer_config(kerasish, ours))
    _copy_weights(keras_model, mine)
    expected, got = keras_model(data), mine(data)
    for e, g in zip(keras.tree.flatten(expected), keras.tree.flatten(got)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-5, atol=1e-6)


MODEL_NAMES = ["sequential", "nested", "shared", "multi_io"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_keras_model_config_loads_in_kerasish(name):
    model = _models(keras)[name]
    config = _json(keras.saving.serialize_keras_object(model))
    mine = kerasish.saving.deserialize_keras_object(config)
    assert mine.name == model.name
    _assert_models_agree(model, mine, _model_inputs(name))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_kerasish_model_config_loads_in_keras(name):
    mine = _models(kerasish)[name]
    config = _json(kerasish.saving.serialize_keras_object(mine))
    theirs = keras.saving.deserialize_keras_object(config)
    assert theirs.name == mine.name
    _assert_models_agree(theirs, mine, _model_inputs(name))


def test_kerasish_functional_model_as_keras_names_it():
    config = _json(kerasish.saving.serialize_keras_object(_models(kerasish)["shared"]))
    assert keras.saving.deserialize_keras_object(config).name == "shared_model"


def test_old_kerasish_functional_config_still_loads():
    """``.kerasish`` files written before the Keras format name tensors as ``{"__tensor__": [...]}``."""
    i = kerasish.Input((3,), name="i")
    old = {"name": "old", "trainable": True,
           "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "dtype": "float32",
                                                               "name": "i"}, "name": "i", "inbound_nodes": []},
                      {"class_name": "Dense", "config": {"name": "d", "units": 2}, "name": "d",
                       "inbound_nodes": [{"args": [{"__tensor__": ["i", 0, 0]}], "kwargs": {}}]}],
           "input_layers": ["i", 0, 0], "output_layers": ["d", 0, 0]}
    del i
    model = kerasish.Model.from_config(old)
    assert model.get_layer("d").kernel.shape == (3, 2)
    seq = kerasish.Sequential.from_config({"name": "s", "build_input_shape": [None, 3],
                                           "layers": [{"class_name": "Dense", "config": {"name": "e", "units": 4}}]})
    assert seq.output_shape == (None, 4)


# -- compile configs, both ways ---------------------------------------------------------------------------
def _compile_cases():
    return {
        "names": dict(optimizer="adam", loss="mse", metrics=["mae"]),
        "objects": lambda fw: dict(optimizer=fw.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                                   loss=fw.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                                   metrics=[fw.metrics.MeanAbsoluteError(), "mse"]),
        "per_output": lambda fw: dict(optimizer=fw.optimizers.RMSprop(learning_rate=0.01),
                                      loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                                      loss_weights={"cls": 1.0, "reg": 0.5},
                                      metrics={"cls": ["accuracy"], "reg": [fw.metrics.MeanSquaredError()]}),
    }


def _compile(framework, case):
    spec = _compile_cases()[case]
    model = _models(framework)["multi_io" if case == "per_output" else "sequential"]
    model.compile(**(spec(framework) if callable(spec) else spec))
    return model


def _assert_same_optimizer(keras_model, mine):
    """Same class, and every key kerasish writes has Keras's value (Keras writes a few more: use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps)."""
    theirs = keras.saving.serialize_keras_object(keras_model.optimizer)
    ours = kerasish.saving.serialize_keras_object(mine.optimizer)
    assert theirs["class_name"] == ours["class_name"]
    theirs, ours = normalize(theirs["config"]), normalize(ours["config"])
    assert_same({k: theirs.get(k) for k in ours}, ours)


@pytest.mark.parametrize("case", list(_compile_cases()))
def test_keras_compile_config_loads_in_kerasish(case):
    from kerasish.saving.compile_config import compile_kwargs

    theirs = _compile(keras, case)
    config = _json(theirs.get_compile_config())
    mine = _models(kerasish)["multi_io" if case == "per_output" else "sequential"]
    mine.compile(**compile_kwargs(config, {}))
    _assert_same_optimizer(theirs, mine)
    # And the whole model, compile config included, through serialize_keras_object.
    whole = kerasish.saving.deserialize_keras_object(_json(keras.saving.serialize_keras_object(theirs)))
    assert whole.compiled and type(whole.optimizer).__name__ == type(theirs.optimizer).__name__


@pytest.mark.parametrize("case", list(_compile_cases()))
def test_kerasish_compile_config_loads_in_keras(case):
    from kerasish.saving.compile_config import compile_config

    mine = _compile(kerasish, case)
    config = _json(compile_config(mine))
    theirs = _models(keras)["multi_io" if case == "per_output" else "sequential"]
    theirs.compile_from_config(config)
    assert theirs.compiled
    _assert_same_optimizer(theirs, mine)
    assert _json(theirs.get_compile_config())["loss"] == config["loss"]
    # And the whole model through serialize_keras_object: Keras compiles it from the config.
    whole = keras.saving.deserialize_keras_object(_json(kerasish.saving.serialize_keras_object(mine)))
    assert whole.compiled
