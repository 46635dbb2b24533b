"""keras.config, keras.tree, keras.backend, keras.saving's functions, keras.models.clone_model and the
small keras.utils names, against Keras 3 on the same inputs (a hand-written reference where Keras has none)."""

from __future__ import annotations

import collections
import json
import warnings

import keras
import numpy as np
import pytest

import kerasish
from kerasish import backend as K
from kerasish import config, layers, tree
from kerasish.errors import ConfigError

P = collections.namedtuple("P", "x y")
Q = collections.namedtuple("Q", "x y")
STRUCTURES = [
    [(1, 2), [3], {"a": 4}],
    {"b": {"d": 1, "c": 2}, "a": 3},
    P(1, [2, {"k": None}]),
    None,
    5,
    [None, {}, [], ()],
    collections.OrderedDict([("b", 1), ("a", 2)]),
    {1: 1, "a": 2},  # keys that do not sort: insertion order
    collections.deque([1, [2]]),
    collections.defaultdict(int, {"b": 1, "a": [2, 3]}),
    np.zeros(3),
]


def _same(a, b):
    assert type(a) is type(b) and repr(a) == repr(b), (a, b)


# -- keras.tree ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("s", STRUCTURES, ids=lambda s: type(s).__name__)
def test_tree_matches_keras(s):
    kt = keras.tree
    assert tree.is_nested(s) == kt.is_nested(s)
    assert repr(tree.flatten(s)) == repr(kt.flatten(s))
    assert repr(tree.flatten_with_path(s)) == repr(kt.flatten_with_path(s))
    for none_is_leaf in (True, False):
        _same(tree.map_structure(lambda x: ("v", x), s, none_is_leaf=none_is_leaf),
              kt.map_structure(lambda x: ("v", x), s, none_is_leaf=none_is_leaf))
    _same(tree.map_structure(lambda a, b: (a, b), s, s), kt.map_structure(lambda a, b: (a, b), s, s))
    _same(tree.lists_to_tuples(s), kt.lists_to_tuples(s))
    for top_down in (True, False):
        ours, theirs = [], []
        _same(tree.traverse(ours.append, s, top_down=top_down), kt.traverse(theirs.append, s, top_down=top_down))
        assert repr(ours) == repr(theirs)
    n = len(kt.flatten(s))
    _same(tree.pack_sequence_as(s, list(range(n))), kt.pack_sequence_as(s, list(range(n))))
    tree.assert_same_structure(s, s)
    tree.assert_same_paths(s, s)


def test_tree_traverse_replacing_and_shapes():
    f = lambda x: tree.MAP_TO_NONE if x == 3 else ("S" if isinstance(x, tuple) else None)  # noqa: E731
    g = lambda x: keras.tree.MAP_TO_NONE if x == 3 else ("S" if isinstance(x, tuple) else None)  # noqa: E731
    assert tree.traverse(f, [1, [3], (4, 5)]) == keras.tree.traverse(g, [1, [3], (4, 5)]) == [1, [None], "S"]
    s = [(1, None), {"a": (2, 3, 4)}, [[]], {"b": [5, 6]}]
    assert tree.map_shape_structure(len, s) == keras.tree.map_shape_structure(len, s)
    # map_structure_up_to: Keras's documented results (its optree version raises for None in the shallow tree)
    assert tree.map_structure_up_to([None, None], len, [[1, 1], [2, 2]]) == [2, 2]
    assert tree.map_structure_up_to([0, [0, 0]], str, [[1, 1], [2, 2]]) == \
        keras.tree.map_structure_up_to([0, [0, 0]], str, [[1, 1], [2, 2]])


@pytest.mark.parametrize("a,b", [
    ([1, 2], (1, 2)), ([0, [1]], [0, 1]), ([0, 1], [0, [1]]), ({"a": 1}, {"b": 1}), (P(1, 2), Q(1, 2)),
    ([1, 2], [1, 2, 3]),
])
def test_tree_mismatches_raise_as_keras(a, b):
    with pytest.raises(ValueError):
        keras.tree.assert_same_structure(a, b)
    with pytest.raises(ValueError):
        tree.assert_same_structure(a, b)
    with pytest.raises(ValueError):
        tree.map_structure(lambda x, y: x, a, b)


