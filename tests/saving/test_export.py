"""model.export / kerasish.export.load: serving with jax.export, in processes that never see the model's code."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.export import load
from kerasish.saving import register_serializable


@register_serializable(package="kerasish_export_tests")
class Gate(layers.Layer):
    """A custom layer the serving process never imports: x * sigmoid(x @ w)."""

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1], input_shape[-1]), initializer="glorot_uniform")

    def call(self, x):
        return x * jax.nn.sigmoid(x @ self.w.value)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A trained functional model (custom layer, BatchNormalization, Dropout), its export and test inputs."""
    kerasish.utils.set_random_seed(1)
    inp = kerasish.Input(shape=(6,))
    h = Gate()(layers.Dense(12, activation="relu")(inp))
    h = layers.Dropout(0.5)(layers.BatchNormalization()(h))
    model = kerasish.Model(inp, layers.Dense(3, activation="softmax")(h))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(64, 6)).astype("float32"), rng.integers(0, 3, 64), epochs=2, verbose=0)
    directory = tmp_path_factory.mktemp("export")
    model.export(directory / "served")
    inputs = {n: rng.normal(size=(n, 6)).astype("float32") for n in (3, 17)}
    for n, x in inputs.items():
        np.save(directory / f"x{n}.npy", x)
    return model, directory, inputs


def run_fresh(code: str, cwd) -> None:
    """Run ``code`` in a new Python process, from a directory where the tests package is not importable."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                            timeout=240, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert result.returncode == 0, result.stderr[-3000:]


def test_plain_jax_serves_without_kerasish(served):
    model, directory, inputs = served
    run_fresh("""
        import sys
        import numpy as np
        from jax import export
        with open("served/model.jaxexport", "rb") as f:
            exported = export.deserialize(bytearray(f.read()))
        for n in (3, 17):
            np.save(f"plain{n}.npy", np.asarray(exported.call(np.load(f"x{n}.npy"))))
        assert not [m for m in sys.modules if m.startswith(("kerasish", "tests"))]
    """, directory)
    for n, x in inputs.items():
        np.testing.assert_allclose(np.load(directory / f"plain{n}.npy"), model.predict(x, verbose=0), rtol=1e-6,
                                   atol=1e-6)


def test_kerasish_export_load_without_the_model_code(served):
    model, directory, inputs = served
    run_fresh("""
        import sys
        import numpy as np
        from kerasish.export import load
        serve = load("served")
        for n in (3, 17):
            np.save(f"loaded{n}.npy", np.asarray(serve(np.load(f"x{n}.npy").astype("float64"))))
        assert not [m for m in sys.modules if m.startswith("tests")]
        assert "kerasish_export_tests>Gate" not in repr(vars(sys.modules["kerasish.saving.registry"])["_REGISTERED"])
    """, directory)
    for n, x in inputs.items():
        np.testing.assert_allclose(np.load(directory / f"loaded{n}.npy"), model.predict(x, verbose=0), rtol=1e-6,
                                   atol=1e-6)


def test_signature_sidecar(served):
    _, directory, _ = served
    signature = json.loads((directory / "served" / "signature.json").read_text())
    assert signature["format"] == "kerasish.export" and signature["format_version"] == 1
    assert signature["inputs"] == {"shape": ["batch", 6], "dtype": "float32"}
    assert signature["outputs"] == [{"shape": ["batch", 3], "dtype": "float32"}]
    assert signature["platforms"] == ["cpu"]
    assert signature["artifact"]["size"] == os.path.getsize(directory / "served" / "model.jaxexport")


def test_inference_mode_is_deterministic(served):
    model, directory, inputs = served
    serve = load(directory / "served")
    # Dropout is off and BatchNormalization uses its moving statistics: a row does not depend on its batch.
    np.testing.assert_allclose(np.asarray(serve(inputs[17][:3])), np.asarray(serve(inputs[17]))[:3], rtol=1e-6)
    with pytest.raises(kerasish.InputError, match=r"input 0 should have shape \['batch', 6\]"):
        serve(np.ones((2, 5), "float32"))


def test_dict_inputs_and_jax_arrays(tmp_path):
    a, b = kerasish.Input(shape=(4,), name="a"), kerasish.Input(shape=(2,), name="b", dtype="int32")
    h = layers.Concatenate()([layers.Dense(3)(a), layers.Flatten()(layers.Embedding(10, 3)(b))])
    model = kerasish.Model({"a": a, "b": b}, layers.Dense(2)(h))
    model.export(tmp_path / "e")
    serve = load(tmp_path / "e")
    assert serve.signature["inputs"]["b"] == {"shape": ["batch", 2], "dtype": "int32"}
    x = {"a": jax.numpy.ones((5, 4)), "b": np.arange(10).reshape(5, 2)}
    np.testing.assert_allclose(np.asarray(serve(x)), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    with pytest.raises(kerasish.InputError, match="structured as"):
        serve([x["a"], x["b"]])


def test_subclassed_model_needs_a_shape(tmp_path):
    class Net(kerasish.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, x, training=False):
            return self.d(x)

    net = Net()
    with pytest.raises(kerasish.ConfigError, match="not built"):
        net.export(tmp_path / "e")
    net.build((None, 3))
    net.export(tmp_path / "e", input_signature=kerasish.Input(shape=(3,)))
    x = np.ones((4, 3), "float32")
    np.testing.assert_allclose(np.asarray(load(tmp_path / "e")(x)), net.predict(x, verbose=0), rtol=1e-6)


def test_reexport_replaces_and_other_directories_are_kept(tmp_path):
    model = kerasish.Sequential([kerasish.Input(shape=(3,)), layers.Dense(2)])
    model.export(tmp_path / "e")
    model.layers[0].set_weights([np.ones((3, 2)), np.zeros(2)])
    model.export(tmp_path / "e")
    np.testing.assert_allclose(np.asarray(load(tmp_path / "e")(np.ones((1, 3)))), [[3.0, 3.0]])
    assert sorted(os.listdir(tmp_path)) == ["e"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(kerasish.ConfigError, match="not a kerasish export"):
        model.export(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    with pytest.raises(kerasish.ConfigError, match="jax.export"):
        model.export(tmp_path / "tf", format="tf_saved_model")


def test_damaged_exports(tmp_path):
    model = kerasish.Sequential([kerasish.Input(shape=(3,)), layers.Dense(2)])
    model.export(tmp_path / "e")
    artifact = tmp_path / "e" / "model.jaxexport"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    with pytest.raises(kerasish.FileFormatError, match="model.jaxexport: does not match"):
        load(tmp_path / "e")
    with pytest.raises(kerasish.FileFormatError, match="signature.json: cannot read"):
        load(tmp_path / "nothing")
    (tmp_path / "e" / "signature.json").write_text("{")
    with pytest.raises(kerasish.FileFormatError, match="signature.json: not valid JSON"):
        load(tmp_path / "e")
