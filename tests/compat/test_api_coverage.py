"""Each namespace of kerasish holds Keras 3's public names, but for the documented exclusions."""

import pytest

from tests.compat import coverage


@pytest.mark.parametrize("namespace", list(coverage.NAMESPACES))
def test_namespace_has_keras_public_names(namespace):
    counted, missing, _ = coverage.coverage(namespace)
    floor = coverage.NAMESPACES[namespace]
    have = len(counted) - len(missing)
    assert have >= floor * len(counted), (
        f"kerasish.{namespace} has {have} of Keras's {len(counted)} public names (floor {floor:.0%}); "
        f"missing: {missing}")


def test_exclusions_name_real_keras_names():
    for namespace, names in coverage.EXCLUDED.items():
        assert set(names) <= set(coverage.keras_names(namespace)), namespace
