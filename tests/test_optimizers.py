"""kerasish.optimizers and .schedules against Keras 3 (JAX backend) as the oracle.

Parity is multi-step: the same 5 fixed gradients go through Keras's
``apply_gradients`` and through ``tx.update`` of the built optax chain. One
variable gets gradients of size 1e-6, so that epsilon placement shows.
"""

import os

os.environ["KERAS_BACKEND"] = "jax"

import inspect  # noqa: E402
import re  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

from kerasish import optimizers  # noqa: E402
from kerasish.errors import ConfigError  # noqa: E402
from kerasish.optimizers import schedules  # noqa: E402

TOL = {"rtol": 1e-5, "atol": 1e-6}
STEPS = 5
SHAPES = [(3, 4), (5,), (2, 3, 2)]
GRAD_SCALES = [1.0, 3.0, 1e-6]
NAMES = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Nadam", "Adamax", "Lion"]
KERAS_ONLY = {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor", "gradient_accumulation_steps"}


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [
        [(rng.normal(size=s) * scale).astype(np.float32) for s, scale in zip(SHAPES, GRAD_SCALES)] for _ in range(STEPS)
    ]
    return params, grads


# Schedules as (class name, kwargs): built in both libraries from the same args.
EXP = ("ExponentialDecay", {"initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5})
INV = ("InverseTimeDecay", {"initial_learning_rate": 0.05, "decay_steps": 1, "decay_rate": 0.5})
COS = ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 4, "warmup_target": 0.1, "warmup_steps": 2})
POLY = ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "power": 0.5})
PIECE = ("PiecewiseConstantDecay", {"boundaries": [1, 3], "values": [0.1, 0.05, 0.01]})

# (optimizer, kwargs, schedule or None)
CASES = [
    ("SGD", {}, None),
    ("SGD", {"momentum": 0.9}, None),
    ("SGD", {"momentum": 0.9, "nesterov": True}, EXP),
    ("SGD", {"weight_decay": 0.1, "learning_rate": 0.1}, None),
    ("SGD", {"clipnorm": 1.0}, None),
    ("RMSprop", {}, None),
    ("RMSprop", {"centered": True}, None),
    ("RMSprop", {"momentum": 0.9}, None),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}, PIECE),
    ("RMSprop", {"clipvalue": 0.5}, None),
    ("Adagrad", {}, None),
    ("Adagrad", {"weight_decay": 0.1, "learning_rate": 0.1}, None),
    ("Adagrad", {"global_clipnorm": 1.0}, INV),
    ("Adadelta", {}, None),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.9, "clipnorm": 1.0}, None),
    ("Adadelta", {"weight_decay": 0.1}, EXP),
    ("Adam", {}, None),
    ("Adam", {"amsgrad": True}, None),
    ("Adam", {"weight_decay": 0.1, "learning_rate": 0.1}, None),
    ("Adam", {"clipnorm": 1.0}, None),
    ("Adam", {"global_clipnorm": 1.0}, None),
    ("Adam", {"clipvalue": 0.5, "beta_1": 0.5, "epsilon": 1e-3}, INV),
    ("AdamW", {}, None),
    ("AdamW", {"amsgrad": True}, EXP),
    ("AdamW", {"weight_decay": 0.1, "learning_rate": 0.1}, None),
    ("Nadam", {}, None),
    ("Nadam", {"weight_decay": 0.1, "learning_rate": 0.1}, None),
    ("Nadam", {"clipvalue": 0.5}, POLY),
    ("Adamax", {}, None),
    ("Adamax", {"clipvalue": 0.5}, None),
    ("Adamax", {"weight_decay": 0.1}, PIECE),
    ("Lion", {}, None),
    ("Lion", {"weight_decay": 0.1, "beta_2": 0.9}, None),
    ("Lion", {"global_clipnorm": 1.0}, EXP),
]


def _case_id(case):
    name, kwargs, schedule = case
    parts = [name] + [f"{k}={v}" for k, v in kwargs.items()] + ([schedule[0]] if schedule else [])
    return "-".join(parts)


def _build_both(name, kwargs, schedule):
    keras_kwargs, our_kwargs = dict(kwargs), dict(kwargs)
    if schedule is not None:
        schedule_name, schedule_kwargs = schedule
        keras_kwargs["learning_rate"] = getattr(keras.optimizers.schedules, schedule_name)(**schedule_kwargs)
        our_kwargs["learning_rate"] = getattr(schedules, schedule_name)(**schedule_kwargs)
    return getattr(keras.optimizers, name)(**keras_kwargs), getattr(optimizers, name)(**our_kwargs)


