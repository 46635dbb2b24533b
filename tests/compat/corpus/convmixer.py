# Source: keras-team/keras-io examples/vision/convmixer.py (Keras 3 version, keras.io/examples/vision/convmixer)
# License: Apache-2.0 (keras-io; author Sayak Paul).
# Adapted: keras.datasets.cifar10.load_data() -> seeded random uint8 arrays of CIFAR-10's shapes, and the
#   tf.data pipelines (batching and flip/crop augmentation) -> the arrays passed to fit directly; the checkpoint
#   goes to the working directory instead of /tmp; CORPUS_SMOKE uses 128 train / 32 val / 32 test images,
#   filters=32, depth=2 (256 and 8 as written) and 1 epoch (10 as written); the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import keras
from keras import layers

import numpy as np

from tests.compat.corpus._record import SMOKE, record

learning_rate = 0.001
weight_decay = 0.0001
batch_size = 128
num_epochs = 1 if SMOKE else 10

rng = np.random.default_rng(0)
n_train, n_test = (160, 32) if SMOKE else (50000, 10000)
(x_train, y_train), (x_test, y_test) = (
    (rng.integers(0, 256, (n_train, 32, 32, 3), dtype="uint8"), rng.integers(0, 10, (n_train, 1), dtype="uint8")),
    (rng.integers(0, 256, (n_test, 32, 32, 3), dtype="uint8"), rng.integers(0, 10, (n_test, 1), dtype="uint8")),
)
val_split = 0.1 if not SMOKE else 0.2

val_indices = int(len(x_train) * val_split)
new_x_train, new_y_train = x_train[val_indices:], y_train[val_indices:]
x_val, y_val = x_train[:val_indices], y_train[:val_indices]

print(f"Training data samples: {len(new_x_train)}")
print(f"Validation data samples: {len(x_val)}")
print(f"Test data samples: {len(x_test)}")


def activation_block(x):
    x = layers.Activation("gelu")(x)
    return layers.BatchNormalization()(x)


def conv_stem(x, filters: int, patch_size: int):
    x = layers.Conv2D(filters, kernel_size=patch_size, strides=patch_size)(x)
    return activation_block(x)


def conv_mixer_block(x, filters: int, kernel_size: int):
    # Depthwise convolution.
    x0 = x
    x = layers.DepthwiseConv2D(kernel_size=kernel_size, padding="same")(x)
    x = layers.Add()([activation_block(x), x0])  # Residual.

    # Pointwise convolution.
    x = layers.Conv2D(filters, kernel_size=1)(x)
    x = activation_block(x)

    return x


def get_conv_mixer_256_8(
    image_size=32, filters=256, depth=8, kernel_size=5, patch_size=2, num_classes=10
):
    """ConvMixer-256/8: https://openreview.net/pdf?id=TVHS5Y4dNvM.
    The hyperparameter values are taken from the paper.
    """
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(scale=1.0 / 255)(inputs)

    # Extract patch embeddings.
    x = conv_stem(x, filters, patch_size)

    # ConvMixer blocks.
    for _ in range(depth):
        x = conv_mixer_block(x, filters, kernel_size)

    # Classification block.
    x = layers.GlobalAvgPool2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)

    return keras.Model(inputs, outputs)


def run_experiment(model):
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay
    )

    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    checkpoint_filepath = "checkpoint.keras"
    checkpoint_callback = keras.callbacks.ModelCheckpoint(
        checkpoint_filepath,
        monitor="val_accuracy",
        save_best_only=True,
        save_weights_only=False,
    )

    history = model.fit(
        new_x_train,
        new_y_train,
        batch_size=batch_size,
        validation_data=(x_val, y_val),
        epochs=num_epochs,
        callbacks=[checkpoint_callback],
    )

    model.load_weights(checkpoint_filepath)
    _, accuracy = model.evaluate(x_test, y_test)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")

    return history, model


conv_mixer_model = get_conv_mixer_256_8(**({"filters": 32, "depth": 2} if SMOKE else {}))
history, conv_mixer_model = run_experiment(conv_mixer_model)

record(conv_mixer_model, x_test[:8], history=history, evaluate=(x_test, y_test))
