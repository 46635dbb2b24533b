"""keras.ops.linalg on ``jax.numpy.linalg`` / ``jax.scipy.linalg``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.errors import InputError
from kerasish.ops._dispatch import keras_op
from kerasish.ops._util import float_tensor


@keras_op
def cholesky(x, upper=False):
    lower = jnp.linalg.cholesky(float_tensor(x))
    return jnp.swapaxes(lower, -1, -2).conj() if upper else lower


@keras_op
def cholesky_inverse(x, upper=False):
    """The inverse of ``A`` from its Cholesky factor ``x`` (``A = x xᴴ``, or ``xᴴ x`` when ``upper``)."""
    factor = float_tensor(x)
    eye = jnp.broadcast_to(jnp.eye(factor.shape[-1], dtype=factor.dtype), factor.shape)
    lower = jnp.swapaxes(factor, -1, -2).conj() if upper else factor
    inv_lower = jax.scipy.linalg.solve_triangular(lower, eye, lower=True)
    return jnp.swapaxes(inv_lower, -1, -2).conj() @ inv_lower


@keras_op
def det(x):
    return jnp.linalg.det(float_tensor(x))


@keras_op
def eig(x):
    return jnp.linalg.eig(float_tensor(x))


@keras_op
def eigh(x):
    return jnp.linalg.eigh(float_tensor(x))


@keras_op
def inv(x):
    return jnp.linalg.inv(float_tensor(x))


def jvp(fun, primals, tangents, has_aux=False):
    """``jax.jvp``: ``(outputs, output_tangents)`` (and the auxiliary output when ``has_aux``)."""
    return jax.jvp(fun, tuple(primals), tuple(tangents), has_aux=has_aux)


@keras_op
def lstsq(a, b, rcond=None):
    return jnp.linalg.lstsq(float_tensor(a), float_tensor(b), rcond=rcond)[0]


@keras_op
def lu_factor(x):
    """``(lu, pivots)`` of a square matrix (``jax.scipy.linalg.lu_factor``)."""
    return jax.scipy.linalg.lu_factor(float_tensor(x))


@keras_op
def matrix_rank(x, tol=None):
    return jnp.linalg.matrix_rank(float_tensor(x), rtol=None, tol=tol)


@keras_op
def norm(x, ord=None, axis=None, keepdims=False):
    x = float_tensor(x)
    if isinstance(axis, list):
        axis = tuple(axis)
    return jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


@keras_op
def pinv(x, rcond=None):
    return jnp.linalg.pinv(float_tensor(x), rtol=rcond)


@keras_op
def qr(x, mode="reduced"):
    if mode not in ("reduced", "complete"):
        raise InputError(f"ops.linalg.qr: mode must be 'reduced' or 'complete'; got {mode!r}.")
    return jnp.linalg.qr(float_tensor(x), mode=mode)


@keras_op
def solve(a, b):
    return jnp.linalg.solve(float_tensor(a), float_tensor(b))


@keras_op
def solve_triangular(a, b, lower=False):
    return jax.scipy.linalg.solve_triangular(float_tensor(a), float_tensor(b), lower=lower)


@keras_op
def svd(x, full_matrices=True, compute_uv=True):
    return jnp.linalg.svd(float_tensor(x), full_matrices=full_matrices, compute_uv=compute_uv)


__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor",
           "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular", "svd"]

