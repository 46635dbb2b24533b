"""What a corpus script hands to the harness at its end: ``record(model, x)``.

A script runs twice, over Keras 3 and over kerasish (``tests/compat/corpus/_harness.py``). ``record``
notes the model's structure (layer count, parameter count, weight shapes), its history's keys, and its
predictions on ``x``. Over Keras it also keeps the trained weights; over kerasish it first copies those
weights in (``set_weights``) and takes Keras's probe input, so that both predictions come from the same
weights and inputs and must agree to 1e-5.
Run on its own (``python -m tests.compat.corpus.<script>``), a script just prints what it would record.
"""

from __future__ import annotations

import os

import numpy as np

SMOKE = os.environ.get("CORPUS_SMOKE", "1") != "0"

# Set by the harness for the length of one run: {"framework": "keras" | "kerasish", "reference": {...},
# "records": {...}}. None when a script runs on its own.
session: dict | None = None


def _arrays(value) -> list[np.ndarray]:
    """Leaves of a (possibly nested) output as NumPy arrays, dicts in key order."""
    if isinstance(value, dict):
        return [a for key in sorted(value) for a in _arrays(value[key])]
    if isinstance(value, (list, tuple)):
        return [a for item in value for a in _arrays(item)]
    return [np.asarray(value)]


def record(model, x, *, name: str = "model", history=None, evaluate=None, predict=None,
           outputs=None) -> dict:
    """Record ``model`` for the harness to compare across Keras and kerasish.

    Args:
        model: the model the script built (and usually trained).
        x: a fixed probe input for its predictions (the script's own data, seeded).
        name: the record's key, when a script records several models.
        history: the ``History`` (or its ``.history`` dict) that ``fit`` returned: keys and lengths are compared.
        evaluate: ``(x, y)``: ``model.evaluate`` on it, with the copied weights, is compared too.
        predict: ``predict(model, x)`` instead of ``model.predict(x, verbose=0)`` (e.g. for a submodel or to
            leave out a random layer).
        outputs: indices of the flattened outputs to compare by value (others by shape only): for
            outputs that draw random numbers at inference.
    """
    framework = session["framework"] if session else "standalone"
    weights = [np.asarray(w) for w in model.get_weights()]
    entry = {
        "layers": len(model.layers) if hasattr(model, "layers") else None,
        "params": int(model.count_params()),
        "weight_shapes": [tuple(w.shape) for w in weights],
    }
    if framework == "keras":
        entry.update(weights=weights, probe=x, evaluate_data=evaluate)
    elif framework == "kerasish":
        reference = session["reference"].get(name)
        if reference is not None:
            model.set_weights(reference["weights"])
            # the same inputs as Keras's run: a script's later data may depend on how often the framework
            # drew from NumPy's global generator before
            x, evaluate = reference["probe"], reference["evaluate_data"]
    out = predict(model, x) if predict is not None else model.predict(x, verbose=0)
    entry["predictions"] = _arrays(out)
    entry["compared_outputs"] = outputs
    if history is not None:
        logs = getattr(history, "history", history)
        entry["history"] = {key: [float(v) for v in values] for key, values in logs.items()}
    if evaluate is not None:
        result = model.evaluate(*evaluate, verbose=0, return_dict=True)
        entry["evaluate"] = {key: float(value) for key, value in result.items()}
    if session is not None:
        session["records"][name] = entry
    else:
        print(f"record {name!r}: {entry['layers']} layers, {entry['params']} parameters, "
              f"outputs {[p.shape for p in entry['predictions']]}")
    return entry
