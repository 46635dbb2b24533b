"""Hand-written flax.nnx + optax loops: the speed limit kerasish is measured against.

The model is split once into its graph definition and state (``nnx.split``); every
step is a pure function of ``(params, rest, opt_state)`` that ``nnx.merge``s the module
back inside the trace, so the loops are plain ``jax.jit`` (with donation) and
``lax.scan`` over pytrees ("tree mode").

Training variants (Adam 1e-3, sparse categorical crossentropy from logits, shuffled each epoch):

* ``step``: one jitted step per batch; batches are gathered from host NumPy arrays.
* ``scan_epoch``: the whole dataset lives on the device; one jitted call runs an epoch
  as a ``lax.scan`` over a permutation drawn on the device.
* ``fused64``: host-fed like ``step``, but 64 batches are stacked per call and scanned.

Every variant drops the last partial batch of an epoch (the usual choice in hand-written
loops; it saves a second compilation). Samples/s counts the samples actually trained on.
``evaluate``/``predict`` variants cover every sample (the partial last batch included).

Each function takes ``t0`` (``time.perf_counter()`` taken before the model is constructed)
and returns ``first_s`` (seconds from ``t0`` until the first call's result was ready),
``ends`` (``perf_counter()`` after each epoch/call, once its result was ready) and
``samples_per_epoch``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

FUSED_STEPS = 64


def _functional(model):
    """Split ``model`` into pure loss / forward functions over ``(params, rest)``.

    ``params`` (the ``nnx.Param`` leaves) and ``rest`` (everything else, e.g. BatchNorm
    statistics) are plain nested dicts (``nnx.to_pure_dict``): flattening them on every
    jitted call costs far less than flattening ``nnx.State`` objects (measured: it doubles
    the one-step-per-batch speed of the tiny MLP).
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def forward(params, rest, x, train):
        module = nnx.merge(graphdef, params, rest)
        logits = module(x, train=train)
        return logits, nnx.to_pure_dict(nnx.split(module, nnx.Param, ...)[2])

    def loss_fn(params, rest, x, y):
        logits, new_rest = forward(params, rest, x, True)
        # float32 loss (a no-op for float32 logits; bfloat16 logits of a mixed-precision model are cast)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), y).mean()
        return loss, new_rest

    return nnx.to_pure_dict(params), nnx.to_pure_dict(rest), forward, loss_fn


def _train_setup(model):
    params, rest, _, loss_fn = _functional(model)
    tx = optax.adam(1e-3)

    def train_step(state, x, y):
        params, rest, opt_state = state
        (loss, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), rest, opt_state), loss

    return (params, rest, tx.init(params)), train_step


def train(variant: str, model_factory, x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int,
          t0: float) -> dict:
    """Train with one of the hand-written loops; see the module docstring for the result."""
    n = x.shape[0]
    steps = n // batch_size
    if steps == 0:
        raise ValueError(f"{n} samples make no full batch of {batch_size}")
    state, train_step = _train_setup(model_factory())
    rng = np.random.default_rng(0)
    first_s, ends = None, []

    def first_ready(value):
        nonlocal first_s
        if first_s is None:
            jax.block_until_ready(value)
            first_s = time.perf_counter() - t0

    single = jax.jit(train_step, donate_argnums=0)

    if variant == "step":
        for _ in range(epochs):
            perm = rng.permutation(n)
            for i in range(steps):
                idx = perm[i * batch_size:(i + 1) * batch_size]
                state, loss = single(state, x[idx], y[idx])
                first_ready(loss)
            jax.block_until_ready(state)
            ends.append(time.perf_counter())

    elif variant == "scan_epoch":
        def run_epoch(state, key, xd, yd):
            perm = jax.random.permutation(key, n)[:steps * batch_size].reshape(steps, batch_size)
            state, losses = jax.lax.scan(lambda s, idx: train_step(s, xd[idx], yd[idx]), state, perm)
            return state, losses[-1]

        run_epoch = jax.jit(run_epoch, donate_argnums=0)
        xd, yd = jax.device_put(x), jax.device_put(y)
        for epoch in range(epochs):
            state, loss = run_epoch(state, jax.random.key(epoch), xd, yd)
            first_ready(loss)
            jax.block_until_ready(state)
            ends.append(time.perf_counter())

    elif variant == "fused64":
        k = min(FUSED_STEPS, steps)
        calls, leftover = divmod(steps, k)

        def multi_step(state, xs, ys):
            return jax.lax.scan(lambda s, b: train_step(s, *b), state, (xs, ys))

        multi_step = jax.jit(multi_step, donate_argnums=0)
        for _ in range(epochs):
            perm = rng.permutation(n)
            for c in range(calls):
                idx = perm[c * k * batch_size:(c + 1) * k * batch_size]
                xs = x[idx].reshape(k, batch_size, *x.shape[1:])
                ys = y[idx].reshape(k, batch_size)
                state, losses = multi_step(state, xs, ys)
                first_ready(losses)
            for i in range(calls * k, calls * k + leftover):
                idx = perm[i * batch_size:(i + 1) * batch_size]
                state, loss = single(state, x[idx], y[idx])
            jax.block_until_ready(state)
            ends.append(time.perf_counter())
    else:
        raise ValueError(f"unknown hand-written training variant {variant!r}")

    return {"first_s": first_s, "ends": ends, "samples_per_epoch": steps * batch_size}


