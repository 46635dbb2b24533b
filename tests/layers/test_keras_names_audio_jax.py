"""Keras 3.15 layer names kerasish added for issue 14: MelSpectrogram, STFTSpectrogram, Pipeline, JaxLayer and
FlaxLayer; each against Keras 3 on the same inputs and weights (Keras's JaxLayer builds with init_fn only with
TensorFlow installed, so that path is checked against a hand computation)."""

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.errors import ConfigError, InputError

from .helpers import assert_close, keras, make_inputs, run_layer_test

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


# -- MelSpectrogram, STFTSpectrogram ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"fft_length": 32, "sequence_stride": 8, "num_mel_bins": 6, "sampling_rate": 8000, "top_db": 20.0,
     "ref_power": 2.0, "min_freq": 100.0},
    {"fft_length": 32, "sequence_length": 24, "sequence_stride": 10, "num_mel_bins": 5, "power_to_db": False,
     "window": "hamming", "max_freq": 3000, "mag_exp": 1.0},
])
def test_mel_spectrogram_matches_keras(kwargs):
    x = make_inputs((2, 120), seed=6)
    theirs = np.asarray(jax.jit(keras.layers.MelSpectrogram(**kwargs))(x))  # jitted: Keras eager is slow here
    ours = np.asarray(layers.MelSpectrogram(**kwargs)(x))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())
    layer = layers.MelSpectrogram(**kwargs)
    restored = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    assert restored.get_config() == layer.get_config()
    inp = kerasish.Input(shape=(120,))
    assert tuple(layers.MelSpectrogram(**kwargs)(inp).shape) == (None,) + theirs.shape[1:]


@pytest.mark.parametrize("kwargs, input_shape", [
    ({"mode": "log", "frame_length": 16, "frame_step": 8}, (2, 64, 2)),
    ({"mode": "psd", "frame_length": 12, "fft_length": 16, "scaling": "spectrum"}, (2, 50, 1)),
    ({"mode": "real", "frame_length": 16, "window": "hamming", "periodic": True}, (2, 64, 1)),
    ({"mode": "imag", "frame_length": 16, "padding": "same"}, (2, 60, 1)),
    ({"mode": "angle", "frame_length": 16, "window": None}, (2, 64, 1)),
    ({"mode": "stft", "frame_length": 16, "expand_dims": True}, (2, 64, 2)),
    ({"mode": "magnitude", "frame_length": 16, "data_format": "channels_first", "expand_dims": True}, (2, 2, 64)),
], ids=["log", "psd", "real", "imag", "angle", "stft_expand", "cf_magnitude_expand"])
def test_stft_spectrogram_matches_keras(kwargs, input_shape):
    # Large outputs (log of tiny magnitudes, angles near +-pi) leave float32 rounding room only.
    run_layer_test(layers.STFTSpectrogram, kwargs, input_shape, atol=2e-4, rtol=1e-4)


def test_spectrograms_reject_bad_arguments():
    with pytest.raises(ConfigError, match="fft_length"):
        layers.MelSpectrogram(fft_length=16, sequence_length=32)
    with pytest.raises(ConfigError, match="mode"):
        layers.STFTSpectrogram(mode="power")
    with pytest.raises(ConfigError, match="frame_step"):
        layers.STFTSpectrogram(frame_length=8, frame_step=9)
    with pytest.raises(InputError, match="rank 3"):
        layers.STFTSpectrogram(frame_length=8)(np.zeros((2, 64), "float32"))


# -- Pipeline -----------------------------------------------------------------------------------------------

def test_pipeline_matches_keras_and_defaults_to_training():
    x = make_inputs((2, 4, 4, 3), seed=7)
    ours = layers.Pipeline([layers.Rescaling(0.5), layers.RandomFlip("horizontal", seed=1),
                            layers.Resizing(2, 2)])
    theirs = keras.layers.Pipeline([keras.layers.Rescaling(0.5), keras.layers.RandomFlip("horizontal", seed=1),
                                    keras.layers.Resizing(2, 2)])
    assert_close(ours(x, training=False), theirs(x, training=False))
    deterministic = layers.Pipeline([layers.Rescaling(2.0, offset=1.0), layers.Dense(3)])
    deterministic(x)
    assert len(deterministic.weights) == 2 and deterministic.layers[1].units == 3
    config = deterministic.get_config()
    assert set(config) == {"layers", "name"} == set(keras.layers.Pipeline([]).get_config())
    restored = layers.Pipeline.from_config(json.loads(json.dumps(config)))
    restored(x)
    restored.set_weights(deterministic.get_weights())
    assert_close(restored(x), deterministic(x))
    noisy = layers.Pipeline([layers.GaussianNoise(1.0)])
    assert not np.allclose(noisy(x), x), "an eager call without training= augments, as Keras's Pipeline"
    assert_close(noisy(x, training=False), x)
    inp = kerasish.Input(shape=(4, 4, 3))
    model = kerasish.Model(inp, layers.Dense(1)(layers.Flatten()(layers.Pipeline([layers.GaussianNoise(0.1)])(inp))))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((2, 1), "float32"), epochs=1, verbose=0)
    assert_close(model.predict(x, verbose=0), model(x))  # inference: no noise
    with pytest.raises(ConfigError, match="layers"):
        layers.Pipeline("dense")


