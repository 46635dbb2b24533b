"""model.save / load_model, save_weights / load_weights, to_json / model_from_json, register_serializable."""

import json
import os
import zipfile

import jax
import ml_dtypes
import numpy as np
import pytest

import kerasish
from kerasish import layers
from kerasish.callbacks import Callback
from kerasish.engine.state import step_count
from kerasish.models import load_model, model_from_json
from kerasish.saving import get_registered_name, register_serializable
from tests.saving.archive_tools import read_members


@register_serializable(package="kerasish_tests")
class Scale(layers.Layer):
    """Multiplies by a per-feature bfloat16 weight (a registered custom layer)."""

    def __init__(self, start=1.5, **kwargs):
        super().__init__(**kwargs)
        self.start = start

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", dtype="bfloat16", name="scale")

    def call(self, x):
        return x * self.scale.value.astype(x.dtype) * self.start

    def get_config(self):
        return {**super().get_config(), "start": self.start}


class Shift(layers.Layer):
    """An unregistered custom layer: loading it needs custom_objects."""

    def __init__(self, by=1.0, **kwargs):
        super().__init__(**kwargs)
        self.by = by

    def call(self, x):
        return x + self.by

    def get_config(self):
        return {**super().get_config(), "by": self.by}


def make_model():
    return kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(16, activation="relu"), layers.Dropout(0.3),
                                layers.BatchNormalization(), layers.Dense(3)])


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")


def trained(epochs=1, **compile_kwargs):
    kerasish.utils.set_random_seed(0)
    model = make_model()
    model.compile(**{"optimizer": "adam", "loss": "mse", "metrics": ["mae"], "steps_per_execution": 1,
                     **compile_kwargs})
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return model


def assert_same_weights(a, b):
    assert len(a.weights) == len(b.weights)
    for va, vb in zip(a.weights, b.weights):
        assert va.dtype == vb.dtype, va.path
        np.testing.assert_array_equal(np.asarray(va.value), np.asarray(vb.value), err_msg=va.path)


