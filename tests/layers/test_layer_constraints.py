"""Regularizer and constraint arguments of the convolution and normalization layers against Keras 3.

Parity: an ``Input -> layer`` model in both frameworks, with a regularizer and a constraint on every
trainable weight, the same (scaled-up, so that the constraints bind) weights, and a few ``SGD`` steps of
``model.fit`` (``shuffle=False``) on tiny data: the losses (penalties included) and every weight after
training must agree within 1e-5. Without the constraint or the penalty on any one weight, the weights differ.
Initializers are ``zeros`` (the weights are overwritten), sparing XLA compiles of random initializers.
"""

import json

import numpy as np
import pytest

import kerasish
from kerasish import constraints, regularizers
from kerasish.errors import ConfigError
from kerasish.layers import conv, normalization
from kerasish.saving.registry import deserialize_layer, serialize_layer

from .helpers import assert_close, keras

# Keras 3.15's Variable.numpy() trips NumPy 2's copy-keyword deprecation; not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _mods(module):
    """The regularizer and constraint objects of ``module`` (kerasish or keras), with the same configs."""
    r, c = module.regularizers, module.constraints
    return {
        "l2": r.L2(0.05), "l1": r.L1(0.02), "l1l2": r.L1L2(0.01, 0.03),
        "max_norm": c.MaxNorm(0.8, axis=[0, 1, 2]), "max_norm_1d": c.MaxNorm(1.0, axis=[0, 1]),
        "non_neg": c.NonNeg(), "unit_norm": c.UnitNorm(axis=0), "min_max": c.MinMaxNorm(0.5, 1.0, 1.0, axis=0),
    }


# name -> (kerasish class, input shape without batch, {argument: key of _mods}, other kwargs)
CASES = {
    "Conv2D": (conv.Conv2D, (4, 4, 2),
               {"kernel_regularizer": "l2", "bias_regularizer": "l1", "kernel_constraint": "max_norm",
                "bias_constraint": "non_neg"},
               {"filters": 2, "kernel_size": 2, "kernel_initializer": "zeros"}),
    "Conv1DTranspose": (conv.Conv1DTranspose, (3, 2),
                        {"kernel_regularizer": "l1l2", "bias_regularizer": "l2", "kernel_constraint": "max_norm_1d",
                         "bias_constraint": "unit_norm"},
                        {"filters": 2, "kernel_size": 2, "strides": 2, "kernel_initializer": "zeros"}),
    "DepthwiseConv2D": (conv.DepthwiseConv2D, (4, 4, 2),
                        {"depthwise_regularizer": "l2", "bias_regularizer": "l1", "depthwise_constraint": "max_norm",
                         "bias_constraint": "non_neg"},
                        {"kernel_size": 2, "depth_multiplier": 2, "depthwise_initializer": "zeros"}),
    "SeparableConv2D": (conv.SeparableConv2D, (4, 4, 2),
                        {"depthwise_regularizer": "l2", "pointwise_regularizer": "l1", "bias_regularizer": "l1l2",
                         "depthwise_constraint": "max_norm", "pointwise_constraint": "unit_norm",
                         "bias_constraint": "non_neg"},
                        {"filters": 2, "kernel_size": 2, "depthwise_initializer": "zeros",
                         "pointwise_initializer": "zeros"}),
    "BatchNormalization": (normalization.BatchNormalization, (4,),
                           {"beta_regularizer": "l1", "gamma_regularizer": "l2", "beta_constraint": "non_neg",
                            "gamma_constraint": "min_max"}, {}),
    "LayerNormalization": (normalization.LayerNormalization, (4,),
                           {"beta_regularizer": "l2", "gamma_regularizer": "l1l2", "beta_constraint": "unit_norm",
                            "gamma_constraint": "non_neg"}, {}),
    "GroupNormalization": (normalization.GroupNormalization, (4,),
                           {"beta_regularizer": "l1l2", "gamma_regularizer": "l2", "beta_constraint": "non_neg",
                            "gamma_constraint": "min_max"}, {"groups": 2}),
}
CUSTOM = {case[0].__name__: case[0] for case in CASES.values()}


def _kwargs(name, module):
    _, _, args, extra = CASES[name]
    objs = _mods(module)
    return {**extra, **{arg: objs[key] for arg, key in args.items()}}


def _model(name, module):
    cls, shape, _, _ = CASES[name]
    layer_cls = cls if module is kerasish else getattr(keras.layers, name)
    inputs = module.Input(shape=shape)
    return module.Model(inputs, layer_cls(**_kwargs(name, module))(inputs))