# -- JaxLayer, FlaxLayer ------------------------------------------------------------------------------------

def _affine(params, inputs):
    return inputs @ params["w"] + params["b"]


def _counting(params, state, rng, inputs, training):
    out = inputs @ params["w"]
    if training:
        out = out + 0.0 * jax.random.normal(rng, out.shape)
    return out, {"calls": state["calls"] + 1.0}


def test_jax_layer_with_params_matches_keras():
    x = make_inputs((4, 3), seed=8)
    params = {"w": make_inputs((3, 2), seed=9), "b": np.ones(2, "float32")}
    ours, theirs = layers.JaxLayer(_affine, params=params), keras.layers.JaxLayer(_affine, params=params)
    # Keras numbers unnamed variables globally (variable_16, ...), kerasish per layer: compare the stems
    def stems(weights):
        return [(w.name.split("_")[0], tuple(w.shape)) for w in weights]

    assert stems(ours.weights) == stems(theirs.weights)
    assert_close(ours(x), theirs(x))
    assert ours.get_config()["call_fn"] == "_affine" and ours.get_config()["init_fn"] is None
    with pytest.raises(ConfigError, match="custom_objects"):
        layers.JaxLayer.from_config(json.loads(json.dumps(ours.get_config())))


def test_jax_layer_with_init_fn_and_state_trains():
    def init(rng, inputs):
        return {"w": jax.random.normal(rng, (inputs.shape[-1], 2))}, {"calls": jnp.zeros(())}

    layer = layers.JaxLayer(_counting, init_fn=init)
    restored = layers.JaxLayer.from_config(json.loads(json.dumps(layer.get_config())),
                                           custom_objects={"_counting": _counting, "init": init})
    assert restored.call_fn is _counting and restored.init_fn is init
    x = make_inputs((4, 3), seed=1)
    y = layer(x)
    assert [(w.name, w.trainable) for w in layer.weights] == [("variable", True), ("variable_1", False)]
    assert_close(y, x @ layer.get_weights()[0])
    layer(x, training=True)
    assert float(layer.get_weights()[1]) == 2.0  # the state returned by call_fn is assigned back
    model = kerasish.Sequential([kerasish.Input(shape=(3,)), layers.JaxLayer(_counting, init_fn=init)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, np.ones((4, 2), "float32"), batch_size=2, epochs=1, verbose=0)
    assert not np.allclose(before, model.get_weights()[0])
    assert float(model.get_weights()[1]) >= 2.0
    with pytest.raises(ConfigError, match="inputs"):
        layers.JaxLayer(lambda params, x: x, params={})
    with pytest.raises(ConfigError, match="cannot all be None"):
        layers.JaxLayer(_affine)


class _Net(nn.Module):
    @nn.compact
    def __call__(self, x, training):
        x = nn.Dense(4)(x)
        x = nn.BatchNorm(use_running_average=not training)(x)
        x = nn.Dropout(0.5, deterministic=not training)(x)
        return nn.Dense(2)(x)


def test_flax_layer_matches_keras():
    x = make_inputs((4, 3), seed=10)
    variables = _Net().init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}, x, training=False)
    ours, theirs = layers.FlaxLayer(_Net(), variables=variables), keras.layers.FlaxLayer(_Net(), variables=variables)
    assert [(tuple(w.shape), w.trainable) for w in ours.weights] == \
        [(tuple(w.shape), w.trainable) for w in theirs.weights]
    assert_close(ours(x), theirs(x))
    ours(x, training=True), theirs(x, training=True)  # batch statistics move the same way
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b)
    config = ours.get_config()
    assert config["module"] == "_Net" and config["method"] is None
    restored = layers.FlaxLayer.from_config(json.loads(json.dumps(config)), custom_objects={"_Net": _Net})
    restored(x)
    restored.set_weights(ours.get_weights())
    assert_close(restored(x), ours(x))


def test_flax_layer_initializes_itself_and_trains():
    model = kerasish.Sequential([kerasish.Input(shape=(3,)), layers.FlaxLayer(_Net())])
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    before = model.get_weights()
    model.fit(rng.standard_normal((8, 3)).astype("float32"), np.zeros((8, 2), "float32"), batch_size=4, epochs=1,
              verbose=0)
    after = model.get_weights()
    assert all(not np.allclose(a, b) for a, b in zip(before, after))  # params trained, batch stats updated