class TestModelFile:
    def test_archive_members_and_metadata(self, tmp_path):
        path = tmp_path / "m.kerasish"
        trained().save(path)
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        assert names == ["metadata.json", "config.json", "model.weights.safetensors", "compile.json",
                         "optimizer.safetensors"]
        members = read_members(path.read_bytes())
        metadata = json.loads(members["metadata.json"])
        assert metadata["format"] == "kerasish.model" and metadata["format_version"] == 1
        assert metadata["jax_version"] == jax.__version__ and "flax_version" in metadata
        assert set(metadata["members"]) == set(names) - {"metadata.json"}
        assert metadata["members"]["config.json"]["size"] == len(members["config.json"])
        assert json.loads(members["config.json"])["class_name"] == "Sequential"
        assert json.loads(members["compile.json"])["steps_per_execution"] == 1
        assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind

    def test_roundtrip_predicts_identically(self, tmp_path):
        model = trained()
        model.save(tmp_path / "m.kerasish")
        loaded = load_model(tmp_path / "m.kerasish")
        assert isinstance(loaded, kerasish.Sequential) and loaded.compiled
        assert loaded.get_config() == model.get_config()
        assert_same_weights(model, loaded)
        x, _ = data(10, seed=1)
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    def test_training_continues_exactly(self, tmp_path):
        reference = trained(epochs=2)
        model = trained(epochs=1)
        model.save(tmp_path / "m.kerasish")
        loaded = load_model(tmp_path / "m.kerasish")
        x, y = data()
        loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        assert_same_weights(reference, loaded)
        for a, b in zip(reference.optimizer.variables, loaded.optimizer.variables, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert step_count(loaded) == step_count(reference) == 12

    def test_saving_from_a_callback_mid_fit_continues_exactly(self, tmp_path):
        path = tmp_path / "mid.kerasish"

        class SaveAfterFirstEpoch(Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 0:
                    self.model.save(path)

        reference = trained(epochs=1)
        kerasish.utils.set_random_seed(0)
        model = make_model()
        model.compile(optimizer="adam", loss="mse", metrics=["mae"], steps_per_execution=1)
        x, y = data()
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[SaveAfterFirstEpoch()])
        loaded = load_model(path)
        assert_same_weights(reference, loaded)  # the live weights of epoch 0's end, not the stale ones
        loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        assert_same_weights(model, loaded)  # and the live optimizer state, dropout key and step

    def test_without_optimizer_state_training_restarts_the_optimizer(self, tmp_path):
        model = trained()
        model.save(tmp_path / "m.kerasish", include_optimizer=False)
        assert "optimizer.safetensors" not in read_members((tmp_path / "m.kerasish").read_bytes())
        loaded = load_model(tmp_path / "m.kerasish")
        assert loaded.compiled and not loaded.optimizer.built

    def test_freezing_after_fit_still_saves_a_loadable_file(self, tmp_path):
        model = trained()
        model.layers[0].trainable = False  # the optimizer state no longer fits the trainable weights
        model.save(tmp_path / "m.kerasish")
        assert "optimizer.safetensors" not in read_members((tmp_path / "m.kerasish").read_bytes())
        loaded = load_model(tmp_path / "m.kerasish")
        assert not loaded.layers[0].trainable
        frozen = loaded.layers[0].get_weights()
        x, y = data()
        loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
        np.testing.assert_array_equal(loaded.layers[0].get_weights()[0], frozen[0])

    def test_compile_false_and_uncompiled_models(self, tmp_path):
        trained().save(tmp_path / "a.kerasish")
        assert not load_model(tmp_path / "a.kerasish", compile=False).compiled
        make_model().save(tmp_path / "b.kerasish")
        assert "compile.json" not in read_members((tmp_path / "b.kerasish").read_bytes())
        assert not load_model(tmp_path / "b.kerasish").compiled

    def test_functional_with_dict_io_shared_and_nested(self, tmp_path):
        inner_in = kerasish.Input(shape=(4,))
        inner = kerasish.Model(inner_in, layers.Dense(4, activation="tanh")(inner_in), name="block")
        a, b = kerasish.Input(shape=(4,), name="a"), kerasish.Input(shape=(4,), name="b")
        shared = layers.Dense(4, name="shared")
        h = layers.Concatenate()([inner(shared(a)), shared(b)])
        model = kerasish.Model({"a": a, "b": b}, {"cls": layers.Dense(3, activation="softmax", name="cls")(h),
                                                  "reg": layers.Dense(1, name="reg")(h)})
        model.compile(optimizer="sgd", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
        model.save(tmp_path / "f.kerasish")
        loaded = load_model(tmp_path / "f.kerasish")
        assert loaded.get_compile_config()["loss_weights"] == {"cls": 1.0, "reg": 0.5}
        x = {"a": np.ones((5, 4), "float32"), "b": np.full((5, 4), 0.5, "float32")}
        for k, v in model.predict(x, verbose=0).items():
            np.testing.assert_array_equal(loaded.predict(x, verbose=0)[k], v)

    def test_loss_and_metric_objects_roundtrip(self, tmp_path):
        model = make_model()
        model.compile(optimizer=kerasish.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                      loss=kerasish.losses.Huber(delta=0.5), metrics=[kerasish.metrics.MeanAbsoluteError()])
        model.save(tmp_path / "m.kerasish")
        loaded = load_model(tmp_path / "m.kerasish")
        assert isinstance(loaded.get_compile_config()["loss"], kerasish.losses.Huber)
        assert loaded.get_compile_config()["loss"].get_config()["delta"] == 0.5
        assert loaded.optimizer.get_config() == model.optimizer.get_config()

    def test_unsavable_compile_arguments_warn_and_load_uncompiled(self, tmp_path):
        def my_loss(y_true, y_pred):
            return (y_true - y_pred) ** 2

        model = make_model()
        model.compile(optimizer="adam", loss=my_loss)
        with pytest.warns(UserWarning, match="compile arguments cannot be saved"):
            model.save(tmp_path / "m.kerasish")
        assert not load_model(tmp_path / "m.kerasish").compiled

    def test_registered_custom_layer_keeps_bfloat16(self, tmp_path):
        assert get_registered_name(Scale) == "kerasish_tests>Scale"
        inp = kerasish.Input(shape=(5,))
        model = kerasish.Model(inp, layers.Dense(2)(Scale(start=2.0, name="scale")(inp)))
        scale = model.get_layer("scale").scale
        scale.assign(np.array([0.5, 1.25, -2.0, 3.0, 0.1], dtype=ml_dtypes.bfloat16))
        model.save(tmp_path / "m.kerasish")
        config = json.loads(read_members((tmp_path / "m.kerasish").read_bytes())["config.json"])
        entry = config["config"]["layers"][1]
        assert (entry["class_name"], entry["registered_name"]) == ("Scale", "kerasish_tests>Scale")
        loaded = load_model(tmp_path / "m.kerasish")
        assert loaded.get_layer("scale").scale.dtype == ml_dtypes.bfloat16 and loaded.get_layer("scale").start == 2.0
        assert_same_weights(model, loaded)
        x = np.ones((2, 5), "float32")
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    def test_unregistered_custom_layer_needs_custom_objects(self, tmp_path):
        model = kerasish.Sequential([kerasish.Input(shape=(3,)), Shift(by=2.0), layers.Dense(2)])
        model.save(tmp_path / "m.kerasish")
        with pytest.raises(kerasish.FileFormatError, match="Unknown layer class 'Shift'") as err:
            load_model(tmp_path / "m.kerasish")
        assert str(tmp_path / "m.kerasish") in str(err.value)
        loaded = load_model(tmp_path / "m.kerasish", custom_objects={"Shift": Shift})
        np.testing.assert_array_equal(loaded.predict(np.ones((1, 3)), verbose=0), model.predict(np.ones((1, 3)), verbose=0))

    def test_lambda_refused_in_safe_mode(self, tmp_path):
        def triple(x):
            return 3 * x

        inp = kerasish.Input(shape=(3,))
        kerasish.Model(inp, layers.Dense(2)(layers.Lambda(triple)(inp))).save(tmp_path / "l.kerasish")
        with pytest.raises(kerasish.FileFormatError, match="safe_mode=False") as err:
            load_model(tmp_path / "l.kerasish", custom_objects={"triple": triple})
        assert "l.kerasish" in str(err.value) and "'triple'" in str(err.value)
        with pytest.raises(kerasish.FileFormatError, match="never deserializes code"):
            load_model(tmp_path / "l.kerasish", safe_mode=False)
        loaded = load_model(tmp_path / "l.kerasish", safe_mode=False, custom_objects={"triple": triple})
        assert loaded.layers[1].function is triple  # [0]: the InputLayer, as Keras

    def test_subclassed_model_is_refused_with_a_reason(self, tmp_path):
        class Net(kerasish.Model):
            def __init__(self):
                super().__init__()
                self.d = layers.Dense(2)

            def call(self, x, training=False):
                return self.d(x)

        net = Net()
        net.build((None, 3))
        with pytest.raises(kerasish.ConfigError, match="subclassed"):
            net.save(tmp_path / "n.kerasish")
        assert not os.listdir(tmp_path)

    def test_registered_subclassed_model_rebuilds_from_build_config(self, tmp_path):
        @register_serializable(package="kerasish_tests")
        class Mlp(kerasish.Model):
            def __init__(self, width=4, **kwargs):
                super().__init__(**kwargs)
                self.width = width
                self.d = layers.Dense(width)

            def call(self, x, training=False):
                return self.d(x)

            def get_config(self):
                return {"width": self.width, "name": self.name}

        net = Mlp(width=5)
        net.build((None, 3))
        net.save(tmp_path / "n.kerasish")
        loaded = load_model(tmp_path / "n.kerasish")
        assert isinstance(loaded, Mlp) and loaded.width == 5
        assert_same_weights(net, loaded)

    def test_path_suffix_and_overwrite(self, tmp_path):
        model = make_model()
        with pytest.raises(kerasish.ConfigError, match=r"`\.keras` extension"):
            model.save(tmp_path / "m.txt")
        with pytest.raises(kerasish.ConfigError, match=r"legacy HDF5 format .* not supported: save as `\.keras`"):
            model.save(tmp_path / "m.h5")
        with pytest.raises(kerasish.ConfigError, match=r"reads `\.keras` .*`\.kerasish`"):
            load_model(tmp_path / "m.pkl")
        model.save(tmp_path / "m.kerasish")
        with pytest.raises(kerasish.ConfigError, match="overwrite=True"):
            model.save(tmp_path / "m.kerasish", overwrite=False)

    def test_a_failed_save_leaves_the_old_file_and_no_temporary(self, tmp_path, monkeypatch):
        path = tmp_path / "m.kerasish"
        make_model().save(path)
        before = path.read_bytes()

        def crash(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
        with pytest.raises(OSError, match="disk full"):
            trained().save(path)
        assert path.read_bytes() == before
        assert os.listdir(tmp_path) == ["m.kerasish"]
        with pytest.raises(OSError, match="disk full"):
            make_model().save(tmp_path / "new.kerasish")
        assert os.listdir(tmp_path) == ["m.kerasish"]


class TestWeightsFile:
    def test_roundtrip_into_a_fresh_model(self, tmp_path):
        model = trained()
        model.save_weights(tmp_path / "w.weights.safetensors")
        fresh = make_model()  # other layer names, other initial values
        fresh.load_weights(tmp_path / "w.weights.safetensors")
        assert_same_weights(model, fresh)

    def test_keys_are_index_and_path(self, tmp_path):
        import safetensors.numpy

        model = make_model()
        model.save_weights(tmp_path / "w.weights.safetensors")
        keys = sorted(safetensors.numpy.load((tmp_path / "w.weights.safetensors").read_bytes()))
        assert keys == [f"{i:04d}/{v.path}" for i, v in enumerate(model.weights)]

    def test_load_weights_from_a_model_file(self, tmp_path):
        model = trained()
        model.save(tmp_path / "m.kerasish")
        fresh = make_model()
        fresh.load_weights(tmp_path / "m.kerasish")
        assert_same_weights(model, fresh)

    def test_mismatched_shapes_name_the_variable(self, tmp_path):
        make_model().save_weights(tmp_path / "w.weights.safetensors")
        other = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(17, activation="relu"),
                                     layers.Dropout(0.3), layers.BatchNormalization(), layers.Dense(3)])
        before = other.get_weights()
        with pytest.raises(kerasish.FileFormatError, match=r"\(6, 17\).*\(6, 16\)") as err:
            other.load_weights(tmp_path / "w.weights.safetensors")
        assert f"{other.layers[0].name}/kernel" in str(err.value) and "w.weights.safetensors" in str(err.value)
        for a, b in zip(before, other.get_weights()):  # nothing was assigned
            np.testing.assert_array_equal(a, b)

    def test_mismatched_count(self, tmp_path):
        make_model().save_weights(tmp_path / "w.weights.safetensors")
        small = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(3)])
        with pytest.raises(kerasish.FileFormatError, match="holds 8 weights.* has 2"):
            small.load_weights(tmp_path / "w.weights.safetensors")

    def test_skip_mismatch_keeps_the_mismatched_weights(self, tmp_path):
        model = trained()
        model.save_weights(tmp_path / "w.weights.safetensors")
        other = kerasish.Sequential([kerasish.Input(shape=(6,)), layers.Dense(16, activation="relu"),
                                    layers.Dropout(0.3), layers.BatchNormalization(), layers.Dense(4)])
        head = other.layers[-1].get_weights()
        other.load_weights(tmp_path / "w.weights.safetensors", skip_mismatch=True)
        np.testing.assert_array_equal(other.layers[0].get_weights()[0], model.layers[0].get_weights()[0])
        np.testing.assert_array_equal(other.layers[-1].get_weights()[0], head[0])

    def test_corrupted_weights_file(self, tmp_path):
        path = tmp_path / "w.weights.safetensors"
        make_model().save_weights(path)
        data = bytearray(path.read_bytes())
        data[-5] ^= 0x40  # a bit of the last tensor's data
        path.write_bytes(bytes(data))
        with pytest.raises(kerasish.FileFormatError, match="checksum") as err:
            make_model().load_weights(path)
        assert str(path) in str(err.value)
        path.write_bytes(bytes(data[:100]))
        with pytest.raises(kerasish.FileFormatError, match=str(path)):
            make_model().load_weights(path)

    def test_suffixes(self, tmp_path):
        with pytest.raises(kerasish.ConfigError, match=r"must end in `\.weights\.h5`"):
            make_model().save_weights(tmp_path / "w.h5")
        with pytest.raises(kerasish.ConfigError, match=r"unknown file type"):
            make_model().load_weights(tmp_path / "w.npz")
        with pytest.raises(kerasish.FileFormatError, match="cannot read"):
            make_model().load_weights(tmp_path / "missing.weights.h5")
        with pytest.raises(kerasish.FileFormatError, match="cannot read"):
            make_model().load_weights(tmp_path / "missing.weights.safetensors")


