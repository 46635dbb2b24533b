"""Keras 3's JAX guides, run as they are under kerasish, and their steps compared with Keras's own.

The step guide is the compatibility corpus's copy (``tests/compat/corpus/guide_custom_train_step_in_jax.py``),
run here at the guide's own sizes with ``keras`` mapped to kerasish; ``writing_a_custom_training_loop_in_jax.py``
is the official guide with ``import keras`` changed to ``import kerasish as keras`` (see its docstring). The guides
run end to end; then each custom step they define is executed twice from the guide's own source, once
over Keras 3 and once over kerasish, on models with the same weights and the same data, and the logs
and trained weights must agree.
"""

from __future__ import annotations

import ast
import os
import runpy
from pathlib import Path

import jax
import numpy as np
import pytest

import kerasish

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402 - the oracle, on the JAX backend

HERE = Path(__file__).parent
STEP_GUIDE = HERE.parent / "compat" / "corpus" / "guide_custom_train_step_in_jax.py"
LOOP_GUIDE = HERE / "writing_a_custom_training_loop_in_jax.py"


def _definitions(path: Path, name: str) -> list[str]:
    """The source of every top-level definition of ``name`` in the guide (decorators included), in order."""
    source = path.read_text()
    lines = source.splitlines()
    return ["\n".join(lines[(node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1:
                             node.end_lineno])
            for node in ast.parse(source).body
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name]


def _define(source: str, framework, **names):
    namespace = {"keras": framework, "jax": jax, "np": np, **names}
    exec(compile(source, "guide", "exec"), namespace)  # noqa: S102 - the guide's own code, from this repo
    return namespace


def _copy_weights(src, dst) -> None:
    dst.set_weights([np.asarray(w) for w in src.get_weights()])


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 32)).astype("float32"), rng.random((n, 1)).astype("float32")


@pytest.fixture(scope="module")
def step_guide():
    from tests.compat.corpus import _record
    from tests.compat.keras_shim import kerasish_as_keras

    kerasish.utils.set_random_seed(0)
    np.random.seed(0)
    smoke, _record.SMOKE = _record.SMOKE, False  # the guide's own sizes (1000 rows, 3 and 5 epochs)
    try:
        with kerasish_as_keras():
            return runpy.run_path(str(STEP_GUIDE), run_name="guide")
    finally:
        _record.SMOKE = smoke


def test_custom_train_step_guide_runs(step_guide):
    first, second, third = step_guide["first_model"], step_guide["second_model"], step_guide["third_model"]
    hist = first.history.history
    assert list(hist) == ["loss", "mae"] and len(hist["loss"]) == 3
    assert hist["loss"][-1] < hist["loss"][0]
    assert type(first).__name__ == "CustomModel" and isinstance(first, kerasish.Model)
    hist = second.history.history
    assert list(hist) == ["loss", "mae"] and len(hist["loss"]) == 5 and hist["loss"][-1] < hist["loss"][0]
    assert [m.name for m in second.metrics] == ["loss", "mae"]
    evaluation = step_guide["evaluation"]
    assert set(evaluation) == {"loss", "mae"} and all(np.isfinite(v) for v in evaluation.values())
    # the guide's test_step tracks the mean of the batches' mse (32 batches of 1000 rows, the last of 8)
    x, y = step_guide["x"], step_guide["y"]
    errors = (third.predict(x, verbose=0) - y) ** 2
    batch_means = [np.mean(errors[i:i + 32]) for i in range(0, len(x), 32)]
    np.testing.assert_allclose(evaluation["loss"], np.mean(batch_means), rtol=1e-5)


def _models(cls_ours, cls_theirs):
    inputs = keras.Input(shape=(32,))
    theirs = cls_theirs(inputs, keras.layers.Dense(1)(inputs))
    inputs = kerasish.Input(shape=(32,))
    ours = cls_ours(inputs, kerasish.layers.Dense(1)(inputs))
    _copy_weights(theirs, ours)
    return ours, theirs


