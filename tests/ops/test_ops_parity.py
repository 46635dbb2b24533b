"""One harness over the whole ``keras.ops`` namespace: every public op is called on generated inputs (several
shapes; float32, int32, bool, float16, bfloat16) under Keras 3 (JAX backend) and under ``kerasish.ops``, and the
results must agree in structure, shape, dtype and value. Cases Keras itself refuses are skipped; each op must
have at least one compared case (or a dedicated test, ``_inputs.DEDICATED``)."""

from __future__ import annotations

import inspect
import os

import jax
import keras
import numpy as np
import pytest

import kerasish
import kerasish.ops as kops
from tests.ops import _inputs

KERAS_OPS = sorted(n for n in dir(keras.ops) if not n.startswith("_") and not inspect.ismodule(getattr(keras.ops, n)))
TOLERANCE = {"float16": (2e-3, 2e-3), "bfloat16": (2e-2, 2e-2), "float32": (2e-5, 2e-5), "complex64": (2e-5, 2e-5)}
LOOSE = {"cholesky_inverse", "inv", "lstsq", "pinv", "solve", "det", "logdet", "slogdet", "matrix_rank", "eigh",
         "cholesky", "qr", "lu_factor", "solve_triangular", "stft", "fft", "fft2", "ifft2", "rfft", "irfft", "svd",
         "corrcoef", "fold", "conv_transpose", "separable_conv", "dot_product_attention", "ctc_loss"}


def _auto_cases(name):
    fn = getattr(keras.ops, name)
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = {p.name for p in params}
    if not names or not names <= _inputs.ARRAY_PARAMS:
        return []
    all_params = inspect.signature(fn).parameters
    cases = []
    if len(params) == 1:
        # every dtype once with alternating shapes first (the smoke set), then the other shape of each
        for turn in (0, 1):
            for i, dtype in enumerate(_inputs.DTYPES):
                cases.append(((_inputs.array(_inputs.SHAPES_UNARY[(i + turn + 1) % 2], dtype),), {}))
        if "axis" in all_params:
            cases.append(((_inputs.f32(2, 3),), {"axis": 1}))
            if "keepdims" in all_params:
                cases.append(((_inputs.f32(2, 3, 4),), {"axis": (0, 2), "keepdims": True}))
    elif len(params) == 2:
        for turn in (0, 1):
            for i, dtype in enumerate(_inputs.DTYPES):
                s1, s2 = _inputs.SHAPES_BINARY[(i + turn) % 2]
                cases.append(((_inputs.array(s1, dtype), _inputs.array(s2, dtype, seed=1)), {}))
        for d1, d2 in (("float32", "int32"), ("int32", "bool"), ("float16", "float32"), ("bfloat16", "float16"),
                       ("int8", "int32"), ("uint8", "int8")):
            cases.append(((_inputs.array((2, 3), d1), _inputs.array((2, 3), d2, seed=1)), {}))
        cases.append(((_inputs.f32(2, 3), 2), {}))
        cases.append(((_inputs.array((2, 3), "int32"), 1.5), {}))
    return cases


# The whole set of generated cases runs with KERASISH_OPS_FULL=1; by default (CI) each op runs its first
# SMOKE_CASES (for generated cases: every dtype once, the shapes alternating) and two with keyword arguments.
SMOKE_CASES = 5


def _cases(name):
    cases = _inputs.SPECS[name] if name in _inputs.SPECS else _auto_cases(name)
    if os.environ.get("KERASISH_OPS_FULL") == "1" or len(cases) <= SMOKE_CASES:
        return cases
    # the first cases (every dtype once for generated ones), and the cases with keyword arguments (axis, ...)
    return cases[:SMOKE_CASES] + [c for c in cases[SMOKE_CASES:] if c[1]][:2]


def _leaves(value):
    return jax.tree.leaves(value, is_leaf=lambda x: x is None)


def _compare(name, expected, got, case):
    assert type(got) is not type(None) or expected is None, f"{name}{case}: kerasish returned None"
    if isinstance(expected, (str, bool, int, float)) and not isinstance(expected, np.generic):
        assert got == expected, f"{name}{case}: {got!r} != Keras {expected!r}"
        return
    if isinstance(expected, tuple) and all(isinstance(e, (int, type(None))) for e in expected):
        assert tuple(got) == expected, f"{name}{case}: {got!r} != Keras {expected!r}"
        return
    exp_leaves, got_leaves = _leaves(expected), _leaves(got)
    assert len(exp_leaves) == len(got_leaves), f"{name}{case}: {len(got_leaves)} outputs, Keras {len(exp_leaves)}"
    for e, g in zip(exp_leaves, got_leaves):
        e_arr, g_arr = np.asarray(e), np.asarray(g)
        assert g_arr.shape == e_arr.shape, f"{name}{case}: shape {g_arr.shape} != Keras {e_arr.shape}"
        e_dtype = keras.backend.standardize_dtype(getattr(e, "dtype", e_arr.dtype))
        g_dtype = keras.backend.standardize_dtype(getattr(g, "dtype", g_arr.dtype))
        assert g_dtype == e_dtype, f"{name}{case}: dtype {g_dtype} != Keras {e_dtype}"
        if e_dtype in TOLERANCE:
            rtol, atol = TOLERANCE[e_dtype]
            if name in LOOSE:
                rtol, atol = rtol * 50, atol * 50
            np.testing.assert_allclose(g_arr.astype(np.complex128 if "complex" in e_dtype else np.float64),
                                       e_arr.astype(np.complex128 if "complex" in e_dtype else np.float64),
                                       rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name}{case}")
        else:
            np.testing.assert_array_equal(g_arr, e_arr, err_msg=f"{name}{case}")


