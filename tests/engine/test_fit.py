"""fit / evaluate / predict: data kinds, weights, validation, callbacks, custom steps, progress output."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import layers


def _data(n=64, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    return x, np.argmax(x[:, :k], axis=1).astype("int32")


def _model(seed=0, d=4, k=3, lr=0.1):
    kerasish.utils.set_random_seed(seed)
    model = kerasish.Sequential([kerasish.Input(shape=(d,)), layers.Dense(8, activation="tanh"), layers.Dense(k)])
    model.compile(optimizer=kerasish.optimizers.SGD(learning_rate=lr),
                  loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def _assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_history_keys_and_lengths():
    x, y = _data()
    hist = _model().fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    assert set(hist.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in hist.history.values())
    assert hist.epoch == [0, 1, 2]


def test_validation_split_takes_the_last_fraction():
    x, y = _data()
    model = _model()
    hist = model.fit(x, y, epochs=1, batch_size=16, validation_split=0.25, shuffle=False, verbose=0)
    expected = model.evaluate(x[48:], y[48:], verbose=0, return_dict=True)
    assert hist.history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-5)


def test_validation_freq():
    x, y = _data()
    hist = _model().fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(hist.history["val_loss"]) == 2 and len(hist.history["loss"]) == 4


def test_generator_and_iterable_match_arrays():
    x, y = _data()
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    ref = _model()
    ref.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    class Batches:  # a re-iterable object (like a Sequence) starts over each epoch
        def __len__(self):
            return len(batches)

        def __iter__(self):
            return iter(batches)

    listed = _model()
    listed.fit(Batches(), epochs=2, verbose=0)
    _assert_same_weights(ref, listed)

    def gen():
        while True:
            yield from batches

    generated = _model()
    generated.fit(gen(), steps_per_epoch=4, epochs=2, verbose=0)
    _assert_same_weights(ref, generated)
    preds = generated.predict(iter([xb for xb, _ in batches]), verbose=0)
    np.testing.assert_allclose(preds, generated.predict(x, verbose=0), rtol=1e-5, atol=1e-6)  # batch shapes differ: kernels may round differently


def test_sample_weight_matches_numpy():
    x, y = _data()
    w = np.linspace(0.0, 2.0, len(x)).astype("float32")
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    target = x[:, :1] * 2.0
    got = model.evaluate(x, target, sample_weight=w, batch_size=64, verbose=0)
    pred = model.predict(x, verbose=0)
    expected = np.sum(w * np.mean((pred - target) ** 2, axis=1)) / len(x)
    assert got == pytest.approx(expected, rel=1e-5)


def test_class_weight_equals_sample_weight():
    x, y = _data()
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    a = _model()
    a.fit(x, y, epochs=2, batch_size=64, class_weight=cw, verbose=0)
    b = _model()
    b.fit(x, y, epochs=2, batch_size=64, sample_weight=np.array([cw[int(c)] for c in y], "float32"), verbose=0)
    _assert_same_weights(a, b)
    c = _model()
    c.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert not np.allclose(a.get_weights()[0], c.get_weights()[0])


def test_jax_arrays_and_dict_inputs():
    x, y = _data()
    inp = kerasish.Input(shape=(4,), name="features")
    model = kerasish.Model({"features": inp}, layers.Dense(3)(inp))
    model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit({"features": jnp.asarray(x)}, jnp.asarray(y), epochs=1, verbose=0)
    assert model.predict({"features": x}, verbose=0).shape == (64, 3)


def test_initial_epoch_and_steps_per_epoch():
    x, y = _data()
    seen = []
    class Count(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    cb = Count()
    hist = _model().fit(x, y, epochs=3, initial_epoch=1, batch_size=8, steps_per_epoch=2, callbacks=[cb], verbose=0)
    assert hist.epoch == [1, 2] and seen == [0, 1, 0, 1]


def test_train_test_predict_on_batch():
    x, y = _data()
    model = _model()
    logs = model.train_on_batch(x[:16], y[:16], return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    loss, acc = model.test_on_batch(x[:16], y[:16])
    assert loss == pytest.approx(model.evaluate(x[:16], y[:16], verbose=0)[0], rel=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:16]), model.predict(x[:16], verbose=0), rtol=1e-6)


def test_evaluate_returns_list_or_dict():
    x, y = _data()
    model = _model()
    values = model.evaluate(x, y, verbose=0)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert values == [logs["loss"], logs["accuracy"]]
    acc = np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y)
    assert logs["accuracy"] == pytest.approx(acc, abs=1e-6)


def test_callback_reads_live_weights_mid_fit():
    x, y = _data()
    snapshots = []

    class Snap(kerasish.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append(self.model.get_weights()[0].copy())

    model = _model()
    initial = model.get_weights()[0].copy()
    model.fit(x, y, epochs=1, batch_size=16, callbacks=[Snap()], verbose=0)
    assert len(snapshots) == 4
    assert not np.array_equal(snapshots[0], initial)
    assert all(not np.array_equal(a, b) for a, b in zip(snapshots, snapshots[1:]))
    np.testing.assert_array_equal(snapshots[-1], model.get_weights()[0])


def test_callback_sets_real_weights_mid_fit():
    x, y = _data()
    model = _model(lr=0.0)  # with a zero learning rate, whatever the callback sets is what remains
    target = [np.full(w.shape, 0.25, "float32") for w in model.get_weights()]

    class Setter(kerasish.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                self.model.set_weights(target)

    model.fit(x, y, epochs=1, batch_size=16, callbacks=[Setter()], verbose=0)
    for got, want in zip(model.get_weights(), target):
        np.testing.assert_array_equal(got, want)


def test_stop_training_from_callback():
    x, y = _data()

    class Stop(kerasish.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    hist = _model().fit(x, y, epochs=10, callbacks=[Stop()], verbose=0)
    assert hist.epoch == [0, 1]


def test_callback_hooks_order():
    x, y = _data(n=16)
    calls = []

    class Rec(kerasish.callbacks.Callback):
        def __getattribute__(self, name):
            attr = object.__getattribute__(self, name)
            if name.startswith("on_"):
                def wrapped(*args, **kwargs):
                    calls.append(name)
                    return attr(*args, **kwargs)
                return wrapped
            return attr

    for hook in ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
                 "on_epoch_end", "on_train_end"]:
        setattr(Rec, hook, lambda self, *a, **k: None)
    _model().fit(x, y, epochs=1, batch_size=16, callbacks=[Rec()], verbose=0)
    assert calls == ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
                     "on_epoch_end", "on_train_end"]


def test_batchnorm_and_dropout_follow_training():
    x, _ = _data()
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.BatchNormalization(), layers.Dropout(0.5)])
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.predict(x, verbose=0), x / np.sqrt(1 + 1e-3), rtol=1e-5)
    model.fit(x, x, epochs=1, batch_size=64, verbose=0)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * x.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.99 + 0.01 * x.var(axis=0), rtol=1e-5)


class TinyGAN(kerasish.Model):
    """A GAN with two optimizers, written to Keras's stateless train_step contract."""

    latent_dim = 2

    def __init__(self):
        super().__init__()
        self.generator = kerasish.Sequential([kerasish.Input(shape=(2,)), layers.Dense(8, activation="relu"),
                                              layers.Dense(2)], name="generator")
        self.discriminator = kerasish.Sequential([kerasish.Input(shape=(2,)), layers.Dense(8, activation="relu"),
                                                  layers.Dense(1)], name="discriminator")
        self.seed_generator = kerasish.random.SeedGenerator(1)

    def call(self, x, training=False):
        return self.discriminator(x)

    def compile(self, g_optimizer, d_optimizer):
        super().compile(optimizer=g_optimizer)
        self.d_optimizer = d_optimizer  # its variables follow model.optimizer's in optimizer_variables
        self.optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        real, _, _ = kerasish.utils.unpack_x_y_sample_weight(data)
        bce = kerasish.losses.BinaryCrossentropy(from_logits=True)
        n, k = len(self.generator.trainable_variables), len(self.optimizer.variables)
        g_vars, d_vars = trainable[:n], trainable[n:]
        g_opt, d_opt = optimizer_variables[:k], optimizer_variables[k:]
        z = kerasish.random.normal((real.shape[0], self.latent_dim), seed=self.seed_generator)

        def d_loss_fn(d_vars):
            fake, _ = self.generator.stateless_call(g_vars, [], z, training=True)
            real_logits, _ = self.discriminator.stateless_call(d_vars, [], real, training=True)
            fake_logits, _ = self.discriminator.stateless_call(d_vars, [], jax.lax.stop_gradient(fake), training=True)
            return bce(jnp.ones_like(real_logits), real_logits) + bce(jnp.zeros_like(fake_logits), fake_logits)

        d_loss, d_grads = jax.value_and_grad(d_loss_fn)(d_vars)
        d_vars, d_opt = self.d_optimizer.stateless_apply(d_opt, d_grads, d_vars)

        def g_loss_fn(g_vars):
            fake, _ = self.generator.stateless_call(g_vars, [], z, training=True)
            logits, _ = self.discriminator.stateless_call(d_vars, [], fake, training=True)
            return bce(jnp.ones_like(logits), logits)

        g_loss, g_grads = jax.value_and_grad(g_loss_fn)(g_vars)
        g_vars, g_opt = self.optimizer.stateless_apply(g_opt, g_grads, g_vars)
        logs = {"d_loss": d_loss, "g_loss": g_loss}
        return logs, (list(g_vars) + list(d_vars), non_trainable, list(g_opt) + list(d_opt), metrics_variables)


