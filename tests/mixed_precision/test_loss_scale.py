"""Dynamic loss scaling (Keras 3's LossScaleOptimizer): the optax transformation against Keras's own
optimizer, the train step under mixed_float16 against NumPy, compile's wrapping, learning rates, configs."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import kerasish
from kerasish import layers, optimizers
from kerasish.errors import ConfigError
from kerasish.mixed_precision import set_global_policy
from kerasish.optimizers import LossScaleOptimizer

F16_MAX = 65504.0



def _optax_state(model):
    """The optimizer's state as optax sees it, from the optimizer's variables (live mid-fit)."""
    opt = model.optimizer
    return jax.tree.unflatten(opt.state_structure(), [v.value for v in opt.variables])

def adam_state(opt_state) -> optax.ScaleByAdamState:
    found = [n for n in jax.tree.leaves(opt_state, is_leaf=lambda n: isinstance(n, optax.ScaleByAdamState))
             if isinstance(n, optax.ScaleByAdamState)]
    assert len(found) == 1
    return found[0]


def test_transformation_matches_keras_step_by_step():
    """Finite, overflowing, then finite steps: weights, scale, good-step counter and Adam's state as Keras's."""
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.1), initial_scale=8.0, dynamic_growth_steps=2)
    var = keras.Variable(np.array([1.0, 2.0], np.float32))
    theirs.build([var])
    their_opt, their_params = [v.value for v in theirs.variables], [var.value]
    names = [v.path.split("/")[-1] for v in theirs.variables]

    tx = LossScaleOptimizer(optimizers.Adam(0.1), initial_scale=8.0, dynamic_growth_steps=2).to_optax()
    params = [jnp.array([1.0, 2.0])]
    state = tx.init(params)
    update = jax.jit(tx.update)
    for g in ([0.5, -1.0], [np.inf, 1.0], [0.2, 0.3], [1.0, 1.0], [0.1, -0.1], [np.nan, 0.0]):
        scale = float(LossScaleOptimizer.scale_of(state))
        scaled = np.asarray(g, np.float32) * scale
        with np.errstate(invalid="ignore"):
            their_params, their_opt = theirs.stateless_apply(their_opt, [scaled], their_params)
        updates, state = update([jnp.asarray(scaled)], state, params)
        params = optax.apply_updates(params, updates)
        keras_state = dict(zip(names, their_opt))  # the optimizer's own variables, then Adam's
        np.testing.assert_allclose(params[0], their_params[0], rtol=1e-6)
        assert float(state.scale) == float(keras_state["dynamic_scale"])
        assert int(state.good_steps) == int(keras_state["step_counter"])
        adam = adam_state(state)
        assert int(adam.count) == int(their_opt[names.index("iteration", 4)])
        np.testing.assert_allclose(adam.mu[0], their_opt[-2], rtol=1e-6)
        np.testing.assert_allclose(adam.nu[0], their_opt[-1], rtol=1e-6)


def test_growth_and_skips_in_numbers():
    tx = LossScaleOptimizer(optimizers.SGD(0.1), initial_scale=8.0, dynamic_growth_steps=3).to_optax()
    params = {"w": jnp.array([1.0, 2.0])}
    state = tx.init(params)
    g = np.array([0.5, -1.0], np.float32)
    seen = []
    for finite in (True, True, True, True, False, True):
        scaled = g * float(state.scale) if finite else np.array([np.inf, 0.0], np.float32)
        updates, state = tx.update({"w": jnp.asarray(scaled)}, state, params)
        np.testing.assert_allclose(updates["w"], -0.1 * g if finite else np.zeros(2), rtol=1e-6)
        seen.append((float(state.scale), int(state.good_steps)))
    assert seen == [(8.0, 1), (8.0, 2), (16.0, 0), (16.0, 1), (8.0, 0), (8.0, 1)]


def overflow_model():
    set_global_policy("mixed_float16")
    model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizers.Adam(0.01), "mse")
    return model


def test_mixed_float16_compile_wraps_the_optimizer():
    model = overflow_model()
    assert isinstance(model.optimizer, LossScaleOptimizer)
    assert model.optimizer.name == "loss_scale_optimizer"
    assert isinstance(model.optimizer.inner_optimizer, optimizers.Adam)
    given = LossScaleOptimizer(optimizers.SGD(), initial_scale=4.0)
    model.compile(given, "mse")
    assert model.optimizer is given  # not wrapped twice
    model.compile("sgd", "mse", auto_scale_loss=False)
    assert isinstance(model.optimizer, optimizers.SGD)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "float16"])
def test_other_policies_are_not_wrapped(policy):
    set_global_policy(policy)
    model = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(1)])
    model.compile("adam", "mse")
    assert isinstance(model.optimizer, optimizers.Adam)
    assert model.optimizer.scale_loss(2.0) == 2.0  # no scaling: the loss itself, no operation


def test_an_overflowing_step_is_skipped_and_halves_the_scale():
    model = overflow_model()
    x, y = np.ones((4, 2), np.float32), np.full((4, 1), 10.0, np.float32)
    # d(mse)/d(prediction) = 2 * (0 - 10) / 4 = -5 per row; times the scale 2**15 it is far beyond float16
    assert 5 * 2.0**15 > F16_MAX
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(100.0)  # the unscaled loss: mean((0 - 10)**2)
    np.testing.assert_array_equal(model.get_weights()[0], np.zeros((2, 1), np.float32))
    np.testing.assert_array_equal(model.get_weights()[1], np.zeros((1,), np.float32))
    state = _optax_state(model)
    assert float(LossScaleOptimizer.scale_of(state)) == 2.0**14
    assert int(state.good_steps) == 0
    fresh = model.optimizer.to_optax().init([v.value for v in model.trainable_weights])
    for got, want in zip(jax.tree.leaves(state.inner_state), jax.tree.leaves(fresh.inner_state)):
        np.testing.assert_array_equal(got, want)  # Adam's count and moments as before the step


def test_a_normal_step_matches_numpy_where_float16_gradients_would_underflow(rng):
    """Gradients of ~1e-7 are float16 subnormals (steps of 6e-8): without the scale they come out wrong."""
    set_global_policy("mixed_float16")
    model = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(1)])
    weight = 1e-7
    lr = 1e4
    model.compile(optimizers.SGD(lr), "mse", loss_weights=[weight])
    assert isinstance(model.optimizer, LossScaleOptimizer)
    kernel, bias = (0.5 * rng.normal(size=(3, 1))).astype(np.float32), np.array([0.1], np.float32)
    model.set_weights([kernel, bias])
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    logs = model.train_on_batch(x, y, return_dict=True)

    def f16(a):
        return np.asarray(np.asarray(a, np.float32).astype(np.float16), np.float64)

    pred = f16(f16(x) @ f16(kernel) + f16(bias))  # the float16 layer's output
    assert logs["loss"] == pytest.approx(weight * np.mean((pred - y) ** 2), rel=1e-3)
    d_pred = weight * 2 * (pred - y) / len(x)
    assert np.abs(d_pred).max() < 1e-6  # tiny: float16 holds it only as a coarse subnormal
    want_kernel = kernel - lr * (f16(x).T @ d_pred)
    want_bias = bias - lr * d_pred.sum(axis=0)
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel - kernel, want_kernel - kernel, rtol=1e-2)
    np.testing.assert_allclose(new_bias - bias, want_bias - bias, rtol=1e-2)
    assert float(LossScaleOptimizer.scale_of(_optax_state(model))) == 2.0**15


def test_the_scale_doubles_after_dynamic_growth_steps_good_steps(rng):
    set_global_policy("mixed_float16")
    model = kerasish.Sequential([kerasish.Input((3,)), layers.Dense(2)])
    model.compile(LossScaleOptimizer(optimizers.SGD(1e-3), initial_scale=4.0, dynamic_growth_steps=2), "mse")
    x, y = rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
    seen = []
    for _ in range(4):
        model.train_on_batch(x, y)
        state = _optax_state(model)
        seen.append((float(LossScaleOptimizer.scale_of(state)), int(state.good_steps)))
    assert seen == [(4.0, 1), (8.0, 0), (8.0, 1), (16.0, 0)]


def test_fit_with_gradient_accumulation_scales_too():
    model = overflow_model()
    model.compile(optimizers.Adam(0.01), "mse", gradient_accumulation_steps=2)
    model.fit(np.ones((4, 2), np.float32), np.full((4, 1), 10.0, np.float32), batch_size=4, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], np.zeros((2, 1), np.float32))  # skipped
    assert float(LossScaleOptimizer.scale_of(_optax_state(model))) == 2.0**14


def test_learning_rate_reads_and_sets_through_the_wrapper():
    model = overflow_model()
    opt = model.optimizer
    assert opt.learning_rate == pytest.approx(0.01)
    opt.learning_rate = 0.02  # before any state: rebuilds
    assert opt.inner_optimizer.learning_rate == pytest.approx(0.02)
    callback = kerasish.callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 / (epoch + 1))
    x, y = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32), np.zeros((8, 1), np.float32)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    scheduled = history.history["learning_rate"]
    np.testing.assert_allclose(scheduled, [0.05, 0.025, 0.05 / 3], rtol=1e-6)
    state = _optax_state(model)
    assert float(optimizers.get_learning_rate(state)) == pytest.approx(0.05 / 3)
    state = optimizers.set_learning_rate(state, 0.125)
    assert float(optimizers.get_learning_rate(state)) == 0.125
    assert isinstance(state, optimizers.LossScaleState)


def test_config_round_trips_and_reads_keras_configs():
    opt = LossScaleOptimizer(optimizers.Adam(0.003, beta_1=0.8), initial_scale=64.0, dynamic_growth_steps=10,
                             name="lso")
    config = opt.get_config()
    assert set(config) == {"name", "inner_optimizer", "initial_scale", "dynamic_growth_steps"}
    for again in (LossScaleOptimizer.from_config(config), optimizers.deserialize(optimizers.serialize(opt)),
                  optimizers.get(optimizers.serialize(opt))):
        assert isinstance(again, LossScaleOptimizer) and again.get_config() == config
    keras_config = keras.optimizers.serialize(keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(0.003, beta_1=0.8), initial_scale=64.0, dynamic_growth_steps=10))
    from_keras = optimizers.deserialize(keras_config)
    assert isinstance(from_keras.inner_optimizer, optimizers.Adam)
    assert (from_keras.initial_scale, from_keras.dynamic_growth_steps) == (64.0, 10)
    assert from_keras.inner_optimizer.beta_1 == 0.8 and from_keras.learning_rate == pytest.approx(0.003)


@pytest.mark.parametrize("kwargs, match", [
    ({"initial_scale": 0.0}, "initial_scale"),
    ({"initial_scale": float("inf")}, "initial_scale"),
    ({"dynamic_growth_steps": 0}, "dynamic_growth_steps"),
    ({"dynamic_growth_steps": 1.5}, "dynamic_growth_steps"),
    ({"clipnorm": 1.0}, "clipnorm"),
    ({"dynamic": False}, "dynamic"),
    ({"momentum": 0.9}, "momentum"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        LossScaleOptimizer(optimizers.SGD(), **kwargs)


def test_wrapping_twice_and_bad_names_are_errors():
    with pytest.raises(ConfigError, match="already a LossScaleOptimizer"):
        LossScaleOptimizer(LossScaleOptimizer(optimizers.SGD()))
    with pytest.raises(ConfigError, match="Unknown optimizer"):
        LossScaleOptimizer("not_an_optimizer")
    with pytest.raises(ConfigError, match="holds no loss scale"):
        LossScaleOptimizer.scale_of(optimizers.SGD().to_optax().init([jnp.ones(2)]))
