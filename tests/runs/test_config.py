"""Run configs: merging (OmegaConf), validation (pydantic) and the errors a user sees, before any training."""

import pytest

from kerasish.errors import ConfigError
from kerasish.runs import load_config


def test_defaults_file_and_overrides_merge_in_that_order(project):
    config, module, resolved = load_config("configs/tiny.yaml", ["fit.epochs=5", "model.units=[4,2]",
                                                                  "compile.learning_rate=0.01"])
    assert config.fit.epochs == 5  # override beats the recipe default (3)
    assert config.fit.batch_size == 16  # recipe default
    assert config.fit.validation_split == 0.25  # from the file
    assert config.model.units == [4, 2] and config.compile.learning_rate == 0.01
    assert config.compile.optimizer == "sgd"  # recipe default
    assert resolved["model"] == {"units": [4, 2], "activation": "tanh"}
    assert resolved["callbacks"]["early_stopping"] is None and resolved["seed"] == 3


@pytest.mark.parametrize("override, message", [
    (["fit.epoch=3"], r"fit\.epoch: unknown key; allowed keys: batch_size, epochs, shuffle, steps_per_epoch, "
                      r"validation_split, verbose"),
    (["fit.epochs=0"], r"fit\.epochs: Input should be greater than or equal to 1 \(got 0\)"),
    (["compile.optimizer=adamm"], r"compile\.optimizer: Input should be 'sgd', .*'lion'"),
    (["model.activation=swish"], r"model\.activation: Input should be 'relu' or 'tanh' \(got 'swish'\)"),
    (["model.depth=3"], r"model\.depth: unknown key; allowed keys: activation, units"),
    (["data.samples=big"], r"data\.samples: Input should be a valid integer"),
    (["trainer.epochs=3"], r"trainer: unknown section\(s\) for recipe 'tiny'; allowed: callbacks, compile, data"),
    (["compile.loss=msee"], r"compile\.loss: .*msee"),
    (["callbacks.early_stopping.patience=-1"], r"callbacks\.early_stopping\.patience: Input should be greater"),
    (["fit.validation_split=1.5"], r"fit\.validation_split: Input should be less than 1"),
])
def test_bad_keys_and_values_name_the_key_and_what_is_allowed(project, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("configs/tiny.yaml", override)


def test_every_problem_is_reported_at_once(project):
    with pytest.raises(ConfigError) as info:
        load_config("configs/tiny.yaml", ["fit.epochs=0", "model.activation=swish"])
    assert "fit.epochs" in str(info.value) and "model.activation" in str(info.value)


def test_bad_overrides_files_and_recipes(project):
    with pytest.raises(ConfigError, match="Overrides must look like key=value"):
        load_config("configs/tiny.yaml", ["fit.epochs"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("configs/nope.yaml")
    with pytest.raises(ConfigError, match=r"recipe: no recipe 'nope' \(looked for recipes/nope.py, .*\); available: .*tiny"):
        load_config("configs/tiny.yaml", ["recipe=nope"])
    (project / "configs" / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="Could not read the config"):
        load_config("configs/broken.yaml")
    with pytest.raises(ConfigError, match="recipe: missing"):
        load_config({"name": "x"})


def test_a_dict_config_and_a_recipe_given_by_path(project):
    config, module, _ = load_config({"name": "d", "recipe": str(project / "recipes" / "tiny.py")},
                                    ["data.features=2"])
    assert config.data.features == 2 and module.run.__module__.endswith("tiny")