def _run_keras(opt, params, grads):
    variables = [keras.Variable(p) for p in params]
    for step_grads in grads:
        opt.apply_gradients(zip([jnp.asarray(g) for g in step_grads], variables))
    return [np.asarray(v.value) for v in variables]


def _run_ours(opt, params, grads, jit=False):
    tx = opt.to_optax()
    params = [jnp.asarray(p) for p in params]
    state = tx.init(params)
    update = jax.jit(tx.update) if jit else tx.update
    for step_grads in grads:
        updates, state = update([jnp.asarray(g) for g in step_grads], state, params)
        params = optax.apply_updates(params, updates)
    return [np.asarray(p) for p in params], state


# --------------------------------------------------------------------------- parity


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_matches_keras_over_steps(case):
    keras_opt, our_opt = _build_both(*case)
    params, grads = _problem()
    expected = _run_keras(keras_opt, params, grads)
    got, state = _run_ours(our_opt, params, grads)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, **TOL)
    # The learning rate in the state is the one Keras's next update would use.
    np.testing.assert_allclose(optimizers.get_learning_rate(state), float(keras_opt.learning_rate), rtol=1e-6)


# One jitted case per optimizer, with everything on at once: schedule, weight
# decay and clipping.
JIT_CASES = [(name, {"weight_decay": 0.05, "clipnorm": 1.0}, EXP) for name in NAMES]


@pytest.mark.parametrize("case", JIT_CASES, ids=_case_id)
def test_jitted_update_matches_keras(case):
    keras_opt, our_opt = _build_both(*case)
    params, grads = _problem(seed=1)
    expected = _run_keras(keras_opt, params, grads)
    got, _ = _run_ours(our_opt, params, grads, jit=True)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, **TOL)


STATE_CASES = [(name, {}) for name in NAMES] + [("SGD", {"momentum": 0.9}), ("RMSprop", {"momentum": 0.9})]


@pytest.mark.parametrize("name, kwargs", STATE_CASES)
def test_state_keeps_its_structure_and_dtypes(name, kwargs):
    # Needed to carry the state through lax.scan / a donated jitted step.
    schedule = schedules.ExponentialDecay(0.1, 10, 0.9)
    tx = getattr(optimizers, name)(weight_decay=0.01, learning_rate=schedule, **kwargs).to_optax()
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros((2,), jnp.bfloat16)}  # mixed dtypes
    state = tx.init(params)
    updates, new_state = jax.eval_shape(tx.update, params, state, params)
    as_spec = lambda tree: jax.tree.map(lambda x: (x.shape, x.dtype), tree)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    assert as_spec(new_state) == as_spec(state)
    assert as_spec(updates) == as_spec(params)


def test_optax_adam_is_not_keras_adam():
    # Why scale_by_keras_adam exists: optax adds eps to the corrected sqrt(v).
    params, grads = _problem()
    expected = _run_keras(keras.optimizers.Adam(), params, grads)
    tx = optax.adam(1e-3, eps=1e-7)
    p = [jnp.asarray(x) for x in params]
    state = tx.init(p)
    for step_grads in grads:
        updates, state = tx.update([jnp.asarray(g) for g in step_grads], state, p)
        p = optax.apply_updates(p, updates)
    assert not np.allclose(np.asarray(p[2]), expected[2], **TOL)


# --------------------------------------------------------------------------- learning rate in the state


def _sgd_step(tx, state, params, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


def test_set_learning_rate_changes_the_next_update_without_retracing():
    tx = optimizers.SGD(learning_rate=0.1).to_optax()
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.full(3, 2.0)}
    state = tx.init(params)
    assert optimizers.get_learning_rate(state) == pytest.approx(0.1)

    traces = []

    @jax.jit
    def step(state, params):
        traces.append(1)
        return _sgd_step(tx, state, params, grads)

    params, state = step(state, params)
    np.testing.assert_allclose(params["w"], 1 - 0.1 * 2.0, rtol=1e-6)
    state = optimizers.set_learning_rate(state, 0.01)
    assert optimizers.get_learning_rate(state) == pytest.approx(0.01)
    params, state = step(state, params)
    np.testing.assert_allclose(params["w"], 1 - 0.1 * 2.0 - 0.01 * 2.0, rtol=1e-6)
    assert len(traces) == 1
    assert optimizers.get_learning_rate(state) == pytest.approx(0.01)