def infer(task: str, variant: str, model_factory, x: np.ndarray, y: np.ndarray, batch_size: int, calls: int,
          t0: float) -> dict:
    """``evaluate`` (mean loss, a float) or ``predict`` (logits as one NumPy array), ``calls`` times over x.

    The weights are passed to every jitted function as an argument (not closed over, which
    would bake them into the program as constants).
    """
    params, rest, forward, _ = _functional(model_factory())
    weights = (params, rest)
    n = x.shape[0]
    full, remainder = divmod(n, batch_size)

    def logits_of(weights, xb):
        return forward(*weights, xb, False)[0]

    def loss_sum(weights, xb, yb, mask=None):
        ce = optax.softmax_cross_entropy_with_integer_labels(logits_of(weights, xb), yb)
        return jnp.sum(ce if mask is None else ce * mask)

    @jax.jit
    def eval_batch(weights, acc, xb, yb):
        return acc + loss_sum(weights, xb, yb)

    predict_batch = jax.jit(logits_of)
    # Host-side boundaries of every batch, the partial last one included.
    bounds = [(i * batch_size, min(n, (i + 1) * batch_size)) for i in range(full + (remainder > 0))]

    def per_batch(batch_range, acc=None):
        if task == "evaluate":
            acc = jnp.zeros((), jnp.float32) if acc is None else acc
            for a, b in batch_range:
                acc = eval_batch(weights, acc, x[a:b], y[a:b])
            return acc
        return [predict_batch(weights, x[a:b]) for a, b in batch_range]

    def finish(result):
        if task == "evaluate":
            return float(result) / n
        return np.concatenate([np.asarray(part) for part in result], axis=0)

    if variant == "step":
        def one_call():
            return finish(per_batch(bounds))

    elif variant == "scan_epoch":
        steps = len(bounds)
        pad = steps * batch_size - n
        xd = yd = md = None

        @jax.jit
        def eval_all(weights, xd, yd, md):
            body = lambda acc, b: (acc + loss_sum(weights, *b), None)
            return jax.lax.scan(body, jnp.zeros((), jnp.float32), (xd, yd, md))[0]

        @jax.jit
        def predict_all(weights, xd):
            return jax.lax.map(lambda xb: logits_of(weights, xb), xd)

        def one_call():
            nonlocal xd, yd, md
            if xd is None:  # the data moves to the device once, in the first call
                shape = (steps, batch_size, *x.shape[1:])
                xd = jax.device_put(np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)]).reshape(shape))
                yd = jax.device_put(np.concatenate([y, np.zeros((pad,), y.dtype)]).reshape(steps, batch_size))
                md = jax.device_put((np.arange(steps * batch_size) < n).astype(np.float32).reshape(steps, -1))
            if task == "evaluate":
                return float(eval_all(weights, xd, yd, md)) / n
            return np.asarray(predict_all(weights, xd)).reshape(steps * batch_size, -1)[:n]

    elif variant == "fused64":
        k = min(FUSED_STEPS, full)
        fused_calls = full // k

        @jax.jit
        def eval_k(weights, acc, xs, ys):
            return jax.lax.scan(lambda a, b: (a + loss_sum(weights, *b), None), acc, (xs, ys))[0]

        @jax.jit
        def predict_k(weights, xs):
            return jax.lax.map(lambda xb: logits_of(weights, xb), xs)

        def one_call():
            acc = jnp.zeros((), jnp.float32)
            parts = []
            for c in range(fused_calls):
                a, b = c * k * batch_size, (c + 1) * k * batch_size
                xs = x[a:b].reshape(k, batch_size, *x.shape[1:])
                if task == "evaluate":
                    acc = eval_k(weights, acc, xs, y[a:b].reshape(k, batch_size))
                else:
                    parts.append(predict_k(weights, xs).reshape(k * batch_size, -1))
            rest_bounds = bounds[fused_calls * k:]
            if task == "evaluate":
                return finish(per_batch(rest_bounds, acc))
            return finish(parts + per_batch(rest_bounds))
    else:
        raise ValueError(f"unknown hand-written {task} variant {variant!r}")

    first_s, ends = None, []
    for _ in range(calls):
        one_call()
        ends.append(time.perf_counter())
        if first_s is None:
            first_s = ends[-1] - t0
    return {"first_s": first_s, "ends": ends, "samples_per_epoch": n}
