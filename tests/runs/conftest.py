"""A tiny recipe and config written into a temporary project (configs/ beside recipes/), and an empty
dataset cache, so that no test depends on the network or on files in the user's home."""

import textwrap

import pytest

TINY_RECIPE = '''
"""A tiny regression recipe for the tests: y = x @ w on fixed random data."""
import os
import signal
import time
from typing import Literal

import numpy as np
from pydantic import Field

import kerasish
from kerasish.runs import Section


class Data(Section):
    samples: int = Field(256, ge=8)
    features: int = Field(4, ge=1)


class Model(Section):
    units: list[int] = [8]
    activation: Literal["relu", "tanh"] = "tanh"


SECTIONS = {"data": Data, "model": Model}
DEFAULTS = {"fit": {"epochs": 3, "batch_size": 16}, "compile": {"optimizer": "sgd", "learning_rate": 0.05}}
SMOKE = ["fit.epochs=1"]


class KillAt(kerasish.callbacks.Callback):
    """SIGKILLs its own process at a global batch (a crash the run cannot see coming), after a pause that
    lets the asynchronous backup of the last epoch end commit (so the resume restores it)."""

    def __init__(self, at):
        super().__init__()
        self.at, self.seen = at, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.at and self.seen == self.at:
            time.sleep(float(os.environ.get("TINY_KILL_PAUSE", "3")))
            os.kill(os.getpid(), signal.SIGKILL)


def run(config, ctx):
    ctx.log(f"Data: synthetic regression, {config.data.samples} samples.")
    rng = np.random.default_rng(config.seed)
    x = rng.standard_normal((config.data.samples, config.data.features)).astype("float32")
    y = (x @ rng.standard_normal((config.data.features, 1))).astype("float32")
    stack = [kerasish.Input((config.data.features,))]
    stack += [kerasish.layers.Dense(u, activation=config.model.activation) for u in config.model.units]
    model = kerasish.Sequential(stack + [kerasish.layers.Dense(1)])
    ctx.compile(model, loss="mse", metrics=["mae"])
    kill = int(os.environ.get("TINY_KILL_AT", "0"))
    # the same callbacks on a resume (the backup holds each one's state), but no second kill
    ctx.fit(model, x, y, callbacks=[KillAt(0 if ctx.resumed else kill)])
    metrics = model.evaluate(x, y, verbose=0, return_dict=True)
    return model, {"final_" + k: v for k, v in metrics.items()}
'''

TINY_CONFIG = """
name: tiny
recipe: tiny
seed: 3
data:
  samples: 256
model:
  units: [8]
fit:
  validation_split: 0.25
  verbose: 0
callbacks:
  tensorboard: true
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """``tmp/recipes/tiny.py`` and ``tmp/configs/tiny.yaml``; cwd is ``tmp``; an empty dataset cache."""
    (tmp_path / "recipes").mkdir()
    (tmp_path / "configs").mkdir()
    (tmp_path / "recipes" / "tiny.py").write_text(textwrap.dedent(TINY_RECIPE))
    (tmp_path / "configs" / "tiny.yaml").write_text(TINY_CONFIG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERASISH_DATA_DIR", str(tmp_path / "empty-cache"))
    return tmp_path
