# Source: keras-team/keras-io examples/keras_recipes/antirectifier.py (Keras 3 version, keras.io/examples/keras_recipes/antirectifier)
# License: Apache-2.0 (keras-io; author fchollet).
# Adapted: keras.datasets.mnist.load_data() -> seeded random uint8 arrays of MNIST's shapes; CORPUS_SMOKE uses
#   256 train / 64 test images and 1 epoch (20 as written); the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np
import keras
from keras import layers
from keras import ops

from tests.compat.corpus._record import SMOKE, record


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer=self.initializer,
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        mixed = ops.matmul(concatenated, self.kernel)
        return mixed

    def get_config(self):
        # Implement get_config to enable serialization. This is optional.
        base_config = super().get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


# Training parameters
batch_size = 128
num_classes = 10
epochs = 1 if SMOKE else 20

# The data, split between train and test sets
rng = np.random.default_rng(0)
n_train, n_test = (256, 64) if SMOKE else (60000, 10000)
(x_train, y_train), (x_test, y_test) = (
    (rng.integers(0, 256, (n_train, 28, 28), dtype="uint8"), rng.integers(0, 10, n_train, dtype="uint8")),
    (rng.integers(0, 256, (n_test, 28, 28), dtype="uint8"), rng.integers(0, 10, n_test, dtype="uint8")),
)

x_train = x_train.reshape(-1, 784)
x_test = x_test.reshape(-1, 784)
x_train = x_train.astype("float32")
x_test = x_test.astype("float32")
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Build the model
model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(256),
        Antirectifier(),
        layers.Dense(256),
        Antirectifier(),
        layers.Dropout(0.5),
        layers.Dense(10),
    ]
)

# Compile the model
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train the model
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.15)

# Test the model
model.evaluate(x_test, y_test)

record(model, x_test[:16], history=history, evaluate=(x_test, y_test))
