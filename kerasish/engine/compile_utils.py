"""What ``compile`` resolves against the model: Keras's CompileLoss and CompileMetrics.

``compile(loss=..., metrics=...)`` only checks names; the objects are resolved against the
model's outputs (and the first targets' shapes, for ``"accuracy"``) when the model first meets
data, as Keras does. :class:`CompileSetup` keeps the arguments and, once resolved, the
:class:`CompileLoss` (a callable ``(y, y_pred, sample_weight) -> total loss`` that also keeps
per-output loss trackers) and :class:`CompileMetrics` (one Metric whose variables are all the
compiled metrics' accumulators, logged as ``"compile_metrics"``, exactly Keras's layout).

A padded last batch (see ``kerasish.backend.StepContext``) is handled here: its padded rows
count neither in the losses nor in the metrics.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from kerasish import losses as losses_mod
from kerasish import metrics as metrics_mod
from kerasish.backend import current_scope, current_step
from kerasish.errors import ConfigError, InputError
from kerasish.metrics.base import Metric


def _per_output(spec, output_names: list[str], what: str, allow_single: bool) -> list:
    """Spread a loss/metrics spec over the outputs: one entry (or None) per output."""
    n = len(output_names)
    if spec is None:
        return [None] * n
    if isinstance(spec, dict):
        unknown = set(spec) - set(output_names)
        if unknown:
            raise ConfigError(
                f"compile({what}=...) names unknown output(s) {sorted(unknown)}; the model's outputs are {output_names}."
            )
        return [spec.get(name) for name in output_names]
    if isinstance(spec, (list, tuple)) and not allow_single:
        if n == 1:
            return [list(spec)]
        if len(spec) != n:
            raise ConfigError(
                f"compile({what}=...) got a list of {len(spec)} entries for a model with {n} outputs "
                f"{output_names}; give one entry per output or a dict keyed by output name."
            )
        return list(spec)
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ConfigError(
                f"compile({what}=...) got a list of {len(spec)} entries for a model with {n} outputs {output_names}."
            )
        return list(spec)
    return [spec] * n


def flatten_outputs(struct, output_names: list[str]) -> list:
    """A model output (or target) structure as a list in output order."""
    if isinstance(struct, dict):
        return [struct.get(n) for n in output_names]
    if isinstance(struct, (list, tuple)) and len(output_names) > 1:
        return list(struct)
    return [struct]


def flatten_sample_weight(sample_weight, output_names: list[str]) -> list:
    """Per-output sample weights: None, one array for every output, a list or a dict by output name."""
    if sample_weight is None:
        return [None] * len(output_names)
    if isinstance(sample_weight, dict):
        return [sample_weight.get(n) for n in output_names]
    if isinstance(sample_weight, (list, tuple)):
        return list(sample_weight)
    return [sample_weight] * len(output_names)


def _expand(weights, like):
    """``weights`` (batch,) broadcastable against ``like`` (batch, ...)."""
    return weights.reshape(weights.shape + (1,) * (jnp.ndim(like) - weights.ndim))


def _with_mask(sample_weight, mask):
    """Sample weights with the padded rows zeroed (the mask itself when there are no weights)."""
    if mask is None:
        return sample_weight
    if sample_weight is None:
        return mask
    sample_weight = jnp.asarray(sample_weight)
    return sample_weight * _expand(mask, sample_weight).astype(sample_weight.dtype)


def _takes_row_mask(loss) -> bool:
    try:
        return "row_mask" in inspect.signature(loss.__call__).parameters
    except (TypeError, ValueError):
        return False


class CompileLoss:
    """The total loss over a model's outputs (Keras's ``CompileLoss``): ``(y, y_pred, sample_weight) -> total``.

    ``y``, ``y_pred`` and ``sample_weight`` come in the model's output structure (an array, a list
    or a dict by output name). With several outputs it also keeps one Mean per output loss
    (``<output>_loss``), in :attr:`metrics`, updated whenever their variables are mapped in the
    current scope (as inside the default steps).
    """

    def __init__(self, loss, loss_weights, output_names: list[str]):
        self.output_names = list(output_names)
        per_output = _per_output(loss, self.output_names, "loss", allow_single=True)
        weights = _per_output(loss_weights, self.output_names, "loss_weights", allow_single=True)
        self.entries: list[tuple[int, str, Any, float]] = []
        for i, (name, spec, w) in enumerate(zip(self.output_names, per_output, weights)):
            if spec is None:
                continue
            self.entries.append((i, name, losses_mod.get(spec), 1.0 if w is None else float(w)))
        multi = len(self.output_names) > 1
        self.metrics = [metrics_mod.Mean(name=f"{name}_loss") for _, name, _, _ in self.entries] if multi else []
        for tracker in self.metrics:
            for v in tracker.variables:
                v.path = f"compile_loss/{v.path}"

    def loss_for(self, index: int):
        for i, _, loss, _ in self.entries:
            if i == index:
                return loss
        return None

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The weighted sum of the output losses; a padded batch's padding counted nowhere.

        kerasish losses take ``row_mask`` (1 for real rows) and leave the padding out of every
        count; other callables get zero-weighted padding, corrected by ``batch / real rows`` when
        their reduction divides by the number of elements.
        """
        context = current_step()
        mask = None if context is None else context.mask
        names = self.output_names
        y_true = flatten_outputs(y_true, names)
        y_pred = flatten_outputs(y_pred, names)
        sample_weight = flatten_sample_weight(sample_weight, names)
        batch_scale = None
        if mask is not None:
            batch_scale = mask.shape[0] / jnp.maximum(jnp.sum(mask), 1.0)
        total = jnp.zeros((), jnp.float32)
        values = []
        for i, name, loss, w in self.entries:
            if mask is None:
                value = loss(y_true[i], y_pred[i], sample_weight[i])
            elif _takes_row_mask(loss):
                value = loss(y_true[i], y_pred[i], _with_mask(sample_weight[i], mask) if sample_weight[i] is not None
                             else None, row_mask=mask)
            else:
                value = loss(y_true[i], y_pred[i], _with_mask(sample_weight[i], mask))
                if getattr(loss, "reduction", None) in ("sum_over_batch_size", "mean"):
                    value = value * batch_scale
            values.append(value)
            total = total + w * value
        self._update_trackers(values, mask, y_pred)
        return total

    def _update_trackers(self, values: list, mask, y_pred: list) -> None:
        scope = current_scope()
        if not self.metrics or scope is None:
            return
        if not all(id(v) in scope.values for m in self.metrics for v in m.variables):
            return  # called outside the default steps' scope: there is nothing to update
        rows = jnp.sum(mask) if mask is not None else jnp.asarray(jnp.shape(y_pred[0])[0], jnp.float32)
        for tracker, value in zip(self.metrics, values):
            tracker.update_state(value, sample_weight=rows)


