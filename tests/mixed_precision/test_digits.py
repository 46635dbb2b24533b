"""The acceptance test: mixed_bfloat16 trains the digits CNN as well as float32 does (same seed, same data)."""

import numpy as np

import kerasish
from kerasish import layers
from kerasish.mixed_precision import set_global_policy


def train_and_test(policy: str, digits_split) -> tuple[float, kerasish.Model]:
    (x_train, y_train), (x_test, y_test) = digits_split
    set_global_policy(policy)
    kerasish.utils.set_random_seed(0)
    model = kerasish.Sequential([
        kerasish.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    set_global_policy("float32")
    return accuracy, model


def test_mixed_bfloat16_digits_accuracy_within_one_point_of_float32(digits_split):
    full, _ = train_and_test("float32", digits_split)
    mixed, model = train_and_test("mixed_bfloat16", digits_split)
    print(f"digits CNN test accuracy: float32 {full:.4f}, mixed_bfloat16 {mixed:.4f}")
    assert full > 0.93 and mixed > 0.93  # both learned
    assert abs(full - mixed) <= 0.01
    # it did run in bfloat16, on float32 weights
    x_test = digits_split[1][0]
    assert model.predict(x_test[:4], verbose=0).dtype == np.dtype("bfloat16")
    assert all(w.dtype == np.float32 for w in model.weights)
