"""kerasish.distribution on 8 simulated CPU devices (a subprocess: XLA_FLAGS must be set before jax loads)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasish
from kerasish.errors import ConfigError

SCRIPT = Path(__file__).with_name("dp_script.py")


@pytest.fixture(scope="module")
def runs():
    out = subprocess.run([sys.executable, str(SCRIPT), '"auto"'], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_data_parallel_fit_matches_one_device(runs):
    single, dp = runs["single"], runs["data_parallel"]
    np.testing.assert_allclose(dp["losses"], single["losses"], rtol=1e-4)  # per-epoch losses
    np.testing.assert_allclose(dp["evaluate"], single["evaluate"], rtol=1e-4)
    np.testing.assert_allclose(dp["predict"], single["predict"], rtol=1e-4, atol=1e-5)
    for a, b in zip(dp["weights"], single["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_batches_are_split_and_the_state_replicated(runs):
    assert runs["single"]["kernel_devices"] == 1
    assert runs["data_parallel"]["kernel_devices"] == 8
    (layout,) = runs["data_parallel"]["probe"]  # the layer's input inside the compiled step
    assert "'batch': 8" in layout and "P('batch',)" in layout


def test_a_batch_size_that_does_not_split_is_a_clear_error(runs):
    assert runs["data_parallel"]["bad_batch_error"] == ("DataParallel splits every batch over 8 devices, so the batch "
                                                        "size must be a multiple of 8; got 60.")


def test_api_on_one_device():
    assert kerasish.distribution.list_devices() == ["cpu:0"]
    dist = kerasish.distribution.DataParallel()
    assert dist.batch_shards == 1 and kerasish.distribution.distribution() is None
    with dist.scope():
        assert kerasish.distribution.distribution() is dist
    assert kerasish.distribution.distribution() is None
    with pytest.raises(ConfigError, match=r"shape \(2,\) holds 2 devices, but 1 were given"):
        kerasish.distribution.DeviceMesh((2,), ["batch"])
    with pytest.raises(ConfigError, match="Unknown device 'gpu:3'"):
        kerasish.distribution.DataParallel(devices=["gpu:3"])
    with pytest.raises(ConfigError, match="set_distribution takes"):
        kerasish.distribution.set_distribution("data")
    with kerasish.device("cpu:0") as device:
        assert device.platform == "cpu"
    with pytest.raises(ConfigError, match=r"kerasish.device: no device 'tpu:9'"):
        with kerasish.device("tpu:9"):
            pass


def test_model_parallel_splits_the_kernel_and_matches_one_device(runs):
    single, mp = runs["single"], runs["model_parallel"]
    np.testing.assert_allclose(mp["losses"], single["losses"], rtol=1e-4)
    np.testing.assert_allclose(mp["evaluate"], single["evaluate"], rtol=1e-4)
    np.testing.assert_allclose(mp["predict"], single["predict"], rtol=1e-4, atol=1e-5)
    assert mp["kernel_spec"] == "P(None, 'model')"
    assert mp["kernel_shard_shape"] == [10, 8], "each device holds a quarter of the 32 output units"
    assert mp["kernel_slot_specs"] == ["P(None, 'model')"], "Adam's slots follow the kernel's layout"
    (layout,) = mp["probe"]
    assert "'batch': 2, 'model': 4" in layout and "P('batch',)" in layout


def test_layout_map_errors():
    mesh = kerasish.distribution.DeviceMesh((1,), ["model"])
    layout = kerasish.distribution.LayoutMap(mesh)
    with pytest.raises(ConfigError, match=r"mesh axes \['batch'\] are not among \['model'\]"):
        layout["dense/kernel"] = (None, "batch")
    with pytest.raises(ConfigError, match="is not a regular expression"):
        layout["dense/(kernel"] = (None, "model")
    with pytest.raises(ConfigError, match="batch_dim_name 'batch' is not a mesh axis"):
        kerasish.distribution.ModelParallel(layout, batch_dim_name="batch")
