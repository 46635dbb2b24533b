"""Sequential, functional and subclassed models: structure, weights, config, summary."""

import numpy as np
import pytest

import kerasish
from kerasish import layers


def _mlp(n_in=4, n_out=3):
    return kerasish.Sequential([kerasish.Input(shape=(n_in,)), layers.Dense(8, activation="relu"),
                                layers.Dense(n_out)])


class TestSequential:
    def test_input_from_input_tensor(self):
        model = _mlp()
        assert model.built
        assert [type(l).__name__ for l in model.layers] == ["Dense", "Dense"]
        assert model.count_params() == 4 * 8 + 8 + 8 * 3 + 3

    def test_input_shape_on_first_layer(self):
        model = kerasish.Sequential([layers.Dense(5, input_shape=(7,)), layers.Dense(2)])
        assert model.built
        assert model.layers[0].kernel.shape == (7, 5)

    def test_deferred_until_first_data(self, rng):
        model = kerasish.Sequential([layers.Dense(5), layers.Dense(2)])
        assert not model.built
        out = model.predict(rng.normal(size=(6, 3)).astype("float32"), verbose=0)
        assert model.built and out.shape == (6, 2)
        assert model.layers[0].kernel.shape == (3, 5)

    def test_add_and_pop(self):
        model = kerasish.Sequential()
        model.add(kerasish.Input(shape=(4,)))
        model.add(layers.Dense(3))
        model.add(layers.Dense(2))
        assert len(model.layers) == 2 and model.built
        popped = model.pop()
        assert popped.units == 2 and len(model.layers) == 1
        assert model._output_shapes() == [(None, 3)]

    def test_add_rejects_non_layer(self):
        with pytest.raises(kerasish.ConfigError, match="takes a Layer"):
            kerasish.Sequential().add("dense")

    def test_get_layer(self):
        model = kerasish.Sequential([kerasish.Input(shape=(4,)), layers.Dense(3, name="hidden"), layers.Dense(1)])
        assert model.get_layer("hidden") is model.layers[0]
        assert model.get_layer(index=1) is model.layers[1]
        with pytest.raises(kerasish.ConfigError, match="No layer named 'nope'"):
            model.get_layer("nope")