def resolve_accuracy(
    loss=None,
    output_shape: Sequence[int | None] | None = None,
    target_shape: Sequence[int | None] | None = None,
) -> type:
    """The accuracy class that ``"accuracy"``/``"acc"`` stands for.

    Keras 3 decides from the shapes alone (``trainers/compile_utils.py``):
    a last prediction axis of size 1 means binary; labels of lower rank than
    the predictions, or with a last axis of size 1 against several classes,
    mean sparse categorical; anything else is categorical. The loss is *not*
    consulted there, so binary crossentropy on a ``(batch, 3)`` multi-label
    output gets ``CategoricalAccuracy``, as in Keras 3.

    Here the loss fills in what the shapes leave open: with ``output_shape``
    but no ``target_shape`` a sparse-categorical loss means sparse labels, and
    with no shapes at all the crossentropy kind of the loss decides.

    Args:
        loss: a kerasish Loss, loss function or name, or None.
        output_shape: shape of the model output (``y_pred``), batch axis included.
        target_shape: shape of the labels (``y_true``), batch axis included.

    Raises:
        ConfigError: when neither the shapes nor the loss settle it.
    """
    if output_shape is not None:
        out = tuple(output_shape)
        classes = out[-1] if out else None
        if classes == 1:
            return metrics_mod.BinaryAccuracy
        if target_shape is not None:
            tgt = tuple(target_shape)
            sparse = len(tgt) < len(out) or (len(tgt) > 0 and tgt[-1] == 1 and (classes is None or classes > 1))
            return metrics_mod.SparseCategoricalAccuracy if sparse else metrics_mod.CategoricalAccuracy
        return (metrics_mod.SparseCategoricalAccuracy if losses_mod.is_sparse_categorical(loss)
                else metrics_mod.CategoricalAccuracy)
    if loss is not None:
        if losses_mod.is_binary(loss):
            return metrics_mod.BinaryAccuracy
        if losses_mod.is_categorical(loss):
            return metrics_mod.CategoricalAccuracy
        if losses_mod.is_sparse_categorical(loss):
            return metrics_mod.SparseCategoricalAccuracy
    raise ConfigError(
        "Cannot tell which accuracy 'accuracy' means: give the output shape (and ideally the "
        "label shape), or use a crossentropy loss, or name the metric explicitly "
        "('binary_accuracy', 'categorical_accuracy', 'sparse_categorical_accuracy')."
    )



