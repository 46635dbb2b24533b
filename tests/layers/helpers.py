"""The one helper every layer test calls: build, shapes, weights, config and Keras 3 parity.

Keras 3 (JAX backend) is the reference. :func:`run_layer_test` builds the same
layer in kerasish and in Keras on the same input shape and checks, in order:

1. the kerasish layer builds on its first call, inferring the input size;
2. its output shape, on data, on a symbolic ``kerasish.Input`` and from ``compute_output_shape``,
   equals Keras's;
3. its weights (count, names, shapes, trainability) equal Keras's, and weights
   that Keras initializes to a constant start at the same constant;
4. ``get_config()`` survives JSON and ``from_config`` (through the layer registry,
   so a ``Lambda`` finds its function in ``custom_objects``) with the same config
   and the same outputs;
5. parity: ``Input -> layer`` models in both frameworks, Keras's (randomized)
   weights copied into kerasish, equal outputs with ``training=False``; then
   ``training=True`` outputs and the weights after that call (BatchNormalization's
   moving statistics); then kerasish's (randomized) weights copied into Keras.

A training-mode forward pass updates moving statistics the same way in both
frameworks when the model is called eagerly: Keras's variables assign in place,
and a kerasish ``Variable`` outside any ``StatelessScope`` assigns its own value.
That public path (``model(x, training=True)``) is what step 5 compares; the pure path
(``model.stateless_call``) is compared in ``test_normalization.py`` and the jitted one
(``train_on_batch``) in ``test_parity_sgd.py``.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "jax"  # before any keras import

import json  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasish  # noqa: E402
from kerasish.saving.registry import deserialize_layer, serialize_layer  # noqa: E402

assert keras.backend.backend() == "jax", (
    "keras was imported with another backend before tests/layers/helpers.py set KERAS_BACKEND=jax"
)

ATOL = 1e-5
RTOL = 1e-5

Shape = tuple  # a full shape, batch first


def assert_close(actual, desired, what: str = "", atol: float = ATOL, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), atol=atol, rtol=rtol, err_msg=what)


def make_inputs(input_shape, input_dtype="float32", seed: int = 0, int_high: int = 10):
    """Random inputs: standard normal floats, or integers in ``[0, int_high)``; a list for several shapes."""
    rng = np.random.default_rng(seed)

    def one(shape, dtype):
        if np.issubdtype(np.dtype(dtype), np.integer):
            return rng.integers(0, int_high, size=shape).astype(dtype)
        return rng.standard_normal(size=shape).astype(dtype)

    if is_multi(input_shape):
        dtypes = input_dtype if isinstance(input_dtype, (list, tuple)) else [input_dtype] * len(input_shape)
        return [one(tuple(s), d) for s, d in zip(input_shape, dtypes)]
    return one(tuple(input_shape), input_dtype)


def is_multi(input_shape) -> bool:
    return isinstance(input_shape, list)


def random_weights(shapes_and_names: Sequence[tuple[tuple, str]], seed: int) -> list[np.ndarray]:
    """Random weight values; variances (which must stay positive) are drawn from [0.5, 1.5]."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, name in shapes_and_names:
        if "variance" in name:
            out.append(rng.uniform(0.5, 1.5, size=shape).astype("float32"))
        else:
            out.append((0.5 * rng.standard_normal(size=shape)).astype("float32"))
    return out


def _weight_info(layer) -> list[tuple[str, tuple, bool]]:
    """(name, shape, trainable) of each weight; trainable means "in ``trainable_weights``"."""
    trainable = {id(w) for w in layer.trainable_weights}
    return [(w.name.split("/")[-1], tuple(w.shape), id(w) in trainable) for w in layer.weights]


