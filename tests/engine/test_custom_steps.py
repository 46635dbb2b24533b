"""Keras 3's customization points other than a whole train_step, against Keras 3 itself.

- ``compute_loss(x, y, y_pred, sample_weight, ...)`` overridden alone, with Keras's knowledge-distillation
  example's signature (``allow_empty`` instead of ``training``);
- a ``Model`` subclass constructed as a functional model, with metrics of its own;
- gradient accumulation around a custom train_step.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402


def _distiller_class(framework):
    class Distiller(framework.Model):
        def __init__(self, student, teacher):
            super().__init__()
            self.teacher = teacher
            self.student = student

        def compile(self, optimizer, metrics, student_loss_fn, distillation_loss_fn, alpha=0.1, temperature=3):
            super().compile(optimizer=optimizer, metrics=metrics)
            self.student_loss_fn = student_loss_fn
            self.distillation_loss_fn = distillation_loss_fn
            self.alpha = alpha
            self.temperature = temperature

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, allow_empty=False):
            teacher_pred = self.teacher(x, training=False)
            student_loss = self.student_loss_fn(y, y_pred)
            distillation_loss = self.distillation_loss_fn(
                jax.nn.softmax(teacher_pred / self.temperature, axis=1),
                jax.nn.softmax(y_pred / self.temperature, axis=1),
            ) * (self.temperature**2)
            return self.alpha * student_loss + (1 - self.alpha) * distillation_loss

        def call(self, x):
            return self.student(x)

    return Distiller


def _net(framework, units, name):
    return framework.Sequential([framework.Input((6,)), framework.layers.Dense(units, activation="relu"),
                                 framework.layers.Dense(4)], name=name)


def _distill(framework, weights=None):
    teacher, student = _net(framework, 16, "teacher"), _net(framework, 8, "student")
    distiller = _distiller_class(framework)(student=student, teacher=teacher)
    if weights is not None:
        teacher.set_weights(weights[0])
        student.set_weights(weights[1])
    distiller.compile(optimizer=framework.optimizers.Adam(0.01),
                      metrics=[framework.metrics.SparseCategoricalAccuracy()],
                      student_loss_fn=framework.losses.SparseCategoricalCrossentropy(from_logits=True),
                      distillation_loss_fn=framework.losses.KLDivergence(), alpha=0.1, temperature=10)
    return distiller, teacher, student


def test_a_compute_loss_override_trains_as_in_keras():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.integers(0, 4, size=40).astype("int32")
    theirs, t_teacher, t_student = _distill(keras)
    ours, o_teacher, o_student = _distill(kerasish, (t_teacher.get_weights(), t_student.get_weights()))
    h_theirs = theirs.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history  # a short last batch
    h_ours = ours.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    assert set(h_ours) == set(h_theirs) == {"loss", "sparse_categorical_accuracy"}
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-5, err_msg=key)
    for a, b in zip(o_student.get_weights() + o_teacher.get_weights(),
                    t_student.get_weights() + t_teacher.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    e_theirs = theirs.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    e_ours = ours.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    for key in e_theirs:
        np.testing.assert_allclose(e_ours[key], e_theirs[key], rtol=1e-5, err_msg=key)


def test_a_subclass_constructed_as_a_functional_model():
    class WithTracker(kerasish.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.extra = kerasish.metrics.Mean(name="extra")

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            self.extra.update_state(jnp.abs(y_pred))
            return super().compute_metrics(x, y, y_pred, sample_weight)

    inputs = kerasish.Input((6,))
    model = WithTracker(inputs, kerasish.layers.Dense(2)(inputs), name="with_tracker")
    assert isinstance(model, WithTracker) and isinstance(model, kerasish.Functional)
    assert type(model).__name__ == "WithTracker" and model.name == "with_tracker"
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense"]  # as Keras
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(1).normal(size=(32, 6)).astype("float32")
    history = model.fit(x, x[:, :2], batch_size=16, epochs=1, verbose=0).history
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics", "extra"]
    assert set(history) == {"loss", "extra"}
    np.testing.assert_allclose(history["extra"][0], float(model.extra.result()), rtol=1e-6)
    # A subclass whose __init__ takes two arguments of its own stays a subclassed model.
    class Pair(kerasish.Model):
        def __init__(self, units, activation):
            super().__init__()
            self.dense = kerasish.layers.Dense(units, activation=activation)

        def call(self, x):
            return self.dense(x)

    pair = Pair(3, "relu")
    assert not isinstance(pair, kerasish.Functional) and pair.dense.units == 3


def test_gradient_accumulation_wraps_a_custom_train_step():
    """The accumulation wrapper runs any step that calls optimizer.stateless_apply once."""

    class Plain(kerasish.Model):
        def __init__(self):
            super().__init__()
            self.dense = kerasish.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, state, data):
            trainable, non_trainable, optimizer_variables, metrics_variables = state
            x, y, _ = kerasish.utils.unpack_x_y_sample_weight(data)

            def loss_fn(trainable):
                y_pred, _ = self.stateless_call(trainable, non_trainable, x)
                return jnp.mean((y_pred - y) ** 2)

            loss, grads = jax.value_and_grad(loss_fn)(trainable)
            trainable, optimizer_variables = self.optimizer.stateless_apply(optimizer_variables, grads, trainable)
            return {"loss": loss}, (trainable, non_trainable, optimizer_variables, metrics_variables)

    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True).astype("float32")
    weights = []
    for n in (None, 4):
        kerasish.utils.set_random_seed(0)
        model = Plain()
        model.compile(optimizer=kerasish.optimizers.SGD(0.1), gradient_accumulation_steps=n)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        assert int(model.optimizer.iterations.value) == 4  # one update per batch either way
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):  # mean of 4 micro-batch gradients == the batch's gradient
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_step_that_applies_twice_cannot_accumulate():
    class Twice(kerasish.Model):
        def __init__(self):
            super().__init__()
            self.dense = kerasish.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, state, data):
            trainable, non_trainable, optimizer_variables, metrics_variables = state
            grads = [jnp.zeros_like(t) for t in trainable]
            for _ in range(2):
                trainable, optimizer_variables = self.optimizer.stateless_apply(optimizer_variables, grads, trainable)
            return {}, (trainable, non_trainable, optimizer_variables, metrics_variables)

    model = Twice()
    model.compile(optimizer="sgd", gradient_accumulation_steps=2)
    with pytest.raises(kerasish.ConfigError, match="exactly once"):
        model.fit(np.zeros((4, 3), "float32"), np.zeros((4, 1), "float32"), batch_size=4, verbose=0)


def test_the_default_step_passes_other_optimizers_variables_through():
    """A model holding a second (built) optimizer trains with the default step; that optimizer's
    variables ride along in the state unchanged."""
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input((3,)), kerasish.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.spare = kerasish.optimizers.Adam()
    model.spare.build(model.trainable_variables)
    before = [np.asarray(v.value) for v in model.spare.variables]
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), batch_size=4, verbose=0)
    assert int(model.optimizer.iterations.value) == 2
    for v, b in zip(model.spare.variables, before, strict=True):
        np.testing.assert_array_equal(np.asarray(v.value), b)
