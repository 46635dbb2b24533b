"""``Optimizer.exclude_from_weight_decay`` against Keras 3 (the oracle: its optimizers on the same weights, names
and gradients), through ``apply`` and through ``fit``."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import kerasish  # noqa: E402
from kerasish import optimizers  # noqa: E402
from kerasish.backend import Variable  # noqa: E402
from kerasish.errors import ConfigError  # noqa: E402

NAMES = ["kernel", "bias", "gamma", "embeddings"]
SHAPES = [(4, 3), (3,), (3,), (5, 4)]


def _weights_and_grads(steps=4, seed=0):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(steps)]
    return weights, grads


def _run(variable, opt, exclude, weights, grads):
    variables = [variable(w, name=n) for w, n in zip(weights, NAMES)]
    if exclude is not None:
        var_list = [variables[i] for i in exclude.get("var_list", [])]
        opt.exclude_from_weight_decay(var_list=var_list or None, var_names=exclude.get("var_names"))
    for step in grads:
        opt.apply([jnp.asarray(g) for g in step], variables)
    return [np.asarray(v.value) for v in variables]


CASES = [
    ("AdamW", {"weight_decay": 0.3, "learning_rate": 0.05}),
    ("SGD", {"weight_decay": 0.3, "learning_rate": 0.1, "momentum": 0.9}),
    ("Lion", {"weight_decay": 0.3, "learning_rate": 0.01}),
    ("Lamb", {"weight_decay": 0.3, "learning_rate": 0.05}),  # its rule reads the (decayed) weights
    ("Muon", {"weight_decay": 0.3, "adam_weight_decay": 0.2, "learning_rate": 0.05}),
]
EXCLUSIONS = [
    {"var_names": ["bias", "gam+a"]},       # regular expressions searched in the names, as Keras does
    {"var_list": [0]},                      # a variable itself
    {"var_names": ["emb"], "var_list": [1]},
    {},                                     # nothing excluded: every weight decays
]


@pytest.mark.parametrize("exclude", EXCLUSIONS, ids=lambda e: "-".join(f"{k}={v}" for k, v in e.items()) or "none")
@pytest.mark.parametrize("name, kwargs", CASES, ids=[c[0] for c in CASES])
def test_excluded_weights_do_not_decay_as_in_keras(name, kwargs, exclude):
    weights, grads = _weights_and_grads()
    expected = _run(keras.Variable, getattr(keras.optimizers, name)(**kwargs), exclude, weights, grads)
    got = _run(Variable, getattr(optimizers, name)(**kwargs), exclude, weights, grads)
    for n, e, g in zip(NAMES, expected, got):
        np.testing.assert_allclose(g, e, rtol=2e-5, atol=2e-6, err_msg=n)
    if exclude:  # the exclusion changed something (the oracle is not blind to it)
        plain = _run(Variable, getattr(optimizers, name)(**kwargs), None, weights, grads)
        assert any(not np.allclose(a, b) for a, b in zip(got, plain))


def test_fit_honours_the_exclusion_as_keras_does():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 3)).astype("float32")
    results = []
    for lib in (keras, kerasish):
        lib.utils.set_random_seed(0)
        model = lib.Sequential([lib.layers.Input((4,)), lib.layers.Dense(3)])
        model.set_weights([np.full((4, 3), 0.5, "float32"), np.full((3,), 2.0, "float32")])
        opt = lib.optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
        opt.exclude_from_weight_decay(var_names=["bias"])
        model.compile(opt, "mse")
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
    for e, g in zip(*results):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_it_is_refused_once_built_and_with_bad_names():
    opt = optimizers.AdamW()
    with pytest.raises(ConfigError, match="regular expressions"):
        opt.exclude_from_weight_decay(var_names=["bias("])
    with pytest.raises(ConfigError, match="strings"):
        opt.exclude_from_weight_decay(var_names=[3])
    opt.build([Variable(np.zeros(3, "float32"), name="bias")])
    with pytest.raises(ConfigError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["bias"])