def check_initial_values(ours: np.ndarray, theirs: np.ndarray, name: str, min_size: int = 256,
                         std_tol: float = 0.25, mean_tol: float = 0.4) -> None:
    """Same initial distribution as Keras: equal constants, and for random weights close mean and std.

    Both samples are random (neither framework is seeded here), so the tolerances are wide: with 256
    values, ``std_tol=0.25`` and ``mean_tol=0.4`` (in units of Keras's std) are over 4 standard errors
    of the difference of two normal samples. That catches a wrong distribution or scale, not subtleties.
    """
    if theirs.size and np.all(theirs == theirs.flat[0]):
        assert_close(ours, theirs, f"initial value of constant-initialized weight {name!r}")
    elif theirs.size >= min_size:
        std = float(np.std(theirs))
        assert abs(float(np.std(ours)) - std) <= std_tol * std, (
            f"initial std of {name!r}: {np.std(ours):.4g} vs Keras's {std:.4g}")
        assert abs(float(np.mean(ours)) - float(np.mean(theirs))) <= mean_tol * std, (
            f"initial mean of {name!r}: {np.mean(ours):.4g} vs Keras's {np.mean(theirs):.4g}")


def _functional(module, layer, input_shape, input_dtype):
    """``Input(s) -> layer`` as a functional model of ``module`` (keras or kerasish)."""
    if is_multi(input_shape):
        dtypes = input_dtype if isinstance(input_dtype, (list, tuple)) else [input_dtype] * len(input_shape)
        inputs = [module.Input(shape=tuple(s[1:]), dtype=d) for s, d in zip(input_shape, dtypes)]
    else:
        inputs = module.Input(shape=tuple(input_shape[1:]), dtype=input_dtype)
    return module.Model(inputs, layer(inputs)), inputs


def _call(model, x, training: bool):
    return np.asarray(model(x, training=training))


def _symbolic_shape(tensor) -> tuple:
    return tuple(tensor.shape)


