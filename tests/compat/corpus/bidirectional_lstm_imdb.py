# Source: keras-team/keras-io examples/nlp/bidirectional_lstm_imdb.py (Keras 3 version,
#   keras.io/examples/nlp/bidirectional_lstm_imdb)
# License: Apache-2.0 (keras-io; author fchollet).
# Adapted: keras.datasets.imdb.load_data() -> seeded random word-index lists of random lengths; CORPUS_SMOKE
#   uses 64 train / 32 validation reviews and 1 epoch (2 as written); the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np
import keras
from keras import layers

from tests.compat.corpus._record import SMOKE, record

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()


def load_imdb(num_words, n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)

    def reviews(n):
        return [list(rng.integers(1, num_words, rng.integers(20, 400))) for _ in range(n)]

    return (reviews(n_train), rng.integers(0, 2, n_train)), (reviews(n_test), rng.integers(0, 2, n_test))


(x_train, y_train), (x_val, y_val) = load_imdb(max_features, *((64, 32) if SMOKE else (25000, 25000)))
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=1 if SMOKE else 2, validation_data=(x_val, y_val))

record(model, x_val[:8], history=history, evaluate=(x_val, y_val))
