"""``activity_regularizer=`` on any layer, against Keras 3 training and evaluation with the same weights."""

import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError

from .helpers import assert_close, keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _models(reg):
    def build(lib):
        return lib.Sequential([lib.Input((5,)), lib.layers.Dense(4, activation="tanh", activity_regularizer=reg),
                               lib.layers.Dense(2)])

    k, m = build(keras), build(kerasish)
    m.set_weights(k.get_weights())
    k.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    m.compile(optimizer=kerasish.optimizers.SGD(0.1), loss="mse")
    return k, m


@pytest.mark.parametrize("reg", ["l2", {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.2}}])
def test_activity_regularizer_trains_and_evaluates_as_keras(reg):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((14, 5)).astype("float32")  # 14 = 8 + 6: a partial last batch
    y = rng.standard_normal((14, 2)).astype("float32")
    keras_reg = keras.regularizers.get(reg if isinstance(reg, str) else keras.regularizers.L1L2(0.01, 0.2))
    k, m = _models(keras_reg)
    m.layers[0].activity_regularizer = kerasish.regularizers.get(reg)
    assert_close(m.evaluate(x, y, batch_size=8, verbose=0), k.evaluate(x, y, batch_size=8, verbose=0),
                 "evaluate: the penalty is part of the loss")
    hk = k.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    hm = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
    assert_close(hm, hk, "training losses")
    for a, b in zip(m.get_weights(), k.get_weights()):
        assert_close(a, b, "weights after training")


def test_activity_regularizer_changes_the_loss_and_round_trips():
    layer = layers.Dense(3, activity_regularizer="l1")
    config = layer.get_config()
    assert config["activity_regularizer"]["class_name"] == "L1"
    clone = layers.Dense.from_config(config)
    assert isinstance(clone.activity_regularizer, kerasish.regularizers.L1)
    assert "activity_regularizer" not in layers.Dense(3).get_config()
    x = np.ones((4, 2), "float32")
    y = np.zeros((4, 3), "float32")
    plain = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(3, kernel_initializer="ones")])
    regd = kerasish.Sequential([kerasish.Input((2,)), layers.Dense(3, kernel_initializer="ones",
                                                                    activity_regularizer="l1")])
    for model in (plain, regd):
        model.compile(optimizer="sgd", loss="mse")
    # outputs are all 2: mse 4, plus l1 0.01 * sum|out| / batch = 0.01 * 24 / 4
    assert_close(plain.evaluate(x, y, verbose=0), 4.0)
    assert_close(regd.evaluate(x, y, verbose=0), 4.0 + 0.06)


def test_bad_activity_regularizer_is_a_config_error():
    with pytest.raises(ConfigError, match="Dense: activity_regularizer: .*'nope'"):
        layers.Dense(2, activity_regularizer="nope")
