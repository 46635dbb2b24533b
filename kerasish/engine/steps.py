"""Step functions: Keras's stateless steps, and the engine's pure steps built around them.

Two layers meet here. A model's ``train_step(state, data) -> (logs, state)`` is Keras 3's JAX
contract: ``state`` is ``(trainable, non_trainable, optimizer_variables, metrics_variables)``
and ``data`` the batch as Keras gives it (``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``).
The default one is :func:`default_train_step`, a function of explicit arguments.

The engine runs ``(TrainState, batch) -> (TrainState, logs)`` functions, made here by
:func:`make_train_step`, :func:`make_test_step` and :func:`make_predict_step` from the model's
step. ``batch`` is ``(data, mask)``: ``mask`` marks the real rows of a padded last batch. Around
the model's step they enter a :class:`~kerasish.backend.StepContext` (the run's key, the step
counter and the mask, which ``stateless_call`` and the default loss and metrics read), and
advance the step counter: so a custom step gets kerasish's per-step ``fold_in`` keys and
padded batches without knowing of them.

``compile``'s features wrap a Keras-form step rather than branching inside it:
:func:`with_batch_augmentation` (MixUp/CutMix) and :func:`with_gradient_accumulation`; loss
scaling is the optimizer's own ``scale_loss``; fusing k steps is ``engine.fused``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from kerasish.backend import StepContext, current_step
from kerasish.engine.state import TrainState
from kerasish.errors import ConfigError, InputError
from kerasish.optimizers import capture_gradients
from kerasish.utils.batches import pack_x_y_sample_weight, unpack_x_y_sample_weight

_AUGMENT_STREAM = 0x7FFF0000  # fold_in data for augmentation keys: far from the layers' counter values


def flatten_logs(logs) -> dict:
    """A step's logs as one flat dict (Keras flattens the ``compile_metrics`` dict into its entries)."""
    if not isinstance(logs, dict):
        raise ConfigError(f"A train/test step must return a dict of logs, got {type(logs).__name__}.")
    out = {}
    for name, value in logs.items():
        if isinstance(value, dict):
            out.update(flatten_logs(value))
        else:
            out[name] = value
    return out


# -- the default Keras-form steps, as functions of explicit arguments ---------------------------------
def default_train_step(state, data, *, compute_loss_and_updates, optimizer, update_metrics):
    """Keras's default JAX train step: gradients of the loss, one optimizer update, the metrics.

    Args:
        state: ``(trainable, non_trainable, optimizer_variables, metrics_variables)``.
        data: the batch, ``(x, y[, sample_weight])``.
        compute_loss_and_updates: ``(trainable, non_trainable, metrics, x, y, sample_weight, training,
            optimizer_variables) -> (scaled loss, (loss, y_pred, non_trainable, metrics))``.
        optimizer: has ``stateless_apply(optimizer_variables, grads, trainable)``.
        update_metrics: ``(metrics, loss, x, y, y_pred, sample_weight) -> (logs, metrics)``.
    """
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    grad_fn = jax.value_and_grad(compute_loss_and_updates, has_aux=True)
    (_, (loss, y_pred, non_trainable, metrics_variables)), grads = grad_fn(
        trainable, non_trainable, metrics_variables, x, y, sample_weight, training=True,
        optimizer_variables=optimizer_variables)
    # optimizer_variables may also hold other optimizers' (kept by the model as attributes): passed through
    n = len(optimizer.variables)
    trainable, own = optimizer.stateless_apply(optimizer_variables[:n], grads, trainable)
    optimizer_variables = list(own) + list(optimizer_variables[n:])
    logs, metrics_variables = update_metrics(metrics_variables, loss, x, y, y_pred, sample_weight)
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)


def default_test_step(state, data, *, compute_loss_and_updates, update_metrics):
    """Keras's default JAX test step: the loss and the metrics, nothing trained."""
    trainable, non_trainable, metrics_variables = state
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    _, (loss, y_pred, non_trainable, metrics_variables) = compute_loss_and_updates(
        trainable, non_trainable, metrics_variables, x, y, sample_weight, training=False)
    logs, metrics_variables = update_metrics(metrics_variables, loss, x, y, y_pred, sample_weight)
    return logs, (trainable, non_trainable, metrics_variables)


def default_predict_step(state, data, *, stateless_call):
    """Keras's default JAX predict step: ``(outputs, non_trainable_variables)``."""
    trainable, non_trainable = state
    x, _, _ = unpack_x_y_sample_weight(data)
    return stateless_call(trainable, non_trainable, x, training=False)