def test_set_learning_rate_works_under_jit_and_nested():
    tx = optimizers.Adam(learning_rate=0.1).to_optax()
    state = {"opt": tx.init({"w": jnp.ones(2)}), "step": jnp.zeros([], jnp.int32)}
    new = jax.jit(optimizers.set_learning_rate)(state, jnp.float32(0.5))
    assert optimizers.get_learning_rate(new) == pytest.approx(0.5)
    assert optimizers.get_learning_rate(state) == pytest.approx(0.1)
    assert jax.tree.structure(new) == jax.tree.structure(state)


def test_schedule_learning_rate_follows_the_step_and_cannot_be_set():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    tx = optimizers.SGD(learning_rate=schedule).to_optax()
    params = {"w": jnp.ones(2)}
    state = tx.init(params)
    for step in range(3):
        assert optimizers.get_learning_rate(state) == pytest.approx(0.1 * 0.5**step)
        params, state = _sgd_step(tx, state, params, {"w": jnp.ones(2)})
    with pytest.raises(ConfigError, match="schedule"):
        optimizers.set_learning_rate(state, 0.1)


def test_get_learning_rate_needs_a_kerasish_state():
    state = optax.sgd(0.1).init({"w": jnp.ones(2)})
    with pytest.raises(ConfigError, match="no learning rate"):
        optimizers.get_learning_rate(state)


def test_learning_rate_property_is_what_was_given():
    schedule = schedules.CosineDecay(0.1, 100)
    assert optimizers.Adam(learning_rate=schedule).learning_rate is schedule
    assert optimizers.Adam(learning_rate=1).learning_rate == 1.0
    with pytest.raises(ConfigError, match="learning_rate"):
        optimizers.Adam(learning_rate="fast")


def test_optax_schedule_callable_is_accepted():
    tx = optimizers.SGD(learning_rate=optax.linear_schedule(0.1, 0.0, 10)).to_optax()
    state = tx.init({"w": jnp.ones(2)})
    _, state = tx.update({"w": jnp.ones(2)}, state, {"w": jnp.ones(2)})
    assert optimizers.get_learning_rate(state) == pytest.approx(0.09)


# --------------------------------------------------------------------------- defaults, names, configs


@pytest.mark.parametrize("name", NAMES)
def test_signature_defaults_match_keras(name):
    ours = inspect.signature(getattr(optimizers, name)).parameters
    theirs = inspect.signature(getattr(keras.optimizers, name)).parameters
    assert [p for p in theirs if p not in KERAS_ONLY] == list(ours)
    for param in ours.values():
        assert param.default == theirs[param.name].default, param.name


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside Keras's get_config
@pytest.mark.parametrize("name", NAMES)
def test_get_by_string_matches_keras_config(name):
    ours = optimizers.get(name.lower())
    assert type(ours).__name__ == name
    assert optimizers.get(name.upper()).get_config() == ours.get_config()
    theirs = keras.optimizers.get(name.lower()).get_config()
    config = ours.get_config()
    # Keras stores the rate in a float32 variable and numbers repeated names.
    assert config.pop("learning_rate") == pytest.approx(float(theirs.pop("learning_rate")), rel=1e-7)
    assert re.fullmatch(re.escape(config.pop("name")) + r"(_\d+)?", theirs.pop("name"))
    assert config == {k: v for k, v in theirs.items() if k not in KERAS_ONLY}


def test_get_returns_instances_and_reads_dicts():
    opt = optimizers.Adam(learning_rate=0.5)
    assert optimizers.get(opt) is opt
    again = optimizers.get(optimizers.serialize(opt))
    assert isinstance(again, optimizers.Adam) and again.learning_rate == 0.5


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        optimizers.get("adamz")
    message = str(info.value)
    assert "'adamz'" in message
    for name in ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "nadam", "adamax", "lion"]:
        assert name in message
    with pytest.raises(ConfigError):
        optimizers.get(3)
    with pytest.raises(ConfigError, match="Frobnicate"):
        optimizers.deserialize({"class_name": "Frobnicate", "config": {}})


def test_unknown_kwargs_are_named():
    with pytest.raises(ConfigError) as info:
        optimizers.Adam(learning_rat=0.1, foo=1)
    assert "learning_rat" in str(info.value) and "foo" in str(info.value)
    assert "learning_rate" in str(info.value)  # the valid ones are listed


def test_keras_only_arguments_only_at_their_defaults():
    optimizers.Adam(use_ema=False, ema_momentum=0.99, gradient_accumulation_steps=None)
    with pytest.raises(ConfigError, match="use_ema"):
        optimizers.Adam(use_ema=True)
    with pytest.raises(ConfigError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=4)


