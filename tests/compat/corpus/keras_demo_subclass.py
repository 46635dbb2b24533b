# Source: keras-team/keras examples/demo_subclass.py
# License: Apache-2.0 (the Keras authors).
# Adapted: CORPUS_SMOKE shrinks the random data (50000 -> 256 rows), the hidden width (256 -> 32) and the epochs
#   (6 -> 1); the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np

from keras import Model
from keras import layers
from keras import losses
from keras import metrics
from keras import optimizers

from tests.compat.corpus._record import SMOKE, record


class MyModel(Model):
    def __init__(self, hidden_dim, output_dim):
        super().__init__()
        self.dense1 = layers.Dense(hidden_dim, activation="relu")
        self.dense2 = layers.Dense(hidden_dim, activation="relu")
        self.dense3 = layers.Dense(output_dim)

    def call(self, x):
        x = self.dense1(x)
        x = self.dense2(x)
        return self.dense3(x)


model = MyModel(hidden_dim=32 if SMOKE else 256, output_dim=16)

n = 256 if SMOKE else 50000
x = np.random.random((n, 128))
y = np.random.random((n, 16))
batch_size = 32
epochs = 1 if SMOKE else 6

model.compile(
    optimizer=optimizers.SGD(learning_rate=0.001),
    loss=losses.MeanSquaredError(),
    metrics=[metrics.MeanSquaredError()],
)
history = model.fit(
    x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2
)

print("History:")
print(history.history)

model.summary()

record(model, x[:16], history=history, evaluate=(x[:64], y[:64]))