@pytest.mark.parametrize("part", [0, 1])
def test_custom_train_step_guide_matches_keras(part):
    """The guide's first two train_steps, over Keras and over kerasish: same logs, same weights."""
    source = _definitions(STEP_GUIDE, "CustomModel")[part]
    ours, theirs = _models(_define(source, kerasish)["CustomModel"], _define(source, keras)["CustomModel"])
    compile_args = {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]} if part == 0 else {"optimizer": "adam"}
    ours.compile(**compile_args)
    theirs.compile(**compile_args)
    x, y = _data()
    h_ours = ours.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    h_theirs = theirs.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0).history
    assert set(h_ours) == set(h_theirs) == {"loss", "mae"}
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-5, err_msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_custom_test_step_guide_matches_keras():
    source = _definitions(STEP_GUIDE, "CustomModel")[2]
    ours, theirs = _models(_define(source, kerasish)["CustomModel"], _define(source, keras)["CustomModel"])
    ours.compile(loss="mse", metrics=["mae"])
    theirs.compile(loss="mse", metrics=["mae"])
    x, y = _data(100)  # a short last batch too
    ours_logs = ours.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    theirs_logs = theirs.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    assert set(ours_logs) == set(theirs_logs)
    for key in theirs_logs:
        np.testing.assert_allclose(ours_logs[key], theirs_logs[key], rtol=1e-5, err_msg=key)


def test_training_loop_guide_runs(capsys):
    os.environ["GUIDE_N_TRAIN"] = "1024"
    kerasish.utils.set_random_seed(0)
    guide = runpy.run_path(str(LOOP_GUIDE), run_name="guide")
    out = capsys.readouterr().out
    assert "Training loss (for 1 batch) at step 0" in out and "Validation accuracy" in out
    losses = guide["first_losses"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) / 3
    assert guide["final_val_accuracy"] > 0.6
    # the trained values were assigned back to the first model's variables
    first = guide["first_model"]
    x_val, y_val = guide["x_val"], guide["y_val"]
    accuracy = float(np.mean(np.argmax(first.predict(x_val, verbose=0), -1) == np.argmax(y_val, -1)))
    assert accuracy > 0.6
    # the last section's add_loss reaches stateless_call(..., return_losses=True)
    model = guide["model"]
    _, _, losses = model.stateless_call(model.trainable_variables, model.non_trainable_variables, x_val[:4],
                                        return_losses=True)
    assert len(losses) == 1
    dense = next(layer for layer in model.layers if hasattr(layer, "kernel"))  # after the InputLayer, as Keras
    hidden = jax.nn.relu(x_val[:4] @ dense.kernel.value + dense.bias.value)
    np.testing.assert_allclose(losses[0], 1e-2 * np.sum(hidden), rtol=1e-5)


def test_training_loop_guide_step_matches_keras():
    """The guide's jitted train_step over ``model.trainable_variables``, for Keras and for kerasish."""
    get_model = _definitions(LOOP_GUIDE, "get_model")[0]
    step_source = "\n\n".join([_definitions(LOOP_GUIDE, "compute_loss_and_updates")[0],
                               "grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)",
                               _definitions(LOOP_GUIDE, "train_step")[0]])
    runs = {}
    theirs_model = _define(get_model, keras)["get_model"]()
    for name, framework in (("theirs", keras), ("ours", kerasish)):
        model = theirs_model if framework is keras else _define(get_model, kerasish)["get_model"]()
        if framework is kerasish:
            _copy_weights(theirs_model, model)
            initial = [np.asarray(w) for w in theirs_model.get_weights()]
        ns = _define(step_source, framework, model=model,
                     loss_fn=framework.losses.CategoricalCrossentropy(from_logits=True),
                     optimizer=framework.optimizers.Adam(learning_rate=1e-3))
        if framework is keras:
            initial = [np.asarray(w) for w in model.get_weights()]
        ns["optimizer"].build(model.trainable_variables)
        state = model.trainable_variables, model.non_trainable_variables, ns["optimizer"].variables
        if framework is keras:  # Keras 3.15's variables no longer enter jax.jit on current JAX: pass values
            state = jax.tree.map(lambda v: v.value, state, is_leaf=lambda v: isinstance(v, keras.Variable))
        rng = np.random.default_rng(3)
        losses = []
        for _ in range(5):
            x = rng.random((32, 784)).astype("float32")
            y = np.eye(10, dtype="float32")[rng.integers(0, 10, 32)]
            loss, state = ns["train_step"](state, (x, y))
            losses.append(float(loss))
        runs[name] = (losses, [np.asarray(v) for v in state[0]])
    np.testing.assert_allclose(runs["ours"][0], runs["theirs"][0], rtol=1e-5)
    for a, b in zip(runs["ours"][1], runs["theirs"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(runs["ours"][1][0], initial[0])