def test_tree_dict_kinds_match_and_paths():
    od = collections.OrderedDict([("b", 3), ("a", 4)])
    _same(tree.map_structure(lambda x, y: (x, y), {"b": 1, "a": 2}, od),
          keras.tree.map_structure(lambda x, y: (x, y), {"b": 1, "a": 2}, od))
    tree.assert_same_paths([0, 1], (5, 6))
    with pytest.raises(ValueError, match="missing"):
        tree.assert_same_paths([0, 1], [0, 1, 2])
    with pytest.raises(ValueError):
        tree.pack_sequence_as([0, 0], [1, 2, 3])
    with pytest.raises(TypeError):
        tree.pack_sequence_as(5, 1)
    # a kerasish Variable (a JAX pytree for jit's sake) is one leaf here, as in Keras
    v = kerasish.Variable(np.ones(2, "float32"), "v")
    assert tree.flatten([v, {"w": v}]) == [v, v]


# -- keras.backend / keras.config ---------------------------------------------------------------------
DTYPES = [None, float, int, bool, "int", np.float32, np.dtype("int16"), "bfloat16", "uint8", "string", str,
          complex]


@pytest.mark.parametrize("d", DTYPES, ids=repr)
def test_standardize_and_dtype_predicates_match_keras(d):
    assert kerasish.utils.standardize_dtype(d) == keras.backend.standardize_dtype(d)
    assert K.is_float_dtype(d) == keras.backend.is_float_dtype(d)
    assert K.is_int_dtype(d) == keras.backend.is_int_dtype(d)


def test_result_type_matches_keras():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "bfloat16", "float16", "float32", "float64"]
    for a in names:
        for b in names:
            assert K.result_type(a, b) == keras.backend.result_type(a, b), (a, b)
    for args in [(), (int,), (float,), ("int8", float), ("int8", int), (bool, "int8"), ("uint8", "int8")]:
        assert K.result_type(*args) == keras.backend.result_type(*args), args
    with pytest.raises(ConfigError, match="Invalid dtype"):
        K.result_type("float")


def test_backend_settings_and_errors():
    assert K.backend() == keras.backend.backend() == config.backend() == "jax"
    assert config.floatx() == keras.config.floatx() and config.epsilon() == keras.config.epsilon()
    assert config.image_data_format() == keras.config.image_data_format()
    with pytest.raises(ConfigError, match="floatx"):
        config.set_floatx("float8")
    with pytest.raises(ConfigError, match="channels_first"):
        config.set_image_data_format("channels_first")
    with pytest.raises(ConfigError, match="data_format"):
        config.set_image_data_format("nhwc")
    config.set_image_data_format("channels_last")
    with pytest.raises(ConfigError, match="jax"):
        config.set_backend("torch")
    config.set_backend("jax")
    with pytest.warns(UserWarning, match="1e-7"):
        config.set_epsilon(1e-5)
    try:
        assert K.epsilon() == 1e-5
    finally:
        config.set_epsilon(1e-7)
    assert K.is_keras_tensor(kerasish.Input((2,))) and not K.is_keras_tensor(np.ones(2))
    assert kerasish.utils.is_keras_tensor(kerasish.Input((2,)))


def test_set_floatx_sets_the_dtype_of_new_layers():
    try:
        config.set_floatx("bfloat16")
        layer = layers.Dense(2)
        layer.build((None, 3))
        assert layer.kernel.dtype == np.dtype("bfloat16") and config.dtype_policy().name == "bfloat16"
    finally:
        config.set_floatx("float32")
    assert config.dtype_policy().name == "float32"
    # a policy set on purpose is left alone by set_floatx
    try:
        config.set_dtype_policy("mixed_bfloat16")
        config.set_floatx("float16")
        assert config.dtype_policy().name == "mixed_bfloat16"
    finally:
        config.set_floatx("float32")
        config.set_dtype_policy("float32")


def test_get_uid_and_clear_session_reset_layer_names():
    kerasish.backend.clear_session()
    assert layers.Dense(1).name == "dense"
    assert K.get_uid("dense") == 2  # Keras: the same counter (dense, then dense_1 is uid 2)
    assert layers.Dense(1).name == "dense_2"
    config.disable_interactive_logging()
    config.enable_flash_attention()
    kerasish.utils.clear_session()
    assert layers.Dense(1).name == "dense"
    assert config.is_interactive_logging_enabled() and config.is_flash_attention_enabled() is None
    assert K.get_uid("x_prefix") == 1 and K.get_uid("x_prefix") == 2


