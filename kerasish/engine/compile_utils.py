"""Losses and metrics resolved against the model's outputs, as pure functions of a metric-state pytree."""

from __future__ import annotations

import inspect
from typing import Any

import jax.numpy as jnp

from kerasish import losses as losses_mod
from kerasish import metrics as metrics_mod
from kerasish.errors import ConfigError


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


class CompiledLoss:
    """The total loss over a model's (flattened) outputs, with per-output losses."""

    def __init__(self, loss, loss_weights, output_names: list[str]):
        self.output_names = output_names
        per_output = _per_output(loss, output_names, "loss", allow_single=True)
        weights = _per_output(loss_weights, output_names, "loss_weights", allow_single=True)
        self.entries: list[tuple[int, str, Any, float]] = []
        for i, (name, spec, w) in enumerate(zip(output_names, per_output, weights)):
            if spec is None:
                continue
            self.entries.append((i, name, losses_mod.get(spec), 1.0 if w is None else float(w)))

    def loss_for(self, index: int):
        for i, _, loss, _ in self.entries:
            if i == index:
                return loss
        return None

    def __call__(self, y_true: list, y_pred: list, sample_weight: list, batch_scale=None,
                 row_mask=None) -> tuple[Any, dict]:
        """Total and per-output losses.

        A padded batch gives the exact loss of its real samples: kerasish losses take ``row_mask``
        (1 for real rows) and leave the padding out of every count; other callables get their
        (zero-weighted) padding corrected by ``batch_scale`` (padded / real batch size) when their
        reduction divides by the number of elements.
        """
        total = jnp.zeros((), jnp.float32)
        per_output = {}
        for i, name, loss, w in self.entries:
            if row_mask is not None and _takes_row_mask(loss):
                value = loss(y_true[i], y_pred[i], sample_weight[i], row_mask=row_mask)
            else:
                value = loss(y_true[i], y_pred[i], sample_weight[i])
                if batch_scale is not None and getattr(loss, "reduction", None) in ("sum_over_batch_size", "mean"):
                    value = value * batch_scale
            per_output[name] = value
            total = total + w * value
        return total, per_output


def _takes_row_mask(loss) -> bool:
    try:
        return "row_mask" in inspect.signature(loss.__call__).parameters
    except (TypeError, ValueError):
        return False


class CompiledMetrics:
    """Metric objects per output plus loss trackers; state is a pytree updated inside the step."""

    def __init__(self, metrics, weighted_metrics, compiled_loss: CompiledLoss, output_shapes: list,
                 target_shapes: list | None = None):
        names = compiled_loss.output_names
        multi = len(names) > 1
        self.trackers = [("loss", None)]
        if multi:
            self.trackers += [(f"{name}_loss", name) for _, name, _, _ in compiled_loss.entries]
        self.output_shapes = output_shapes
        self.entries: list[tuple[int, str, Any, bool]] = []  # (output index, log name, metric, weighted)
        for spec, weighted in ((metrics, False), (weighted_metrics, True)):
            for i, (name, out_spec) in enumerate(zip(names, _per_output(spec, names, "metrics", allow_single=False))):
                if out_spec is None:
                    continue
                items = out_spec if isinstance(out_spec, (list, tuple)) else [out_spec]
                for item in items:
                    metric = metrics_mod.get(item, loss=compiled_loss.loss_for(i), output_shape=output_shapes[i],
                                             target_shape=None if target_shapes is None else target_shapes[i])
                    log_name = f"{name}_{metric.name}" if multi else metric.name
                    self.entries.append((i, log_name, metric, weighted))
        seen = set()
        for _, log_name, _, _ in self.entries:
            if log_name in seen:
                raise ConfigError(f"compile(): two metrics would both be logged as {log_name!r}; give them names.")
            seen.add(log_name)
        self._mean = metrics_mod.Mean()

    def init_state(self) -> dict:
        return {
            "trackers": [self._mean.init_state() for _ in self.trackers],
            "metrics": [m.init_state(self.output_shapes[i]) for i, _, m, _ in self.entries],
        }

    def update(self, state: dict, total_loss, per_output_loss: dict, y_true: list, y_pred: list,
               sample_weight: list, batch_size, mask=None) -> dict:
        """Accumulate one batch; ``mask`` (1 real, 0 padding) keeps padded rows out of every metric."""
        trackers = []
        for (log_name, out_name), s in zip(self.trackers, state["trackers"]):
            value = total_loss if out_name is None else per_output_loss[out_name]
            trackers.append(self._mean.update_state(s, value, sample_weight=batch_size))
        new_metrics = []
        for (i, _, metric, weighted), s in zip(self.entries, state["metrics"]):
            sw = sample_weight[i] if weighted else mask
            new_metrics.append(metric.update_state(s, y_true[i], y_pred[i], sw))
        return {"trackers": trackers, "metrics": new_metrics}

    def results(self, state: dict) -> dict:
        logs = {}
        for (log_name, _), s in zip(self.trackers, state["trackers"]):
            logs[log_name] = self._mean.result(s)
        for (_, log_name, metric, _), s in zip(self.entries, state["metrics"]):
            logs[log_name] = metric.result(s)
        return logs

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.trackers] + [n for _, n, _, _ in self.entries]


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