def test_argument_checks():
    with pytest.raises(ConfigError, match="clipnorm"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ConfigError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ConfigError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ConfigError, match="beta_1"):
        optimizers.Lion(beta_1=0.0)


@pytest.mark.parametrize("case", [c for c in CASES if c[2] is not None], ids=_case_id)
def test_config_matches_keras_and_round_trips(case):
    keras_opt, our_opt = _build_both(*case)
    config = our_opt.get_config()
    theirs = keras_opt.get_config()
    theirs["learning_rate"] = {k: theirs["learning_rate"][k] for k in ("class_name", "config")}
    theirs["name"] = our_opt.name  # Keras numbers repeated names: adam_1, ...
    assert config == {k: v for k, v in theirs.items() if k not in KERAS_ONLY}
    again = optimizers.deserialize(optimizers.serialize(our_opt))
    assert type(again) is type(our_opt) and again.get_config() == config
    # Keras's own serialized form loads too.
    from_keras = optimizers.deserialize(keras.optimizers.serialize(keras_opt))
    assert from_keras.get_config() == {**config, "name": keras_opt.name}


# --------------------------------------------------------------------------- schedules

SCHEDULE_CASES = [
    EXP,
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.8, "staircase": True}),
    PIECE,
    ("PiecewiseConstantDecay", {"boundaries": [10, 20, 30], "values": [1.0, 0.5, 0.0, 0.25]}),
    POLY,
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "power": 2.0, "cycle": True}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.1}),
    COS,
    ("CosineDecay", {"initial_learning_rate": 0.05, "decay_steps": 10, "warmup_target": 0.2}),
    INV,
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4, "t_mul": 1.0, "m_mul": 0.5}),
]
SCHEDULE_STEPS = [0, 1, 2, 3, 5, 9, 10, 11, 14, 31, 100]


@pytest.mark.parametrize("case", SCHEDULE_CASES, ids=lambda c: c[0] + "-" + "-".join(map(str, c[1].values())))
def test_schedule_matches_keras(case):
    name, kwargs = case
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    steps = jnp.asarray(SCHEDULE_STEPS, jnp.int32)
    if name in ("CosineDecay", "CosineDecayRestarts"):
        # Keras uses ops.cond there: scalar steps only, and slow eagerly.
        expected = np.asarray(jax.jit(jax.vmap(theirs))(steps))
    else:
        expected = np.asarray(theirs(steps))
    eager = np.array([float(ours(s)) for s in SCHEDULE_STEPS])
    jitted = np.asarray(jax.jit(jax.vmap(ours))(steps))
    np.testing.assert_allclose(eager, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jitted, expected, rtol=1e-6, atol=1e-7)
    assert ours.get_config() == theirs.get_config()
    again = schedules.deserialize(schedules.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()


def test_polynomial_decay_has_no_nan_at_the_end_under_jit():
    # XLA rewrites step / decay_steps as a multiply; 1 - p can dip below 0.
    schedule = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=0.5)
    values = jax.jit(jax.vmap(schedule))(jnp.arange(8, 14))
    np.testing.assert_allclose(values[2:], 0.01, rtol=1e-6)


