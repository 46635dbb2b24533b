"""Keras 3's stateless training API on the model: the contract custom steps are written to.

These are :class:`kerasish.Model` methods with Keras's names and signatures (JAX backend):

- ``train_step(state, data) -> (logs, state)``, ``state = (trainable_variables,
  non_trainable_variables, optimizer_variables, metrics_variables)``; ``test_step`` with
  ``(trainable, non_trainable, metrics)``; ``predict_step(state, data) -> (outputs,
  non_trainable_variables)`` with ``(trainable, non_trainable)``;
- ``compute_loss(x, y, y_pred, sample_weight, training)`` (override it to change the loss alone),
  ``stateless_compute_loss``, ``compute_loss_and_updates``, ``compute_metrics``,
  ``get_metrics_result``;
- ``metrics``, ``metrics_variables``, ``reset_metrics``.

The defaults are :mod:`kerasish.engine.steps`'s functions. Behind the contract the engine keeps
what Keras's signatures have no room for (see ``steps``): the step's key for stochastic layers
and the mask of a padded last batch, both read from the current ``StepContext``.
"""

from __future__ import annotations

import inspect

import jax.numpy as jnp

from kerasish.backend import StatelessScope, current_step
from kerasish.engine import state as state_mod
from kerasish.engine import steps
from kerasish.errors import NotCompiledError


