"""Keras 3 names in kerasish.initializers, .activations, .optimizers and .distribution, against Keras (the oracle)."""

import inspect

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import kerasish
from kerasish import activations, distribution, initializers, optimizers
from kerasish.backend import Variable
from kerasish.errors import ConfigError

# --------------------------------------------------------------------------- initializers

LOWER = ["constant", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity", "lecun_normal",
         "lecun_uniform", "ones", "orthogonal", "random_normal", "random_uniform", "stft", "truncated_normal",
         "variance_scaling", "zeros", "IdentityInitializer", "OrthogonalInitializer", "STFTInitializer"]


@pytest.mark.parametrize("name", LOWER)
def test_initializer_aliases_are_the_classes_keras_aliases(name):
    assert getattr(initializers, name).__name__ == getattr(keras.initializers, name).__name__


def test_lowercase_alias_constructs_and_is_usable_in_a_layer():
    init = initializers.glorot_uniform(seed=1)
    assert isinstance(init, initializers.GlorotUniform) and init.seed == 1
    layer = kerasish.layers.Dense(4, kernel_initializer=initializers.he_normal(seed=2))
    layer.build((None, 3))
    assert layer.kernel.shape == (3, 4)


def test_keras_style_standalone_call_is_seeded_and_repeatable():
    init = initializers.RandomUniform(-0.5, 0.5, seed=3)
    a, b = init(shape=(4, 5)), init((4, 5), "float32")
    np.testing.assert_array_equal(a, b)  # an int seed: the same values every call, as Keras
    assert a.shape == (4, 5) and a.dtype == jnp.float32 and float(jnp.max(jnp.abs(a))) <= 0.5
    unseeded = initializers.RandomNormal()
    assert not np.array_equal(unseeded(shape=(8,)), unseeded(shape=(8,)))


@pytest.mark.parametrize("kwargs", [{}, {"side": "imag", "window": "hamming", "scaling": "spectrum"},
                                    {"window": None, "scaling": None, "periodic": True},
                                    {"window": np.linspace(0.1, 1.0, 16).tolist()}])
def test_stft_matches_keras(kwargs):
    shape = (16, 1, 9)
    expected = np.asarray(keras.initializers.STFT(**kwargs)(shape))
    got = np.asarray(initializers.stft(**kwargs)(shape))
    # Keras takes the cosines of float32 angles (errors ~2e-6); kerasish computes in float64, then casts
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=5e-6)
    np.testing.assert_allclose(initializers.STFTInitializer(**kwargs)(jax.random.PRNGKey(0), shape), expected,
                               rtol=1e-5, atol=5e-6)


def test_stft_argument_checks():
    with pytest.raises(ConfigError, match="side"):
        initializers.STFT(side="both")
    with pytest.raises(ConfigError, match="scaling"):
        initializers.STFT(scaling="l2")
    with pytest.raises(ConfigError, match="window"):
        initializers.STFT(window="no_such_window")


@pytest.mark.parametrize("name, args", [("identity", {"gain": 2.0}), ("constant", {"value": 0.5}), ("ones", {}),
                                        ("zeros", {})])
def test_constant_initializers_match_keras(name, args):
    np.testing.assert_array_equal(getattr(initializers, name)(**args)(shape=(3, 4)),
                                  getattr(keras.initializers, name)(**args)(shape=(3, 4)))


def test_orthogonal_alias_gives_orthogonal_columns():
    w = np.asarray(initializers.OrthogonalInitializer(gain=1.0, seed=0)(shape=(6, 3)))
    np.testing.assert_allclose(w.T @ w, np.eye(3), atol=1e-5)


@pytest.mark.parametrize("init", [keras.initializers.HeNormal(seed=3), keras.initializers.VarianceScaling(
    2.0, "fan_out", "uniform", seed=1), keras.initializers.STFT(side="imag"), keras.initializers.Identity(3.0),
    keras.initializers.Constant(0.25)])