def test_custom_train_step_gan_with_two_optimizers():
    kerasish.utils.set_random_seed(0)
    real = np.random.default_rng(0).normal(loc=3.0, size=(128, 2)).astype("float32")
    gan = TinyGAN()
    gan.compile(kerasish.optimizers.Adam(1e-3), kerasish.optimizers.Adam(1e-3))
    g_before, d_before = gan.generator.get_weights(), gan.discriminator.get_weights()
    hist = gan.fit(real, epochs=2, batch_size=32, verbose=0)
    assert set(hist.history) == {"d_loss", "g_loss"}
    # both optimizers' states live in the training state and advanced once per batch (4 batches x 2 epochs)
    assert int(gan.optimizer.iterations.value) == 8 and int(gan.d_optimizer.iterations.value) == 8
    assert not np.allclose(g_before[0], gan.generator.get_weights()[0])
    assert not np.allclose(d_before[0], gan.discriminator.get_weights()[0])


def test_progress_output(capsys):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "4/4" in out and "loss:" in out
    model.fit(x, y, epochs=2, batch_size=16, verbose=2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch")]
    assert len(lines) == 2 and "accuracy:" in lines[0]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_history_plot():
    x, y = _data()
    hist = _model().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    fig = hist.plot()
    assert len(fig.axes) == 2
    titles = sorted(ax.get_title() for ax in fig.axes)
    assert titles == ["accuracy", "loss"]
    assert [l.get_label() for l in fig.axes[0].get_lines()][1].startswith("val_")


def test_run_eagerly_matches_jit():
    x, y = _data()
    a = _model()
    a.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    b = _model()
    b.compile(optimizer=kerasish.optimizers.SGD(learning_rate=0.1),
              loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
    b.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    _assert_same_weights(a, b)


def test_accuracy_resolves_from_targets_and_shape_dependent_metrics():
    x, y = _data()
    one_hot = np.eye(3, dtype="float32")[y]
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3, activation="softmax")])
    # mse with one-hot targets: Keras picks categorical accuracy from the shapes, not from the loss.
    model.compile(optimizer="adam", loss="mse",
                  metrics=["accuracy", kerasish.metrics.F1Score(average="macro"), kerasish.metrics.AUC()])
    logs = model.fit(x, one_hot, epochs=1, verbose=0).history
    assert {"accuracy", "f1_score", "auc"} <= set(logs)
    acc = np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y)
    assert model.evaluate(x, one_hot, verbose=0, return_dict=True)["accuracy"] == pytest.approx(acc, abs=1e-6)


