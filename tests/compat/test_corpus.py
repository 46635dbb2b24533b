"""The compatibility corpus: public Keras 3 code, run as written over Keras 3 and over kerasish.

Each script in ``tests/compat/corpus/`` (keras-io examples and guides, the keras repository's ``examples/``,
with downloaded data replaced by seeded arrays of the same shapes) runs first over Keras 3, then with
``keras`` mapped to kerasish. It passes when kerasish runs it to the end, builds the same structure (layers,
parameter count, weight shapes), logs the same history keys, and, with Keras's trained weights copied in,
predicts (and evaluates) the same values within 1e-5. Scripts kerasish cannot run yet are marked
``xfail(strict=True)`` with the precise cause: remove the mark when the fix lands (a strict xfail that
passes fails the suite). ``python -m tests.compat.corpus_report`` prints the count and the causes.
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from tests.compat.corpus import _harness
from tests.compat.keras_shim import kerasish_as_keras


class CorpusMismatch(AssertionError):
    """kerasish fails a corpus script, or differs from Keras on it."""


# script -> why kerasish does not run it yet (the first failure; later lines of the script may fail too).
XFAIL: dict[str, str] = {
    'collaborative_filtering_movielens': "the example's ops.tensordot(user, movie, 2) contracts the batch axis, so each prediction depends on the whole batch; kerasish pads the last evaluate batch (Keras runs it short), and the padded rows change the dot product",
}


def _params():
    for name in _harness.script_names():
        marks = [pytest.mark.xfail(strict=True, raises=CorpusMismatch, reason=XFAIL[name])] if name in XFAIL else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_params()))
def test_corpus_script(name):
    _, ours, problems = _harness.check(name)
    if problems:
        raise CorpusMismatch(f"{name} under kerasish:\n" + "\n".join(problems))


def test_xfail_list_names_existing_scripts():
    assert set(XFAIL) <= set(_harness.script_names())


def test_corpus_is_large_enough():
    assert len(_harness.script_names()) >= 30


# --- the harness itself ---

def test_shim_maps_keras_to_kerasish_and_restores_keras():
    import keras

    import kerasish

    real_layers = sys.modules["keras.layers"]
    with kerasish_as_keras():
        import keras as inner
        from keras import layers
        from keras.layers import Dense

        assert inner is kerasish and layers is kerasish.layers and Dense is kerasish.layers.Dense
        with pytest.raises(ModuleNotFoundError, match="kerasish has no 'kerasish.no_such_module'"):
            import keras.no_such_module  # noqa: F401
    import keras as outer

    assert outer is keras and sys.modules["keras.layers"] is real_layers


def _script(tmp_path, body):
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_failure_names_the_script_line(tmp_path):
    path = _script(tmp_path, """
        import keras
        x = 1
        keras.layers.NoSuchLayer(3)
    """)
    run = _harness.run_script(path, "kerasish")
    assert isinstance(run.error, AttributeError)
    assert run.where.startswith("script.py:4: keras.layers.NoSuchLayer(3)") and "NoSuchLayer" in run.where


def test_compare_reports_value_structure_and_history_differences():
    entry = {"layers": 2, "params": 10, "weight_shapes": [(2, 5)], "predictions": [np.zeros((3, 2))],
             "compared_outputs": None, "history": {"loss": [1.0]}, "evaluate": {"loss": 0.5}}
    ref = _harness.Run("keras", {"model": entry})
    assert _harness.compare(ref, _harness.Run("kerasish", {"model": dict(entry)})) == []
    bad = dict(entry, params=11, predictions=[np.full((3, 2), 1e-3)], history={"loss": [1.0], "acc": [0.5]},
               evaluate={"loss": 0.6})
    problems = "\n".join(_harness.compare(ref, _harness.Run("kerasish", {"model": bad})))
    assert "params 11" in problems and "output 0 differs" in problems
    assert "history keys" in problems and "evaluate loss" in problems


def test_record_copies_kerass_weights_into_kerasish(tmp_path):
    path = _script(tmp_path, """
        import numpy as np
        import keras
        from tests.compat.corpus._record import record
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        record(model, np.ones((4, 3), "float32"))
    """)
    reference = _harness.run_script(path, "keras")
    assert reference.error is None, reference.where
    ours = _harness.run_script(path, "kerasish", reference.records)
    assert ours.error is None, ours.where
    assert _harness.compare(reference, ours) == []  # different initial weights, same after the copy
