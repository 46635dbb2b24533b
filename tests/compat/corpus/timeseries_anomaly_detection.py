# Source: keras-team/keras-io examples/timeseries/timeseries_anomaly_detection.py (Keras 3 version,
#   keras.io/examples/timeseries/timeseries_anomaly_detection)
# License: Apache-2.0 (keras-io; author pavithrasv).
# Adapted: the NAB .csv downloads -> seeded synthetic DataFrames with the same 5-minute timestamp index and
#   "value" column; CORPUS_SMOKE uses 288 + 63 rows (64 windows) and 1 epoch (50 as written); plots are dropped;
#   the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np
import pandas as pd
import keras
from keras import layers

from tests.compat.corpus._record import SMOKE, record


def read_nab(n_rows, seed):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2014-04-01", periods=n_rows, freq="5min", name="timestamp")
    values = 20 + 60 * (np.sin(np.arange(n_rows) / 288 * 2 * np.pi) > 0) + rng.normal(size=n_rows)
    return pd.DataFrame({"value": values}, index=index)


n_rows = 288 + 63 if SMOKE else 4032
df_small_noise = read_nab(n_rows, 0)
df_daily_jumpsup = read_nab(n_rows, 1)

training_mean = df_small_noise.mean()
training_std = df_small_noise.std()
df_training_value = (df_small_noise - training_mean) / training_std
print("Number of training samples:", len(df_training_value))

TIME_STEPS = 288


# Generated training sequences for use in the model.
def create_sequences(values, time_steps=TIME_STEPS):
    output = []
    for i in range(len(values) - time_steps + 1):
        output.append(values[i : (i + time_steps)])
    return np.stack(output)


x_train = create_sequences(df_training_value.values)
print("Training input shape: ", x_train.shape)

model = keras.Sequential(
    [
        layers.Input(shape=(x_train.shape[1], x_train.shape[2])),
        layers.Conv1D(
            filters=32,
            kernel_size=7,
            padding="same",
            strides=2,
            activation="relu",
        ),
        layers.Dropout(rate=0.2),
        layers.Conv1D(
            filters=16,
            kernel_size=7,
            padding="same",
            strides=2,
            activation="relu",
        ),
        layers.Conv1DTranspose(
            filters=16,
            kernel_size=7,
            padding="same",
            strides=2,
            activation="relu",
        ),
        layers.Dropout(rate=0.2),
        layers.Conv1DTranspose(
            filters=32,
            kernel_size=7,
            padding="same",
            strides=2,
            activation="relu",
        ),
        layers.Conv1DTranspose(filters=1, kernel_size=7, padding="same"),
    ]
)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="mse")
model.summary()

history = model.fit(
    x_train,
    x_train,
    epochs=1 if SMOKE else 50,
    batch_size=128,
    validation_split=0.1,
    callbacks=[
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, mode="min")
    ],
)

# Get train MAE loss.
x_train_pred = model.predict(x_train)
train_mae_loss = np.mean(np.abs(x_train_pred - x_train), axis=1)

# Get reconstruction loss threshold.
threshold = np.max(train_mae_loss)
print("Reconstruction error threshold: ", threshold)

df_test_value = (df_daily_jumpsup - training_mean) / training_std
x_test = create_sequences(df_test_value.values)
x_test_pred = model.predict(x_test)
test_mae_loss = np.mean(np.abs(x_test_pred - x_test), axis=1)
test_mae_loss = test_mae_loss.reshape((-1))
anomalies = test_mae_loss > threshold
print("Number of anomaly samples: ", np.sum(anomalies))

record(model, x_test[:8].astype("float32"), history=history, evaluate=(x_test, x_test))