def test_history_runs_after_user_callbacks_and_validation_calls_test_hooks():
    from kerasish.callbacks.lr import LearningRateScheduler

    x, y = _data()
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    calls = []

    class TestHooks(kerasish.callbacks.Callback):
        def on_test_begin(self, logs=None):
            calls.append("begin")

        def on_test_batch_end(self, batch, logs=None):
            calls.append(batch)

        def on_test_end(self, logs=None):
            calls.append(("end", sorted(logs)))

    hist = model.fit(x, x[:, :1], batch_size=64, epochs=2, validation_data=(x[:40], x[:40, :1]), verbose=0,
                     callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1)), TestHooks()])
    # History sees what a callback before it added to the epoch logs (as in Keras).
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.05])
    assert calls == ["begin", 0, ("end", ["loss"])] * 2


def test_weight_constraints_apply_after_every_update():
    from kerasish.layers.activation import PReLU

    x, _ = _data()
    clip = lambda w: jnp.clip(w, 0.1, 0.2)  # noqa: E731
    model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(4), PReLU(alpha_initializer="ones",
                                                                                    alpha_constraint=clip)])
    model.compile(optimizer=kerasish.optimizers.SGD(0.5), loss="mse")
    assert np.all(model.get_weights()[-1] == 1.0)  # the constraint acts on updates, not at creation (as Keras)
    model.fit(x, -x, batch_size=16, epochs=1, verbose=0)
    alpha = model.get_weights()[-1]
    assert np.all((alpha >= 0.1) & (alpha <= 0.2)), alpha