# -- compile features, as wrappers of a Keras-form train step -----------------------------------------
def with_batch_augmentation(step, augmentations: list, model_name: str):
    """``compile(batch_augmentation=[...])``: each batch ``(x, y)`` mixed before ``step`` sees it.

    Keys come from the step's key (``fold_in(rng, step)``) on a stream of their own; a real row is
    never mixed with a padding row (the step's mask).
    """
    names = ", ".join(type(a).__name__ for a in augmentations)

    def augmented(state, data):
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if not hasattr(x, "shape") or isinstance(y, (list, tuple, dict)):
            raise ConfigError(f"batch_augmentation ({names}) needs a model with one input and one output; "
                              f"model {model_name!r} got x of type {type(x).__name__} and y of type "
                              f"{type(y).__name__}.")
        if y is None or jnp.ndim(y) != 2 or not jnp.issubdtype(jnp.asarray(y).dtype, jnp.floating):
            shape = None if y is None else tuple(jnp.shape(y))
            dtype = None if y is None else jnp.asarray(y).dtype
            raise InputError(f"batch_augmentation ({names}) mixes labels, so y must be one-hot or probabilities of "
                             f"shape (batch, classes) and a float dtype; got {dtype} labels of shape {shape}. "
                             "One-hot encode them and use categorical_crossentropy.")
        context = current_step()
        base = context.step_key()
        for i, aug in enumerate(augmentations):
            key = jax.random.fold_in(base, _AUGMENT_STREAM + i)  # apart from the layers' counter-based keys
            x, y = aug.augment_batch(x, y, key, sample_mask=context.mask)
        return step(state, pack_x_y_sample_weight(x, y, sample_weight))

    return augmented


def with_gradient_accumulation(step, n: int, optimizer):
    """``compile(gradient_accumulation_steps=n)``: each batch as ``n`` micro-batches, one update.

    The micro-batches are scanned inside the jitted step; each runs ``step`` unchanged, except that
    its optimizer call only hands over the gradients (``capture_gradients``); their mean is applied
    once, with the weights the batch started from. Non-trainable state (batch statistics) and the
    metrics update per micro-batch; stochastic layers draw new keys for each (micro-step
    ``step * n + i``). The logs are the last micro-batch's.
    """

    def accumulated(state, data):
        trainable, non_trainable, optimizer_variables, metrics_variables = state
        leaves = jax.tree.leaves(data)
        batch = leaves[0].shape[0]
        if batch % n:
            raise InputError(f"gradient_accumulation_steps={n} must divide the batch size, got batches of {batch} "
                             f"rows; use a batch_size that is a multiple of {n}.")
        rows = batch // n
        outer = current_step()

        def split(tree):
            return jax.tree.map(lambda a: a.reshape((n, rows) + a.shape[1:]), tree)

        def micro_step(carry, micro):
            grads_sum, non_trainable, metrics_variables, i = carry
            micro_data, micro_mask = micro
            with StepContext(outer.rng, outer.step * n + i, micro_mask), capture_gradients() as captured:
                logs, (_, non_trainable, _, metrics_variables) = step(
                    (trainable, non_trainable, optimizer_variables, metrics_variables), micro_data)
            if len(captured) != 1:
                raise ConfigError(f"gradient_accumulation_steps needs a train step that calls "
                                  f"optimizer.stateless_apply exactly once; this one called it {len(captured)} "
                                  "times.")
            return (jax.tree.map(jnp.add, grads_sum, list(captured[0])), non_trainable, metrics_variables,
                    i + 1), logs

        zeros = jax.tree.map(jnp.zeros_like, list(trainable))
        carry = (zeros, non_trainable, metrics_variables, jnp.zeros((), jnp.int32))
        (grads_sum, non_trainable, metrics_variables, _), logs = jax.lax.scan(
            micro_step, carry, (split(data), None if outer.mask is None else split(outer.mask)))
        grads = jax.tree.map(lambda g: g / n, grads_sum)
        trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
        logs = jax.tree.map(lambda a: a[-1], logs)
        return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)

    return accumulated


# -- the engine's steps ---------------------------------------------------------------------------------
def make_train_step(model_step):
    """``(TrainState, (data, mask)) -> (TrainState, logs)`` around a Keras-form train step."""

    def train(state: TrainState, batch):
        data, mask = batch
        with StepContext(state.rng, state.step, mask):
            logs, new = model_step((state.trainable, state.non_trainable, state.optimizer, state.metrics), data)
        trainable, non_trainable, optimizer_variables, metrics_variables = _check_state(new, 4, "train_step")
        return TrainState(list(trainable), list(non_trainable), list(optimizer_variables), list(metrics_variables),
                          state.rng, state.step + 1), flatten_logs(logs)

    return train


def make_test_step(model_step):
    """``(TrainState, (data, mask)) -> (TrainState, logs)`` around a Keras-form test step."""

    def test(state: TrainState, batch):
        data, mask = batch
        with StepContext(state.rng, state.step, mask):
            logs, new = model_step((state.trainable, state.non_trainable, state.metrics), data)
        _, non_trainable, metrics_variables = _check_state(new, 3, "test_step")
        return state._replace(non_trainable=list(non_trainable), metrics=list(metrics_variables)), flatten_logs(logs)

    return test


def make_predict_step(model_step):
    """``(TrainState, (data, mask)) -> outputs`` around a Keras-form predict step."""

    def predict(state: TrainState, batch):
        data, _ = batch
        with StepContext(state.rng, state.step, None):
            out = model_step((state.trainable, state.non_trainable), data)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ConfigError("predict_step must return (outputs, non_trainable_variables) (Keras's JAX contract); "
                              f"got {type(out).__name__}.")
        return out[0]

    return predict


def _check_state(new, n: int, where: str):
    if not isinstance(new, (tuple, list)) or len(new) != n:
        raise ConfigError(f"{where} must return (logs, state) with state a tuple of {n} lists (Keras's JAX "
                          f"contract); got a state of type {type(new).__name__}"
                          f"{f' with {len(new)} entries' if isinstance(new, (tuple, list)) else ''}.")
    return new
