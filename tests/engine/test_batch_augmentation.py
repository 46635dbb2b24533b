"""compile(batch_augmentation=...): MixUp/CutMix on (x, y) inside the jitted train step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.augmentation import CutMix, MixUp


def images(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4, 4, 1)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, n)]
    return x, y


def model(seed=1, **compile_kwargs):
    kerasish.utils.set_random_seed(seed)
    m = kerasish.Sequential([kerasish.Input((4, 4, 1)), layers.Flatten(), layers.Dense(3, activation="softmax")])
    m.compile(optimizer=kerasish.optimizers.SGD(0.5), loss="categorical_crossentropy", steps_per_execution=1,
              **compile_kwargs)
    return m


class Recorder:
    """A stand-in augmentation with a known effect: it halves x and swaps the first two classes."""

    def __init__(self):
        self.keys, self.masks = [], []

    def augment_batch(self, x, y, key, sample_mask=None):
        self.keys.append(key)
        self.masks.append(sample_mask)
        return x * 0.5, y[:, jnp.array([1, 0, 2])]


def test_the_train_step_trains_on_the_augmented_batch():
    x, y = images()
    augmented = model(batch_augmentation=Recorder())
    reference = model()  # same seed: same initial weights
    h_aug = augmented.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    h_ref = reference.fit(x * 0.5, y[:, [1, 0, 2]], batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h_aug, h_ref, rtol=1e-6)
    for a, b in zip(augmented.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # evaluate and predict see the data as given
    np.testing.assert_allclose(augmented.evaluate(x, y, verbose=0), reference.evaluate(x, y, verbose=0), rtol=1e-6)


def test_mixup_changes_training_but_not_evaluation_and_keys_differ_per_step():
    x, y = images()
    plain, mixed = model(), model(batch_augmentation=MixUp(alpha=1.0))
    plain.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    mixed.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert not np.allclose(plain.get_weights()[0], mixed.get_weights()[0])
    # the same data twice in one batch: MixUp mixes identical rows, so training is unchanged
    same_x, same_y = np.repeat(x[:1], 4, 0), np.repeat(y[:1], 4, 0)
    a, b = model(), model(batch_augmentation=[MixUp(alpha=1.0), CutMix()])
    a.fit(same_x, same_y, batch_size=4, epochs=3, verbose=0)
    b.fit(same_x, same_y, batch_size=4, epochs=3, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


class KeyLogger:
    """Records the concrete key each training step gives the augmentation (and whether rows are masked)."""

    def __init__(self):
        self.keys, self.masks = [], []

    def augment_batch(self, x, y, key, sample_mask=None):
        data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        jax.debug.callback(lambda k, m: (self.keys.append(np.asarray(k).tolist()),
                                         self.masks.append(np.asarray(m).tolist())), data, sample_mask)
        return x, y


def test_each_step_gets_a_new_key_reproducible_under_the_seed_and_padded_rows_are_marked():
    x, y = images(10)
    runs = []
    for _ in range(2):
        log = KeyLogger()
        model(seed=3, batch_augmentation=log).fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        runs.append(log)
    first, second = runs
    assert len(first.keys) == 6 and len({tuple(k) for k in first.keys}) == 6, "one new key per step"
    assert first.keys == second.keys, "the same seed gives the same keys"
    assert first.masks[2] == [1.0, 1.0, 0.0, 0.0], "the padded last batch (10 = 4 + 4 + 2) marks its padding"


def test_mixup_never_mixes_a_real_row_with_padding():
    x, y = images(8)
    x[5:] = 100.0  # padding rows: a real row mixed with one would show it
    mask = jnp.asarray([1, 1, 1, 1, 1, 0, 0, 0], jnp.float32)
    for aug in (MixUp(alpha=1.0), CutMix(factor=1.0)):
        for seed in range(5):
            mx, my = jax.jit(aug.augment_batch)(x, y, jax.random.PRNGKey(seed), sample_mask=mask)
            assert float(jnp.max(mx[:5])) <= 1.0, type(aug).__name__
            np.testing.assert_allclose(np.sum(np.asarray(my), axis=1), 1.0, rtol=1e-6)


def test_mixup_with_a_partial_last_batch_gives_finite_losses():
    x, y = images(10)
    m = model(batch_augmentation=MixUp(alpha=0.5))
    history = m.fit(x, y, batch_size=4, epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(history))


def test_bad_batch_augmentation_values():
    with pytest.raises(ConfigError, match="batch_augmentation takes batch-level augmentations"):
        model(batch_augmentation=layers.Dense(2))
    x, y = images()
    sparse = model(batch_augmentation=MixUp())
    sparse.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", batch_augmentation=MixUp())
    with pytest.raises(InputError, match=r"y must be one-hot or probabilities .* got int64 labels of shape \(4,\)|"
                                         r"got int32 labels of shape \(4,\)"):
        sparse.fit(x, np.argmax(y, 1), batch_size=4, epochs=1, verbose=0)


def test_batch_augmentation_is_saved_with_the_compile_config(tmp_path):
    m = model(batch_augmentation=MixUp(alpha=0.3))
    x, y = images()
    m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    m.save(tmp_path / "m.kerasish")
    loaded = kerasish.models.load_model(tmp_path / "m.kerasish")
    (aug,) = loaded.get_compile_config()["batch_augmentation"]
    assert isinstance(aug, MixUp) and aug.alpha == 0.3
