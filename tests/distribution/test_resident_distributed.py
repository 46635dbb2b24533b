"""Device-resident training data under a distribution, on 8 simulated CPU devices (a subprocess: XLA_FLAGS must be
set before jax loads). The oracle is the same fit on the host path (``set_resident_data(0)``)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("resident_script.py")


@pytest.fixture(scope="module")
def runs():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _weights(run):
    return [np.frombuffer(bytes.fromhex(w), np.float32) for w in run["weights"]]


@pytest.mark.parametrize("kind", ["data", "model"])
def test_resident_fit_evaluate_predict_under_a_distribution_match_the_host_path(runs, kind):
    host, res = runs[f"{kind}-host"], runs[f"{kind}-resident"]
    # fit's, evaluate's and predict's arrays, each placed once, a replica on each of the 8 devices
    assert host["placed"] == [] and res["placed"] == [[8]] * 3
    assert res["calls"] == host["calls"] == [3, 3, 1, 1] * 3  # the same calls: 2 fused of 3, then single steps
    assert res["probe"] == ["P('batch',)"]  # inside the resident loop each batch is split as the host path's
    for name in host["history"]:
        np.testing.assert_allclose([float.fromhex(v) for v in res["history"][name]],
                                   [float.fromhex(v) for v in host["history"][name]], rtol=1e-6)
    # not to the bit: XLA partitions a loop's reductions in its own order (the host path's own fused and single
    # steps differ as much under a distribution), within float32 rounding of these weights
    for a, b in zip(_weights(res), _weights(host)):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-7)
    np.testing.assert_allclose(res["evaluate"], host["evaluate"], rtol=1e-6)
    np.testing.assert_allclose(res["predict"], host["predict"], rtol=1e-5, atol=1e-6)
