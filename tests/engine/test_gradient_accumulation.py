"""compile(gradient_accumulation_steps=N): N micro-batches in one jitted step, one update of their mean gradient.

The oracle is the same model trained without accumulation on the whole batch (same initial weights), and
a hand-written JAX mean of per-micro-batch gradients.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError


def data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype("float32")
    y = (x @ rng.standard_normal((6, 3)) + 0.1 * rng.standard_normal((n, 3))).astype("float32")
    return x, y


def model(accumulate=None, optimizer="adam", **extra):
    kerasish.utils.set_random_seed(4)
    m = kerasish.Sequential([kerasish.Input((6,)), layers.Dense(16, activation="tanh"), layers.Dense(3)])
    opt = kerasish.optimizers.get(optimizer)
    m.compile(optimizer=opt, loss="mse", metrics=["mae"], gradient_accumulation_steps=accumulate, **extra)
    return m


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_four_micro_batches_of_16_match_one_batch_of_64(optimizer):
    x, y = data()
    big, acc = model(optimizer=optimizer), model(4, optimizer=optimizer)
    h_big = big.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0).history
    h_acc = acc.fit(x, y, batch_size=64, epochs=3, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h_acc["loss"], h_big["loss"], rtol=1e-5)
    np.testing.assert_allclose(h_acc["mae"], h_big["mae"], rtol=1e-5)
    for a, b in zip(acc.get_weights(), big.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_update_is_the_mean_of_the_micro_batch_gradients():
    x, y = data(64)
    m = model(4, optimizer=kerasish.optimizers.SGD(0.1))
    w0 = [jnp.asarray(w) for w in m.get_weights()]
    m.train_on_batch(x, y)

    def loss(ws, xb, yb):
        h = jnp.tanh(xb @ ws[0] + ws[1])
        return jnp.mean((h @ ws[2] + ws[3] - yb) ** 2)

    grads = [jax.grad(loss)(w0, x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    expected = [w - 0.1 * sum(g[k] for g in grads) / 4 for k, w in enumerate(w0)]
    for a, b in zip(m.get_weights(), expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_padded_last_batch_and_fused_steps_work():
    x, y = data(200)  # 200 = 3 * 64 + 8: the last batch is padded to 64
    for spe in (1, 3):
        m = model(4, steps_per_execution=spe)
        history = m.fit(x, y, batch_size=64, epochs=2, verbose=0).history["loss"]
        assert np.all(np.isfinite(history)) and history[1] < history[0]


def test_each_micro_batch_updates_batch_statistics_in_turn():
    """BatchNormalization sees the micro-batches one after another (the proof that the batch is split)."""
    kerasish.utils.set_random_seed(0)
    m = kerasish.Sequential([kerasish.Input((6,)), layers.Dense(8), layers.BatchNormalization(momentum=0.9),
                             layers.Dropout(0.3), layers.Dense(3)])
    m.compile(optimizer="sgd", loss="mse", gradient_accumulation_steps=2)
    x, y = data(64)
    kernel, bias = (np.asarray(w) for w in m.layers[0].get_weights())
    h = x @ kernel + bias
    m.train_on_batch(x, y)
    expected = np.zeros(8)
    for half in (h[:32], h[32:]):
        expected = 0.9 * expected + 0.1 * half.mean(0)
    np.testing.assert_allclose(m.layers[1].moving_mean.value, expected, rtol=1e-5, atol=1e-6)
    whole = 0.1 * h.mean(0)  # what a single batch of 64 would give
    assert not np.allclose(expected, whole, atol=1e-3)


def test_bad_values():
    with pytest.raises(ConfigError, match="gradient_accumulation_steps must be None or a positive int, got 0"):
        model(0)
    m = model(3)
    x, y = data(64)
    with pytest.raises(InputError, match="gradient_accumulation_steps=3 must divide the batch size, got batches of 64"):
        m.fit(x, y, batch_size=64, epochs=1, verbose=0)


def test_saved_with_the_compile_config(tmp_path):
    m = model(4)
    x, y = data(64)
    m.fit(x, y, batch_size=64, epochs=1, verbose=0)
    m.save(tmp_path / "m.kerasish")
    assert kerasish.models.load_model(tmp_path / "m.kerasish").gradient_accumulation_steps == 4