def test_deserialize_reads_keras_serialized_initializers(init):
    config = keras.initializers.serialize(init)
    ours = initializers.deserialize(config)
    assert type(ours).__name__ == type(init).__name__
    for key, value in init.get_config().items():  # (Keras's Identity leaves its gain out of its config)
        assert ours.get_config()[key] == value, key
    assert type(initializers.get(config)).__name__ == type(init).__name__


def test_deserialize_custom_objects_and_unknown_names():
    class Mine(initializers.Zeros):
        pass

    assert isinstance(initializers.deserialize({"class_name": "Mine", "config": {}}, {"Mine": Mine}), Mine)
    with pytest.raises(ConfigError, match="Nope"):
        initializers.deserialize({"class_name": "Nope", "config": {}})
    assert isinstance(initializers.get("OrthogonalInitializer"), initializers.Orthogonal)
    assert isinstance(initializers.get(initializers.HeUniform), initializers.HeUniform)
    arr = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(initializers.get(arr)(shape=(2, 3)), arr)


# --------------------------------------------------------------------------- activations

NEW_ACTIVATIONS = [("celu", {}), ("celu", {"alpha": 0.5}), ("glu", {}), ("glu", {"axis": 0}), ("hard_shrink", {}),
                   ("hard_shrink", {"threshold": 1.0}), ("hard_silu", {}), ("hard_swish", {}), ("hard_tanh", {}),
                   ("log_sigmoid", {}), ("soft_shrink", {}), ("soft_shrink", {"threshold": 0.2}),
                   ("sparse_plus", {}), ("sparse_sigmoid", {}), ("sparsemax", {}), ("sparsemax", {"axis": 0}),
                   ("squareplus", {}), ("squareplus", {"b": 1}), ("swish", {}), ("tanh_shrink", {}),
                   ("threshold", {"threshold": 0.3, "default_value": -1.0})]


@pytest.mark.parametrize("name, kwargs", [c for c in NEW_ACTIVATIONS if c[0] != "sparsemax"], ids=lambda v: str(v))
def test_activation_matches_keras(name, kwargs):
    x = np.random.default_rng(0).normal(scale=2.0, size=(4, 6)).astype(np.float32)
    expected = np.asarray(getattr(keras.activations, name)(x, **kwargs))
    np.testing.assert_allclose(np.asarray(getattr(activations, name)(x, **kwargs)), expected, rtol=1e-6, atol=1e-6)


def _sparsemax_reference(row):
    """Martins & Astudillo (2016), Algorithm 1, one vector at a time."""
    z = np.sort(row)[::-1].astype(np.float64)
    k = max(j for j in range(1, len(z) + 1) if 1 + j * z[j - 1] > z[:j].sum())
    tau = (z[:k].sum() - 1) / k
    return np.maximum(row - tau, 0)


@pytest.mark.parametrize("axis", [0])
def test_sparsemax_matches_the_paper(axis):
    # Keras 3.15's sparsemax sums running sums for tau (outputs not summing to 1): the paper is the oracle here
    x = np.random.default_rng(0).normal(scale=2.0, size=(4, 6)).astype(np.float32)
    expected = np.apply_along_axis(_sparsemax_reference, axis, x)
    got = np.asarray(activations.sparsemax(x, axis=axis))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-5)
    np.testing.assert_allclose(activations.sparsemax(np.array([1.0, 0.9, 0.0])), [0.55, 0.45, 0.0], atol=1e-6)


@pytest.mark.parametrize("name", ["swish", "hard_swish", "squareplus", "sparsemax"])
def test_activation_by_name_in_a_dense_layer_matches_keras(name):
    x = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    ref = keras.layers.Dense(4, activation=name)
    ref.build((None, 3))
    ours = kerasish.layers.Dense(4, activation=name)
    ours(x)  # built by a call (an explicit build() then a call builds again: reported separately)
    ours.set_weights([np.asarray(w) for w in ref.get_weights()])
    if name == "sparsemax":  # see test_sparsemax_matches_the_paper
        x_dense = x @ np.asarray(ref.kernel) + np.asarray(ref.bias)
        expected = np.apply_along_axis(_sparsemax_reference, -1, x_dense)
    else:
        expected = np.asarray(ref(x))
    np.testing.assert_allclose(np.asarray(ours(x)), expected, rtol=1e-5, atol=1e-6)
    assert kerasish.layers.Dense.from_config(ours.get_config()).activation is activations.get(name)


