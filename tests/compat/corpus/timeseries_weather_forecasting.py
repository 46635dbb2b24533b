# Source: keras-team/keras-io examples/timeseries/timeseries_weather_forecasting.py (Keras 3 version,
#   keras.io/examples/timeseries/timeseries_weather_forecasting)
# License: Apache-2.0 (keras-io; authors Prabhanshu Attri, Yashika Sharma, Kilaru Yasaswi Sri Chandra Gandhi).
# Adapted: the Jena climate CSV download -> a seeded synthetic DataFrame with the seven selected feature columns;
#   keras.utils.timeseries_dataset_from_array (a tf.data.Dataset) -> the same windows built as NumPy arrays
#   (sequence_length 120, sampling_rate 6, target 72 steps ahead); CORPUS_SMOKE uses 6000 rows and 1 epoch
#   (10 as written); plots are dropped; the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import pandas as pd
import numpy as np
import keras

from tests.compat.corpus._record import SMOKE, record

rng = np.random.default_rng(0)
n_rows = 6000 if SMOKE else 420551
selected = ["p (mbar)", "T (degC)", "VPmax (mbar)", "VPdef (mbar)", "sh (g/kg)", "rho (g/m**3)", "wv (m/s)"]
df = pd.DataFrame(rng.normal(size=(n_rows, len(selected))).cumsum(axis=0), columns=selected)

split_fraction = 0.715
train_split = int(split_fraction * int(df.shape[0]))
step = 6

past = 720
future = 72
learning_rate = 0.001
batch_size = 256
epochs = 1 if SMOKE else 10


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


features = df[selected]
features = normalize(features.values, train_split)
features = pd.DataFrame(features)

train_data = features.loc[0 : train_split - 1]
val_data = features.loc[train_split:]

start = past + future
end = start + train_split

x_train = train_data[[i for i in range(7)]].values
y_train = features.iloc[start:end][[1]]

sequence_length = int(past / step)


def windows(data, targets, sequence_length, sampling_rate):
    """The (inputs, targets) arrays keras.utils.timeseries_dataset_from_array would batch."""
    n = min(len(data) - (sequence_length - 1) * sampling_rate, len(targets))
    idx = np.arange(n)[:, None] + np.arange(sequence_length)[None, :] * sampling_rate
    return data[idx].astype("float32"), np.asarray(targets)[:n].astype("float32")


inputs_train, targets_train = windows(x_train, y_train.values, sequence_length, step)

x_end = len(val_data) - past - future

label_start = train_split + past + future

x_val = val_data.iloc[:x_end][[i for i in range(7)]].values
y_val = features.iloc[label_start:][[1]]

inputs_val, targets_val = windows(x_val, y_val.values, sequence_length, step)

print("Input shape:", inputs_train.shape)
print("Target shape:", targets_train.shape)

inputs = keras.layers.Input(shape=(inputs_train.shape[1], inputs_train.shape[2]))
lstm_out = keras.layers.LSTM(32)(inputs)
outputs = keras.layers.Dense(1)(lstm_out)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
model.summary()

path_checkpoint = "model_checkpoint.weights.h5"
es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)

modelckpt_callback = keras.callbacks.ModelCheckpoint(
    monitor="val_loss",
    filepath=path_checkpoint,
    verbose=1,
    save_weights_only=True,
    save_best_only=True,
)

history = model.fit(
    inputs_train,
    targets_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_data=(inputs_val, targets_val),
    callbacks=[es_callback, modelckpt_callback],
)

record(model, inputs_val[:8], history=history, evaluate=(inputs_val, targets_val))
