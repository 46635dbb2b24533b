"""1D/3D pooling and the global pooling layers against Keras 3 (2D pooling is in ``test_conv.py``).

Odd spatial sizes make ``padding="same"`` pad unevenly (the extra step goes at the end, as TensorFlow), and
Keras's "same" average pooling divides by the number of real values in each window, not the window size.
"""

import numpy as np
import pytest

from kerasish.errors import ConfigError, InputError
from kerasish.layers import pooling
from kerasish.layers.pooling import (
    AveragePooling1D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling3D,
)

from .helpers import assert_close, keras, make_inputs, run_layer_test

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

NWC, NCW = (2, 7, 3), (2, 3, 7)
NDHWC, NCDHW = (2, 5, 4, 5, 3), (2, 3, 5, 4, 5)


def _run(cls, kwargs, input_shape, out_shape):
    # custom_objects: the config round trip resolves the class even before kerasish.layers exports it.
    run_layer_test(cls, kwargs, input_shape, expected_output_shape=out_shape, expected_num_weights=0,
                   custom_objects={cls.__name__: cls})


POOL1D_CASES = [
    ({"pool_size": 2}, NWC, (2, 3, 3)),
    ({"pool_size": 2, "padding": "same"}, NWC, (2, 4, 3)),  # last window holds one real step
    ({"pool_size": 3, "strides": 2, "padding": "same"}, NWC, (2, 4, 3)),
    ({"pool_size": 3, "strides": 1, "padding": "same"}, NWC, (2, 7, 3)),  # padded at both ends
    ({"pool_size": 3, "strides": 2}, NWC, (2, 3, 3)),
    ({"pool_size": 2, "padding": "same", "data_format": "channels_first"}, NCW, (2, 3, 4)),
]
POOL1D_IDS = ["default", "same", "same_s2", "same_s1", "valid_s2", "channels_first_same"]


@pytest.mark.parametrize("kwargs, input_shape, out_shape", POOL1D_CASES, ids=POOL1D_IDS)
def test_max_pooling1d(kwargs, input_shape, out_shape):
    _run(MaxPooling1D, kwargs, input_shape, out_shape)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", POOL1D_CASES, ids=POOL1D_IDS)
def test_average_pooling1d(kwargs, input_shape, out_shape):
    _run(AveragePooling1D, kwargs, input_shape, out_shape)


POOL3D_CASES = [
    ({"pool_size": 2}, NDHWC, (2, 2, 2, 2, 3)),
    ({"pool_size": 2, "padding": "same"}, NDHWC, (2, 3, 2, 3, 3)),
    ({"pool_size": 3, "strides": 1, "padding": "same"}, NDHWC, (2, 5, 4, 5, 3)),
    ({"pool_size": (2, 1, 3), "strides": (1, 2, 2)}, NDHWC, (2, 4, 2, 2, 3)),
    ({"pool_size": 2, "padding": "same", "data_format": "channels_first"}, NCDHW, (2, 3, 3, 2, 3)),
]
POOL3D_IDS = ["default", "same", "same_s1", "rect", "channels_first_same"]


@pytest.mark.parametrize("kwargs, input_shape, out_shape", POOL3D_CASES, ids=POOL3D_IDS)
def test_max_pooling3d(kwargs, input_shape, out_shape):
    _run(MaxPooling3D, kwargs, input_shape, out_shape)


@pytest.mark.parametrize("kwargs, input_shape, out_shape", POOL3D_CASES, ids=POOL3D_IDS)
def test_average_pooling3d(kwargs, input_shape, out_shape):
    _run(AveragePooling3D, kwargs, input_shape, out_shape)


def test_average_pooling_same_averages_only_real_values():
    x = np.arange(5, dtype="float32").reshape(1, 5, 1)
    y = np.asarray(AveragePooling1D(2, padding="same")(x))
    np.testing.assert_array_equal(y[0, :, 0], [0.5, 2.5, 4.0])  # last window: one real value, no zero counted
    x3 = np.ones((1, 3, 3, 3, 1), "float32")
    y3 = np.asarray(AveragePooling3D(2, padding="same")(x3))
    np.testing.assert_array_equal(y3, 1.0)  # a zero counted in any window would pull it below one


def test_default_pool_sizes_are_keras():
    assert MaxPooling1D().pool_size == (2,) and MaxPooling1D().strides == (2,)
    assert MaxPooling3D().pool_size == (2, 2, 2)
    for cls in (AveragePooling1D, AveragePooling3D):
        with pytest.raises(TypeError):
            getattr(keras.layers, cls.__name__)()  # Keras requires pool_size for these
        with pytest.raises(ConfigError, match="pool_size"):
            cls()


