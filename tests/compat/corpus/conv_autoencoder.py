# Source: keras-team/keras-io examples/vision/autoencoder.py (Keras 3 version, keras.io/examples/vision/autoencoder)
# License: Apache-2.0 (keras-io; author Santiago L. Valdarrama).
# Adapted: mnist.load_data() -> seeded random uint8 arrays of MNIST's shapes; CORPUS_SMOKE uses 128 train /
#   32 test images and 1 epoch per fit (50 and 100 as written); the matplotlib display() calls are dropped; the
#   closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np

from keras import layers
from keras.models import Model

from tests.compat.corpus._record import SMOKE, record


def preprocess(array):
    """Normalizes the supplied array and reshapes it."""
    array = array.astype("float32") / 255.0
    array = np.reshape(array, (len(array), 28, 28, 1))
    return array


def noise(array):
    """Adds random noise to each image in the supplied array."""
    noise_factor = 0.4
    noisy_array = array + noise_factor * np.random.normal(
        loc=0.0, scale=1.0, size=array.shape
    )

    return np.clip(noisy_array, 0.0, 1.0)


# Since we only need images from the dataset to encode and decode, we
# won't use the labels.
rng = np.random.default_rng(0)
n_train, n_test = (128, 32) if SMOKE else (60000, 10000)
(train_data, _), (test_data, _) = (
    (rng.integers(0, 256, (n_train, 28, 28), dtype="uint8"), None),
    (rng.integers(0, 256, (n_test, 28, 28), dtype="uint8"), None),
)

# Normalize and reshape the data
train_data = preprocess(train_data)
test_data = preprocess(test_data)

# Create a copy of the data with added noise
noisy_train_data = noise(train_data)
noisy_test_data = noise(test_data)

input = layers.Input(shape=(28, 28, 1))

# Encoder
x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(input)
x = layers.MaxPooling2D((2, 2), padding="same")(x)
x = layers.Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = layers.MaxPooling2D((2, 2), padding="same")(x)

# Decoder
x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same")(x)

# Autoencoder
autoencoder = Model(input, x)
autoencoder.compile(optimizer="adam", loss="binary_crossentropy")
autoencoder.summary()

autoencoder.fit(
    x=train_data,
    y=train_data,
    epochs=1 if SMOKE else 50,
    batch_size=128,
    shuffle=True,
    validation_data=(test_data, test_data),
)

predictions = autoencoder.predict(test_data)

history = autoencoder.fit(
    x=noisy_train_data,
    y=train_data,
    epochs=1 if SMOKE else 100,
    batch_size=128,
    shuffle=True,
    validation_data=(noisy_test_data, test_data),
)

predictions = autoencoder.predict(noisy_test_data)

record(autoencoder, noisy_test_data[:8].astype("float32"), history=history, evaluate=(noisy_test_data, test_data))