def run_layer_test(
    layer_cls: type,
    kwargs: dict[str, Any] | None = None,
    input_shape: Shape | list[Shape] = (2, 3),
    *,
    keras_cls: type | None = None,
    keras_kwargs: dict[str, Any] | None = None,
    expected_output_shape: Shape | None = None,
    expected_num_weights: int | None = None,
    expected_num_trainable_weights: int | None = None,
    input_dtype: str | list[str] = "float32",
    input_data=None,
    int_high: int = 10,
    custom_objects: dict[str, Callable] | None = None,
    training_parity: bool = True,
    seed: int = 0,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> dict[str, Any]:
    """Run the standard checks on one layer against Keras 3 (see the module docstring).

    Args:
        layer_cls: the kerasish layer class.
        kwargs: its constructor arguments.
        input_shape: the full input shape, batch first; a list of shapes for a
            layer called on a list of inputs (Concatenate, Add).
        keras_cls: the Keras class; by default ``keras.layers.<same name>``.
        keras_kwargs: Keras's constructor arguments when they must differ
            (e.g. a callable activation from ``keras.activations``); by default ``kwargs``.
        expected_output_shape: the full output shape for ``input_shape``.
        expected_num_weights / expected_num_trainable_weights: weight counts.
        input_dtype: dtype of the inputs (one per input for several).
        input_data: the input arrays, when random data does not fit.
        int_high: integer inputs are drawn from ``[0, int_high)``.
        custom_objects: passed to deserialization (a ``Lambda``'s function).
        training_parity: compare ``training=True`` outputs and the weights after
            that call (off for stochastic layers).
        seed: seed of the random inputs and weights.

    Returns:
        A dict with the kerasish and Keras models and the inputs, for extra checks.
    """
    kwargs = dict(kwargs or {})
    keras_kwargs = dict(kwargs if keras_kwargs is None else keras_kwargs)
    keras_cls = keras_cls or getattr(keras.layers, layer_cls.__name__)
    x = input_data if input_data is not None else make_inputs(input_shape, input_dtype, seed, int_high)
    if input_data is not None:
        input_shape = [tuple(np.shape(a)) for a in x] if isinstance(x, list) else tuple(np.shape(x))

    # 1. Builds on its first call, with the input size inferred from the data.
    layer = layer_cls(**kwargs)
    assert not layer.built, f"{layer_cls.__name__} must not build before its first call"
    y = np.asarray(layer(x))
    assert layer.built, f"{layer_cls.__name__} did not build on its first call"

    # 2. Output shapes: eager and symbolic, against Keras's symbolic output.
    keras_model, _ = _functional(keras, keras_cls(**keras_kwargs), input_shape, input_dtype)
    keras_out_shape = _symbolic_shape(keras_model.outputs[0])
    if expected_output_shape is not None:
        assert y.shape == tuple(expected_output_shape), f"output shape {y.shape} != {expected_output_shape}"
        assert keras_out_shape == (None,) + tuple(expected_output_shape[1:]), (
            f"test expectation {expected_output_shape} disagrees with Keras's output shape {keras_out_shape}")
    assert y.shape[1:] == keras_out_shape[1:], f"output shape {y.shape} != Keras's {keras_out_shape}"
    model, inputs = _functional(kerasish, layer_cls(**kwargs), input_shape, input_dtype)
    sym_shape = _symbolic_shape(model.outputs[0])
    assert sym_shape == keras_out_shape, f"symbolic output shape {sym_shape} != Keras's {keras_out_shape}"
    batchless = [(None,) + tuple(s[1:]) for s in input_shape] if is_multi(input_shape) else \
        (None,) + tuple(input_shape[1:])
    computed = tuple(layer.compute_output_shape(batchless))
    assert computed == keras_out_shape, f"compute_output_shape {computed} != Keras's {keras_out_shape}"

    # 3. Weights: count, names, shapes and trainability as Keras's, constant initial values equal.
    keras_info = _weight_info(keras_model)
    eager_info = _weight_info(layer)
    assert eager_info == keras_info, f"weights {eager_info} != Keras's {keras_info}"
    assert _weight_info(model) == keras_info
    if expected_num_weights is not None:
        assert len(layer.weights) == expected_num_weights
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert len(layer.trainable_weights) == len(keras_model.trainable_weights)
    for ours, theirs, (name, _, _) in zip(layer.get_weights(), keras_model.get_weights(), keras_info):
        check_initial_values(ours, theirs, name)

    # 4. Config round trip (through JSON and the layer registry).
    config = layer.get_config()
    json_config = json.loads(json.dumps(config))
    restored = deserialize_layer(json.loads(json.dumps(serialize_layer(layer))), custom_objects)
    assert type(restored) is type(layer)
    assert json.loads(json.dumps(restored.get_config())) == json_config
    restored(x)
    restored.set_weights(layer.get_weights())
    assert_close(restored(x), y, "output of the layer rebuilt from its config", atol, rtol)

    # 5. Parity with Keras, both directions.
    keras_weights = random_weights([(i[1], i[0]) for i in keras_info], seed + 1)
    keras_model.set_weights(keras_weights)
    model.set_weights(keras_model.get_weights())
    assert_close(_call(model, x, False), _call(keras_model, x, False), "training=False, Keras weights", atol, rtol)
    if training_parity:
        ours, theirs = _call(model, x, True), _call(keras_model, x, True)
        assert_close(ours, theirs, "training=True", atol, rtol)
        for a, b, (name, _, _) in zip(model.get_weights(), keras_model.get_weights(), keras_info):
            assert_close(a, b, f"weight {name!r} after a training-mode call", atol, rtol)
    model.set_weights(random_weights([(i[1], i[0]) for i in keras_info], seed + 2))
    keras_model.set_weights(model.get_weights())
    assert_close(_call(model, x, False), _call(keras_model, x, False), "training=False, kerasish weights", atol, rtol)

    return {"layer": layer, "model": model, "keras_model": keras_model, "x": x}
