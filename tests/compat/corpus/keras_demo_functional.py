# Source: keras-team/keras examples/demo_functional.py
# License: Apache-2.0 (the Keras authors).
# Adapted: CORPUS_SMOKE shrinks the random data (50000 -> 256 rows), the Dense width (512 -> 32) and the epochs
#   (5 -> 1); the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np

from keras import Model
from keras import layers
from keras import losses
from keras import metrics
from keras import optimizers
import keras

from tests.compat.corpus._record import SMOKE, record

keras.config.disable_traceback_filtering()

width = 32 if SMOKE else 512
inputs = layers.Input((100,))
x = layers.Dense(width, activation="relu")(inputs)
residual = x
x = layers.Dense(width, activation="relu")(x)
x = layers.Dense(width, activation="relu")(x)
x += residual
x = layers.Dense(width, activation="relu")(x)
residual = x
x = layers.Dense(width, activation="relu")(x)
x = layers.Dense(width, activation="relu")(x)
x += residual
residual = x
x = layers.Dense(width, activation="relu")(x)
x = layers.Dense(width, activation="relu")(x)
x += residual
outputs = layers.Dense(16)(x)
model = Model(inputs, outputs)

model.summary()

n = 256 if SMOKE else 50000
x = np.random.random((n, 100))
y = np.random.random((n, 16))
batch_size = 32
epochs = 1 if SMOKE else 5

model.compile(
    optimizer=optimizers.Adam(learning_rate=0.001),
    loss=losses.MeanSquaredError(),
    metrics=[
        metrics.CategoricalAccuracy(name="acc"),
        metrics.MeanSquaredError(name="mse"),
    ],
)

print("\nTrain model")
history = model.fit(
    x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2
)
print("\nHistory:")
print(history.history)

print("\nEvaluate model")
scores = model.evaluate(x, y, return_dict=True)
print(scores)

print("\nRun inference")
pred = model.predict(x)
print(f"Inferred output shape {pred.shape}")

record(model, x[:16], history=history, evaluate=(x[:64], y[:64]))