class TestJson:
    def test_roundtrip(self):
        model = make_model()
        text = model.to_json(indent=2)
        assert json.loads(text)["class_name"] == "Sequential"
        clone = model_from_json(text)
        assert clone.get_config() == model.get_config()
        clone.set_weights(model.get_weights())
        x, _ = data(4)
        np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))

    def test_registered_layer_without_custom_objects(self):
        inp = kerasish.Input(shape=(2,))
        model = kerasish.Model(inp, Scale(start=3.0)(inp))
        clone = model_from_json(model.to_json())
        assert isinstance(clone.layers[1], Scale) and clone.layers[1].start == 3.0

    @pytest.mark.parametrize("class_name", ["os.system", "builtins.eval", "subprocess>Popen", "__import__",
                                            "kerasish.layers.Dense", "KerasTensor"])
    def test_class_names_never_import_anything(self, class_name):
        config = json.loads(make_model().to_json())
        config["config"]["layers"][0]["class_name"] = class_name
        config["config"]["layers"][0]["module"] = "os"  # Keras's module key: ignored, never imported
        with pytest.raises(kerasish.ConfigError, match="Unknown layer class"):
            model_from_json(json.dumps(config))

    def test_bad_json_and_non_model_configs(self):
        with pytest.raises(kerasish.ConfigError, match="not valid JSON"):
            model_from_json("{not json")
        with pytest.raises(kerasish.ConfigError, match="not a model"):
            model_from_json(json.dumps({"class_name": "Dense", "config": {"units": 2}}))
        with pytest.raises(kerasish.ConfigError, match="malformed"):
            model_from_json(json.dumps({"class_name": "Sequential", "config": {"layers": 3}}))

    def test_lambda_in_safe_mode(self):
        inp = kerasish.Input(shape=(3,))
        model = kerasish.Model(inp, layers.Lambda(jax.numpy.negative)(inp))
        with pytest.raises(kerasish.ConfigError, match="safe mode"):
            model_from_json(model.to_json(), custom_objects={"negative": jax.numpy.negative})
        clone = model_from_json(model.to_json(), custom_objects={"negative": jax.numpy.negative}, safe_mode=False)
        np.testing.assert_array_equal(clone.predict(np.ones((1, 3)), verbose=0), -np.ones((1, 3)))


def test_register_serializable_refuses_a_clash():
    with pytest.raises(kerasish.ConfigError, match="already registered"):
        @register_serializable(package="kerasish_tests", name="Scale")
        class Other(layers.Layer):
            pass