def test_glu_needs_an_even_axis():
    with pytest.raises(kerasish.errors.InputError, match="even"):
        activations.glu(np.ones((2, 3)))


@pytest.mark.parametrize("name", ["swish", "hard_swish", "sparsemax"])
def test_activation_deserialize_reads_keras(name):
    config = keras.activations.serialize(keras.activations.get(name))
    assert activations.deserialize(config) is activations.get(name)
    assert activations.get(config) is activations.get(name)
    assert activations.deserialize("mine", {"mine": abs}) is abs
    with pytest.raises(ConfigError):
        activations.deserialize("no_such_activation")


# --------------------------------------------------------------------------- optimizers

SHAPES = [(3, 4), (4,)]  # few distinct shapes: Keras's eager updates compile per shape
EXP = {"initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5}


def _problem(seed=0, steps=3):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(steps)]
    return params, grads


# Per optimizer: its defaults, and everything on at once (weight decay, a schedule or clipping, its own arguments).
OPT_CASES = [
    ("Adafactor", {}), ("Adafactor", {"weight_decay": 0.1, "schedule": EXP, "clip_threshold": 0.5,
                                      "beta_2_decay": -0.5}),
    ("Ftrl", {}), ("Ftrl", {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1,
                            "l2_shrinkage_regularization_strength": 0.1, "beta": 0.5, "weight_decay": 0.1,
                            "learning_rate_power": -0.3, "initial_accumulator_value": 0.5, "schedule": EXP}),
    ("Lamb", {}), ("Lamb", {"weight_decay": 0.1, "clipnorm": 1.0, "schedule": EXP}),
    ("ScheduleFreeAdamW", {}), ("ScheduleFreeAdamW", {"warmup_steps": 2, "weight_decay": 0.1, "schedule": EXP,
                                                      "global_clipnorm": 1.0}),
]


def _make(module, name, kwargs):
    kwargs = dict(kwargs)
    schedule = kwargs.pop("schedule", None)
    if schedule is not None:
        kwargs["learning_rate"] = module.schedules.ExponentialDecay(**schedule)
    return getattr(module, name)(**kwargs)


@pytest.mark.parametrize("name, kwargs", OPT_CASES, ids=lambda v: str(v))
def test_new_optimizer_matches_keras_over_steps(name, kwargs):
    params, grads = _problem()
    variables = [keras.Variable(p) for p in params]
    ref = _make(keras.optimizers, name, kwargs)
    for step in grads:
        ref.apply_gradients(zip([jnp.asarray(g) for g in step], variables))
    tx = _make(optimizers, name, kwargs).to_optax()
    ours = [jnp.asarray(p) for p in params]
    state = tx.init(ours)
    update = jax.jit(tx.update)
    for step in grads:
        updates, state = update([jnp.asarray(g) for g in step], state, ours)
        ours = optax.apply_updates(ours, updates)
    for got, want in zip(ours, variables):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want.value), rtol=1e-5, atol=1e-5)


MUON_SHAPES = {"dense/kernel": (3, 4), "dense_1/kernel": (3, 4), "dense/bias": (4,),
               "embedding/embeddings": (3, 4)}


@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "rms_rate": None, "weight_decay": 0.1,
                                         "adam_weight_decay": 0.05, "learning_rate": 0.01,
                                         "exclude_layers": ["dense_1"], "adam_lr_ratio": 0.1, "ns_steps": 3}],
                         ids=["defaults", "decay-exclude"])
