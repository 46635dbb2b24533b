# Source: keras-team/keras-io examples/structured_data/imbalanced_classification.py (Keras 3 version,
#   keras.io/examples/structured_data/imbalanced_classification)
# License: Apache-2.0 (keras-io; author fchollet).
# Adapted: the Kaggle creditcard.csv download -> seeded random features (N, 30) and 0/1 targets (N, 1) with about
#   0.2% positives (a few forced in); CORPUS_SMOKE uses 4096 rows and 1 epoch (30 as written); the closing
#   record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np
import keras

from tests.compat.corpus._record import SMOKE, record

rng = np.random.default_rng(0)
n_rows = 4096 if SMOKE else 284807
all_features = rng.normal(size=(n_rows, 30)).astype("float32")
all_targets = (rng.random((n_rows, 1)) < 0.002).astype("uint8")
all_targets[::500] = 1
print("features.shape:", all_features.shape)
print("targets.shape:", all_targets.shape)

num_val_samples = int(len(all_features) * 0.2)
train_features = all_features[:-num_val_samples]
train_targets = all_targets[:-num_val_samples]
val_features = all_features[-num_val_samples:]
val_targets = all_targets[-num_val_samples:]

print("Number of training samples:", len(train_features))
print("Number of validation samples:", len(val_features))

counts = np.bincount(train_targets[:, 0])
print(
    "Number of positive samples in training data: {} ({:.2f}% of total)".format(
        counts[1], 100 * float(counts[1]) / len(train_targets)
    )
)

weight_for_0 = 1.0 / counts[0]
weight_for_1 = 1.0 / counts[1]

mean = np.mean(train_features, axis=0)
train_features -= mean
val_features -= mean
std = np.std(train_features, axis=0)
train_features /= std
val_features /= std

model = keras.Sequential(
    [
        keras.Input(shape=train_features.shape[1:]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.summary()

metrics = [
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
]

model.compile(
    optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics
)

callbacks = [keras.callbacks.ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")]
class_weight = {0: weight_for_0, 1: weight_for_1}

history = model.fit(
    train_features,
    train_targets,
    batch_size=2048,
    epochs=1 if SMOKE else 30,
    verbose=2,
    callbacks=callbacks,
    validation_data=(val_features, val_targets),
    class_weight=class_weight,
)

record(model, val_features[:32], history=history, evaluate=(val_features, val_targets))
