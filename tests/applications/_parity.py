"""Checks that a kerasish application is Keras's: same layers, same parameters, same predictions.

Every family's test builds the architecture in Keras 3 and in kerasish with the same arguments and
``weights=None`` (:func:`build_pair`), then calls :func:`assert_same_model`, which gives Keras's model seeded
random weights (batch-norm statistics included, so that a wrong epsilon or axis shows), copies them into
kerasish layer by layer (by layer name) and compares the two.

Speed (CI has 2 cores): :func:`build_pair` builds the Keras model with its variables left uninitialized
(Keras's deferred initialization inside a ``StatelessScope``), which skips compiling one random initializer per
weight shape, then fills them from NumPy; both forward passes run as one jitted ``stateless_call``.
"""

from __future__ import annotations

import numpy as np


def _fan_in(name: str, shape: tuple[int, ...]) -> int:
    if name == "depthwise_kernel":  # (kh, kw, channels, multiplier): each output sees kh * kw inputs
        return int(np.prod(shape[:-2]))
    return int(np.prod(shape[:-1]))


def _random_value(name: str, shape: tuple[int, ...], dtype, rng: np.random.Generator) -> np.ndarray:
    """A value of a sensible scale for a weight of this name: positive for scales and variances, small for
    shifts and means, He-scaled for kernels (activations neither vanish nor explode through deep nets)."""
    if not np.issubdtype(np.dtype(dtype), np.floating):
        return np.zeros(shape, dtype)
    if name in ("moving_variance", "variance", "gamma"):
        value = rng.uniform(0.5, 1.5, shape)
    elif len(shape) < 2:
        value = rng.normal(0.0, 0.1, shape)
    else:
        value = rng.normal(0.0, np.sqrt(2.0 / max(_fan_in(name, shape), 1)), shape)
    return value.astype(dtype)


def randomize_keras_weights(keras_model, seed: int = 0) -> None:
    """Assign seeded random values (see :func:`_random_value`) to every variable of ``keras_model``."""
    from keras.src.backend.common import global_state

    rng = np.random.default_rng(seed)
    for variable in keras_model.variables:
        variable.assign(_random_value(variable.name, tuple(variable.shape), variable.dtype, rng))
    # variables created uninitialized (build_pair) are now set: drop Keras's list of ones still to initialize
    global_state.set_global_attribute("uninitialized_variables", [])


def build_pair(name: str, module: str | None = None, seed: int = 0, **kwargs):
    """Build application ``name`` (e.g. ``"ResNet50"``) in Keras and in kerasish with the same ``kwargs``
    (``weights=None`` unless given), each after its ``clear_session()`` so that automatic layer names agree.
    ``module`` picks the submodule (``"mobilenet_v3"``) when the constructor is not top-level. The Keras model's
    weights are seeded random values (:func:`randomize_keras_weights`)."""
    import keras
    from keras.src.backend.common.stateless_scope import StatelessScope

    import kerasish

    kwargs.setdefault("weights", None)
    keras_ns = getattr(keras.applications, module) if module else keras.applications
    ks_ns = getattr(kerasish.applications, module) if module else kerasish.applications
    keras.backend.clear_session()
    with StatelessScope(initialize_variables=False):
        keras_model = getattr(keras_ns, name)(**kwargs)
    randomize_keras_weights(keras_model, seed)
    kerasish.utils.clear_session()
    ks_model = getattr(ks_ns, name)(**kwargs)
    return keras_model, ks_model


def copy_weights_by_name(keras_model, ks_model) -> int:
    """Copy every Keras layer's weights into the kerasish layer of the same name; return how many layers."""
    copied = 0
    for layer in keras_model.layers:
        weights = layer.get_weights()
        target = ks_model.get_layer(layer.name)
        if not weights:
            assert not target.get_weights(), f"layer {layer.name!r}: kerasish has weights, Keras has none"
            continue
        target.set_weights(weights)
        copied += 1
    return copied


def _jitted_outputs(model, x) -> list[np.ndarray]:
    """``model``'s inference outputs for ``x`` from one jitted ``stateless_call`` (the Keras 3 API both
    libraries have): one XLA compilation instead of one per op (eager) or a whole predict loop."""
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    fn = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
    out = fn(trainable, non_trainable, x)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


keras_predict = kerasish_predict = _jitted_outputs


def _count(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def assert_same_model(keras_model, ks_model, x=None, atol: float = 1e-4, rtol: float = 1e-4, seed: int = 0,
                      compare_outputs: bool = True, randomize: bool = True):
    """Assert ``ks_model`` matches ``keras_model`` (both built with the same arguments).

    Checks, in order: layer names in the same order, layer class names, model name, total, trainable and
    non-trainable parameter counts, output shape. Then (``compare_outputs``) gives Keras seeded random weights
    (``randomize``), copies them by layer name and compares predictions on ``x`` (default: uniform [0, 1)
    images of batch 1 with the model's input shape, ``None`` sizes replaced by 32): within ``atol`` + ``rtol``,
    with ``atol`` taken relative to the outputs' largest magnitude when that is above 1 and the outputs required
    to be finite and not all equal (so that a vanishing signal cannot pass unnoticed).

    Returns:
        The kerasish outputs (a list of arrays), or None without ``compare_outputs``.
    """
    keras_names = [layer.name for layer in keras_model.layers]
    ks_names = [layer.name for layer in ks_model.layers]
    assert ks_names == keras_names, _first_difference("layer names", keras_names, ks_names)
    keras_classes = [type(layer).__name__ for layer in keras_model.layers]
    ks_classes = [type(layer).__name__ for layer in ks_model.layers]
    assert ks_classes == keras_classes, _first_difference("layer classes", keras_classes, ks_classes, keras_names)
    assert ks_model.name == keras_model.name
    assert ks_model.count_params() == keras_model.count_params()
    assert _count(ks_model.trainable_weights) == _count(keras_model.trainable_weights)
    assert _count(ks_model.non_trainable_weights) == _count(keras_model.non_trainable_weights)
    assert tuple(ks_model.output_shape) == tuple(keras_model.output_shape)
    if not compare_outputs:
        return None
    if randomize:
        randomize_keras_weights(keras_model, seed)
    copy_weights_by_name(keras_model, ks_model)
    if x is None:
        shape = [1] + [32 if d is None else d for d in keras_model.input_shape[1:]]
        x = np.random.default_rng(seed).uniform(0.0, 1.0, shape).astype("float32")
    expected, actual = keras_predict(keras_model, x), kerasish_predict(ks_model, x)
    assert len(actual) == len(expected)
    for e, a in zip(expected, actual):
        assert a.shape == e.shape
        assert np.all(np.isfinite(e)) and np.ptp(e) > 0, "Keras's outputs are degenerate: pick other weights"
        np.testing.assert_allclose(a, e, atol=atol * max(1.0, float(np.abs(e).max())), rtol=rtol)
    return actual


def _first_difference(what: str, expected: list, actual: list, names: list | None = None) -> str:
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e != a:
            where = f" (layer {names[i]!r})" if names else ""
            return f"{what} differ first at index {i}{where}: Keras {e!r}, kerasish {a!r}"
    return f"{what}: Keras has {len(expected)}, kerasish {len(actual)}"