@pytest.mark.parametrize("name", list(CASES))
def test_fit_with_regularizers_and_constraints_matches_keras(name):
    ours, theirs = _model(name, kerasish), _model(name, keras)
    rng = np.random.default_rng(1)
    # Large weights (variances stay positive) so that every constraint moves them.
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.name
               else (2.0 * rng.standard_normal(w.shape)).astype("float32") for w in theirs.weights]
    x = rng.standard_normal((16,) + CASES[name][1]).astype("float32")
    y = rng.standard_normal((16,) + tuple(theirs.outputs[0].shape[1:])).astype("float32")
    losses = []
    for m, mod in ((ours, kerasish), (theirs, keras)):
        m.set_weights(weights)
        m.compile(optimizer=mod.optimizers.SGD(0.1), loss="mse")
        losses.append(m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"])
    assert_close(losses[0], losses[1], "losses (penalties included)")
    trained = ours.get_weights()
    for w, a, b in zip(theirs.weights, trained, theirs.get_weights()):
        assert_close(a, b, f"{name} weight {w.name!r} after fit")
    # The constraints did act: each constrained weight's start violated its constraint, its end does not.
    layer = ours.layers[-1]
    for var, start, end in zip(layer.weights, weights, trained):
        constraint = getattr(var, "constraint", None)
        if constraint is None:
            continue
        assert not np.allclose(np.asarray(constraint(start)), start, atol=1e-4), f"{var.name}: never bound"
        assert_close(np.asarray(constraint(end)), end, f"{var.name} satisfies its constraint", atol=1e-4)


# Every layer of the family: the argument names and get_config keys are Keras's.
ALL = {
    "Conv1D": {"filters": 2, "kernel_size": 2}, "Conv2D": {"filters": 2, "kernel_size": 2},
    "Conv3D": {"filters": 2, "kernel_size": 2}, "Conv1DTranspose": {"filters": 2, "kernel_size": 2},
    "Conv2DTranspose": {"filters": 2, "kernel_size": 2}, "Conv3DTranspose": {"filters": 2, "kernel_size": 2},
    "DepthwiseConv1D": {"kernel_size": 2}, "DepthwiseConv2D": {"kernel_size": 2},
    "SeparableConv1D": {"filters": 2, "kernel_size": 2}, "SeparableConv2D": {"filters": 2, "kernel_size": 2},
    "BatchNormalization": {}, "LayerNormalization": {}, "GroupNormalization": {"groups": 2},
}


def _ours(name):
    return getattr(conv, name, None) or getattr(normalization, name)


def _weight_arguments(name):
    """Keras's regularizer and constraint arguments of ``name`` (activity_regularizer is the base class's)."""
    config = getattr(keras.layers, name)(**ALL[name]).get_config()
    return sorted(k for k in config if k.endswith(("_regularizer", "_constraint")) and k != "activity_regularizer")


REGULARIZERS = [("L2", {"l2": 0.25}), ("L1", {"l1": 0.5})]
CONSTRAINTS = [("MaxNorm", {"max_value": 3, "axis": 1}), ("NonNeg", {}), ("UnitNorm", {"axis": 0}),
               ("MinMaxNorm", {"min_value": 0.5, "max_value": 2.0, "rate": 0.5, "axis": 0})]


def _make(module, arg, i):
    """The i-th regularizer or constraint (by ``arg``'s kind) of ``module`` (kerasish or keras)."""
    if arg.endswith("_regularizer"):
        family, (cls_name, cfg) = module.regularizers, REGULARIZERS[i % len(REGULARIZERS)]
    else:
        family, (cls_name, cfg) = module.constraints, CONSTRAINTS[i % len(CONSTRAINTS)]
    return getattr(family, cls_name)(**cfg)


@pytest.mark.parametrize("name", list(ALL))
def test_arguments_and_config_keys_match_keras(name):
    args = _weight_arguments(name)
    assert args, name
    ours = _ours(name)(**ALL[name], **{a: _make(kerasish, a, i) for i, a in enumerate(args)})
    theirs = getattr(keras.layers, name)(**ALL[name], **{a: _make(keras, a, i) for i, a in enumerate(args)})
    config, keras_config = ours.get_config(), theirs.get_config()
    for arg in args:
        assert config[arg]["class_name"] == keras_config[arg]["class_name"], arg
        assert config[arg]["config"] == pytest.approx(keras_config[arg]["config"]), arg
    # Defaults are None, in the config too.
    default = _ours(name)(**ALL[name]).get_config()
    assert all(default[arg] is None for arg in args)
    # Round trip through JSON and the layer registry keeps them.
    restored = deserialize_layer(json.loads(json.dumps(serialize_layer(ours))), CUSTOM | {name: _ours(name)})
    assert restored.get_config() == json.loads(json.dumps(config))
    for arg in args:
        assert type(getattr(restored, arg)) is type(getattr(ours, arg))


def test_constraints_by_name_and_built_weights():
    layer = conv.SeparableConv1D(2, 2, depthwise_constraint="max_norm", pointwise_constraint="unit_norm",
                                 bias_constraint="non_neg", depthwise_regularizer="l2", pointwise_regularizer="l1",
                                 bias_regularizer="l1l2", depthwise_initializer="zeros",
                                 pointwise_initializer="zeros")
    layer(np.zeros((1, 3, 2), "float32"))
    got = {w.name: (type(w.constraint), type(w.regularizer)) for w in layer.weights}
    assert got == {"depthwise_kernel": (constraints.MaxNorm, regularizers.L2),
                   "pointwise_kernel": (constraints.UnitNorm, regularizers.L1),
                   "bias": (constraints.NonNeg, regularizers.L1L2)}
    bn = normalization.BatchNormalization(beta_constraint="non_neg", gamma_constraint="max_norm")
    bn(np.zeros((2, 3), "float32"))
    assert {w.name: type(w.constraint) for w in bn.weights} == {
        "gamma": constraints.MaxNorm, "beta": constraints.NonNeg,
        "moving_mean": type(None), "moving_variance": type(None)}


@pytest.mark.parametrize("name", list(ALL))
@pytest.mark.parametrize("bad", ["no_such_thing", 3])
def test_bad_value_names_layer_and_argument(name, bad):
    for arg in _weight_arguments(name):
        with pytest.raises(ConfigError) as info:
            _ours(name)(**ALL[name], **{arg: bad})
        assert name in str(info.value) and arg in str(info.value), str(info.value)
