"""compile / fit / evaluate / predict / ``*_on_batch``: Keras's methods, argument checks, then the loop.

Each method checks its arguments and data on the host (clear errors before any compute), builds
the model from the first data if needed, resolves what ``compile`` was given against it, and
hands the call to :mod:`kerasish.engine.loop` with the compiled steps of :mod:`kerasish.engine.jit`.
A call that fails before training starts leaves the model as it was (a resolution from data that
turned out bad is undone).
"""

from __future__ import annotations

import jax
import numpy as np

from kerasish import losses as losses_mod
from kerasish import optimizers as optimizers_mod
from kerasish.callbacks.callback_list import CallbackList
from kerasish.engine import adapters, batching, checks, compilation_cache, jit, loop
from kerasish.engine import state as state_mod
from kerasish.engine.compile_utils import CompileSetup, check_metric_names, target_shapes_of
from kerasish.engine.fused import AutoSteps, persisted_key
from kerasish.engine.outputs import PredictOutputs
from kerasish.engine.stateless import StatelessTrainer
from kerasish.errors import ConfigError, InputError, NotCompiledError

# Overriding any of these changes what a step computes from a batch: such a step gets its
# batches as they are (no padding, whose rows only the default loss and metrics leave out).
_LOSS_METHODS = ("compute_loss", "compute_loss_and_updates", "stateless_compute_loss", "compute_metrics")


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


