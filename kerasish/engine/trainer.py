"""compile / fit / evaluate / predict over one state pytree and jitted pure steps.

The state a step sees is one dict::

    {"trainable": [...], "non_trainable": [...], "optimizer": optax state,
     "metrics": metric accumulators, "rng": PRNG key, "step": int32}

The default step leaves ``rng`` as it is and gives stochastic layers keys derived
from ``fold_in(rng, step)``, only when a layer asks for one.

``train_step(state, batch) -> (state, logs)`` is jitted once per model (with the
state donated); while ``fit`` runs, the model's variables are bound to the live
state, so a callback that reads or sets weights sees and changes the real ones.
"""

from __future__ import annotations

import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

from kerasish import distribution as distribution_mod
from kerasish import losses as losses_mod
from kerasish import optimizers as optimizers_mod
from kerasish.backend import LiveState, StatelessScope
from kerasish.callbacks.backup import BackupAndRestore, copy_shuffle_state
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.history import History
from kerasish.callbacks.progress import ProgbarLogger
from kerasish.engine import adapters, compilation_cache
from kerasish.engine.compile_utils import CompiledLoss, CompiledMetrics, check_metric_names
from kerasish.engine.execution import (
    AutoSteps,
    SlicedLogs,
    StackedLogs,
    make_multi_predict,
    make_multi_step,
    stack_batches,
)
from kerasish.errors import ConfigError, InputError, NotCompiledError
from kerasish.utils.random import next_seed, numpy_rng


def _first_leaf(x):
    return jax.tree.leaves(x)[0]


def _pad_rows(tree, pad: int):
    """Append ``pad`` zero rows to every array in ``tree`` (None entries stay None)."""
    return jax.tree.map(lambda a: np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)]), tree)


def _check_distributed_batches(data) -> None:
    """Under a distribution, array batches must split evenly over its devices (checked before any step)."""
    dist = distribution_mod.distribution()
    if dist is None and jax.process_count() > 1:
        raise ConfigError(f"This is process {jax.process_index()} of {jax.process_count()}: choose how they share "
                          "the work first, e.g. kerasish.distribution.set_distribution("
                          "kerasish.distribution.DataParallel()), on every process.")
    if dist is not None and getattr(data, "batch_size", None) is not None:
        dist.check_batch_size(int(data.batch_size))


def _distribute_state(state: dict, tw: list, ntw: list) -> dict:
    """The state placed as the current distribution lays it out (unchanged on one device).

    With several processes, values not yet global (the first placement, or a restored backup) are
    process 0's: replicas start equal even when the processes drew different initial weights.
    """
    dist = distribution_mod.distribution()
    if dist is None:
        return state
    if jax.process_count() > 1:
        leaves, treedef = jax.tree.flatten(state)
        local = [i for i, a in enumerate(leaves) if not distribution_mod.is_global(a)]
        agreed = distribution_mod.broadcast_from_first([np.asarray(leaves[i]) for i in local])
        for i, a in zip(local, agreed):
            leaves[i] = np.asarray(a)
        state = jax.tree.unflatten(treedef, leaves)
    return jax.device_put(state, dist.state_shardings(state, tw, ntw))


def _take_local(tree, index, local: np.ndarray, start: int, stop: int):
    """A call's host batch in a multi-process run: only the ``local`` rows (the ones this process's devices
    hold) are gathered from the data; the others stay zero, and no process reads them."""
    rows = np.arange(start, stop) if isinstance(index, slice) else index
    local = local[local < len(rows)]
    picked = rows[local]

    def one(a):
        out = np.zeros((len(rows),) + a.shape[1:], a.dtype)
        out[local] = a[picked]
        return out

    return jax.tree.map(one, tree)


def _shuffle_rng() -> np.random.Generator:
    """fit's shuffling generator from the global seed stream (process 0's seed, in a multi-process run,
    so that every process draws the same global order)."""
    if jax.process_count() == 1:
        return numpy_rng()
    return np.random.default_rng(int(distribution_mod.broadcast_from_first(np.int64(next_seed()))))


class _ShardedStep:
    """A step jitted with the distribution's shardings: the state laid out leaf by leaf (replicated, or
    split as a LayoutMap says, optimizer slots like their weights), every batch split on its batch axis
    (axis 1 for fused multi-step batches). XLA partitions the step and adds the collectives. The state's
    shardings need its structure, so the jit is made at the first call."""

    def __init__(self, raw, dist, kind: str, tw: list, ntw: list):
        self.raw, self.dist, self.kind, self.tw, self.ntw = raw, dist, kind, tw, ntw
        self._fn = None

    def __call__(self, state, batch):
        batch = self.dist.global_batch(batch, stacked=self.kind.endswith("multi"))
        if self._fn is None:
            shardings = self.dist.state_shardings(state, self.tw, self.ntw)
            batch_sharding = self.dist.batch_sharding(stacked=self.kind.endswith("multi"))
            out = None if self.kind.startswith("predict") else (shardings, self.dist.state_sharding())
            self._fn = jax.jit(self.raw, donate_argnums=0 if self.kind.startswith("train") else (),
                               in_shardings=(shardings, batch_sharding), out_shardings=out)
        return self._fn(state, batch)


_AUGMENT_STREAM = 0x7FFF0000  # fold_in data for augmentation keys: far from the layers' counter values