class StatelessTrainer:
    """Keras's stateless step API (mixed into :class:`kerasish.Model` with the trainer)."""

    # -- steps -----------------------------------------------------------------------------------
    def train_step(self, state, data):
        """One training step (Keras's JAX contract): ``(state, data) -> (logs, state)``.

        ``state`` is ``(trainable_variables, non_trainable_variables, optimizer_variables,
        metrics_variables)``, lists of arrays; ``data`` the batch, ``(x, y[, sample_weight])``.
        Override it for a custom training algorithm; ``fit`` then runs yours, jitted.
        """
        return steps.default_train_step(state, data, compute_loss_and_updates=self.compute_loss_and_updates,
                                        optimizer=self.optimizer, update_metrics=self._update_metrics_variables)

    def test_step(self, state, data):
        """One evaluation step: ``(state, data) -> (logs, state)`` with ``state = (trainable_variables,
        non_trainable_variables, metrics_variables)``."""
        return steps.default_test_step(state, data, compute_loss_and_updates=self.compute_loss_and_updates,
                                       update_metrics=self._update_metrics_variables)

    def predict_step(self, state, data):
        """Inference on one batch: ``(state, data) -> (outputs, non_trainable_variables)`` with
        ``state = (trainable_variables, non_trainable_variables)``."""
        return steps.default_predict_step(state, data, stateless_call=self.stateless_call)

    # -- losses -----------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch: the compiled loss, plus the losses the model's layers added
        (``model.losses``: activity and weight regularization). Override it to change the loss;
        the default steps call it inside a scope where the model's variables hold the step's values.
        """
        del x, training
        total = jnp.zeros((), jnp.float32)
        setup = state_mod.of(self).setup
        if setup is not None and setup.compile_loss is not None and setup.compile_loss.entries:
            total = setup.compile_loss(y, y_pred, sample_weight)
        for extra in self.losses:
            total = total + jnp.sum(jnp.asarray(extra, jnp.float32))
        return total

    def _compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``compute_loss``, called without ``training`` when an override does not take it (as Keras)."""
        if "training" in _parameters(type(self).compute_loss):
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def stateless_compute_loss(self, trainable_variables, non_trainable_variables, metrics_variables, x=None, y=None,
                               y_pred=None, sample_weight=None, training=True):
        """``compute_loss`` as a pure function: ``loss, (trainable, non_trainable, metrics)``."""
        mapping = self._variable_mapping(trainable_variables, non_trainable_variables, metrics_variables)
        with StatelessScope(mapping) as scope:
            loss = self._compute_loss(x, y, y_pred, sample_weight, training=training)
        non_trainable = [scope.values[id(v)] for v in self.non_trainable_variables]
        metrics = [scope.values[id(v)] for v in self.metrics_variables]
        return loss, (list(trainable_variables), non_trainable, metrics)

    def compute_loss_and_updates(self, trainable_variables, non_trainable_variables, metrics_variables, x, y,
                                 sample_weight, training=False, optimizer_variables=None):
        """The forward pass and the loss, pure (for ``jax.value_and_grad(..., has_aux=True)``).

        Returns ``(loss, (unscaled_loss, y_pred, non_trainable_variables, metrics_variables))``; in
        training, ``loss`` is the optimizer's ``scale_loss`` of it (a ``LossScaleOptimizer``
        scales it; other optimizers leave it).
        """
        y_pred, non_trainable_variables, losses = self.stateless_call(
            trainable_variables, non_trainable_variables, x, return_losses=True, training=training)
        previous = self.__dict__.get("_losses_override")
        object.__setattr__(self, "_losses_override", list(losses))
        try:
            loss, (trainable_variables, non_trainable_variables, metrics_variables) = self.stateless_compute_loss(
                trainable_variables, non_trainable_variables, metrics_variables, x=x, y=y, y_pred=y_pred,
                sample_weight=sample_weight, training=training)
        finally:
            object.__setattr__(self, "_losses_override", previous)
        unscaled = loss
        if training and self.optimizer is not None and optimizer_variables is not None:
            optimizer_vars = self.optimizer.variables
            with StatelessScope({id(v): value for v, value in zip(optimizer_vars, optimizer_variables)}):
                loss = self.optimizer.scale_loss(loss)
        return loss, (unscaled, y_pred, non_trainable_variables, metrics_variables)

    # -- metrics ----------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """Keras's order: the loss tracker, ``compile_metrics``, the per-output loss trackers, then the
        metrics the model holds as attributes (and its non-model sublayers')."""
        out = []
        setup = state_mod.of(self).setup
        if setup is not None:
            out.append(setup.loss_tracker)
            if setup.compile_metrics is not None:
                out.append(setup.compile_metrics)
            if setup.compile_loss is not None:
                out.extend(setup.compile_loss.metrics)
        out.extend(self._tracked_metrics())
        return out

    @property
    def metrics_variables(self) -> list:
        """Every metric's variables, in :attr:`metrics` order (Keras's ``metrics_variables``)."""
        return [v for m in self.metrics for v in m.variables]

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update the compiled metrics with one batch and return every metric's result (Keras's)."""
        del x
        setup = state_mod.of(self).setup
        if setup is not None and setup.compile_metrics is not None:
            setup.compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self) -> dict:
        """``{name: value}`` of every metric in :attr:`metrics` (a dict-valued result merged in)."""
        logs = {}
        for metric in self.metrics:
            if not getattr(metric, "built", True):
                continue  # a metric whose size comes from the data has seen none yet
            value = metric.result()
            if isinstance(value, dict):
                logs.update(value)
            else:
                logs[metric.name] = value
        return logs

    def _update_metrics_variables(self, metrics_variables, unscaled_loss, x, y, y_pred, sample_weight):
        """The loss tracker and ``compute_metrics`` run on ``metrics_variables``: ``(logs, new values)``."""
        own = self.metrics_variables
        if len(own) != len(metrics_variables):
            raise NotCompiledError(f"Model {self.name!r} has {len(own)} metric variables but the step was given "
                                   f"{len(metrics_variables)}.")
        with StatelessScope({id(v): value for v, value in zip(own, metrics_variables)}) as scope:
            setup = state_mod.of(self).setup
            if setup is not None:
                context = current_step()
                mask = None if context is None else context.mask
                rows = jnp.sum(mask) if mask is not None else _batch_rows(x)
                setup.loss_tracker.update_state(unscaled_loss, sample_weight=rows)
            logs = self.compute_metrics(x, y, y_pred, sample_weight)
        return logs, [scope.values[id(v)] for v in own]

    # -- helpers ---------------------------------------------------------------------------------
    def _variable_mapping(self, trainable_variables, non_trainable_variables, metrics_variables) -> dict:
        mapping = {id(v): value for v, value in zip(self.trainable_variables, trainable_variables)}
        mapping.update({id(v): value for v, value in zip(self.non_trainable_variables, non_trainable_variables)})
        mapping.update({id(v): value for v, value in zip(self.metrics_variables, metrics_variables)})
        return mapping


def _parameters(fn) -> dict:
    try:
        return dict(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}


def _batch_rows(x):
    import jax

    leaves = [a for a in jax.tree.leaves(x) if hasattr(a, "shape")]
    return jnp.asarray(leaves[0].shape[0] if leaves else 1, jnp.float32)