class Trainer(StatelessTrainer):
    """The training half of :class:`kerasish.Model` (mixed into it)."""

    def _init_trainer(self) -> None:
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.history = None

    # -- compile ---------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution="auto", jit_compile="auto", auto_scale_loss=True,
                batch_augmentation=None, gradient_accumulation_steps=None):
        """Configure the model for training (Keras arguments).

        Args:
            optimizer: name ("adam", "sgd", ...) or a ``kerasish.optimizers`` instance.
            loss: name, ``kerasish.losses`` instance or callable; a list/dict gives one per output.
                May be None for a model whose own ``train_step``/``compute_loss`` computes the loss.
            loss_weights: scalars (list/dict) weighting each output's loss in the total.
            metrics: names or metric objects; for several outputs a list per output or a dict.
            weighted_metrics: like ``metrics``, but weighted by ``sample_weight``/``class_weight``.
            run_eagerly: if True, steps run without ``jax.jit`` (for debugging).
            steps_per_execution: how many training steps run in one jitted call (a loop over that
                many batches). ``"auto"`` (the default) times the first calls on this
                device and model and fuses only when it is faster; an int forces it (1: no fusing).
                Batch callbacks still see every batch's logs.
            jit_compile: accepted for Keras compatibility (steps are always jitted unless run_eagerly).
            auto_scale_loss: if True and the model's dtype policy is ``"mixed_float16"``, the optimizer
                is wrapped in a ``kerasish.optimizers.LossScaleOptimizer`` (as Keras does).
            batch_augmentation: a batch-level augmentation (``kerasish.layers.MixUp``, ``CutMix``) or a
                list of them, applied in order to every training batch ``(x, y)`` inside the jitted train
                step, with a fresh key each step. Not applied by evaluate/predict. It mixes labels, so
                ``y`` must be one-hot or probabilities (use ``categorical_crossentropy``); the model must
                have one input and one output. (Keras has no such argument: there, MixUp runs in the
                tf.data pipeline.)
            gradient_accumulation_steps: N > 1 splits every training batch into N micro-batches inside the
                jitted step (a ``lax.scan``), accumulates their gradients and applies their mean once: a
                batch of 64 with N=4 needs the activation memory of 16 and makes the update a batch of 64
                makes. N must divide the batch size. BatchNormalization statistics update once per
                micro-batch, and stochastic layers draw new keys for each. (Keras has this on its
                optimizers, counting steps instead; one jitted step here keeps it on the accelerator.)
        """
        if not (steps_per_execution == "auto" or (isinstance(steps_per_execution, int)
                                                  and not isinstance(steps_per_execution, bool)
                                                  and steps_per_execution >= 1)):
            raise ConfigError(f"steps_per_execution must be a positive int or 'auto', got {steps_per_execution!r}.")
        if gradient_accumulation_steps is not None and (
                isinstance(gradient_accumulation_steps, bool) or not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 1):
            raise ConfigError(f"gradient_accumulation_steps must be None or a positive int, got "
                              f"{gradient_accumulation_steps!r}.")
        optimizer = optimizers_mod.get(optimizer)
        if (auto_scale_loss and self.dtype_policy.name == "mixed_float16"
                and not isinstance(optimizer, optimizers_mod.LossScaleOptimizer)):
            # float16 gradients underflow without loss scaling; Keras wraps the optimizer the same way
            optimizer = optimizers_mod.LossScaleOptimizer(optimizer, name="loss_scale_optimizer")
        # Resolve names now so that a bad loss or metric fails at compile time, before anything changes.
        if loss is not None and not isinstance(loss, (list, tuple, dict)):
            losses_mod.get(loss)
        check_metric_names(metrics)
        check_metric_names(weighted_metrics)
        augmentation = _check_batch_augmentation(batch_augmentation)
        engine = state_mod.of(self)
        engine.setup = CompileSetup(optimizer, loss, loss_weights, metrics, weighted_metrics, bool(run_eagerly),
                                    steps_per_execution, augmentation, gradient_accumulation_steps, jit_compile,
                                    auto_scale_loss)
        engine.functions = {}
        engine.steps_decisions = {}
        engine.optimizer_built_for = None
        self.optimizer = optimizer
        self.compiled = True

    def get_compile_config(self) -> dict | None:
        """The arguments ``compile`` was given (objects, not serialized; None before compile)."""
        setup = state_mod.of(self).setup
        return None if setup is None else setup.config()

    def compile_from_config(self, config: dict) -> None:
        """``compile(**config)`` (Keras's counterpart of :meth:`get_compile_config`)."""
        self.compile(**config)

    @property
    def run_eagerly(self) -> bool:
        setup = state_mod.of(self).setup
        return bool(setup.run_eagerly) if setup is not None else False

    @run_eagerly.setter
    def run_eagerly(self, value) -> None:
        setup = state_mod.of(self).setup
        if setup is None:
            raise NotCompiledError("Set run_eagerly through compile(run_eagerly=...) first.")
        setup.run_eagerly = bool(value)
        state_mod.of(self).functions = {}

    @property
    def steps_per_execution(self):
        setup = state_mod.of(self).setup
        return setup.steps_per_execution if setup is not None else "auto"

    @property
    def gradient_accumulation_steps(self):
        setup = state_mod.of(self).setup
        return setup.gradient_accumulation_steps if setup is not None else None

    def _setup(self, what: str) -> CompileSetup:
        engine = state_mod.of(self)
        if engine.setup is None:
            raise NotCompiledError(f"You must call model.compile(...) before model.{what}().")
        if what in ("fit", "train_on_batch") and engine.live is not None:
            raise ConfigError(f"Model {self.name!r} is already training: a callback cannot call {what} on the model "
                              "being trained (evaluate and predict are fine).")
        return engine.setup

    # -- preparing a call ------------------------------------------------------------------------
    def _overridden(self, name: str) -> bool:
        return getattr(type(self), name) is not getattr(StatelessTrainer, name)

    def _pads(self, kind: str) -> bool:
        """Whether ``kind``'s batches are padded to one size (the default steps only)."""
        step = {"train": "train_step", "test": "test_step", "predict": "predict_step"}[kind]
        if self._overridden(step):
            return False
        if kind != "predict" and self.built and any(len(s) == 1 for s in self._output_shapes()):
            # an output of one value per sample: a loss over its last axis reduces over the batch itself, where
            # no row mask can leave padded rows out; the last batch runs short instead (Keras never pads)
            return False
        return kind == "predict" or not any(self._overridden(m) for m in _LOSS_METHODS)

    def _needs_targets(self, kind: str, compile_loss) -> bool:
        return self._pads(kind) and bool(compile_loss.entries)

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

    def _prepare(self, x, y, kind: str, sample_weight=None):
        """Build from ``x``, resolve compile against the outputs (and ``y``), check the data (``sample_weight``
        too: its structure and shapes against the outputs).

        Returns an undo function: a resolution made here is taken back if the call fails before its
        first step has run, so that bad data leaves the model as it was.
        """
        if not self.built:
            self._build_from_data(x)
        setup = state_mod.of(self).setup
        names, shapes = self.output_names, self._output_shapes()
        undo = _nothing
        if setup.needs_resolving(names, shapes):
            previous = (setup.compile_loss, setup.compile_metrics, setup._resolved_for)
            resolved = setup.resolve(names, shapes, target_shapes_of(y, names))
            checks.check_batch(self, x, y, resolved[0], self._needs_targets(kind, resolved[0]), f"{kind}_step")
            setup.commit(resolved, names, shapes)
            state_mod.of(self).functions = {}

            def undo():
                setup.compile_loss, setup.compile_metrics, setup._resolved_for = previous
                state_mod.of(self).functions = {}
        else:
            checks.check_batch(self, x, y, setup.compile_loss, self._needs_targets(kind, setup.compile_loss),
                               f"{kind}_step")
        try:
            checks.check_sample_weight(self, sample_weight, setup.compile_loss)
            if kind == "train":
                self._ensure_optimizer()
        except BaseException:
            undo()
            raise
        return undo

    def _ensure_optimizer(self) -> None:
        """Build the optimizer for the trainable variables, again when they changed since (weights frozen
        or unfrozen). One the user built for some of them is left as it is (a custom step's choice)."""
        engine = state_mod.of(self)
        trainable = self.trainable_variables
        opt = self.optimizer
        if not opt.built_for(trainable):
            if not (engine.optimizer_built_for is None and opt.built_within(trainable)):
                state_mod.build_optimizer(self)
        for extra in jit.extra_optimizers(self):
            if not extra.built:
                raise ConfigError(f"Model {self.name!r} holds optimizer {extra.name!r} besides model.optimizer, but "
                                  "it is not built: call its build(variables) with the variables it updates (e.g. "
                                  "in compile), so that its variables can join the training state.")

    def _policy(self, kind: str, data, callbacks: CallbackList, exact: bool = False, epochs: int = 1) -> AutoSteps:
        """How many steps each call runs: fixed by ``steps_per_execution``, or measured ("auto").

        A callback with a batch-begin hook acts before each batch, so it gets single steps (as does
        ``exact``: a callback with ``requires_single_steps``, e.g. BackupAndRestore). Custom steps
        fuse only when asked for an int; evaluate and predict fuse over in-memory arrays only.
        ``epochs``: the passes over ``data`` this call makes: "auto" weighs their steps against the cost of
        compiling a fused program.
        """
        setting = self.steps_per_execution
        if self.run_eagerly or callbacks.wants(f"on_{kind}_batch_begin") or exact:
            return AutoSteps(fixed=1)
        if kind != "train" and not data.in_memory:
            return AutoSteps(fixed=1)
        if isinstance(setting, int):
            return AutoSteps(fixed=setting)
        if not self._pads(kind):
            return AutoSteps(fixed=1)
        # evaluate and predict are taken to repeat (validation every epoch, prediction loops): their probe weighs
        # INFERENCE_REPEATS calls' steps against the fused program's compilation, and splits a call into even
        # fused calls
        repeats = epochs if kind == "train" else INFERENCE_REPEATS
        return self._auto(kind, data, None if data.steps is None else data.steps * repeats)

    def _auto(self, kind: str, data, total_steps: int | None) -> AutoSteps:
        """The remembered decision (in memory, else in the compilation cache's directory), or the probe under
        way or waiting (short calls continue it), or a new probe."""
        engine = state_mod.of(self)
        key = (kind,) + data.decision_key()
        entry = engine.steps_decisions.get(key)
        if isinstance(entry, int):
            return AutoSteps(fixed=entry, auto=True)
        if entry is None:
            store_key = None if compilation_cache.decisions_path() is None else \
                persisted_key(self, engine.setup, kind, data.decision_key())
            record = None if store_key is None else compilation_cache.load_decision(store_key)
            even = kind != "train"
            entry = AutoSteps.from_record(record, max_steps=data.steps, even=even) or \
                AutoSteps(max_steps=data.steps, even=even)
            if entry.measured:
                engine.steps_decisions[key] = entry.k
                return AutoSteps(fixed=entry.k, auto=True)
            entry.store_key = store_key
            engine.steps_decisions[key] = entry
        entry.start(total_steps)
        return entry

    def _remember(self, kind: str, data, policy: AutoSteps) -> None:
        """Keep a measured decision in memory and on disk; a call too short to probe keeps its measurements
        (on disk too), so that a later call or run long enough to repay a fused program probes it."""
        if policy.measured:
            state_mod.of(self).steps_decisions[(kind,) + data.decision_key()] = policy.k
        if policy.unsaved and not policy.probing and policy.store_key is not None:
            compilation_cache.save_decision(policy.store_key, policy.record())
            policy.unsaved = False

    def _ordered_floats(self, logs: dict) -> dict:
        """Logs fetched to the host as floats, in kerasish's order: loss first, then as compiled."""
        setup = state_mod.of(self).setup
        order = ["loss"]
        if setup is not None:
            if setup.compile_loss is not None:
                order += [m.name for m in setup.compile_loss.metrics]
            if setup.compile_metrics is not None:
                order += setup.compile_metrics.log_names
        names = [n for n in order if n in logs] + [n for n in logs if n not in order]
        return {n: float(logs[n]) for n in names}

    # -- fit / evaluate / predict --------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            check_finite=None):
        """Train the model (Keras arguments); returns a :class:`~kerasish.callbacks.History`.

        Everything is checked before the first step, each refusal an InputError naming the array and the values:
        sample counts and shapes against the model, targets against each output's loss (shapes, sparse labels that
        are class indices in range, binary targets in [0, 1]), ``class_weight`` keys against the output's classes.

        Arguments are checked first (ConfigError): ``steps_per_epoch``, ``validation_steps`` and
        ``validation_batch_size`` None or positive ints; ``initial_epoch`` a non-negative int; ``validation_freq``
        a positive int or a list of 1-based epochs; ``verbose`` 'auto' or an int >= 0; ``validation_split`` a
        number. A ``batch_size`` larger than the data is one batch of all samples, as in Keras.

        ``check_finite`` (a kerasish addition): by default (None) NaN/inf in array data (x, y, sample_weight and
        array validation data) is refused before training, in one pass over the arrays (about 10 ms per 47M
        float32 values); generators, PyDatasets and other streams are checked only with ``check_finite=True``,
        every batch as it arrives. ``check_finite=False`` checks nothing.
        """
        self._setup("fit")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise InputError(f"epochs must be a non-negative integer, got {epochs!r}.")
        checks.check_fit_arguments(initial_epoch, validation_freq, validation_split)
        for name, value in (("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps),
                            ("validation_batch_size", validation_batch_size)):
            checks.check_steps(name, value)
        verbose = checks.check_verbose(verbose)
        if validation_batch_size is None:
            validation_batch_size = batch_size
        from kerasish import config

        if config.max_epochs() is not None:  # keras.config.set_max_epochs (or KERAS_MAX_EPOCHS) caps every fit
            epochs = min(epochs, config.max_epochs())
        finite = check_finite
        if validation_split and validation_data is None:
            (x, y, sample_weight), validation_data = adapters.split_validation(
                x, y, sample_weight, validation_split, check_finite=check_finite is not False)
            finite = False  # checked whole, above
        data = adapters.make_data(x, y, sample_weight, batch_size, shuffle, steps_per_epoch, check_finite=finite)
        checks.check_distributed(data)
        sample_x, sample_y, sample_sw = data.peek()
        undo = self._prepare(sample_x, sample_y, "train", sample_sw)
        try:
            val = None
            if validation_data is not None:
                val = self._validation_data(validation_data, validation_batch_size, validation_steps, finite)
            checks.check_class_weight(self, class_weight, state_mod.of(self).setup.compile_loss)
            if jax.process_index() != 0:
                verbose = 0  # one progress bar per run, process 0's
            cbl = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self, epochs=epochs,
                               steps=data.steps, verbose=verbose)
            exact = any(getattr(cb, "requires_single_steps", False) for cb in cbl)
            policy = self._policy("train", data, cbl, exact=exact, epochs=max(epochs - initial_epoch, 0))
            program = jit.program(self, "train")
        except BaseException:
            undo()
            raise
        self.stop_training = False
        self.history = cbl.history
        maker = batching.BatchMaker(self._pads("train"), class_weight, len(self.output_names))
        try:
            loop.fit(self, data, val, program=program, policy=policy, callbacks=cbl, maker=maker, epochs=epochs,
                     initial_epoch=initial_epoch, validation_freq=validation_freq, undo=undo)
        finally:
            self._remember("train", data, policy)
        return self.history

    def _validation_data(self, validation_data, batch_size, steps, check_finite):
        """fit's ``validation_data``, as Keras takes it: a tuple (or a list) ``(x_val, y_val[, sample_weight])``
        of arrays, or a dataset / generator / iterable of batches. A bare array or a dict is refused (it holds
        no targets), as is a tuple of another length."""
        vd = validation_data
        if isinstance(vd, list) and len(vd) in (2, 3) and not adapters.is_number_list(vd) and \
                all(adapters.is_array_struct(v) for v in vd) and not all(isinstance(v, tuple) for v in vd):
            vd = tuple(vd)  # [x_val, y_val]: Keras unpacks a list like a tuple
        if isinstance(vd, tuple) and len(vd) in (2, 3) and adapters.is_array_struct(vd[0]):
            vx, vy, vsw = (tuple(vd) + (None,))[:3]
            data = adapters.make_data(vx, vy, vsw, batch_size, False, steps, check_finite=check_finite,
                                      label="validation ")
            setup = state_mod.of(self).setup
            checks.check_batch(self, data.x, data.y, setup.compile_loss,
                               self._needs_targets("test", setup.compile_loss), "test_step")
            checks.check_sample_weight(self, data.sample_weight, setup.compile_loss)
            return data
        if isinstance(vd, tuple) or adapters.is_array_struct(vd):
            what = f"a tuple of {len(vd)} items" if isinstance(vd, tuple) else adapters.describe(vd)
            raise InputError(f"validation_data must be a tuple (x_val, y_val[, sample_weight]), or a dataset, "
                             f"generator or iterable of (x, y) batches; got {what}.")
        return adapters.make_data(vd, steps=steps, check_finite=check_finite)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False, check_finite=False):
        """Loss and metrics on the data: a list ``[loss, *metrics]`` (or a dict with ``return_dict=True``).

        Data is checked as in :meth:`fit`, except NaN/inf: only with ``check_finite=True`` (arrays in one pass,
        streamed batches as they come). Evaluating changes nothing, and a NaN shows in the result, so the
        default does not pay for the pass (about 9 ms per 47M float32 values); fit's default does."""
        self._setup("evaluate")
        checks.check_steps("steps", steps)
        checks.check_verbose(verbose)
        data = adapters.make_data(x, y, sample_weight, batch_size, False, steps, check_finite=check_finite)
        checks.check_distributed(data)
        sample_x, sample_y, sample_sw = data.peek()
        undo = self._prepare(sample_x, sample_y, "test", sample_sw)
        try:
            cbl = CallbackList(callbacks, model=self, steps=data.steps, verbose=verbose)
            cbl.call("on_test_begin", {})
            logs = self._run_evaluate(data, cbl)
        except BaseException:
            undo()
            raise
        cbl.call("on_test_end", logs)
        return self._format_logs(logs, return_dict)

    def _run_evaluate(self, data, callbacks: CallbackList) -> dict:
        """One pass of the test step over ``data`` (evaluate, and fit's validation): the logs as floats."""
        policy = self._policy("test", data, callbacks)
        program = jit.program(self, "test")
        variables = jit.state_variables(self, "test")
        box = loop.Box(jit.initial_state(self, "test", variables))
        maker = batching.BatchMaker(self._pads("test"))
        setup = state_mod.of(self).setup
        check = _batch_check(self, setup.compile_loss, self._needs_targets("test", setup.compile_loss), "test")
        logs = loop.run(program, data.calls(policy, maker, check=check, **loop.on_device(program, data)), box, callbacks,
                        policy)
        data.on_epoch_end()
        self._remember("test", data, policy)
        if logs is None:
            raise InputError("evaluate() got no batches.")
        return self._ordered_floats(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, check_finite=False):
        """Model outputs for the inputs, as NumPy arrays (batches concatenated).

        ``check_finite=True`` refuses NaN/inf in the inputs (arrays in one pass, streamed batches as they
        come); off by default, as in :meth:`evaluate`: predicting changes nothing and a NaN shows in the output."""
        checks.check_steps("steps", steps)
        checks.check_verbose(verbose)
        data = adapters.make_data(x, None, None, batch_size, False, steps, allow_x_only=True,
                                  check_finite=check_finite)
        checks.check_distributed(data)
        sample_x, _, _ = data.peek()
        if not self.built:
            self._build_from_data(sample_x)
        checks.check_x(self, sample_x)
        cbl = CallbackList(callbacks, model=self, steps=data.steps, verbose=verbose)
        policy = self._policy("predict", data, cbl)
        program = jit.program(self, "predict")
        variables = jit.state_variables(self, "predict")
        box = loop.Box(jit.initial_state(self, "predict", variables))
        outputs = PredictOutputs()  # each call's output stays on the device until the last call is dispatched
        cbl.call("on_predict_begin", {})
        check = (lambda bx, by: checks.check_x(self, bx))
        calls = data.calls(policy, batching.BatchMaker(self._pads("predict")), check=check,
                           **loop.on_device(program, data))
        loop.run(program, calls, box, cbl, policy, on_output=outputs.keep)
        data.on_epoch_end()
        self._remember("predict", data, policy)
        if not len(outputs):
            raise InputError("predict() got no batches.")
        cbl.call("on_predict_end", {})
        return outputs.join()

    # -- single batches ------------------------------------------------------------------------------
    def _single_batch(self, x, y, sample_weight, kind: str, check_finite=None):
        data = adapters.make_data(x, y, sample_weight, batch_size=None, allow_x_only=y is None,
                                  check_finite=check_finite)
        if not isinstance(data, adapters.ArrayData):
            raise InputError("*_on_batch methods take arrays (or lists/dicts of arrays).")
        data.batch_size = data.n
        return data, self._prepare(data.x, data.y, kind, data.sample_weight)

    def _format_logs(self, logs: dict, return_dict: bool):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False,
                       check_finite=None):
        """One training step on one batch; returns that batch's loss and metrics (the batch checked as in
        :meth:`fit`, NaN/inf included unless ``check_finite=False``)."""
        self._setup("train_on_batch")
        data, undo = self._single_batch(x, y, sample_weight, "train", check_finite)
        try:
            checks.check_class_weight(self, class_weight, state_mod.of(self).setup.compile_loss)
            program = jit.program(self, "train")
        except BaseException:
            undo()
            raise
        maker = batching.BatchMaker(self._pads("train"), class_weight, len(self.output_names))
        logs = loop.train_once(self, program, maker.make(data.x, data.y, data.sample_weight), undo)
        return self._format_logs(self._ordered_floats(logs), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False, check_finite=False):
        """Loss and metrics on one batch (checked as in :meth:`evaluate`)."""
        self._setup("test_on_batch")
        data, undo = self._single_batch(x, y, sample_weight, "test", check_finite)
        try:
            program = jit.program(self, "test")
            variables = jit.state_variables(self, "test")
            batch = batching.BatchMaker(self._pads("test")).make(data.x, data.y, data.sample_weight)
            _, logs = program.single(jit.initial_state(self, "test", variables), batch)
        except BaseException:
            undo()
            raise
        return self._format_logs(self._ordered_floats(logs), return_dict)

    def predict_on_batch(self, x):
        """Model outputs for one batch of inputs."""
        first = jax.tree.leaves(x)[0] if jax.tree.leaves(x) else None
        return self.predict(x, batch_size=int(first.shape[0]) if hasattr(first, "shape") else None, verbose=0)


INFERENCE_REPEATS = 4  # the calls an evaluate or predict is taken to be one of, when weighing a fused program


def _nothing() -> None:
    pass


def _batch_check(model, compile_loss, needs_targets: bool, kind: str):
    """``check(x, y)`` for each streamed batch after the first."""
    return lambda bx, by: checks.check_batch(model, bx, by, compile_loss, needs_targets, f"{kind}_step")