class TestFunctional:
    def test_multi_input_multi_output_dict(self, rng):
        a = kerasish.Input(shape=(4,), name="a")
        b = kerasish.Input(shape=(3,), name="b")
        h = layers.Concatenate()([layers.Dense(5)(a), b])
        cls = layers.Dense(3, activation="softmax", name="cls")(h)
        reg = layers.Dense(1, name="reg")(h)
        model = kerasish.Model(inputs={"a": a, "b": b}, outputs={"cls": cls, "reg": reg})
        assert isinstance(model, kerasish.Functional)
        assert model.output_names == ["cls", "reg"]
        x = {"a": rng.normal(size=(10, 4)).astype("float32"), "b": rng.normal(size=(10, 3)).astype("float32")}
        out = model.predict(x, verbose=0)
        assert out["cls"].shape == (10, 3) and out["reg"].shape == (10, 1)
        model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]})
        y = {"cls": rng.integers(0, 3, size=10), "reg": rng.normal(size=(10, 1)).astype("float32")}
        hist = model.fit(x, y, epochs=2, batch_size=5, verbose=0)
        assert set(hist.history) == {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"}
        logs = model.evaluate(x, y, return_dict=True, verbose=0)
        # The total is the weighted sum of the per-output losses (no regularization here).
        assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.5 * logs["reg_loss"], rel=1e-5)

    def test_list_outputs_named_by_layers(self, rng):
        inp = kerasish.Input(shape=(4,))
        o1 = layers.Dense(2, name="first")(inp)
        o2 = layers.Dense(1, name="second")(inp)
        model = kerasish.Model(inp, [o1, o2])
        assert model.output_names == ["first", "second"]
        model.compile(optimizer="sgd", loss=["mse", "mae"])
        x = rng.normal(size=(8, 4)).astype("float32")
        hist = model.fit(x, [np.zeros((8, 2)), np.zeros((8, 1))], epochs=1, verbose=0)
        assert {"first_loss", "second_loss", "loss"} <= set(hist.history)

    def test_shared_layer_has_one_set_of_weights(self, rng):
        shared = layers.Dense(4, name="shared")
        a, b = kerasish.Input(shape=(3,)), kerasish.Input(shape=(3,))
        model = kerasish.Model([a, b], layers.Add()([shared(a), shared(b)]))
        assert len(model.weights) == 2
        x = rng.normal(size=(5, 3)).astype("float32")
        out = model.predict([x, x], verbose=0)
        single = kerasish.Model(a, shared(a)).predict(x, verbose=0)
        np.testing.assert_allclose(out, 2 * single, rtol=1e-6)

    def test_model_as_layer(self, rng):
        inner_in = kerasish.Input(shape=(4,))
        inner = kerasish.Model(inner_in, layers.Dense(3, name="inner_dense")(inner_in), name="inner")
        outer_in = kerasish.Input(shape=(4,))
        outer = kerasish.Model(outer_in, layers.Dense(2)(inner(outer_in)))
        assert len(outer.weights) == 4
        x = rng.normal(size=(6, 4)).astype("float32")
        expected = x @ inner.layers[1].kernel.numpy() + inner.layers[1].bias.numpy()  # [0]: the InputLayer, as Keras
        dense = outer.layers[-1]
        expected = expected @ dense.kernel.numpy() + dense.bias.numpy()
        np.testing.assert_allclose(outer.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
        outer.compile(optimizer="sgd", loss="mse")
        before = inner.get_weights()
        outer.fit(x, np.ones((6, 2)), epochs=1, verbose=0)
        assert not np.allclose(before[0], inner.get_weights()[0]), "the nested model's weights must train"

    def test_graph_disconnected(self):
        a, b = kerasish.Input(shape=(3,)), kerasish.Input(shape=(3,))
        out = layers.Add()([a, b])
        with pytest.raises(kerasish.ConfigError, match="Graph disconnected"):
            kerasish.Model(a, out)

    def test_symbolic_tensor_in_a_raw_jax_op_is_a_clear_error(self):
        a = kerasish.Input(shape=(3,))
        assert (a + 1).shape == (None, 3)  # operators are graph nodes, as in Keras
        with pytest.raises(kerasish.KerasishError, match="kerasish.ops"):
            np.asarray(a)


class MyModel(kerasish.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(16, activation="relu")
        self.drop = layers.Dropout(0.5)
        self.out = layers.Dense(3)

    def call(self, x, training=False):
        return self.out(self.drop(self.hidden(x), training=training))


class TestSubclassed:
    def test_builds_on_first_data_and_trains(self, rng):
        kerasish.utils.set_random_seed(0)
        model = MyModel()
        assert not model.built
        x = rng.normal(size=(64, 5)).astype("float32")
        y = np.argmax(x[:, :3], axis=1)
        model.compile(optimizer=kerasish.optimizers.Adam(0.01),
                      loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.fit(x, y, epochs=1, verbose=0)
        assert model.built and len(model.weights) == 4
        assert [l.name for l in model.layers] == [model.hidden.name, model.drop.name, model.out.name]
        before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
        model.fit(x, y, epochs=10, verbose=0)
        assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] < before
        # Inference is deterministic (dropout off), training-mode calls are not.
        np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))

    def test_eager_call(self, rng):
        model = MyModel()
        x = rng.normal(size=(4, 5)).astype("float32")
        out = model(x)
        assert out.shape == (4, 3)
        np.testing.assert_allclose(np.asarray(out), model.predict(x, verbose=0), rtol=1e-6)


