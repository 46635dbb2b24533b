"""Every layer family through Keras 3's ``.weights.h5`` both ways: Keras writes, kerasish reads, and the reverse.

The layers are ``keras_layer_specs.SPECS`` (one per Keras layer class kerasish has). Each is put in a one-layer
functional model in both frameworks; one side's weights are randomized and saved, the other side loads them,
and the predictions must agree. A wrong path in :mod:`kerasish.saving.keras_layout` (a sublayer under another
attribute name, weights Keras keeps on a cell) fails here with the missing HDF5 group named.
"""

import keras
import numpy as np
import pytest

import kerasish
from tests.saving.keras_layer_specs import SPECS, build_layer, make_inputs

CASES = [s for s in SPECS if s.has_weights and not s.needs_tf and not s.extra.get("no_weights_sweep")]


def _model(framework, spec):
    shapes = spec.input_shape if spec.multi_input else [spec.input_shape]
    inputs = [framework.Input(shape, dtype=spec.input_dtype) for shape in shapes]
    layer = build_layer(spec, framework.layers)
    call = spec.extra.get("call_kwargs", {})
    if spec.multi_input:
        outputs = layer(*inputs, **call) if spec.unpack_inputs else layer(inputs, **call)
    else:
        outputs = layer(inputs[0], **call)
    return framework.Model(inputs if spec.multi_input else inputs[0], outputs)


def _randomize(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.standard_normal(w.shape) * 0.5).astype(w.dtype) if np.issubdtype(w.dtype, np.floating)
                       else w for w in model.get_weights()])


def _predict(model, x):
    out = model.predict(x, verbose=0)
    return [np.asarray(o, "float64") for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize("spec", CASES, ids=lambda s: s.test_id)
def test_layer_weights_h5_both_ways(tmp_path, spec):
    x = make_inputs(spec, batch_size=2)
    km, sm = _model(keras, spec), _model(kerasish, spec)
    _randomize(km, 1)
    km.save_weights(tmp_path / "k.weights.h5")
    sm.load_weights(tmp_path / "k.weights.h5")
    for a, b in zip(_predict(sm, x), _predict(km, x)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    _randomize(sm, 2)
    sm.save_weights(tmp_path / "s.weights.h5")
    km.load_weights(tmp_path / "s.weights.h5")
    for a, b in zip(_predict(km, x), _predict(sm, x)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