def get_metric(identifier, *, loss=None, output_shape: Sequence[int | None] | None = None,
               target_shape: Sequence[int | None] | None = None) -> Metric:
    """``metrics.get``, with ``"accuracy"``/``"acc"`` resolved from the shapes (see :func:`resolve_accuracy`)."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return resolve_accuracy(loss, output_shape, target_shape)(name=identifier)
    return metrics_mod.get(identifier)


class CompileMetrics(Metric):
    """Every metric given to ``compile``, as one Metric named ``"compile_metrics"`` (as Keras).

    Its :attr:`variables` are all the metrics' accumulators; ``update_state(y, y_pred,
    sample_weight)`` updates each with its output (``weighted_metrics`` with the sample weights;
    all of them leaving a padded batch's padding out); ``result()`` is a dict by log name
    (``<output>_<metric>`` with several outputs).
    """

    def __init__(self, metrics, weighted_metrics, output_names: list[str], compile_loss: CompileLoss,
                 output_shapes: list, target_shapes: list | None = None):
        super().__init__(name="compile_metrics")
        names = list(output_names)
        self.output_names = names
        multi = len(names) > 1
        self.entries: list[tuple[int, str, Metric, bool]] = []  # (output index, log name, metric, weighted)
        for spec, weighted in ((metrics, False), (weighted_metrics, True)):
            for i, (name, out_spec) in enumerate(zip(names, _per_output(spec, names, "metrics", allow_single=False))):
                if out_spec is None:
                    continue
                items = out_spec if isinstance(out_spec, (list, tuple)) else [out_spec]
                for item in items:
                    metric = get_metric(item, loss=compile_loss.loss_for(i), output_shape=output_shapes[i],
                                        target_shape=None if target_shapes is None else target_shapes[i])
                    log_name = f"{name}_{metric.name}" if multi else metric.name
                    self.entries.append((i, log_name, metric, weighted))
        seen = set()
        for _, log_name, _, _ in self.entries:
            if log_name in seen:
                raise ConfigError(f"compile(): two metrics would both be logged as {log_name!r}; give them names.")
            seen.add(log_name)
        for i, _, metric, _ in self.entries:
            metric.build((None,) + tuple(output_shapes[i][1:]))

    @property
    def variables(self) -> list:
        return [v for _, _, m, _ in self.entries for v in m.variables]

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        context = current_step()
        mask = None if context is None else context.mask
        y_true = flatten_outputs(y_true, self.output_names)
        y_pred = flatten_outputs(y_pred, self.output_names)
        sample_weight = flatten_sample_weight(sample_weight, self.output_names)
        for i, _, metric, weighted in self.entries:
            row_mask = mask
            if mask is not None and not type(metric).__module__.startswith("kerasish."):
                # a metric of your own gets the padding mask shaped like its targets (Keras never pads, so such
                # a metric may multiply its per-row values by sample_weight without broadcasting it)
                row_mask = _expand(mask, y_true[i])
            sw = _with_mask(sample_weight[i], row_mask) if weighted else row_mask
            metric.update_state(y_true[i], y_pred[i], sample_weight=sw)

    def result(self) -> dict:
        return {log_name: metric.result() for _, log_name, metric, _ in self.entries}

    def reset_state(self) -> None:
        for _, _, metric, _ in self.entries:
            metric.reset_state()

    @property
    def log_names(self) -> list[str]:
        return [n for _, n, _, _ in self.entries]


class CompileSetup:
    """``compile``'s arguments, and the loss and metrics resolved from them against the model."""

    def __init__(self, optimizer, loss, loss_weights, metrics, weighted_metrics, run_eagerly: bool,
                 steps_per_execution, batch_augmentation: list, gradient_accumulation_steps,
                 jit_compile, auto_scale_loss: bool):
        self.optimizer = optimizer
        self.loss, self.loss_weights = loss, loss_weights
        self.metrics, self.weighted_metrics = metrics, weighted_metrics
        self.run_eagerly = run_eagerly
        self.steps_per_execution = steps_per_execution
        self.batch_augmentation = batch_augmentation
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.jit_compile, self.auto_scale_loss = jit_compile, auto_scale_loss
        self.compile_loss: CompileLoss | None = None
        self.compile_metrics: CompileMetrics | None = None
        self.loss_tracker = metrics_mod.Mean(name="loss")
        self._resolved_for = None

    def resolve(self, output_names: list[str], output_shapes: list, target_shapes: list | None):
        """The CompileLoss and CompileMetrics for these outputs (not kept: see :meth:`commit`)."""
        compile_loss = CompileLoss(self.loss, self.loss_weights, output_names)
        compile_metrics = CompileMetrics(self.metrics, self.weighted_metrics, output_names, compile_loss,
                                         output_shapes, target_shapes)
        return compile_loss, compile_metrics

    def needs_resolving(self, output_names: list[str], output_shapes: list) -> bool:
        return self._resolved_for != (tuple(output_names), tuple(map(tuple, output_shapes)))

    def commit(self, resolved, output_names: list[str], output_shapes: list) -> None:
        self.compile_loss, self.compile_metrics = resolved
        self._resolved_for = (tuple(output_names), tuple(map(tuple, output_shapes)))

    def config(self) -> dict:
        return {"optimizer": self.optimizer, "loss": self.loss, "loss_weights": self.loss_weights,
                "metrics": self.metrics, "weighted_metrics": self.weighted_metrics,
                "run_eagerly": self.run_eagerly, "steps_per_execution": self.steps_per_execution,
                "jit_compile": self.jit_compile, "auto_scale_loss": self.auto_scale_loss,
                "batch_augmentation": self.batch_augmentation,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}


def check_metric_names(spec) -> None:
    """Fail at compile time on unknown metric names ("accuracy" is resolved later, from the data)."""
    if spec is None:
        return
    items = spec.values() if isinstance(spec, dict) else (spec if isinstance(spec, (list, tuple)) else [spec])
    for item in items:
        if isinstance(item, (list, tuple, dict)):
            check_metric_names(item)
        elif not (isinstance(item, str) and item.lower() in ("accuracy", "acc")):
            metrics_mod.get(item)


def target_shapes_of(y, output_names: list[str]) -> list | None:
    """The shapes of the first targets, per output (None where an output has no target)."""
    if y is None:
        return None
    return [None if t is None else tuple(np.shape(t)) for t in flatten_outputs(y, output_names)]


__all__ = ["CompileLoss", "CompileMetrics", "CompileSetup", "InputError", "check_metric_names", "get_metric",
           "resolve_accuracy", "target_shapes_of"]