class TestWeights:
    def test_get_set_weights_roundtrip(self, rng):
        model = _mlp()
        new = [rng.normal(size=w.shape).astype("float32") for w in model.get_weights()]
        model.set_weights(new)
        for a, b in zip(model.get_weights(), new):
            np.testing.assert_array_equal(a, b)

    def test_set_weights_wrong_shape(self):
        model = _mlp()
        weights = model.get_weights()
        weights[0] = np.zeros((5, 8))
        with pytest.raises(kerasish.InputError, match=r"has shape \(4, 8\).*\(5, 8\)"):
            model.set_weights(weights)

    def test_set_weights_wrong_count(self):
        with pytest.raises(kerasish.InputError, match="expects 4 weight arrays"):
            _mlp().set_weights([np.zeros((4, 8))])

    def test_freezing(self, rng):
        model = _mlp()
        model.layers[0].trainable = False
        assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
        frozen_before = model.layers[0].get_weights()
        trained_before = model.layers[1].get_weights()
        model.compile(optimizer="adam", loss="mse")
        model.fit(rng.normal(size=(16, 4)).astype("float32"), np.ones((16, 3)), epochs=2, verbose=0)
        for a, b in zip(frozen_before, model.layers[0].get_weights()):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(trained_before[0], model.layers[1].get_weights()[0])
        # Unfreezing takes effect on the next fit without recompiling.
        model.layers[0].trainable = True
        model.fit(rng.normal(size=(16, 4)).astype("float32"), np.ones((16, 3)), epochs=1, verbose=0)
        assert not np.array_equal(frozen_before[0], model.layers[0].get_weights()[0])


class TestConfig:
    def test_sequential_roundtrip(self, rng):
        model = kerasish.Sequential([kerasish.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3, padding="same"),
                                     layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
                                     layers.Dense(3, activation="softmax")])
        clone = kerasish.Sequential.from_config(model.get_config())
        assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
        assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
        clone.set_weights(model.get_weights())
        x = rng.normal(size=(2, 8, 8, 1)).astype("float32")
        np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

    def test_functional_roundtrip_with_shared_and_nested(self, rng):
        inner_in = kerasish.Input(shape=(4,))
        inner = kerasish.Model(inner_in, layers.Dense(4, activation="tanh")(inner_in), name="block")
        a, b = kerasish.Input(shape=(4,), name="a"), kerasish.Input(shape=(4,), name="b")
        shared = layers.Dense(4, name="shared")
        merged = layers.Concatenate()([inner(shared(a)), shared(b)])
        model = kerasish.Model([a, b], layers.Dense(2, name="head")(merged))
        config = model.get_config()
        clone = kerasish.Model.from_config(config)
        assert isinstance(clone, kerasish.Functional)
        clone.set_weights(model.get_weights())
        x = [rng.normal(size=(3, 4)).astype("float32") for _ in range(2)]
        np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
        assert len(clone.weights) == len(model.weights)

    def test_lambda_needs_custom_objects(self):
        def double(x):
            return 2 * x

        inp = kerasish.Input(shape=(3,))
        model = kerasish.Model(inp, layers.Lambda(double)(inp))
        config = model.get_config()
        with pytest.raises(kerasish.ConfigError, match="never deserializes code"):
            kerasish.Functional.from_config(config)
        clone = kerasish.Functional.from_config(config, custom_objects={"double": double})
        np.testing.assert_allclose(clone.predict(np.ones((2, 3)), verbose=0), 2 * np.ones((2, 3)))


class TestSummary:
    def test_summary_table(self):
        model = _mlp()
        lines = []
        model.summary(print_fn=lines.append)
        text = "\n".join(lines)
        assert "dense" in text and "(None, 8)" in text and "(None, 3)" in text
        assert f"Total params: {model.count_params():,}" in text
        assert "Trainable params: 67" in text

    def test_summary_subclassed_after_build(self, rng):
        model = MyModel()
        model.predict(rng.normal(size=(2, 5)).astype("float32"), verbose=0)
        lines = []
        model.summary(print_fn=lines.append)
        text = "\n".join(lines)
        assert "(None, 16)" in text and "(None, 3)" in text

    def test_summary_frozen(self):
        model = _mlp()
        model.layers[0].trainable = False
        lines = []
        model.summary(print_fn=lines.append, show_trainable=True)
        assert "Non-trainable params: 40" in "\n".join(lines)