def _describe(args, kwargs):
    def one(a):
        if hasattr(a, "shape") and hasattr(a, "dtype"):
            return f"{np.asarray(a).dtype}{tuple(a.shape)}"
        if isinstance(a, (list, tuple)):
            return type(a)(one(x) for x in a)
        return a
    return f"({', '.join(map(str, map(one, args)))}, {kwargs})"


@pytest.mark.parametrize("name", KERAS_OPS)
def test_op_matches_keras(name):
    assert hasattr(kops, name), f"kerasish.ops has no {name}"
    if name in _inputs.DEDICATED:
        pytest.skip(f"{name}: covered by a dedicated test in tests/ops/test_ops_control.py")
    cases = _cases(name)
    compared = 0
    for args, kwargs in cases:
        try:
            expected = getattr(keras.ops, name)(*args, **kwargs)
        except Exception:
            continue  # Keras refuses this case: nothing to compare
        got = getattr(kops, name)(*args, **kwargs)
        _compare(name, expected, got, _describe(args, kwargs))
        compared += 1
    assert compared, f"{name}: no generated case ran under Keras; add a recipe to tests/ops/_inputs.SPECS"


def _symbolic(args, kwargs, make):
    """The case with its first array argument a symbolic tensor (batch size unknown)."""
    first = next((a for a in args if isinstance(a, np.ndarray) and a.ndim >= 1), None)
    if first is None:
        return None, None
    # every array argument with the first one's leading size gets an unknown batch size too
    lead = first.shape[0]
    new_args = [make((None,) + a.shape[1:], keras.backend.standardize_dtype(a.dtype))
                if isinstance(a, np.ndarray) and a.ndim >= 1 and a.shape[0] == lead else a for a in args]
    return new_args, kwargs


@pytest.mark.parametrize("name", KERAS_OPS)
def test_op_on_keras_tensors_matches_keras(name):
    """The op on a KerasTensor gives the KerasTensor (shape with None, dtype) that Keras's gives."""
    if name in _inputs.DEDICATED or name in _inputs.NOT_SYMBOLIC:
        pytest.skip(f"{name}: takes functions or returns Python values; see tests/ops/test_ops_control.py")
    compared = 0
    for args, kwargs in _cases(name)[:2]:
        k_args, k_kwargs = _symbolic(args, kwargs, lambda s, d: keras.KerasTensor(s, dtype=d))
        if k_args is None:
            continue
        try:
            expected = getattr(keras.ops, name)(*k_args, **k_kwargs)
        except Exception:
            continue
        s_args, s_kwargs = _symbolic(args, kwargs, lambda s, d: kerasish.KerasTensor(s, dtype=d))
        try:
            got = getattr(kops, name)(*s_args, **s_kwargs)
        except kerasish.InputError as e:
            # Keras's symbolic shapes are more lenient (a size that fits only one batch size, e.g. a reshape
            # to a fixed total): kerasish traces the op, and refuses such a call with a clear error
            assert "cannot be called on inputs of shape" in str(e)
            continue
        if name in _inputs.KERAS_SYMBOLIC_QUIRKS:
            compared += 1
            continue
        exp_leaves = jax.tree.leaves(expected, is_leaf=lambda t: isinstance(t, keras.KerasTensor))
        got_leaves = jax.tree.leaves(got, is_leaf=lambda t: isinstance(t, kerasish.KerasTensor))
        assert len(got_leaves) == len(exp_leaves), f"{name}{_describe(args, kwargs)}"
        for e, g in zip(exp_leaves, got_leaves):
            assert tuple(g.shape) == tuple(e.shape), f"{name}{_describe(args, kwargs)}: {g.shape} != Keras {e.shape}"
            assert g.dtype.name == keras.backend.standardize_dtype(e.dtype), f"{name}: {g.dtype} != {e.dtype}"
        compared += 1
    if not compared:
        pytest.skip(f"{name}: no case Keras runs on a KerasTensor")
