"""Start-up runs few programs: building a model runs none, and the first fit's count does not grow with the model.

Each eager JAX op is a program of its own to compile, or to load from the persistent
cache on a warm start; dozens of them would make a warm start slower than loading the
train step itself. Programs are counted by their lowering to MLIR, which happens
whether or not the compilation cache then has the compiled program.
"""

import jax
import numpy as np

import kerasish
from kerasish import layers


class LoweringCounter:
    def __init__(self):
        self.count, self.active = 0, False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, name, duration, **kwargs):
        if self.active and name == "/jax/core/compile/jaxpr_to_mlir_module_duration":
            self.count += 1

    def run(self, fn):
        self.count, self.active = 0, True
        try:
            fn()
        finally:
            self.active = False
        return self.count


LOWERINGS = LoweringCounter()


def _mlp(depth: int):
    return kerasish.Sequential([kerasish.Input(shape=(7,))] + [layers.Dense(9 + i, activation="relu")
                                                               for i in range(depth)] + [layers.Dense(3)])


def test_building_a_model_runs_no_program():
    def build():
        model = _mlp(3)
        # (BatchNormalization is left out: flax's BatchNorm makes its statistics with jnp.zeros.)
        cnn = kerasish.Sequential([kerasish.Input(shape=(8, 8, 1)), layers.Conv2D(4, 3), layers.Conv2D(5, 3),
                                   layers.LayerNormalization(), layers.Flatten(), layers.Embedding(5, 2)])
        model.set_weights([np.ones_like(w) for w in model.get_weights()])
        return cnn

    assert LOWERINGS.run(build) == 0


def test_first_fit_runs_as_many_programs_for_a_deep_model_as_for_a_shallow_one():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 7)).astype("float32"), rng.integers(0, 3, 64)
    counts = []
    for depth in (1, 6):
        model = _mlp(depth)
        model.compile(optimizer="adam", loss=kerasish.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"], steps_per_execution=1)
        counts.append(LOWERINGS.run(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0)))
    assert counts[0] == counts[1], counts
    # the train step, plus two set-up programs: one for the optimizer state, dropout key and step
    # (first fit only), one for the weight copies and metric accumulators (every fit)
    assert counts[0] <= 3, counts
