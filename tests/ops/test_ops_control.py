"""The ops the generated harness cannot compare by calling both on arrays: control flow and other ops that take
functions, results that are unique only up to sign or order, uninitialized memory, and the one op where Keras
3.15 is wrong (sparsemax). Each is compared with Keras on the same functions and inputs, or with NumPy."""

import jax
import jax.numpy as jnp
import keras
import numpy as np
import pytest

import kerasish
from kerasish import ops
from tests.ops._inputs import f32, spd


def _close(a, b, tol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def test_map_scan_associative_scan():
    xs = f32(4, 3)
    _close(ops.map(lambda x: x * 2 + 1, xs), keras.ops.map(lambda x: x * 2 + 1, xs))

    def step(carry, x):
        return carry + x, carry * x

    _close(ops.scan(step, np.zeros(3, "float32"), xs), keras.ops.scan(step, np.zeros(3, "float32"), xs))
    _close(ops.scan(step, np.zeros(3, "float32"), xs, reverse=True),
           keras.ops.scan(step, np.zeros(3, "float32"), xs, reverse=True))
    _close(ops.scan(lambda c, _: (c + 1, c), 0, length=5), keras.ops.scan(lambda c, _: (c + 1, c), 0, length=5))
    _close(ops.associative_scan(jnp.add, xs, axis=1), keras.ops.associative_scan(jnp.add, xs, axis=1))


def test_loops_and_branches():
    assert int(ops.fori_loop(0, 5, lambda i, v: v + i, 0)) == int(keras.ops.fori_loop(0, 5, lambda i, v: v + i, 0))
    assert ops.while_loop(lambda i: i < 10, lambda i: i + 1, 0) == 10
    got = ops.while_loop(lambda x, y: x < 10, lambda x, y: (x + 1, y + 2), (0, 1))
    want = keras.ops.while_loop(lambda x, y: x < 10, lambda x, y: (x + 1, y + 2), (0, 1))
    assert tuple(int(v) for v in got) == tuple(int(v) for v in want)
    assert int(ops.while_loop(lambda i: i < 10, lambda i: i + 1, 0, maximum_iterations=3)) == 3
    _close(ops.cond(True, lambda: 1.0, lambda: 2.0), keras.ops.cond(True, lambda: 1.0, lambda: 2.0))
    branches = [lambda x: x + 1, lambda x: x * 3]
    _close(ops.switch(1, branches, f32(3)), keras.ops.switch(1, branches, f32(3)))
    _close(ops.vectorized_map(lambda x: x @ x, f32(4, 3)), keras.ops.vectorized_map(lambda x: x @ x, f32(4, 3)))


def test_gradients():
    assert float(jax.grad(lambda x: ops.stop_gradient(x) * x)(2.0)) == 2.0

    @ops.custom_gradient
    def log1pexp(x):
        e = ops.exp(x)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

        return ops.log(1 + e), grad

    assert float(jax.grad(log1pexp)(100.0)) == pytest.approx(1.0)
    fun = lambda x: x ** 3  # noqa: E731
    _close(ops.linalg.jvp(fun, (f32(3),), (np.ones(3, "float32"),)),
           keras.ops.linalg.jvp(fun, (f32(3),), (np.ones(3, "float32"),)))
    vf = ops.vectorize(lambda a, b: a + b)
    _close(vf(f32(3), f32(3, seed=1)), keras.ops.vectorize(lambda a, b: a + b)(f32(3), f32(3, seed=1)))


def test_decompositions_up_to_sign():
    m = spd(4)
    w, v = ops.eig(m)
    kw, _ = keras.ops.eig(m)
    np.testing.assert_allclose(np.sort(np.real(np.asarray(w))), np.sort(np.real(np.asarray(kw))), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(m @ v), np.asarray(v * w), atol=1e-3)  # m v = v diag(w)
    a = f32(4, 3)
    u, s, vt = ops.svd(a, full_matrices=False)
    np.testing.assert_allclose(np.asarray(u * s @ vt), a, atol=1e-5)
    _close(s, keras.ops.svd(a, compute_uv=False))


def test_istft_inverts_stft_as_keras():
    x = f32(2, 64)
    for kwargs in ({}, {"window": "hamming", "center": False}, {"window": None}):
        spectrum = keras.ops.stft(x, 16, 4, 32, **kwargs)
        _close(ops.istft(spectrum, 16, 4, 32, **kwargs), keras.ops.istft(spectrum, 16, 4, 32, **kwargs), 1e-4)
    _close(ops.istft(ops.stft(x, 16, 4, 32), 16, 4, 32, length=64), x, 1e-4)  # a round trip


def test_empty_has_keras_shape_and_dtype():
    for got, want in ((ops.empty((2, 3)), keras.ops.empty((2, 3))),
                      (ops.empty_like(f32(2, 3), dtype="int32"), keras.ops.empty_like(f32(2, 3), dtype="int32"))):
        assert got.shape == want.shape and got.dtype == want.dtype


def test_sparsemax_is_the_simplex_projection():
    # Keras 3.15 gets [1, 0.9, 0] wrong ([0.05, 0, 0]); the projection onto the simplex is [0.55, 0.45, 0]
    np.testing.assert_allclose(np.asarray(ops.sparsemax(np.array([1.0, 0.9, 0.0], "float32"))), [0.55, 0.45, 0.0],
                               atol=1e-6)
    x = f32(5, 7)
    out = np.asarray(ops.sparsemax(x))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    # reference (Martins & Astudillo 2016) in NumPy
    z = -np.sort(-x, axis=-1)
    k = np.arange(1, 8)
    cssv = np.cumsum(z, axis=-1)
    support = 1 + k * z > cssv
    kz = support.sum(-1, keepdims=True)
    tau = (np.take_along_axis(cssv, kz - 1, axis=-1) - 1) / kz
    np.testing.assert_allclose(out, np.maximum(x - tau, 0), atol=1e-6)


def test_ops_run_under_jit_as_their_jax_functions():
    x = f32(3, 4)
    f = jax.jit(lambda x: ops.sum(ops.nn.relu(ops.matmul(x, ops.transpose(x))), axis=-1))
    _close(f(x), np.maximum(x @ x.T, 0).sum(-1))
    # a Variable is an op's operand as its value
    v = kerasish.Variable(x, "v")
    _close(ops.mean(v, axis=0), x.mean(0))