def test_config_switches():
    assert config.max_epochs() is None and config.max_steps_per_epoch() is None
    config.set_max_epochs(2)
    config.set_max_steps_per_epoch(3)
    try:
        assert config.max_epochs() == 2 and config.max_steps_per_epoch() == 3
    finally:
        config.set_max_epochs(None)
        config.set_max_steps_per_epoch(None)
    with pytest.raises(ConfigError, match="max_epochs"):
        config.set_max_epochs(0)
    for on, off, get, default in [
        (config.enable_flash_attention, config.disable_flash_attention, config.is_flash_attention_enabled, None),
        (config.enable_traceback_filtering, config.disable_traceback_filtering,
         config.is_traceback_filtering_enabled, True),
        (config.enable_interactive_logging, config.disable_interactive_logging,
         config.is_interactive_logging_enabled, True),
    ]:
        assert get() == default
        off()
        assert get() is False
        on()
        assert get() is True
    config.disable_flash_attention()
    kerasish.backend.clear_session(free_memory=False)
    assert config.is_nnx_enabled() is True


def test_progbar_logs_when_interactive_logging_is_off(capsys, caplog):
    bar = kerasish.utils.Progbar(4, verbose=1, interval=0)
    bar.update(2, values=[("loss", 1.0)])
    bar.update(4, values=[("loss", 3.0), ("acc", 0.5)])
    out = capsys.readouterr().out
    assert "4/4" in out and "loss: 2.0000" in out  # averaged over steps, as Keras's Progbar
    config.disable_interactive_logging()
    try:
        with caplog.at_level("INFO", logger="kerasish"):
            bar = kerasish.utils.Progbar(2, verbose=2, stateful_metrics=["acc"])
            bar.add(1, values=[("acc", 0.1)])
            bar.add(1, values=[("acc", 0.9)])
        assert capsys.readouterr().out == "" and "acc: 0.9000" in caplog.text
    finally:
        config.enable_interactive_logging()
    with pytest.raises(ConfigError):
        kerasish.utils.Progbar(2, stateful_metrics=["a"], stateless_metrics=["b"])


# -- keras.saving ---------------------------------------------------------------------------------------
def _pairs():
    kd, od = keras.layers.Dense(3), layers.Dense(3)
    kd(keras.Input((2,)))
    od(kerasish.Input((2,)))
    kseq = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    oseq = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1)])
    return [
        (kd, od), (keras.optimizers.Adam(), kerasish.optimizers.Adam()),
        (keras.losses.MeanSquaredError(), kerasish.losses.MeanSquaredError()),
        (keras.activations.relu, kerasish.activations.relu),
        (keras.initializers.GlorotUniform(), kerasish.initializers.GlorotUniform()),
        (keras.regularizers.L2(0.1), kerasish.regularizers.L2(0.1)),
        (keras.constraints.MaxNorm(2), kerasish.constraints.MaxNorm(2)),
        (keras.metrics.AUC(), kerasish.metrics.AUC()),
        (keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9),
         kerasish.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)),
        (kseq, oseq),
        (keras.mixed_precision.DTypePolicy("float32"), kerasish.mixed_precision.DTypePolicy("float32")),
    ]


def test_serialize_keras_object_has_keras_shape_and_round_trips():
    for k_obj, ours in _pairs():
        theirs = keras.saving.serialize_keras_object(k_obj)
        mine = kerasish.saving.serialize_keras_object(ours)
        keys = set(theirs) - {"compile_config"}  # Keras adds an empty one to uncompiled models
        assert set(mine) == keys, (type(ours).__name__, mine, theirs)
        for key in ("module", "class_name", "registered_name", "build_config"):
            assert mine.get(key) == theirs.get(key), (type(ours).__name__, key, mine.get(key), theirs.get(key))
        json.dumps(mine)
        back = kerasish.saving.deserialize_keras_object(json.loads(json.dumps(mine)))
        assert type(back) is type(ours) or back is ours
    tagged = [np.array([1.0, 2.0]), np.float32(3), b"ab", slice(1, None, 2), (1, [2]), {"k": None}]
    for value in tagged:
        assert repr(kerasish.utils.serialize_keras_object(value)) == repr(keras.utils.serialize_keras_object(value))
        back = kerasish.utils.deserialize_keras_object(kerasish.utils.serialize_keras_object(value))
        assert repr(back) == repr(keras.utils.deserialize_keras_object(keras.utils.serialize_keras_object(value)))
    assert kerasish.saving.deserialize_keras_object("relu") == "relu"