def test_pooling_bad_arguments():
    with pytest.raises(ConfigError, match=r"MaxPooling3D: pool_size .*\(2, 2\)"):
        MaxPooling3D(pool_size=(2, 2))
    with pytest.raises(ConfigError, match="AveragePooling1D: padding .*'full'"):
        AveragePooling1D(2, padding="full")
    with pytest.raises(ConfigError, match="MaxPooling1D: strides must be positive"):
        MaxPooling1D(2, strides=0)
    with pytest.raises(ConfigError, match="GlobalMaxPooling1D: data_format"):
        GlobalMaxPooling1D(data_format="nwc")
    with pytest.raises(InputError, match=r"MaxPooling1D.*expects 3D inputs.*\(2, 5, 5, 4\)"):
        MaxPooling1D()(np.zeros((2, 5, 5, 4), "float32"))
    with pytest.raises(InputError, match=r"GlobalAveragePooling3D.*expects 5D inputs"):
        GlobalAveragePooling3D()(np.zeros((2, 5, 4), "float32"))


def test_pooling_aliases_are_keras_names():
    for alias, cls in [("MaxPool1D", MaxPooling1D), ("MaxPool3D", MaxPooling3D), ("AvgPool1D", AveragePooling1D),
                       ("AvgPool3D", AveragePooling3D), ("GlobalMaxPool1D", GlobalMaxPooling1D),
                       ("GlobalMaxPool2D", GlobalMaxPooling2D), ("GlobalMaxPool3D", GlobalMaxPooling3D),
                       ("GlobalAvgPool1D", GlobalAveragePooling1D), ("GlobalAvgPool3D", GlobalAveragePooling3D)]:
        assert getattr(pooling, alias) is cls
        assert getattr(keras.layers, alias) is getattr(keras.layers, cls.__name__)


# -- global pooling ------------------------------------------------------------------------------
GLOBAL_CASES = [
    (1, {}, NWC, (2, 3)),
    (1, {"data_format": "channels_first"}, NCW, (2, 3)),
    (1, {"keepdims": True}, NWC, (2, 1, 3)),
    (1, {"keepdims": True, "data_format": "channels_first"}, NCW, (2, 3, 1)),
    (2, {}, (2, 5, 4, 3), (2, 3)),
    (2, {"keepdims": True, "data_format": "channels_first"}, (2, 3, 5, 4), (2, 3, 1, 1)),
    (3, {}, NDHWC, (2, 3)),
    (3, {"keepdims": True}, NDHWC, (2, 1, 1, 1, 3)),
    (3, {"data_format": "channels_first"}, NCDHW, (2, 3)),
]
GLOBAL_IDS = ["1d", "1d_cf", "1d_keep", "1d_keep_cf", "2d", "2d_keep_cf", "3d", "3d_keep", "3d_cf"]
GLOBAL_MAX = {1: GlobalMaxPooling1D, 2: GlobalMaxPooling2D, 3: GlobalMaxPooling3D}
GLOBAL_AVG = {1: GlobalAveragePooling1D, 2: GlobalAveragePooling2D, 3: GlobalAveragePooling3D}


@pytest.mark.parametrize("rank, kwargs, input_shape, out_shape", GLOBAL_CASES, ids=GLOBAL_IDS)
def test_global_max_pooling(rank, kwargs, input_shape, out_shape):
    _run(GLOBAL_MAX[rank], kwargs, input_shape, out_shape)


@pytest.mark.parametrize("rank, kwargs, input_shape, out_shape", GLOBAL_CASES, ids=GLOBAL_IDS)
def test_global_average_pooling(rank, kwargs, input_shape, out_shape):
    _run(GLOBAL_AVG[rank], kwargs, input_shape, out_shape)


@pytest.mark.parametrize("kwargs", [{}, {"keepdims": True}, {"data_format": "channels_first"}],
                         ids=["default", "keepdims", "channels_first"])
def test_global_average_pooling1d_mask_is_keras(kwargs):
    shape = NCW if kwargs.get("data_format") == "channels_first" else NWC
    x = make_inputs(shape)
    mask = np.array([[1, 1, 0, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]], bool)
    ours = np.asarray(GlobalAveragePooling1D(**kwargs)(x, mask=mask))
    theirs = np.asarray(keras.layers.GlobalAveragePooling1D(**kwargs)(x, mask=mask))
    assert_close(ours, theirs, "masked mean")
    steps = 2 if kwargs.get("data_format") == "channels_first" else 1
    unmasked = np.asarray(GlobalAveragePooling1D(**kwargs)(x))
    assert not np.allclose(ours, unmasked)  # the mask changed the result
    first = np.take(x[0], [0, 1, 3], axis=steps - 1).mean(axis=steps - 1)
    assert_close(ours[0].reshape(-1), first, "mean of the unmasked steps of row 0")


def test_global_average_pooling1d_mask_shape_is_checked():
    with pytest.raises(InputError, match="mask shape"):
        GlobalAveragePooling1D()(make_inputs(NWC), mask=np.ones((2, 3), bool))
