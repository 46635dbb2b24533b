"""One SGD step in kerasish equals one in Keras 3, for models holding every weighted layer.

The same functional model is built with both frameworks (same layer names, so the
weight order can be checked too), given the same random weights, compiled with
``SGD(learning_rate=0.1)`` and the same loss, and trained with ``train_on_batch``
on the same batch. The loss, every weight after the step (BatchNormalization's
moving statistics included) and the predictions after it must agree within 1e-5.
Dropout stays out: the two frameworks draw different masks.

Initializers are ``zeros``: the weights are overwritten anyway, and it spares
XLA compilations of random initializers that these models would not share.
"""

import numpy as np
import pytest

import kerasish

from .helpers import assert_close, keras, random_weights

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def square_plus_one(x):
    return x * x + 1.0


def image_model(module):
    """Two image inputs (NHWC and NCHW): Conv2D, BatchNormalization, the poolings, Flatten, Dense, Concatenate."""
    L = module.layers
    zeros = {"kernel_initializer": "zeros"}
    a = module.Input(shape=(5, 5, 4), name="nhwc")
    b = module.Input(shape=(4, 5, 5), name="nchw")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv_a", **zeros)(a)
    x = L.BatchNormalization(name="bn_a")(x)
    x = L.MaxPooling2D(2, padding="same", name="max_a")(x)  # 3x3
    x = L.Conv2D(4, 3, padding="same", groups=2, name="conv_b", **zeros)(x)
    x = L.AveragePooling2D(2, padding="same", name="avg_a")(x)  # 2x2, the last row/column padded
    x = L.GlobalAveragePooling2D(name="gap")(x)
    y = L.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first", name="conv_c", **zeros)(b)
    y = L.BatchNormalization(axis=1, momentum=0.9, name="bn_c")(y)
    y = L.AveragePooling2D(2, padding="same", data_format="channels_first", name="avg_c")(y)
    y = L.Flatten(data_format="channels_first", name="flat_c")(y)
    y = L.Dense(4, activation="relu", name="dense_c", **zeros)(y)
    z = L.Concatenate(name="cat")([x, y])
    out = L.Dense(3, activation="softmax", name="head", **zeros)(z)
    return module.Model([a, b], out)


def token_model(module):
    """Token ids and float features: Embedding, LayerNormalization, Dense (with an L2 penalty), Add, the rest."""
    L = module.layers
    zeros = {"kernel_initializer": "zeros"}
    t = module.Input(shape=(5,), dtype="int32", name="tokens")
    f = module.Input(shape=(6,), name="features")
    e = L.Embedding(12, 4, embeddings_initializer="zeros", name="embed")(t)
    e = L.LayerNormalization(name="ln_e")(e)
    e = L.Flatten(name="flat_e")(e)
    e = L.Dense(8, activation="relu", kernel_regularizer="l2", name="dense_e", **zeros)(e)
    g = L.Dense(8, activation="tanh", use_bias=False, name="dense_f", **zeros)(f)
    h = L.Add(name="add")([e, g])
    h = L.LayerNormalization(epsilon=1e-5, name="ln_h")(h)
    h = L.Reshape((2, 4), name="reshape")(h)
    h = L.Activation("gelu", name="gelu")(h)
    h = L.Lambda(square_plus_one, name="lambda")(h)
    h = L.Flatten(name="flat_h")(h)
    out = L.Dense(2, name="head", **zeros)(h)
    return module.Model([t, f], out)


def image_batch(rng):
    x = [rng.standard_normal((4, 5, 5, 4)).astype("float32"), rng.standard_normal((4, 4, 5, 5)).astype("float32")]
    return x, rng.integers(0, 3, size=(4,)).astype("int32")


def token_batch(rng):
    x = [rng.integers(0, 12, size=(4, 5)).astype("int32"), rng.standard_normal((4, 6)).astype("float32")]
    return x, rng.standard_normal((4, 2)).astype("float32")


CASES = {
    "image": (image_model, image_batch, "sparse_categorical_crossentropy"),
    "tokens": (token_model, token_batch, "mse"),
}


ZERO_GRADIENT = {"conv_c/bias"}  # BatchNormalization subtracts the batch mean, and with it this bias


def set_weights_by_path(model, values: dict) -> None:
    """Set each layer's weights from ``{"layer/weight": array}`` (independent of the model's weight order)."""
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([values[w.path] for w in layer.weights])


def weights_by_path(model) -> dict:
    return {w.path: np.asarray(w.numpy() if hasattr(w, "numpy") else w) for w in model.weights}


@pytest.fixture(scope="module", params=sorted(CASES))
def trained_pair(request):
    """Both models after one ``train_on_batch``, with what the checks need."""
    build, make_batch, loss = CASES[request.param]
    rng = np.random.default_rng(0)
    theirs, ours = build(keras), build(kerasish)
    paths = [w.path for w in theirs.weights]
    start = dict(zip(paths, random_weights([(tuple(w.shape), w.path) for w in theirs.weights], seed=1)))
    set_weights_by_path(theirs, start)
    set_weights_by_path(ours, start)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss)
    ours.compile(optimizer=kerasish.optimizers.SGD(learning_rate=0.1), loss=loss)
    x, y = make_batch(rng)
    losses = (ours.train_on_batch(x, y), theirs.train_on_batch(x, y))
    return {"case": request.param, "ours": ours, "theirs": theirs, "paths": paths, "start": start, "x": x,
            "losses": losses}


def test_weight_order_matches_keras(trained_pair):
    assert [w.path for w in trained_pair["ours"].weights] == trained_pair["paths"]


def test_loss_matches_keras(trained_pair):
    ours, theirs = trained_pair["losses"]
    assert ours == pytest.approx(float(theirs), rel=1e-5, abs=1e-5)


def test_weights_after_one_sgd_step_match_keras(trained_pair):
    ours, theirs = weights_by_path(trained_pair["ours"]), weights_by_path(trained_pair["theirs"])
    assert sorted(ours) == sorted(theirs)
    assert len(trained_pair["ours"].trainable_weights) == len(trained_pair["theirs"].trainable_weights)
    for path in trained_pair["paths"]:
        assert_close(ours[path], theirs[path], f"{path} after one SGD step")
        # The step must have changed every weight (moving statistics included), or the comparison would
        # prove little; a bias right before a BatchNormalization has an exactly zero gradient.
        if path not in ZERO_GRADIENT:
            assert not np.allclose(theirs[path], trained_pair["start"][path]), f"{path} was not updated"


def test_predictions_after_the_step_match_keras(trained_pair):
    x = trained_pair["x"]
    assert_close(trained_pair["ours"].predict(x, verbose=0), trained_pair["theirs"].predict(x, verbose=0),
                 "predict after one SGD step")
