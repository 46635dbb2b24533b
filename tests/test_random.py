"""kerasish.random: Keras's names and arguments; seeds; draws inside fit's steps.

The numbers differ from Keras's (another key derivation), so the oracle is the distributions
themselves (NumPy statistics over many draws) and Keras's signatures.
"""

import inspect
import os

import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import random

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

N = 20000


@pytest.mark.parametrize("name", random.__all__)
def test_names_and_arguments_are_keras(name):
    theirs = getattr(keras.random, name)
    ours = getattr(random, name)
    if inspect.isclass(theirs):
        assert inspect.isclass(ours)
        return
    assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters)


def test_distributions():
    np.testing.assert_allclose(np.mean(random.normal((N,), mean=2.0, stddev=3.0, seed=1)), 2.0, atol=0.1)
    np.testing.assert_allclose(np.std(random.normal((N,), mean=2.0, stddev=3.0, seed=1)), 3.0, rtol=0.03)
    u = np.asarray(random.uniform((N,), minval=-1.0, maxval=3.0, seed=2))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.05
    t = np.asarray(random.truncated_normal((N,), mean=1.0, stddev=2.0, seed=3))
    assert t.min() >= -3.0 and t.max() <= 5.0
    r = np.asarray(random.randint((N,), 3, 7, seed=4))
    assert r.dtype == np.int32 and set(np.unique(r)) == {3, 4, 5, 6}
    x = jnp.ones((N,))
    d = np.asarray(random.dropout(x, 0.25, seed=5))
    assert abs(np.mean(d == 0) - 0.25) < 0.02 and np.allclose(d[d != 0], 1 / 0.75)
    s = np.asarray(random.shuffle(jnp.arange(100), seed=6))
    assert sorted(s.tolist()) == list(range(100)) and s.tolist() != list(range(100))
    c = np.asarray(random.categorical(jnp.log(jnp.array([[0.2, 0.8]])), N, seed=7))
    assert c.shape == (1, N) and abs(c.mean() - 0.8) < 0.02
    assert abs(np.mean(random.gamma((N,), alpha=3.0, seed=8)) - 3.0) < 0.1
    assert abs(np.mean(random.beta((N,), alpha=2.0, beta=6.0, seed=9)) - 0.25) < 0.01
    assert abs(np.mean(random.binomial((N,), counts=10, probabilities=0.3, seed=10)) - 3.0) < 0.1


def test_seeds():
    np.testing.assert_array_equal(random.normal((4,), seed=3), random.normal((4,), seed=3))
    gen = random.SeedGenerator(5)
    a, b = random.normal((4,), seed=gen), random.normal((4,), seed=gen)
    assert not np.array_equal(a, b)
    again = random.SeedGenerator(5)
    np.testing.assert_array_equal(random.normal((4,), seed=again), a)
    kerasish.utils.set_random_seed(1)
    first = random.normal((3,))
    kerasish.utils.set_random_seed(1)
    np.testing.assert_array_equal(random.normal((3,)), first)
    with pytest.raises(kerasish.ConfigError, match="seed"):
        random.normal((2,), seed="x")
    with pytest.raises(kerasish.ConfigError, match="floating"):
        random.normal((2,), dtype="int32", seed=1)


class Noisy(kerasish.Model):
    """Its train step draws noise with a SeedGenerator and logs the noise's first entry."""

    def __init__(self):
        super().__init__()
        self.dense = kerasish.layers.Dense(1)
        self.seed_generator = random.SeedGenerator(0)

    def call(self, x):
        return self.dense(x)

    def train_step(self, state, data):
        noise = random.normal((2,), seed=self.seed_generator)
        return {"noise": noise[0]}, state


def _noise(seed):
    kerasish.utils.set_random_seed(seed)
    model = Noisy()
    model.compile(optimizer="sgd")
    seen = []
    cb = kerasish.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(float(logs["noise"])))
    model.fit(np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32"), batch_size=2, epochs=2, verbose=0,
              callbacks=[cb])
    return seen


def test_a_seed_generator_in_a_step_draws_anew_each_step_and_repeats_per_seed():
    seen = _noise(3)
    assert len(seen) == 8 and len(set(seen)) == 8  # new numbers at every step (one jitted program)
    assert _noise(3) == seen  # the same run again: the same numbers
    assert _noise(4) != seen