def test_serialize_refuses_code_and_resolves_custom_objects():
    with pytest.raises(ConfigError, match="lambda"):
        kerasish.saving.serialize_keras_object(lambda x: x)
    with pytest.raises(ConfigError, match="lambda"):
        kerasish.saving.deserialize_keras_object({"class_name": "__lambda__", "config": {"value": "x"}},
                                                 safe_mode=False)
    with pytest.raises(ConfigError, match="Could not locate"):
        kerasish.saving.deserialize_keras_object({"class_name": "Nope", "config": {}, "module": "my.mod"})

    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    def twice(x):
        return 2 * x

    entry = kerasish.saving.serialize_keras_object(Scale(3.0))
    assert entry["registered_name"] == "Scale" and entry["class_name"] == "Scale"
    with pytest.raises(ConfigError):
        kerasish.saving.deserialize_keras_object(entry)
    with kerasish.saving.custom_object_scope({"Scale": Scale, "twice": twice}):
        assert kerasish.saving.deserialize_keras_object(entry).factor == 3.0
        fn = kerasish.saving.deserialize_keras_object(kerasish.saving.serialize_keras_object(twice))
        assert fn is twice
        assert kerasish.saving.get_registered_object("twice") is twice
    assert kerasish.saving.get_registered_object("twice") is None
    assert kerasish.saving.deserialize_keras_object(entry, custom_objects={"Scale": Scale}).factor == 3.0
    objects = kerasish.saving.get_custom_objects()
    objects["TestScaleByHand"] = Scale
    try:
        assert kerasish.utils.get_registered_object("TestScaleByHand") is Scale
    finally:
        del objects["TestScaleByHand"]


def test_saving_functions_and_custom_object_scope_in_load_model(tmp_path):
    class Twice(layers.Layer):
        def call(self, x):
            return 2 * x

    model = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(2), Twice(name="twice")])
    path = tmp_path / "m.kerasish"
    kerasish.saving.save_model(model, path)
    with pytest.raises(ConfigError, match="zipped"):
        kerasish.saving.save_model(model, tmp_path / "z.kerasish", zipped=False)
    with pytest.raises(ConfigError, match="m.txt"):
        kerasish.models.save_model(model, tmp_path / "m.txt")
    kerasish.models.save_model(model, tmp_path / "m.keras")  # Keras's own format
    with kerasish.saving.CustomObjectScope({"Twice": Twice}):
        assert isinstance(kerasish.models.load_model(tmp_path / "m.keras").get_layer("twice"), Twice)
    with kerasish.saving.CustomObjectScope({"Twice": Twice}):
        loaded = kerasish.saving.load_model(path)
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    weights = tmp_path / "w.weights.safetensors"
    kerasish.saving.save_weights(model, weights)
    fresh = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(2), Twice(name="twice")])
    kerasish.saving.load_weights(fresh, weights)
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ConfigError, match="max_shard_size"):
        kerasish.saving.save_weights(model, weights, max_shard_size=1)


# -- keras.models.clone_model ---------------------------------------------------------------------------
def test_clone_sequential_new_weights_same_config():
    model = kerasish.Sequential([kerasish.Input((4,), name="inp"), layers.Dense(3, activation="relu"),
                                 layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    clone = kerasish.models.clone_model(model)
    assert clone is not model and clone.compiled and clone.optimizer is not model.optimizer
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert clone.get_config()["layers"] == model.get_config()["layers"]
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])
    seen = []
    shared = kerasish.models.clone_model(model, clone_function=lambda l: seen.append(l.name) or l,
                                         input_tensors=kerasish.Input((4,)))
    assert seen == [l.name for l in model.layers] and shared.layers[0] is model.layers[0]
    with pytest.raises(ConfigError, match="call_function"):
        kerasish.models.clone_model(model, call_function=lambda layer, *a, **k: layer(*a, **k))


