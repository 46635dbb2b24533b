# Source: keras-team/keras-io examples/vision/pointnet.py (Keras 3 version, keras.io/examples/vision/pointnet)
# License: Apache-2.0 (keras-io; author David Griffiths).
# Adapted: the ModelNet10 download and trimesh sampling -> seeded random point clouds (N, NUM_POINTS, 3) with
#   labels, and the tf.data pipelines (jitter/shuffle augmentation) -> the arrays passed to fit directly;
#   CORPUS_SMOKE uses 64 train / 32 test clouds of 256 points (2048 as written) and 1 epoch (20 as written);
#   plots are dropped; the closing record(...) call is added.
# ruff: noqa: E402, I001, UP031, UP032, UP034  (the examples are kept as written, in their own style)
import numpy as np
import keras
from keras import layers
from keras import ops

from tests.compat.corpus._record import SMOKE, record

keras.utils.set_random_seed(seed=42)

NUM_POINTS = 256 if SMOKE else 2048
NUM_CLASSES = 10
BATCH_SIZE = 32

rng = np.random.default_rng(0)
n_train, n_test = (64, 32) if SMOKE else (3991, 908)
train_points = rng.normal(size=(n_train, NUM_POINTS, 3)).astype("float32")
test_points = rng.normal(size=(n_test, NUM_POINTS, 3)).astype("float32")
train_labels = rng.integers(0, NUM_CLASSES, n_train)
test_labels = rng.integers(0, NUM_CLASSES, n_test)


def conv_bn(x, filters):
    x = layers.Conv1D(filters, kernel_size=1, padding="valid")(x)
    x = layers.BatchNormalization(momentum=0.0)(x)
    return layers.Activation("relu")(x)


def dense_bn(x, filters):
    x = layers.Dense(filters)(x)
    x = layers.BatchNormalization(momentum=0.0)(x)
    return layers.Activation("relu")(x)


class OrthogonalRegularizer(keras.regularizers.Regularizer):
    def __init__(self, num_features, l2reg=0.001):
        self.num_features = num_features
        self.l2reg = l2reg
        self.eye = ops.eye(num_features)

    def __call__(self, x):
        x = ops.reshape(x, (-1, self.num_features, self.num_features))
        xxt = ops.tensordot(x, x, axes=(2, 2))
        xxt = ops.reshape(xxt, (-1, self.num_features, self.num_features))
        return ops.sum(self.l2reg * ops.square(xxt - self.eye))

    def get_config(self):
        config = super().get_config()
        config.update({"num_features": self.num_features, "l2reg_strength": self.l2reg})
        return config


def tnet(inputs, num_features):
    # Initialise bias as the identity matrix
    bias = keras.initializers.Constant(np.eye(num_features).flatten())
    reg = OrthogonalRegularizer(num_features)

    x = conv_bn(inputs, 32)
    x = conv_bn(x, 64)
    x = conv_bn(x, 512)
    x = layers.GlobalMaxPooling1D()(x)
    x = dense_bn(x, 256)
    x = dense_bn(x, 128)
    x = layers.Dense(
        num_features * num_features,
        kernel_initializer="zeros",
        bias_initializer=bias,
        activity_regularizer=reg,
    )(x)
    feat_T = layers.Reshape((num_features, num_features))(x)
    # Apply affine transformation to input features
    return layers.Dot(axes=(2, 1))([inputs, feat_T])


inputs = keras.Input(shape=(NUM_POINTS, 3))

x = tnet(inputs, 3)
x = conv_bn(x, 32)
x = conv_bn(x, 32)
x = tnet(x, 32)
x = conv_bn(x, 32)
x = conv_bn(x, 64)
x = conv_bn(x, 512)
x = layers.GlobalMaxPooling1D()(x)
x = dense_bn(x, 256)
x = layers.Dropout(0.3)(x)
x = dense_bn(x, 128)
x = layers.Dropout(0.3)(x)

outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)

model = keras.Model(inputs=inputs, outputs=outputs, name="pointnet")
model.summary()

model.compile(
    loss="sparse_categorical_crossentropy",
    optimizer=keras.optimizers.Adam(learning_rate=0.001),
    metrics=["sparse_categorical_accuracy"],
)

history = model.fit(train_points, train_labels, batch_size=BATCH_SIZE, epochs=1 if SMOKE else 20,
                    validation_data=(test_points, test_labels))

record(model, test_points[:8], history=history, evaluate=(test_points, test_labels))