def test_muon_matches_keras_with_variable_paths(kwargs):
    rng = np.random.default_rng(0)
    names = list(MUON_SHAPES)
    params = [rng.normal(size=MUON_SHAPES[n]).astype(np.float32) for n in names]
    grads = [[rng.normal(size=MUON_SHAPES[n]).astype(np.float32) for n in names] for _ in range(3)]
    ref_vars = []
    for name, p in zip(names, params):
        var = keras.Variable(p, name=name.split("/")[1])
        var._path = name
        ref_vars.append(var)
    ref = keras.optimizers.Muon(**kwargs)
    for step in grads:
        ref.apply_gradients(zip([jnp.asarray(g) for g in step], ref_vars))
    our_vars = []
    for name, p in zip(names, params):
        var = Variable(jnp.asarray(p), name.split("/")[1])
        var.path = name
        our_vars.append(var)
    ours = optimizers.Muon(**kwargs)
    for step in grads:
        ours.apply_gradients(zip([jnp.asarray(g) for g in step], our_vars))
    for got, want in zip(our_vars, ref_vars):
        np.testing.assert_allclose(np.asarray(got.value), np.asarray(want.value), rtol=1e-5, atol=1e-5)


def test_muon_on_a_bare_pytree_uses_its_paths():
    tx = optimizers.Muon().to_optax()
    params = {"embedding": {"embeddings": jnp.ones((4, 3))}, "dense": {"kernel": jnp.ones((3, 2))}}
    state = tx.init(params)
    is_muon = lambda x: isinstance(x, optimizers.muon.ScaleByKerasMuonState)  # noqa: E731
    velocity = next(x for x in jax.tree.leaves(state, is_leaf=is_muon) if is_muon(x)).velocity  # Adam's moments
    assert isinstance(velocity["dense"]["kernel"], optax.MaskedNode)
    assert velocity["embedding"]["embeddings"].shape == (4, 3)


def _multi(module):
    return module.MultiOptimizer(module.OptimizerMap(
        module.Adam(weight_decay=0.1), {"dense/.*": module.SGD(0.1, momentum=0.9),
                                         "embedding/embeddings": module.Lamb(weight_decay=0.1)}))


def test_multi_optimizer_matches_keras():
    rng = np.random.default_rng(0)
    shapes = {"dense/kernel": (3, 5), "dense/bias": (5,), "embedding/embeddings": (4, 3), "out/kernel": (5, 2)}
    names = list(shapes)
    params = [rng.normal(size=shapes[n]).astype(np.float32) for n in names]
    grads = [[rng.normal(size=shapes[n]).astype(np.float32) for n in names] for _ in range(3)]
    ref_vars, our_vars = [], []
    for name, p in zip(names, params):
        ref_vars.append(keras.Variable(p))
        ref_vars[-1]._path = name
        our_vars.append(Variable(jnp.asarray(p), name.split("/")[1]))
        our_vars[-1].path = name
    ref, ours = _multi(keras.optimizers), _multi(optimizers)
    for step in grads:
        ref.apply_gradients(zip([jnp.asarray(g) for g in step], ref_vars))
        ours.apply_gradients(zip([jnp.asarray(g) for g in step], our_vars))
    for got, want in zip(our_vars, ref_vars):
        np.testing.assert_allclose(np.asarray(got.value), np.asarray(want.value), rtol=1e-5, atol=1e-6)
    assert int(ours.iterations.value) == int(ref.iterations.value) == 3
    with pytest.raises(AttributeError):
        ours.learning_rate  # noqa: B018 - as Keras: the inner optimizers have the rates
    # the inner optimizers' rates live in the shared state
    ours.optimizers[0].learning_rate = 0.5
    assert float(ours.optimizers[0].learning_rate) == 0.5


def test_multi_optimizer_serializes_and_trains_in_fit():
    config = optimizers.serialize(_multi(optimizers))
    again = optimizers.deserialize(config)
    assert [type(o).__name__ for o in again.optimizers] == ["SGD", "Lamb", "Adam"]
    assert again.optimizer_map["dense/kernel"].momentum == 0.9
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input((4,)), kerasish.layers.Dense(3, name="d1"),
                                 kerasish.layers.Dense(1, name="d2")])
    model.compile(optimizer=optimizers.MultiOptimizer(optimizers.OptimizerMap(
        optimizers.Adam(), {"d1/.*": optimizers.SGD(0.0)})), loss="mse")
    before = [np.asarray(w) for w in model.get_weights()]
    model.fit(np.ones((8, 4), np.float32), np.ones((8, 1), np.float32), epochs=1, verbose=0)
    after = model.get_weights()
    assert [np.allclose(a, b) for a, b in zip(before, after)] == [True, True, False, False]