def test_clone_functional_matches_keras_structure():
    def build(lib, L):
        a, b = lib.Input((4,), name="a"), lib.Input((2,), name="b")
        shared = L.Dense(2, name="shared")
        h = L.Concatenate(name="cat")([shared(L.Dense(2, name="d")(a)), b])
        return lib.Model({"a": a, "b": b}, shared(L.Dense(2, name="out")(h)))

    ours, theirs = build(kerasish, layers), build(keras, keras.layers)
    x = {"a": np.ones((2, 4), "float32"), "b": np.ones((2, 2), "float32")}
    calls = []

    def call_function(layer, *args, **kwargs):
        calls.append(layer.name)
        return layer(*args, **kwargs)

    clone = kerasish.models.clone_model(ours, call_function=call_function)
    kclone = keras.models.clone_model(theirs, call_function=lambda layer, *a, **k: layer(*a, **k))
    assert sorted(calls) == sorted(["d", "shared", "cat", "out", "shared"])
    assert len(clone.weights) == len(kclone.weights) == len(ours.weights)
    assert [w.shape for w in clone.weights] == [tuple(w.shape) for w in kclone.weights]
    clone.set_weights(ours.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), ours.predict(x, verbose=0), rtol=1e-6)
    new_inputs = {"a": kerasish.Input((4,)), "b": kerasish.Input((2,))}
    assert kerasish.models.clone_model(ours, input_tensors=new_inputs).inputs[0] is new_inputs["a"]
    with pytest.raises(ConfigError, match="input_tensors"):
        kerasish.models.clone_model(ours, input_tensors=[kerasish.Input((4,)), kerasish.Input((2,)),
                                                         kerasish.Input((1,))])


def test_clone_subclassed_model_from_config():
    class Tiny(kerasish.Model):
        def __init__(self, units=2, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = layers.Dense(units)

        def call(self, x):
            return self.dense(x)

        def get_config(self):
            return {"units": self.units}

    model = Tiny(3)
    model(np.ones((1, 4), "float32"))
    clone = kerasish.models.clone_model(model)
    assert isinstance(clone, Tiny) and clone.units == 3
    with pytest.raises(ConfigError, match="Sequential and functional"):
        kerasish.models.clone_model(model, clone_function=lambda l: l)


# -- small keras.utils names ----------------------------------------------------------------------------
def test_utils_config_normalize_source_inputs():
    ours, theirs = kerasish.utils.Config(a=1, b=2), keras.utils.Config(a=1, b=2)
    ours.c, theirs.c = 3, 3
    assert ours.as_dict() == theirs.as_dict() and list(ours) == list(theirs) and ours.to_json() == theirs.to_json()
    ours.freeze()
    assert ours.frozen
    with pytest.raises(ConfigError, match="frozen"):
        ours.d = 4
    ours.unfreeze()
    ours["depth"] = 4
    assert ours.depth == 4 and len(ours) == 4 and "depth" in ours
    with pytest.raises(AttributeError, match="Did you mean 'depth'"):
        _ = ours.deptj

    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    for axis, order in [(-1, 2), (1, 1), (1, np.inf)]:
        np.testing.assert_allclose(kerasish.utils.normalize(x, axis, order), keras.utils.normalize(x, axis, order))
    # axis=0: Keras 3.15's NumPy path treats 0 as -1 ("axis or -1"); kerasish normalizes along axis 0
    np.testing.assert_allclose(kerasish.utils.normalize(x, 0, 1), x / np.array([[3.0, 4.0]]))
    np.testing.assert_allclose(kerasish.utils.normalize(x.astype("float32").tolist()),
                               keras.utils.normalize(x.astype("float32")), rtol=1e-6)

    a, b = kerasish.Input((2,), name="a"), kerasish.Input((2,), name="b")
    out = layers.Dense(1)(layers.Add()([layers.Dense(2)(a), b]))
    assert kerasish.utils.get_source_inputs(out) == [a, b]
    assert kerasish.utils.get_source_inputs(a) == [a]


def test_plot_model_needs_pydot():
    pytest.importorskip("PIL")
    try:
        import pydot  # noqa: F401
    except ImportError:
        model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1)])
        with pytest.raises(ConfigError, match="pydot"):
            kerasish.utils.plot_model(model)
        with pytest.raises(ConfigError, match="pydot"):
            kerasish.utils.model_to_dot(model)


def test_enable_unsafe_deserialization_lifts_safe_mode():
    from kerasish.saving import registry

    with registry.safe_mode_scope(True):
        assert registry.in_safe_mode()
        with warnings.catch_warnings():
            config.enable_unsafe_deserialization()
        assert not registry.in_safe_mode()
    kerasish.backend.clear_session(free_memory=False)
    with registry.safe_mode_scope(True):
        assert registry.in_safe_mode()