def _check_batch_augmentation(value) -> list:
    """``compile(batch_augmentation=...)`` as a list of objects with ``augment_batch(x, y, key, sample_mask)``."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not callable(getattr(item, "augment_batch", None)):
            raise ConfigError(f"batch_augmentation takes batch-level augmentations such as kerasish.layers.MixUp or "
                              f"CutMix (objects with augment_batch(x, y, key, sample_mask)); got {item!r}.")
    return items


class Trainer:
    """The training half of :class:`kerasish.Model` (mixed into it)."""

    def _init_trainer(self) -> None:
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.history = None
        self._opt_state = None
        self._opt_partition = None
        self._rng = None
        self._step_count = None
        self._fn_cache: dict = {}
        self._compile_args: dict = {}
        self._compiled_loss = None
        self._compiled_metrics = None
        self.run_eagerly = False
        self.steps_per_execution = "auto"
        self._steps_decisions: dict = {}

    # -- compile -------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution="auto", jit_compile="auto", auto_scale_loss=True,
                batch_augmentation=None, gradient_accumulation_steps=None):
        """Configure the model for training (Keras arguments).

        Args:
            optimizer: name ("adam", "sgd", ...) or a ``kerasish.optimizers`` instance.
            loss: name, ``kerasish.losses`` instance or callable; a list/dict gives one per output.
                May be None only for a model whose own ``train_step``/``test_step`` computes the loss.
            loss_weights: scalars (list/dict) weighting each output's loss in the total.
            metrics: names or metric objects; for several outputs a list per output or a dict.
            weighted_metrics: like ``metrics``, but weighted by ``sample_weight``/``class_weight``.
            run_eagerly: if True, steps run without ``jax.jit`` (for debugging).
            steps_per_execution: how many training steps run in one jitted call (a ``lax.scan`` over
                that many stacked batches). ``"auto"`` (the default) times the first calls on this
                device and model and fuses only when it is faster; an int forces it (1: no fusing).
                Batch callbacks still see every batch's logs.
            jit_compile: accepted for Keras compatibility (steps are always jitted unless run_eagerly).
            auto_scale_loss: if True and the model's dtype policy is ``"mixed_float16"`` (the global
                policy when the model was made), the optimizer is wrapped in a
                ``kerasish.optimizers.LossScaleOptimizer`` (dynamic loss scaling, as Keras does);
                bfloat16 needs none.
            batch_augmentation: a batch-level augmentation (``kerasish.layers.MixUp``, ``CutMix``) or a
                list of them, applied in order to every training batch ``(x, y)`` inside the jitted train
                step, with a fresh key each step. Not applied by evaluate/predict, nor by an overridden
                ``train_step``. It mixes labels, so ``y`` must be one-hot or probabilities (use
                ``categorical_crossentropy``); the model must have one input and one output. (Keras has
                no such argument: there, MixUp runs in the tf.data pipeline.)
            gradient_accumulation_steps: N > 1 splits every training batch into N micro-batches inside the
                jitted step (a ``lax.scan``), accumulates their gradients and applies their mean once: a
                batch of 64 with N=4 needs the activation memory of 16 and makes the update a batch of 64
                makes (the same within float tolerance, for models without batch statistics). N must
                divide the batch size. BatchNormalization statistics update once per micro-batch, and
                stochastic layers draw new keys for each. (Keras has this on its optimizers, counting
                steps instead; one jitted step here keeps it on the accelerator.)
        """
        if not (steps_per_execution == "auto" or (isinstance(steps_per_execution, int) and steps_per_execution >= 1)):
            raise ConfigError(f"steps_per_execution must be a positive int or 'auto', got {steps_per_execution!r}.")
        self.optimizer = optimizers_mod.get(optimizer)
        if (auto_scale_loss and self.dtype_policy.name == "mixed_float16"
                and not isinstance(self.optimizer, optimizers_mod.LossScaleOptimizer)):
            # float16 gradients underflow without loss scaling; Keras wraps the optimizer the same way
            self.optimizer = optimizers_mod.LossScaleOptimizer(self.optimizer, name="loss_scale_optimizer")
        # Resolve names now so that a bad loss or metric fails at compile time.
        if loss is not None and not isinstance(loss, (list, tuple, dict)):
            losses_mod.get(loss)
        check_metric_names(metrics)
        check_metric_names(weighted_metrics)
        self._compile_args = dict(loss=loss, loss_weights=loss_weights, metrics=metrics,
                                  weighted_metrics=weighted_metrics)
        # not a sublayer: a model's call never runs it, and its (absent) weights are not the model's
        object.__setattr__(self, "_batch_augmentation", _check_batch_augmentation(batch_augmentation))
        if gradient_accumulation_steps is not None and (
                isinstance(gradient_accumulation_steps, bool) or not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 1):
            raise ConfigError(f"gradient_accumulation_steps must be None or a positive int, got "
                              f"{gradient_accumulation_steps!r}.")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.run_eagerly = bool(run_eagerly)
        self.steps_per_execution = steps_per_execution
        self._tx = self.optimizer.build()
        self.optimizer._attach(self)
        self._opt_state = None
        self._opt_partition = None
        self._fn_cache = {}
        self._steps_decisions = {}
        self._compiled_loss = None  # resolved against the outputs and the first targets seen
        self._compiled_metrics = None
        self.compiled = True

    def _assert_compiled(self, what: str) -> None:
        if not self.compiled:
            raise NotCompiledError(f"You must call model.compile(...) before model.{what}().")

    def _assert_has_loss(self, step: str) -> None:
        overridden = getattr(type(self), step) is not getattr(Trainer, step)
        if not overridden and not self._compiled_loss.entries:
            raise ConfigError(f"compile() was given no loss, so the default {step} has nothing to minimize; "
                              "pass loss=... (e.g. 'mse') or override train_step/test_step.")

    def _resolve_compile(self, sample_y=None) -> None:
        """Resolve losses and metrics against the outputs (and the targets' shapes, for "accuracy")."""
        if self._compiled_loss is not None:
            return
        names = self.output_names
        shapes = self._output_shapes()
        args = self._compile_args
        self._compiled_loss = CompiledLoss(args["loss"], args["loss_weights"], names)
        target_shapes = None
        if sample_y is not None:
            target_shapes = [None if t is None else tuple(np.shape(t)) for t in self._flatten_y(sample_y)]
        self._compiled_metrics = CompiledMetrics(args["metrics"], args["weighted_metrics"], self._compiled_loss,
                                                 shapes, target_shapes)

    def _ordered_floats(self, logs: dict) -> dict:
        """Logs fetched to the host as floats, in Keras's order: loss first, then metrics as compiled."""
        names = [n for n in self.metrics_names if n in logs]
        names += [n for n in logs if n not in names]
        return {n: float(logs[n]) for n in names}

    @property
    def metrics_names(self) -> list[str]:
        return self._compiled_metrics.names if self._compiled_metrics else []

    # -- structure helpers ---------------------------------------------------------------------
    def _flatten_outputs(self, y) -> list:
        names = self.output_names
        if isinstance(y, dict):
            return [y[n] for n in names]
        if isinstance(y, (list, tuple)):
            return list(y)
        return [y]

    def _flatten_y(self, y) -> list:
        names = self.output_names
        if y is None:
            return [None] * len(names)
        if isinstance(y, dict):
            missing = [n for n in names if n not in y and self._compiled_loss.loss_for(names.index(n)) is not None]
            extra = sorted(set(y) - set(names))
            if missing or extra:
                raise InputError(f"y is a dict with keys {sorted(y)}, but the model's outputs are {names}.")
            return [y.get(n) for n in names]
        if isinstance(y, (list, tuple)) and len(names) > 1:
            if len(y) != len(names):
                raise InputError(f"y has {len(y)} entries, but the model has {len(names)} outputs {names}.")
            return list(y)
        if len(names) > 1:
            raise InputError(f"The model has {len(names)} outputs {names}: give y as a list or a dict of arrays.")
        return [y]

    def _flatten_sample_weight(self, sw, n: int, y_flat: list, class_weight) -> list:
        names = self.output_names
        if sw is None:
            flat = [None] * len(names)
        elif isinstance(sw, dict):
            flat = [sw.get(name) for name in names]
        elif isinstance(sw, (list, tuple)):
            flat = list(sw)
        else:
            flat = [sw] * len(names)
        out = []
        for i, w in enumerate(flat):
            w = np.ones((n,), np.float32) if w is None else np.asarray(w, np.float32)
            if class_weight is not None:
                w = w * self._class_weights(class_weight, y_flat[i])
            out.append(w)
        return out

    def _class_weights(self, class_weight: dict, y) -> np.ndarray:
        if len(self.output_names) > 1:
            raise InputError("class_weight is only supported for models with a single output.")
        y = np.asarray(y)
        labels = np.argmax(y, axis=-1) if (y.ndim > 1 and y.shape[-1] > 1) else y.reshape(y.shape[0], -1)[:, 0]
        labels = labels.astype(np.int64)
        table = np.ones((max(int(max(class_weight)), int(labels.max(initial=0))) + 1,), np.float32)
        for k, v in class_weight.items():
            table[int(k)] = float(v)
        return table[labels]

    def _overridden(self, step: str) -> bool:
        return getattr(type(self), step) is not getattr(Trainer, step)

    def _prepare_batch(self, x, y, sw, class_weight=None, pad_to: int | None = None, step: str = "train_step"):
        """``(x, y_list, sample_weight_list[, mask])`` on the device.

        The default steps get a fourth entry, the sample mask, and a short batch is
        padded to ``pad_to`` rows (zero inputs, zero sample weight, mask 0) so that the
        last partial batch reuses the compiled step; the steps keep loss and metrics
        exact. An overridden step gets the plain ``(x, y, sample_weight)`` batch, unpadded.
        """
        # NumPy goes straight into the jitted call: its C++ path transfers faster than device_put.
        return self._host_batch(x, y, sw, class_weight, pad_to, step)

    def _host_batch(self, x, y, sw, class_weight=None, pad_to: int | None = None, step: str = "train_step"):
        """The batch of :meth:`_prepare_batch`, still as NumPy arrays on the host."""
        n = int(_first_leaf(x).shape[0])
        y_flat = self._flatten_y(y)
        sw_flat = self._flatten_sample_weight(sw, n, y_flat, class_weight)
        if self._overridden(step):
            return (x, y_flat, sw_flat)
        mask = np.ones((n,), np.float32)
        if pad_to is not None and n < pad_to:
            x, y_flat, sw_flat, mask = _pad_rows((x, y_flat, sw_flat, mask), pad_to - n)
        dist = distribution_mod.distribution()
        if dist is not None:
            dist.check_batch_size(int(mask.shape[0]))
        return (x, y_flat, sw_flat, mask)

    # -- checks on the host, before any compute ------------------------------------------------
    def _check_batch_data(self, x, y=None, step: str = "train_step") -> None:
        self._check_x(x)
        if y is not None:
            self._check_y(self._flatten_y(y))
        elif getattr(type(self), step) is getattr(Trainer, step) and self._compiled_loss.entries:
            raise InputError(f"No targets: y is None (or the batches carry no y), but the default {step} needs "
                             "them to compute the loss.")

    def _check_y(self, y_flat: list) -> None:
        shapes = self._output_shapes()
        names = self.output_names
        for i, y in enumerate(y_flat):
            loss = self._compiled_loss.loss_for(i)
            if y is None or loss is None:
                continue
            y = np.asarray(y)
            out_shape = shapes[i]
            if losses_mod.is_sparse_categorical(loss):
                classes = out_shape[-1]
                if classes is None or y.size == 0:
                    continue
                ignore = getattr(loss, "ignore_class", None)
                valid = y if ignore is None else y[y != ignore]
                lo, hi = (valid.min(), valid.max()) if valid.size else (0, 0)
                if lo < 0 or hi >= classes:
                    raise InputError(
                        f"Output {names[i]!r} has {classes} classes, so sparse labels must be in [0, {classes - 1}], "
                        f"but y has labels in [{lo}, {hi}]."
                    )
            elif losses_mod.is_categorical(loss) and y.ndim >= 2 and tuple(y.shape[1:]) != tuple(out_shape[1:]):
                raise InputError(
                    f"Output {names[i]!r} has shape {tuple(out_shape)} but y has shape {y.shape}: categorical "
                    "crossentropy needs one-hot targets (use sparse_categorical_crossentropy for integer labels)."
                )

    def _check_x(self, x) -> None:
        specs = self._input_specs()
        if specs is None:
            return
        given = self._flatten_inputs(x)
        if len(given) != len(specs):
            raise InputError(f"Model {self.name!r} expects {len(specs)} input(s) {[n for n, _ in specs]}, "
                             f"but x has {len(given)}.")
        for (name, shape), arr in zip(specs, given):
            got = tuple(np.shape(arr))
            if len(got) != len(shape) or any(s is not None and s != g for s, g in zip(shape[1:], got[1:])):
                raise InputError(
                    f"Input {name!r} of model {self.name!r} expects samples of shape {tuple(shape[1:])}, "
                    f"but x has samples of shape {got[1:]} (x.shape={got})."
                )

    def _flatten_inputs(self, x) -> list:
        names = [n for n, _ in (self._input_specs() or [])]
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise InputError(f"x is a dict with keys {sorted(x)}, but the model's inputs are {names}.")
            return [x[n] for n in names]
        if isinstance(x, (list, tuple)):
            return list(x)
        return [x]

    # -- pure functions ------------------------------------------------------------------------
    def stateless_scope(self, trainable: list, non_trainable: list, rng=None, training: bool = False,
                        sample_mask=None, rng_step=None):
        """A context in which every layer of this model reads the given values (for custom steps).

        Inside it, calling the model or any of its sublayers is pure; afterwards
        ``scope.values`` holds updated non-trainable values (see :meth:`new_non_trainable`).

        Example (in an overridden ``train_step``)::

            with self.stateless_scope(trainable, state["non_trainable"], rng=key, training=True) as scope:
                fake = self.generator(z)
                logits = self.discriminator(fake)
            non_trainable = self.new_non_trainable(scope)
        """
        tw, ntw = self._partition()
        if len(trainable) != len(tw) or len(non_trainable) != len(ntw):
            raise InputError(f"Model {self.name!r} has {len(tw)} trainable and {len(ntw)} non-trainable weights; "
                             f"got {len(trainable)} and {len(non_trainable)} values.")
        values = {id(v): a for v, a in zip(tw, trainable)}
        values.update({id(v): a for v, a in zip(ntw, non_trainable)})
        return StatelessScope(values, rng=rng, training=training, sample_mask=sample_mask, rng_step=rng_step)

    def new_non_trainable(self, scope: StatelessScope) -> list:
        """The non-trainable values (e.g. BatchNormalization statistics) as updated inside ``scope``."""
        return [scope.values[id(v)] for v in self._partition()[1]]

    def stateless_call(self, trainable: list, non_trainable: list, x, training: bool = False, rng=None,
                       sample_mask=None, rng_step=None, return_losses: bool = False):
        """Run the model as a pure function of variable values: returns ``(y_pred, new_non_trainable)``,
        and with ``return_losses=True`` also the losses its layers added (e.g. ActivityRegularization)."""
        with self.stateless_scope(trainable, non_trainable, rng=rng, training=training,
                                  sample_mask=sample_mask, rng_step=rng_step) as scope:
            y = self(x, training=training)
        if return_losses:
            return y, self.new_non_trainable(scope), list(scope.losses)
        return y, self.new_non_trainable(scope)

    @staticmethod
    def _with_layer_losses(loss, layer_losses: list):
        """The loss plus the losses layers added during the call (as Keras adds ``model.losses``)."""
        for extra in layer_losses:
            loss = loss + jnp.asarray(extra, loss.dtype)
        return loss

    def compute_loss(self, trainable: list, y_true: list, y_pred, sample_weight: list, mask=None):
        """Total loss (with weight regularization) and per-output losses, as pure JAX.

        ``mask`` (1 for real rows, 0 for padding) makes a padded batch's loss that of its real rows.
        """
        batch_scale = None
        if mask is not None:
            sample_weight = [w * mask.reshape(mask.shape + (1,) * (w.ndim - 1)) for w in sample_weight]
            batch_scale = mask.shape[0] / jnp.maximum(jnp.sum(mask), 1.0)
        total, per_output = self._compiled_loss(y_true, self._flatten_outputs(y_pred), sample_weight, batch_scale,
                                                row_mask=mask)
        tw, _ = self._partition()
        for var, value in zip(tw, trainable):
            if var.regularizer is not None:
                total = total + var.regularizer(value)
        return total, per_output

    def optimizer_init(self, trainable: list):
        """The optimizer state for the trainable values (override with several optimizers)."""
        return self._tx.init(trainable)

    def optimizer_apply(self, grads: list, opt_state, trainable: list):
        """One optimizer update: returns ``(new_trainable, new_opt_state)``."""
        updates, opt_state = self._tx.update(grads, opt_state, trainable)
        return optax.apply_updates(trainable, updates), opt_state

    def apply_constraints(self, trainable: list) -> list:
        """Each trainable weight's constraint (e.g. ``kernel_constraint``) applied to its new value, as
        Keras does after every update; ``trainable`` is the full list, in ``trainable_weights`` order."""
        return [v.constraint(w) if getattr(v, "constraint", None) is not None else w
                for v, w in zip(self._partition()[0], trainable)]

    def update_metrics(self, metric_state, loss, per_output_loss, y_true: list, y_pred, sample_weight: list,
                       batch_size, mask=None):
        if mask is not None:
            sample_weight = [w * mask.reshape(mask.shape + (1,) * (w.ndim - 1)) for w in sample_weight]
            batch_size = jnp.sum(mask)
        return self._compiled_metrics.update(metric_state, loss, per_output_loss, y_true,
                                             self._flatten_outputs(y_pred), sample_weight, batch_size, mask)

    def compute_metrics(self, metric_state) -> dict:
        return self._compiled_metrics.results(metric_state)

    def train_step(self, state: dict, batch) -> tuple[dict, dict]:
        """One training step: ``(state, (x, y, sample_weight)) -> (state, logs)``. Pure; override to customize.

        ``y`` and ``sample_weight`` are lists with one entry per output. The default
        step also receives a fourth entry, the sample mask of a padded batch.
        """
        x, y, sw, *rest = batch
        mask = rest[0] if rest else None
        if getattr(self, "_batch_augmentation", None):
            x, y = self._augment_batch(x, y, state, mask)
        if (getattr(self, "gradient_accumulation_steps", None) or 1) > 1:
            return self._accumulated_train_step(state, x, y, sw, mask)
        # float16 loss scaling: the Python float 1.0 (no op at all) unless the optimizer is a LossScaleOptimizer
        scale = optimizers_mod.loss_scale(self.optimizer, state["optimizer"])

        def loss_fn(trainable):
            # Dropout and other stochastic layers draw from fold_in(rng, step): the key stays
            # fixed and is derived per step only when a layer asks for one.
            y_pred, new_nt, layer_losses = self.stateless_call(
                trainable, state["non_trainable"], x, training=True, rng=state["rng"], rng_step=state["step"],
                sample_mask=mask, return_losses=True)
            loss, per_output = self.compute_loss(trainable, y, y_pred, sw, mask)
            loss = self._with_layer_losses(loss, layer_losses)
            # the gradients are of the scaled loss (the LossScaleOptimizer unscales them); the logs get the loss
            return (loss if isinstance(scale, float) else loss * scale), (loss, y_pred, new_nt, per_output)

        (_, (loss, y_pred, new_nt, per_output)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state["trainable"])
        trainable, opt_state = self.optimizer_apply(grads, state["optimizer"], state["trainable"])
        trainable = self.apply_constraints(trainable)
        metrics = self.update_metrics(state["metrics"], loss, per_output, y, y_pred, sw, _first_leaf(x).shape[0],
                                      mask)
        new_state = {**state, "trainable": trainable, "non_trainable": new_nt, "optimizer": opt_state,
                     "metrics": metrics, "step": state["step"] + 1}
        return new_state, self.compute_metrics(metrics)

    def _accumulated_train_step(self, state: dict, x, y: list, sw: list, mask):
        """``compile(gradient_accumulation_steps=N)``: N micro-batches scanned, their mean gradient applied once."""
        n = self.gradient_accumulation_steps
        batch = _first_leaf(x).shape[0]
        if batch % n:
            raise InputError(f"gradient_accumulation_steps={n} must divide the batch size, got batches of {batch} "
                             f"rows; use a batch_size that is a multiple of {n}.")
        rows = batch // n
        scale = optimizers_mod.loss_scale(self.optimizer, state["optimizer"])  # see train_step

        def split(tree):
            return jax.tree.map(lambda a: a.reshape((n, rows) + a.shape[1:]), tree)

        def micro_step(carry, micro):
            grads_sum, non_trainable, metrics, i = carry
            mx, my, msw, mmask = micro

            def loss_fn(trainable):
                y_pred, new_nt, layer_losses = self.stateless_call(
                    trainable, non_trainable, mx, training=True, rng=state["rng"], rng_step=state["step"] * n + i,
                    sample_mask=mmask, return_losses=True)
                loss, per_output = self.compute_loss(trainable, my, y_pred, msw, mmask)
                loss = self._with_layer_losses(loss, layer_losses)
                return (loss if isinstance(scale, float) else loss * scale), (loss, y_pred, new_nt, per_output)

            (_, (loss, y_pred, new_nt, per_output)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                state["trainable"])
            metrics = self.update_metrics(metrics, loss, per_output, my, y_pred, msw, rows, mmask)
            return (jax.tree.map(jnp.add, grads_sum, grads), new_nt, metrics, i + 1), None

        zeros = jax.tree.map(jnp.zeros_like, state["trainable"])
        carry = (zeros, state["non_trainable"], state["metrics"], jnp.zeros((), state["step"].dtype))
        (grads_sum, new_nt, metrics, _), _ = jax.lax.scan(micro_step, carry, (split(x), split(y), split(sw),
                                                                             None if mask is None else split(mask)))
        grads = jax.tree.map(lambda g: g / n, grads_sum)
        trainable, opt_state = self.optimizer_apply(grads, state["optimizer"], state["trainable"])
        trainable = self.apply_constraints(trainable)
        new_state = {**state, "trainable": trainable, "non_trainable": new_nt, "optimizer": opt_state,
                     "metrics": metrics, "step": state["step"] + 1}
        return new_state, self.compute_metrics(metrics)

    def _augment_batch(self, x, y: list, state: dict, mask):
        """``compile(batch_augmentation=...)`` applied to one training batch, with keys of their own."""
        names = ", ".join(type(a).__name__ for a in self._batch_augmentation)
        if not hasattr(x, "shape") or len(y) != 1:
            raise ConfigError(f"batch_augmentation ({names}) needs a model with one input and one output; "
                              f"model {self.name!r} has {len(self.output_names)} output(s) and x is a "
                              f"{type(x).__name__}.")
        (labels,) = y
        if labels is None or jnp.ndim(labels) != 2 or not jnp.issubdtype(jnp.asarray(labels).dtype, jnp.floating):
            shape = None if labels is None else tuple(jnp.shape(labels))
            dtype = None if labels is None else jnp.asarray(labels).dtype
            raise InputError(f"batch_augmentation ({names}) mixes labels, so y must be one-hot or probabilities of "
                             f"shape (batch, classes) and a float dtype; got {dtype} labels of shape {shape}. "
                             "One-hot encode them and use categorical_crossentropy.")
        base = jax.random.fold_in(state["rng"], state["step"])
        for i, aug in enumerate(self._batch_augmentation):
            key = jax.random.fold_in(base, _AUGMENT_STREAM + i)  # apart from the layers' counter-based keys
            x, labels = aug.augment_batch(x, labels, key, sample_mask=mask)
        return x, [labels]

    def test_step(self, state: dict, batch) -> tuple[dict, dict]:
        """One evaluation step: updates only the metric state."""
        x, y, sw, *rest = batch
        mask = rest[0] if rest else None
        y_pred, _, layer_losses = self.stateless_call(state["trainable"], state["non_trainable"], x, training=False,
                                                      sample_mask=mask, return_losses=True)
        loss, per_output = self.compute_loss(state["trainable"], y, y_pred, sw, mask)
        loss = self._with_layer_losses(loss, layer_losses)
        metrics = self.update_metrics(state["metrics"], loss, per_output, y, y_pred, sw, _first_leaf(x).shape[0],
                                      mask)
        return {**state, "metrics": metrics}, self.compute_metrics(metrics)

    def predict_step(self, state: dict, x):
        """Inference on one batch of inputs."""
        y_pred, _ = self.stateless_call(state["trainable"], state["non_trainable"], x, training=False)
        return y_pred

    # -- state ---------------------------------------------------------------------------------
    def _partition(self):
        tw = self.trainable_weights
        ids = {id(v) for v in tw}
        ntw = [v for v in self.weights if id(v) not in ids]
        return tw, ntw

    def _jitted(self, kind: str):
        tw, ntw = self._partition()
        dist = distribution_mod.distribution()
        key = (kind, tuple(map(id, tw)), tuple(map(id, ntw)), id(dist) if dist is not None else None)
        fn = self._fn_cache.get(key)
        if fn is None:
            compilation_cache.ensure_default()
            raw = {"train": self.train_step, "test": self.test_step, "predict": self.predict_step,
                   "train_multi": make_multi_step(self.train_step), "test_multi": make_multi_step(self.test_step),
                   "predict_multi": make_multi_predict(self.predict_step)}[kind]
            if self.run_eagerly:
                fn = raw
            elif dist is not None:
                fn = _ShardedStep(raw, dist, kind, tw, ntw)
            else:
                fn = jax.jit(raw, donate_argnums=0 if kind.startswith("train") else ())
            self._fn_cache[key] = fn
        self._state_vars = (tw, ntw)
        return fn

    def _make_state(self) -> dict:
        """The state of an evaluation or prediction (weights and fresh metric accumulators); training
        starts from :meth:`_training_state`."""
        tw, ntw = self._state_vars
        return _distribute_state({"trainable": [v.value for v in tw], "non_trainable": [v.value for v in ntw],
                                  "metrics": self._metrics_init()}, tw, ntw)

    def _training_state(self) -> LiveState:
        """The state ``fit`` and ``train_on_batch`` start from, bound to the model's variables.

        Two jitted programs set it up: one, run only when the model has none yet, makes the
        optimizer state, the dropout key and the step counter; the other, run at every fit,
        copies the weights (the step donates its input buffers, which the variables must not
        lose) and makes fresh metric accumulators. (Each program costs a trace and a lowering
        even when the compilation cache holds it: on a warm start, set-up as one program per
        piece took as long as loading the train step.)
        """
        tw, ntw = self._state_vars
        partition = tuple(map(id, tw))
        need_opt = self._opt_state is None or self._opt_partition != partition
        need_rng = self._rng is None
        trainable, non_trainable = [v.value for v in tw], [v.value for v in ntw]
        if need_opt or need_rng:
            def init(trainable, seed):
                out = {"optimizer": self.optimizer_init(trainable)} if need_opt else {}
                if need_rng:
                    out["rng"], out["step"] = jax.random.PRNGKey(seed), jnp.zeros((), jnp.int32)
                return out

            out = self._jitted_helper(f"init-{need_opt}-{need_rng}", init)(
                trainable, np.uint32(next_seed() if need_rng else 0))
            if need_opt:
                self._opt_state, self._opt_partition = out["optimizer"], partition
            if need_rng:
                self._rng, self._step_count = out["rng"], out["step"]

        def start(trainable, non_trainable):
            copy = lambda t: jax.tree.map(jnp.copy, t)
            return copy(trainable), copy(non_trainable), self._compiled_metrics.init_state()

        trainable, non_trainable, metrics = self._jitted_helper("start", start)(trainable, non_trainable)
        state = _distribute_state({"trainable": trainable, "non_trainable": non_trainable, "metrics": metrics,
                                   "optimizer": self._opt_state, "rng": self._rng, "step": self._step_count}, tw, ntw)
        live = LiveState(state, tw, ntw)
        for v in tw + ntw:
            v._bind(live)
        return live

    # -- the optimizer state, during fit or between fits ------------------------------------------
    def _get_optimizer_state(self):
        """The optimizer state the next step will use (None before the first fit)."""
        live = getattr(self, "_live", None)
        return live.state["optimizer"] if live is not None else self._opt_state

    def _ensure_optimizer_state(self, tw: list, trainable: list) -> None:
        partition = tuple(map(id, tw))
        if self._opt_state is None or self._opt_partition != partition:
            self._opt_state = self._jitted_helper("optimizer_init", self.optimizer_init)(trainable)
            self._opt_partition = partition

    def _initial_optimizer_state(self):
        """The optimizer state (initialized if the model has none yet), e.g. as a restore target."""
        tw = self.trainable_weights
        self._ensure_optimizer_state(tw, [v.value for v in tw])
        return self._get_optimizer_state()

    def _set_optimizer_state(self, opt_state) -> None:
        live = getattr(self, "_live", None)
        if live is not None:
            live.state = {**live.state, "optimizer": opt_state}
        else:
            self._opt_state = opt_state

    def _jitted_helper(self, name: str, fn):
        """``fn`` jitted once per compile: building state runs one program, not one per leaf.

        (Each eager op is a program of its own; with a warm compilation cache, loading
        dozens of them would take longer than loading the step itself.)
        """
        key = ("helper", name)
        if key not in self._fn_cache:
            compilation_cache.ensure_default()
            self._fn_cache[key] = fn if self.run_eagerly else jax.jit(fn)
        return self._fn_cache[key]

    def _metrics_init(self) -> dict:
        return self._jitted_helper("metrics_init", self._compiled_metrics.init_state)()

    def _unbind(self, live: LiveState) -> None:
        tw, ntw = self._state_vars
        for v in tw + ntw:
            v._unbind()
        self._opt_state = live.state["optimizer"]
        self._rng = live.state["rng"]
        self._step_count = live.state["step"]

    # -- building from data ------------------------------------------------------------------------
    def _prepare_model(self, sample_x, sample_y=None) -> None:
        if not self.built:
            self._build_from_data(sample_x)
        self._resolve_compile(sample_y)

    def _build_from_data(self, x) -> None:
        def spec(a):
            return (None,) + tuple(np.shape(a)[1:])

        if isinstance(x, dict):
            shape = {k: spec(v) for k, v in x.items()}
        elif isinstance(x, (list, tuple)):
            shape = [spec(v) for v in x]
        else:
            shape = spec(x)
        self.build(shape)

    def _peek(self, data):
        """The first batch's (x, y) (for arrays: all of them), without losing it."""
        if isinstance(data, adapters.ArrayData):
            return data.x, data.y
        x, y, _ = data.peek()
        return x, y

    # -- fit / evaluate / predict -----------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            check_finite=False):
        """Train the model (Keras arguments); returns a :class:`~kerasish.callbacks.History`.

        ``check_finite=True`` (a kerasish addition) rejects NaN/inf in the data before training.
        """
        self._assert_compiled("fit")
        if not isinstance(epochs, int) or epochs < 0:
            raise InputError(f"epochs must be a non-negative integer, got {epochs!r}.")
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = adapters.split_validation(x, y, sample_weight, validation_split)
        data = adapters.make_data(x, y, sample_weight, batch_size, shuffle, steps_per_epoch,
                                  check_finite=check_finite)
        _check_distributed_batches(data)
        sample_x, sample_y = self._peek(data)
        self._prepare_model(sample_x, sample_y)
        self._assert_has_loss("train_step")
        self._check_batch_data(sample_x, sample_y)
        val = None
        if validation_data is not None:
            val = self._validation_data(validation_data, validation_batch_size or batch_size, validation_steps,
                                        check_finite)
        verbose = 1 if verbose == "auto" else int(verbose)
        if jax.process_index() != 0:
            verbose = 0  # one progress bar per run, process 0's
        history = History()
        # As Keras: the user's callbacks first, then the progress bar and History, which so see
        # what the others add to the epoch logs (e.g. the learning rate from ReduceLROnPlateau).
        cbs = list(callbacks or []) + ([ProgbarLogger(verbose)] if verbose else []) + [history]
        for cb in callbacks or []:
            if not isinstance(cb, Callback):
                raise InputError(f"callbacks must be kerasish.callbacks.Callback instances, got {type(cb).__name__}.")
        callback_list = CallbackList(cbs, model=self, params={"epochs": epochs, "steps": data.steps,
                                                               "verbose": verbose})
        backups = [cb for cb in cbs if isinstance(cb, BackupAndRestore)]
        if len(backups) > 1:
            raise InputError("fit got more than one BackupAndRestore callback; use one per run.")
        backup = backups[0] if backups else None
        others = [cb for cb in cbs if cb is not backup]
        train_fn = self._jitted("train")
        policy = self._steps_policy(data, callback_list,
                                    exact=any(getattr(cb, "requires_single_steps", False) for cb in cbs))
        live = self._live = self._training_state()
        rng = _shuffle_rng()
        self.stop_training = False
        self.history = history
        try:
            callback_list.call("on_train_begin", {})
            resume = backup.restore(live, others) if backup is not None else None
            if resume is not None:  # the restored arrays laid out as the distribution says
                live.state = _distribute_state(live.state, *self._state_vars)
            if resume is not None and resume.stopped:
                epochs = resume.epoch  # the run had already been stopped by a callback: nothing left
            elif resume is not None and getattr(data, "_iterator", None) is not None \
                    and (resume.epoch > 0 or resume.batch > 0):
                warnings.warn("BackupAndRestore: resuming with a one-shot generator, which starts again from "
                              "its first batch; the resumed run trains on different batches than the "
                              "interrupted one would have. Pass a re-iterable dataset for an exact resume.",
                              stacklevel=2)
            fresh_metrics = resume is None  # the set-up's accumulators serve the first epoch
            for epoch in range(resume.epoch if resume else initial_epoch, epochs):
                start = 0
                if resume is not None and resume.epoch == epoch and resume.batch > 0:
                    start = resume.batch  # mid-epoch: the same data order, the metric sums so far
                    live.state = {**live.state, "metrics": resume.metrics}
                elif not fresh_metrics:
                    live.state = {**live.state, "metrics": self._metrics_init()}
                fresh_metrics = False
                if resume is not None and resume.epoch == epoch and resume.shuffle_state is not None:
                    rng.bit_generator.state = resume.shuffle_state
                shuffle_state = copy_shuffle_state(rng)  # before this epoch's order is drawn
                after_call = None
                if backup is not None:
                    steps = data.steps if isinstance(data, adapters.ArrayData) else None
                    after_call = lambda n, nxt, e=epoch, st=shuffle_state, steps=steps: backup.after_call(
                        live, e, n, nxt, steps, st, others)
                callback_list.call("on_epoch_begin", epoch, {})
                logs = self._train_epoch(data, rng, live, callback_list, class_weight, policy, train_fn,
                                         start_step=start, after_call=after_call)
                data.on_epoch_end()  # e.g. a PyDataset's hook, before validation (as Keras)
                if logs is None:
                    warnings.warn("Your input ran out of data: training stopped.", stacklevel=2)
                    break
                epoch_logs = self._ordered_floats(logs)
                if val is not None and self._should_validate(epoch, validation_freq):
                    callback_list.call("on_test_begin", {})  # validation calls the test hooks, as Keras
                    val_logs = self._run_evaluate(val, callbacks=callback_list)
                    callback_list.call("on_test_end", val_logs)
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                callback_list.call("on_epoch_end", epoch, epoch_logs)
                if backup is not None:
                    backup.after_epoch(live, epoch + 1, copy_shuffle_state(rng), others, self.stop_training)
                if self.stop_training or getattr(data, "exhausted", False):
                    break
            callback_list.call("on_train_end", {})
        finally:
            if backup is not None:
                backup.close()
            self._unbind(live)
            self._live = None
            if policy is not None and not policy.probing:
                self._steps_decisions[self._steps_key(data)] = policy.k
        return history

    # -- the epoch loop ----------------------------------------------------------------------------
    def _steps_key(self, data) -> tuple:
        x = data.x if isinstance(data, adapters.ArrayData) else None
        shapes = tuple(tuple(np.shape(a)[1:]) for a in jax.tree.leaves(x)) if x is not None else None
        return (data.batch_size, shapes, jax.default_backend())

    def _steps_policy(self, data, callbacks: CallbackList, exact: bool = False) -> AutoSteps:
        """How many steps each call runs: fixed by ``steps_per_execution``, or measured ("auto").

        ``exact`` (a callback has ``requires_single_steps``, e.g. BackupAndRestore): "auto" runs
        single steps, so that a resumed run groups its steps, and rounds, exactly as the
        interrupted one did, and a batch hook sees that batch's state.
        """
        setting = self.steps_per_execution
        user_begin = any(type(cb) not in (History, ProgbarLogger) and "on_train_batch_begin" in type(cb).__dict__
                         for cb in callbacks)
        if self._overridden("train_step") or self.run_eagerly:
            return AutoSteps(fixed=1)  # a custom step takes (x, y, sample_weight) without a mask: no fusing
        if isinstance(setting, int):
            return AutoSteps(fixed=setting)
        if user_begin or exact:
            return AutoSteps(fixed=1)  # a callback acting before each step sees each step apart
        return self._auto_policy(self._steps_key(data), data)

    def _auto_policy(self, key: tuple, data) -> AutoSteps:
        """The remembered decision for ``key``, or the probe under way (a probe may span calls:
        short fits or evaluations continue it rather than start over), or a new probe."""
        entry = self._steps_decisions.get(key)
        if isinstance(entry, int):
            return AutoSteps(fixed=entry)
        if entry is None:
            entry = self._steps_decisions[key] = AutoSteps(max_steps=data.steps)
        return entry

    def _train_epoch(self, data, rng, live, callbacks: CallbackList, class_weight, policy: AutoSteps, train_fn,
                     start_step: int = 0, after_call=None):
        """One epoch of calls from batch ``start_step``; returns the last batch's logs (None when the
        data ran out at once). ``after_call(n_steps, next_step)`` runs after each call."""
        wants_begin = callbacks.wants("on_train_batch_begin")
        wants_end = callbacks.wants("on_train_batch_end")
        calls = self._array_calls(data, rng, class_weight, policy, start_step=start_step) \
            if isinstance(data, adapters.ArrayData) else self._iterable_calls(data, class_weight, policy, start_step, rng)
        step, logs = start_step, None
        for batch, n_steps, fused in calls:
            if wants_begin:
                for i in range(n_steps):
                    callbacks.call("on_train_batch_begin", step + i, {})
            policy.before_call()
            if fused:
                live.state, stacked = self._jitted("train_multi")(live.state, batch)
                policy.after_call(live.state["step"], n_steps)
                stacked = StackedLogs(stacked)
                if wants_end:
                    for i in range(n_steps):
                        callbacks.call("on_train_batch_end", step + i, SlicedLogs(stacked, i))
                logs = SlicedLogs(stacked, n_steps - 1)
            else:
                live.state, logs = train_fn(live.state, batch)
                policy.after_call(live.state["step"], 1)
                callbacks.call("on_train_batch_end", step, logs)
            step += n_steps
            if after_call is not None:
                after_call(n_steps, step)
            if self.stop_training:
                break
        return logs

    def _array_calls(self, data, rng, class_weight, policy: AutoSteps, step_name: str = "train_step",
                     start_step: int = 0):
        """``(batch, n_steps, fused)`` per call over in-memory arrays: one gather per call.

        Targets, sample weights and class weights are flattened once per epoch; a call of
        k steps gathers k·batch_size rows at once and reshapes them to (k, batch_size, ...).
        """
        n, size = data.n, data.batch_size
        y_flat = self._flatten_y(data.y)
        sw_flat = self._flatten_sample_weight(data.sample_weight, n, y_flat, class_weight)
        masked = not self._overridden(step_name)  # a custom step gets (x, y, sw), unpadded
        full = (data.x, y_flat, sw_flat, np.ones((n,), np.float32)) if masked else (data.x, y_flat, sw_flat)
        # Unweighted data: fused calls gather (x, y) only; the program fills in weights of one.
        unweighted = masked and data.sample_weight is None and class_weight is None
        order = rng.permutation(n) if (data.shuffle and rng is not None) else None
        dist = distribution_mod.distribution()
        total = data.steps
        step = start_step
        while step < total:
            # Full super-batches go to the fused program; the few steps left at the end of the
            # epoch run one by one (a padded super-batch would cost every fused step a select).
            k = policy.k if total - step >= policy.k else 1
            start, stop = step * size, min((step + k) * size, n)
            index = order[start:stop] if order is not None else slice(start, stop)
            short = stop - start < k * size  # holds the epoch's partial last batch
            source = full[:2] if (k > 1 and unweighted and not short) else full
            local = dist.local_rows(k, size) if dist is not None else None
            batch = adapters.take(source, index) if local is None else _take_local(source, index, local, start, stop)
            if masked and short:
                batch = _pad_rows(batch, k * size - (stop - start))  # the last partial batch: mask 0 rows
            if k > 1:
                yield jax.tree.map(lambda a: a.reshape((k, size) + a.shape[1:]), batch), k, True
            else:
                yield batch, 1, False
            step += k

    def _iterable_calls(self, data, class_weight, policy: AutoSteps, start_step: int = 0, rng=None):
        """``(batch, n_steps, fused)`` per call over a stream of batches (the first ``start_step`` skipped)."""
        batches = iter(data.batches(rng))
        for _ in itertools.islice(batches, start_step):
            pass
        first = True
        while True:
            k = policy.k
            chunk = list(itertools.islice(batches, k))
            if not chunk:
                return
            for i, (bx, by, _) in enumerate(chunk):
                if not (first and i == 0):  # the first batch was checked before training
                    self._check_batch_data(bx, by)
            first = False
            host = [self._host_batch(bx, by, bsw, class_weight, data.batch_size) for bx, by, bsw in chunk]
            same_shape = len({tuple(np.shape(a) for a in jax.tree.leaves(b)) for b in host}) == 1
            if k == 1 or not same_shape or len(chunk) < k:
                for batch in host:
                    yield batch, 1, False
            else:
                yield stack_batches(host), k, True

    @staticmethod
    def _should_validate(epoch: int, freq) -> bool:
        if isinstance(freq, int):
            return (epoch + 1) % freq == 0
        return (epoch + 1) in freq

    def _validation_data(self, validation_data, batch_size, steps, check_finite):
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3) and \
                adapters.is_array_struct(validation_data[0]):
            vx, vy, vsw = (tuple(validation_data) + (None,))[:3]
            data = adapters.make_data(vx, vy, vsw, batch_size, False, steps, check_finite=check_finite)
            self._check_batch_data(data.x, data.y, "test_step")
            return data
        if isinstance(validation_data, tuple):
            raise InputError("validation_data must be (x_val, y_val[, sample_weight]) or an iterable of batches.")
        return adapters.make_data(validation_data, steps=steps, check_finite=check_finite)

    def _inference_policy(self, data, kind: str) -> AutoSteps:
        """Steps per call for evaluate/predict over arrays: as for fit, measured separately."""
        step_name = {"test": "test_step", "predict": "predict_step"}[kind]
        setting = self.steps_per_execution
        if not isinstance(data, adapters.ArrayData) or self._overridden(step_name) or self.run_eagerly:
            return AutoSteps(fixed=1)
        if isinstance(setting, int):
            return AutoSteps(fixed=setting)
        return self._auto_policy((kind,) + self._steps_key(data), data)

    def _remember(self, data, kind: str, policy: AutoSteps) -> None:
        if not policy.probing and isinstance(data, adapters.ArrayData):
            self._steps_decisions[(kind,) + self._steps_key(data)] = policy.k

    def _run_evaluate(self, data, callbacks: CallbackList | None) -> dict:
        test_fn = self._jitted("test")
        state = self._make_state()
        policy = self._inference_policy(data, "test")
        logs, step = None, 0
        if isinstance(data, adapters.ArrayData):
            calls = self._array_calls(data, None, None, policy, "test_step")
        else:
            calls = ((self._prepare_batch(bx, by, bsw, pad_to=data.batch_size, step="test_step"), 1, False, bx, by)
                     for bx, by, bsw in data.batches())
        for item in calls:
            batch, n_steps, fused = item[:3]
            if len(item) > 3:
                self._check_batch_data(item[3], item[4], "test_step")
            for i in range(n_steps):
                if callbacks is not None:
                    callbacks.call("on_test_batch_begin", step + i, {})
            policy.before_call()
            if fused:
                state, stacked = self._jitted("test_multi")(state, batch)
                stacked = StackedLogs(stacked)
                batch_logs = [SlicedLogs(stacked, i) for i in range(n_steps)]
            else:
                state, logs = test_fn(state, batch)
                batch_logs = [logs]
            policy.after_call(jax.tree.leaves(state["metrics"])[0] if jax.tree.leaves(state["metrics"])
                              else state["trainable"], n_steps)
            logs = batch_logs[-1]
            if callbacks is not None:
                for i, item_logs in enumerate(batch_logs):
                    callbacks.call("on_test_batch_end", step + i, item_logs)
            step += n_steps
        data.on_epoch_end()
        self._remember(data, "test", policy)
        if logs is None:
            raise InputError("evaluate() got no batches.")
        return self._ordered_floats(logs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, check_finite=False):
        """Loss and metrics on the data: a list ``[loss, *metrics]`` (or a dict with ``return_dict=True``)."""
        self._assert_compiled("evaluate")
        data = adapters.make_data(x, y, sample_weight, batch_size, False, steps, check_finite=check_finite)
        _check_distributed_batches(data)
        sample_x, sample_y = self._peek(data)
        self._prepare_model(sample_x, sample_y)
        self._assert_has_loss("test_step")
        self._check_batch_data(sample_x, sample_y, "test_step")
        self._jitted("test")
        cbl = CallbackList(callbacks, model=self, params={"steps": data.steps, "verbose": verbose})
        cbl.call("on_test_begin", {})
        logs = self._run_evaluate(data, cbl)
        cbl.call("on_test_end", logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, check_finite=False):
        """Model outputs for the inputs, as NumPy arrays (batches concatenated)."""
        data = adapters.make_data(x, None, None, batch_size, False, steps, allow_x_only=True,
                                  check_finite=check_finite)
        _check_distributed_batches(data)
        sample_x, _ = self._peek(data)
        if not self.built:
            self._build_from_data(sample_x)
        self._check_x(sample_x)
        predict_fn = self._jitted("predict")
        tw, ntw = self._state_vars
        state = _distribute_state({"trainable": [v.value for v in tw], "non_trainable": [v.value for v in ntw]},
                                  tw, ntw)
        cbl = CallbackList(callbacks, model=self, params={"steps": data.steps, "verbose": verbose})
        cbl.call("on_predict_begin", {})
        outputs = []
        policy = self._inference_policy(data, "predict")
        pad = not self._overridden("predict_step")
        step = 0
        for bx, n_rows in self._predict_chunks(data, policy):
            k = policy.k if pad else 1
            for i in range(math.ceil(n_rows / data.batch_size) if data.batch_size else 1):
                cbl.call("on_predict_batch_begin", step + i, {})
            if not isinstance(data, adapters.ArrayData):
                self._check_x(bx)
            if pad and data.batch_size is not None and n_rows < k * data.batch_size:
                # Pad the last partial batch (no recompilation) and drop the padded rows after.
                (bx,) = _pad_rows((bx,), k * data.batch_size - n_rows)
            policy.before_call()
            if k > 1:
                stacked = jax.tree.map(lambda a: a.reshape((k, data.batch_size) + a.shape[1:]), bx)
                out = jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]),
                                   self._jitted("predict_multi")(state, stacked))
            else:
                out = predict_fn(state, bx)
            policy.after_call(jax.tree.leaves(out)[0], math.ceil(n_rows / data.batch_size) if data.batch_size else 1)
            out = jax.tree.map(lambda a, n=n_rows: distribution_mod.to_host(a)[:n]
                               if distribution_mod.is_global(a) else a[:n], out)
            outputs.append(out)
            n_batches = math.ceil(n_rows / data.batch_size) if data.batch_size else 1
            for i in range(n_batches):
                cbl.call("on_predict_batch_end", step + i, {"outputs": out})
            step += n_batches
        data.on_epoch_end()
        self._remember(data, "predict", policy)
        if not outputs:
            raise InputError("predict() got no batches.")
        cbl.call("on_predict_end", {})
        return jax.tree.map(lambda *parts: np.concatenate([np.asarray(p) for p in parts], axis=0), *outputs)

    def _predict_chunks(self, data, policy: AutoSteps):
        """``(x rows, number of real rows)`` per call; arrays give up to k batches a call."""
        if not isinstance(data, adapters.ArrayData):
            for bx, _, _ in data.batches():
                yield bx, int(_first_leaf(bx).shape[0])
            return
        size, start = data.batch_size, 0
        limit = min(data.n, data.steps * size)
        while start < limit:
            stop = min(start + policy.k * size, limit)
            yield adapters.take(data.x, slice(start, stop)), stop - start
            start = stop

    # -- single batches ---------------------------------------------------------------------------
    def _single_batch(self, x, y, sample_weight):
        data = adapters.make_data(x, y, sample_weight, batch_size=None, allow_x_only=y is None)
        if not isinstance(data, adapters.ArrayData):
            raise InputError("*_on_batch methods take arrays (or lists/dicts of arrays).")
        data.batch_size = data.n
        self._prepare_model(data.x, data.y)
        return data

    def _format_logs(self, logs: dict, return_dict: bool):
        logs = self._ordered_floats(logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns that batch's loss and metrics."""
        self._assert_compiled("train_on_batch")
        data = self._single_batch(x, y, sample_weight)
        self._check_batch_data(data.x, data.y)
        train_fn = self._jitted("train")
        live = self._training_state()
        try:
            batch = self._prepare_batch(data.x, data.y, data.sample_weight, class_weight)
            live.state, logs = train_fn(live.state, batch)
        finally:
            self._unbind(live)
        return self._format_logs(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics on one batch."""
        self._assert_compiled("test_on_batch")
        data = self._single_batch(x, y, sample_weight)
        self._check_batch_data(data.x, data.y, "test_step")
        test_fn = self._jitted("test")
        _, logs = test_fn(self._make_state(),
                          self._prepare_batch(data.x, data.y, data.sample_weight, step="test_step"))
        return self._format_logs(logs, return_dict)

    def predict_on_batch(self, x):
        """Model outputs for one batch of inputs."""
        return self.predict(x, batch_size=int(_first_leaf(x).shape[0]) if hasattr(_first_leaf(x), "shape") else None,
                            verbose=0)