def test_optimizer_map_lookup_and_checks():
    sgd, adam = optimizers.SGD(), optimizers.Adam()
    mapping = optimizers.OptimizerMap(adam, {"dense.*": sgd, "dense/kernel": optimizers.Lion()})
    assert isinstance(mapping["dense/kernel"], optimizers.Lion)  # an exact key wins
    assert mapping["other/kernel"] is adam
    with pytest.raises(ConfigError, match="several"):
        optimizers.OptimizerMap(adam, {"d.*": sgd, "de.*": sgd})["dense/bias"]
    with pytest.raises(ConfigError, match="already"):
        mapping["dense.*"] = sgd
    with pytest.raises(ConfigError, match="LossScaleOptimizer"):
        mapping["x"] = optimizers.LossScaleOptimizer(optimizers.SGD())
    with pytest.raises(ConfigError):
        optimizers.OptimizerMap("adam")


@pytest.mark.parametrize("name", ["Adafactor", "Ftrl", "Lamb", "Muon", "ScheduleFreeAdamW"])
def test_new_optimizer_signature_defaults_and_config_match_keras(name):
    keras_params = inspect.signature(getattr(keras.optimizers, name).__init__).parameters
    ours = inspect.signature(getattr(optimizers, name).__init__).parameters
    for arg, p in ours.items():
        if arg in ("self", "kwargs"):
            continue
        assert keras_params[arg].default == p.default, arg
    ref_config = getattr(keras.optimizers, name)().get_config()
    config = getattr(optimizers, name)().get_config()
    for key, value in config.items():
        if key != "name":  # Keras numbers its names (lamb_4)
            assert ref_config[key] == pytest.approx(value), key
    again = optimizers.deserialize(optimizers.serialize(getattr(optimizers, name)(learning_rate=0.5)))
    assert type(again).__name__ == name and again.get_config()["learning_rate"] == 0.5
    assert type(optimizers.get(name.lower())).__name__ == name


def test_ftrl_argument_checks():
    with pytest.raises(ConfigError, match="learning_rate_power"):
        optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ConfigError, match="l1_regularization_strength"):
        optimizers.Ftrl(l1_regularization_strength=-1.0)


# --------------------------------------------------------------------------- distribution

def test_get_device_count_matches_keras():
    assert distribution.get_device_count() == keras.distribution.get_device_count()
    assert distribution.get_device_count("cpu") == keras.distribution.get_device_count("cpu")


def test_tensor_layout_and_distribute_tensor():
    mesh = distribution.DeviceMesh((1,), ["batch"], devices=distribution.list_devices()[:1])
    layout = distribution.TensorLayout(("batch", None))
    with pytest.raises(ConfigError, match="device_mesh"):
        layout.backend_layout  # noqa: B018
    layout.device_mesh = mesh
    with pytest.raises(ConfigError, match="already"):
        layout.device_mesh = mesh
    with pytest.raises(ConfigError, match="model"):
        distribution.TensorLayout(("model",), mesh)
    assert layout.backend_layout.spec == jax.sharding.PartitionSpec("batch", None)
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    placed = distribution.distribute_tensor(x, layout)
    assert placed.sharding.is_equivalent_to(layout.backend_layout, 2)
    np.testing.assert_array_equal(placed, x)
    np.testing.assert_array_equal(jax.jit(lambda a: distribution.distribute_tensor(a * 2, layout))(x), 2 * x)
    layout_map = distribution.LayoutMap(mesh)
    layout_map["dense/kernel"] = distribution.TensorLayout((None, "batch"))
    assert layout_map["dense/kernel"] == (None, "batch")