def test_schedule_argument_checks():
    with pytest.raises(ConfigError, match="boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ConfigError, match="decay_steps"):
        schedules.CosineDecay(0.1, decay_steps=0)
    with pytest.raises(ConfigError, match="NoSuchDecay"):
        schedules.deserialize({"class_name": "NoSuchDecay", "config": {}})
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule()(0)


def test_learning_rate_is_live_and_settable_from_a_callback():
    import kerasish

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    model = kerasish.Sequential([kerasish.Input(shape=(3,)), kerasish.layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    model.optimizer.learning_rate = 0.05  # before any state: the first fit starts from it
    seen, weights = [], []

    class Freeze(kerasish.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(self.model.optimizer.learning_rate)
            weights.append(self.model.get_weights()[0].copy())
            if epoch == 1:
                self.model.optimizer.learning_rate = 0.0  # the jitted step must use it at once

    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Freeze()])
    assert seen == pytest.approx([0.05, 0.05, 0.0])
    assert not np.allclose(weights[0], weights[1])
    np.testing.assert_array_equal(weights[2], model.get_weights()[0])  # epochs 2 and 3 trained at rate 0
    assert model.optimizer.learning_rate == 0.0 and model.optimizer.get_config()["learning_rate"] == 0.0


def test_a_schedule_cannot_be_set():
    import kerasish

    model = kerasish.Sequential([kerasish.Input(shape=(3,)), kerasish.layers.Dense(1)])
    model.compile(optimizer=optimizers.SGD(optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)), loss="mse")
    with pytest.raises(kerasish.ConfigError, match="schedule"):
        model.optimizer.learning_rate = 0.01


# --------------------------------------------------------------------------- Keras's optimizer API


@pytest.mark.parametrize("case", CASES[::3], ids=_case_id)
def test_apply_gradients_on_variables_matches_keras(case):
    """``optimizer.apply_gradients(zip(grads, variables))`` in place, as Keras's, with its variables."""
    from kerasish.backend import Variable

    keras_opt, our_opt = _build_both(*case)
    params, grads = _problem()
    expected = _run_keras(keras_opt, params, grads)
    variables = [Variable(p, f"v{i}") for i, p in enumerate(params)]
    for step_grads in grads:
        our_opt.apply_gradients(zip([jnp.asarray(g) for g in step_grads], variables))
    for v, e in zip(variables, expected):
        np.testing.assert_allclose(v.numpy(), e, **TOL)
    assert int(our_opt.iterations.value) == STEPS == int(keras_opt.iterations.value)
    np.testing.assert_allclose(float(our_opt.learning_rate), float(keras_opt.learning_rate), rtol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Lion"])
def test_stateless_apply_under_jit_matches_keras(name):
    """``stateless_apply(optimizer_variables, grads, trainable)`` is a pure function of its arguments."""
    from kerasish.backend import Variable

    params, grads = _problem(1)
    theirs = getattr(keras.optimizers, name)(learning_rate=0.05)
    keras_vars = [keras.Variable(p) for p in params]
    theirs.build(keras_vars)
    t_opt = [v.value for v in theirs.variables]
    t_params = [v.value for v in keras_vars]
    ours = getattr(optimizers, name)(learning_rate=0.05)
    variables = [Variable(p, f"v{i}") for i, p in enumerate(params)]
    ours.build(variables)
    o_opt, o_params = ours.variables, variables  # variables enter jax.jit as their values
    apply = jax.jit(ours.stateless_apply)
    for step_grads in grads:
        g = [jnp.asarray(x) for x in step_grads]
        t_params, t_opt = theirs.stateless_apply(t_opt, g, t_params)
        o_params, o_opt = apply(o_opt, g, o_params)
    for a, b in zip(o_params, t_params):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), **TOL)
    # nothing was changed in place: the variables still hold the starting values
    for v, p in zip(variables, params):
        np.testing.assert_array_equal(v.numpy(), p)
    assert int(ours.iterations.value) == 0


def test_stateless_apply_applies_weight_constraints_as_keras():
    from kerasish.backend import Variable

    params, grads = _problem(2)
    theirs = keras.optimizers.SGD(0.5)
    keras_vars = [keras.Variable(p) for p in params]
    for v in keras_vars:
        v.constraint = keras.constraints.NonNeg()
    theirs.apply_gradients(zip([jnp.asarray(g) for g in grads[0]], keras_vars))
    ours = optimizers.SGD(0.5)
    from kerasish import constraints

    variables = [Variable(p, f"v{i}", constraint=constraints.NonNeg()) for i, p in enumerate(params)]
    ours.apply_gradients(zip([jnp.asarray(g) for g in grads[0]], variables))
    for a, b in zip(variables, keras_vars):
        np.testing.assert_allclose(a.numpy(), np.asarray(b.value), **TOL)
        assert np.all(a.numpy() >= 0)


def test_optimizer_variables_build_and_learning_rate_variable():
    from kerasish.backend import Variable

    opt = optimizers.Adam(0.01)
    assert opt.variables == [] and not opt.built and opt.iterations == 0
    w = Variable(np.ones((2, 3), np.float32), "w")
    opt.build([w])
    assert opt.built and opt.built_for([w]) and not opt.built_for([])
    shapes = sorted(tuple(v.shape) for v in opt.variables)
    assert shapes.count((2, 3)) == 2  # Adam's two moments of w
    assert opt.slot_owners([w]).count(0) == 2
    opt.learning_rate = 0.5  # a variable of the state: the next update uses it, nothing retraces
    assert opt.learning_rate == pytest.approx(0.5)
    scheduled = optimizers.SGD(schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5))
    scheduled.build([w])
    with pytest.raises(ConfigError, match="schedule"):
        scheduled.learning_rate = 0.2
    with pytest.raises(ConfigError, match="not built"):
        optimizers.SGD().stateless_apply([], [], [])
    from kerasish.errors import InputError

    with pytest.raises(InputError, match="stateless_apply"):
        opt.stateless_apply([v.value for v in opt.variables], [], [w.value])
