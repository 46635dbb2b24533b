"""TensorBoard: learning curves, weight histograms, the model summary and profiler traces, written
with tensorboardX (no TensorFlow) in the directory layout Keras 3 uses."""

from __future__ import annotations

import itertools
import json
import os
import time
import warnings

import numpy as np

from kerasish.callbacks.base import Callback
from kerasish.errors import ConfigError, StorageError, storage_error

# Event file names carry the second they were opened in; two writers opened in one second in
# one directory (a short second fit) would pick the same name and the second would truncate
# the first. A per-process counter in the suffix keeps them apart.
_WRITER_IDS = itertools.count()


class TensorBoard(Callback):
    """Writes logs for TensorBoard (``tensorboard --logdir LOG_DIR``), as Keras's callback does.

    Layout under ``log_dir`` (Keras 3's):

    - ``train/``: scalars ``epoch_loss``, ``epoch_<metric>``, ``epoch_learning_rate`` (and
      ``epoch_steps_per_second``) at step = epoch index; with ``update_freq=N``,
      ``batch_loss``/``batch_<metric>`` (and ``batch_steps_per_second``) every N batches at
      step = the number of training batches this callback has seen; weight histograms tagged by
      variable path (``dense/kernel``), weight images (``dense/kernel/image``), and the text
      summaries ``model_summary`` and ``hyperparameters``; profiler traces under
      ``train/plugins/profile/<time>/``.
    - ``validation/``: ``epoch_<name>`` for each ``val_<name>`` log, at step = epoch index.
    - ``projector_config.pbtxt`` and ``train/embeddings/``: Embedding layers for the projector.

    A second ``fit`` with the same callback appends new event files to the same runs; epoch steps
    are the epoch indices ``fit`` reports (pass ``initial_epoch`` to continue a curve), batch
    steps keep counting (and are restored on resume by ``BackupAndRestore``).

    Args:
        log_dir: Where to write the logs.
        histogram_freq: Write weight histograms every this many epochs (0: never).
        write_graph: Write the model summary and the hyperparameters (optimizer config, epochs,
            steps per epoch, parameter counts) as text. TensorBoard's graph dashboard needs a
            TensorFlow graph, which a JAX model does not have.
        write_images: With ``histogram_freq``, also write each weight as an image (scaled to its
            own range; kernels of 1-3 dimensions).
        write_steps_per_second: Also log training steps per second (per epoch, and every
            ``update_freq`` batches).
        update_freq: ``"epoch"``, ``"batch"`` (= 1) or an integer N: write batch-level scalars
            every N batches. Each written batch copies its logs from the device (a sync).
        profile_batch: Batch number (from 1, counted in each ``fit``) or ``(start, stop)`` range
            of batches to trace with the JAX profiler; 0 disables. The trace always stops at the
            end of ``fit``.
        embeddings_freq: Write the weights of Embedding layers for TensorBoard's projector every
            this many epochs (0: never).
        embeddings_metadata: A metadata file for every Embedding layer, or a dict of layer name to
            file; paths are relative to ``log_dir`` or absolute.

    Example:
        >>> tb = kerasish.callbacks.TensorBoard("logs/run1", histogram_freq=1, update_freq=100)
        >>> model.fit(x, y, epochs=10, validation_split=0.1, callbacks=[tb])
    """

    chief_only = True  # in a multi-process run, process 0 alone writes

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise ConfigError(f"TensorBoard: log_dir must be a non-empty path, got {log_dir!r}.")
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = _check_count("histogram_freq", histogram_freq)
        self.write_graph = _check_bool("write_graph", write_graph)
        self.write_images = _check_bool("write_images", write_images)
        self.write_steps_per_second = _check_bool("write_steps_per_second", write_steps_per_second)
        self.update_freq = _check_update_freq(update_freq)
        self._profile_start, self._profile_stop = _check_profile_batch(profile_batch)
        self.embeddings_freq = _check_count("embeddings_freq", embeddings_freq)
        self.embeddings_metadata = _check_metadata(embeddings_metadata)

        self._writers: dict = {}
        self._global_train_batch = 0   # training batches seen by this callback (batch-scalar steps)
        self._fit_batch = 0            # training batches seen in this fit (profile_batch counts these)
        self._epoch_batches = 0
        self._epoch_start = 0.0
        self._last_log = (0, 0.0)      # (global batch, time) of the last batch-level write
        self._tracing = False
        self._profiled = False         # a trace ran (or failed to start) in this fit
        self._wrote_texts = False
        # The engine calls batch hooks only on callbacks whose class defines one, and a batch hook
        # is a per-batch Python call: give this object one only when something needs it.
        if self.update_freq != "epoch" or self._profile_start or self.write_steps_per_second:
            self.__class__ = _with_batch_hook(type(self))

    # -- state for resume ---------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"global_train_batch": self._global_train_batch}

    def set_state(self, state: dict) -> None:
        self._global_train_batch = int(state.get("global_train_batch", 0))
        self._last_log = (self._global_train_batch, time.perf_counter())

    # -- writers ------------------------------------------------------------------------------------
    def _writer(self, run: str):
        writer = self._writers.get(run)
        if writer is None:
            from tensorboardX import SummaryWriter

            suffix = f".{os.getpid()}.{next(_WRITER_IDS):06d}"
            where = os.path.join(self.log_dir, run)
            try:
                writer = self._writers[run] = SummaryWriter(where, filename_suffix=suffix)
            except OSError as e:
                raise storage_error(e, where, "write TensorBoard events in") from e
        _check_writer(writer)
        return writer

    def _close_writers(self) -> None:
        writers, self._writers = self._writers, {}
        for writer in writers.values():
            try:
                writer.close()
            except OSError as e:
                raise storage_error(e, _event_file(writer), "write TensorBoard events to") from e

    def _flush_writers(self) -> None:
        for writer in self._writers.values():
            _check_writer(writer)
            try:
                writer.flush()
            except OSError as e:
                raise storage_error(e, _event_file(writer), "write TensorBoard events to") from e

    # -- hooks --------------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self._tracing:  # left running by a fit that raised
            self._stop_trace()
        self._fit_batch = 0
        self._profiled = False
        self._last_log = (self._global_train_batch, time.perf_counter())
        if self.embeddings_freq:
            self._check_embedding_names()
        if self.write_graph and not self._wrote_texts:
            self._write_texts()
            self._wrote_texts = True

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_batches = 0
        self._epoch_start = time.perf_counter()
        if self._should_start_trace():
            self._start_trace()

    def _train_batch_end(self, batch, logs) -> None:
        """The batch hook (installed by ``__init__`` only when needed, see ``_with_batch_hook``)."""
        self._global_train_batch += 1
        self._fit_batch += 1
        self._epoch_batches += 1
        if self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0 and logs:
            self._log_batch(logs)
        if self._tracing and self._fit_batch >= self._profile_stop:
            self._stop_trace()
        elif self._should_start_trace():
            steps = self.params.get("steps")
            if steps is None or batch + 1 < steps:  # else on_epoch_begin starts it, after validation
                self._start_trace()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        learning_rate = self._learning_rate()
        if learning_rate is not None:
            train["learning_rate"] = learning_rate
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._epoch_start
            if elapsed > 0 and self._epoch_batches:
                train["steps_per_second"] = self._epoch_batches / elapsed
        self._write_scalars("train", "epoch_", train, epoch)
        if val:
            self._write_scalars("validation", "epoch_", val, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        self._flush_writers()

    def on_train_end(self, logs=None):
        if self._tracing:
            self._stop_trace()
        self._close_writers()

    # -- scalars ------------------------------------------------------------------------------------
    def _write_scalars(self, run: str, prefix: str, values: dict, step: int) -> None:
        values = {name: v for name, v in ((n, _scalar(v)) for n, v in values.items()) if v is not None}
        if values:
            writer = self._writer(run)
            for name, value in values.items():
                writer.add_scalar(prefix + name, value, global_step=step)

    def _log_batch(self, logs) -> None:
        if isinstance(logs, dict):  # one step's device scalars: fetch them in one transfer
            import jax

            values = jax.device_get(logs)
        else:  # a fused call's view: reading it copies the call's logs to the host once
            values = {name: logs[name] for name in logs}
        values = {name: v for name, v in ((n, _scalar(v)) for n, v in values.items()) if v is not None}
        if self.write_steps_per_second:  # reading the logs above waited for the device: timing is real
            last_batch, last_time = self._last_log
            now = time.perf_counter()
            if now > last_time and self._global_train_batch > last_batch:
                values["steps_per_second"] = (self._global_train_batch - last_batch) / (now - last_time)
            self._last_log = (self._global_train_batch, now)
        self._write_scalars("train", "batch_", values, self._global_train_batch)

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return None
        try:
            return float(optimizer.learning_rate)
        except (TypeError, ValueError, AttributeError):  # a schedule before training, a MultiOptimizer: none
            return None

    # -- weights ------------------------------------------------------------------------------------
    def _named_weights(self):
        """``(tag, host array)`` for each model weight; tags are variable paths, made unique."""
        seen: dict[str, int] = {}
        for var in self.model.weights:
            tag = var.path.replace(":", "_")
            if tag in seen:
                seen[tag] += 1
                tag = f"{tag}_{seen[tag]}"
            else:
                seen[tag] = 0
            yield tag, np.asarray(var.value)

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for tag, values in self._named_weights():
            values = np.asarray(values, dtype=np.float64)
            finite = values[np.isfinite(values)]
            if finite.size:  # np.histogram rejects NaN/inf; a diverged weight still shows its finite part
                writer.add_histogram(tag, finite, global_step=epoch)
            if self.write_images:
                image = _weight_image(values)
                if image is not None:
                    writer.add_images(f"{tag}/image", image, global_step=epoch, dataformats="NHWC")

    def _embedding_layers(self) -> list:
        from kerasish.layers.core import Embedding

        return [layer for layer in self.model.layers if isinstance(layer, Embedding) and layer.built]

    def _check_embedding_names(self) -> None:
        if isinstance(self.embeddings_metadata, dict):
            names = {layer.name for layer in self._embedding_layers()}
            unknown = sorted(set(self.embeddings_metadata) - names)
            if unknown:
                raise ConfigError(f"TensorBoard: embeddings_metadata names {unknown}, which are not Embedding layers "
                                  f"of the model (those are {sorted(names)}).")

    def _log_embeddings(self, epoch: int) -> None:
        """Embedding matrices as TSV plus a projector config in ``log_dir`` (where Keras puts it)."""
        config_path = os.path.join(self.log_dir, "projector_config.pbtxt")
        existing = open(config_path, encoding="utf-8").read() if os.path.exists(config_path) else ""
        entries = []
        for layer in self._embedding_layers():
            rel = f"train/embeddings/{layer.name}/{epoch:05d}/tensors.tsv"
            os.makedirs(os.path.dirname(os.path.join(self.log_dir, rel)), exist_ok=True)
            np.savetxt(os.path.join(self.log_dir, rel), np.asarray(layer.embeddings.value, dtype=np.float32),
                       delimiter="\t", fmt="%.7g")
            name = f"{layer.name}:{epoch:05d}"
            if f'tensor_name: "{name}"' in existing:
                continue  # a later fit rewrote this epoch's matrix: the entry is there
            metadata = self.embeddings_metadata
            if isinstance(metadata, dict):
                metadata = metadata.get(layer.name)
            entry = f'embeddings {{\n  tensor_name: "{name}"\n  tensor_path: "{rel}"\n'
            if metadata:
                entry += f"  metadata_path: {json.dumps(metadata)}\n"
            entries.append(entry + "}\n")
        if entries:
            with open(config_path, "a", encoding="utf-8") as f:
                f.write("".join(entries))

    # -- text: model summary and hyperparameters ----------------------------------------------------
    def _write_texts(self) -> None:
        writer = self._writer("train")
        lines: list[str] = []
        try:
            self.model.summary(print_fn=lines.append)
        except Exception as exc:  # a summary must never stop training
            warnings.warn(f"TensorBoard: could not write the model summary ({exc}).", stacklevel=2)
        if lines:
            # Indented by four spaces: a Markdown code block, so the table keeps its columns.
            writer.add_text("model_summary", "\n".join("    " + line for line in lines), global_step=0)
        hparams = self._hyperparameters()
        table = ["| hyperparameter | value |", "|---|---|"]
        table += [f"| {k} | {_markdown_cell(v)} |" for k, v in hparams.items()]
        writer.add_text("hyperparameters", "\n".join(table), global_step=0)
        self._flush_writers()

    def _hyperparameters(self) -> dict:
        hparams: dict = {}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            hparams["optimizer"] = type(optimizer).__name__
            try:
                config = optimizer.get_config()
            except Exception:  # an unserializable learning-rate callable: the rest is still useful
                config = {}
            for key, value in config.items():
                if key != "name" and value is not None:
                    hparams[f"optimizer.{key}"] = value
        for key in ("epochs", "steps"):
            if self.params.get(key) is not None:
                hparams["steps_per_epoch" if key == "steps" else key] = self.params[key]
        if getattr(self.model, "built", False):
            hparams["total_params"] = sum(int(np.prod(v.shape)) for v in self.model.weights)
            hparams["trainable_params"] = sum(int(np.prod(v.shape)) for v in self.model.trainable_weights)
        return hparams

    # -- profiling ----------------------------------------------------------------------------------
    def _should_start_trace(self) -> bool:
        return (self._profile_start > 0 and not self._tracing and not self._profiled
                and self._fit_batch == self._profile_start - 1)

    def _start_trace(self) -> None:
        import jax

        self._profiled = True
        try:
            jax.profiler.start_trace(os.path.join(self.log_dir, "train"))
        except Exception as exc:  # e.g. another trace is running: profiling must never stop training
            warnings.warn(f"TensorBoard: could not start the profiler ({exc}).", stacklevel=2)
            return
        self._tracing = True

    def _stop_trace(self) -> None:
        import jax

        self._tracing = False
        try:
            jax.profiler.stop_trace()
        except Exception as exc:
            warnings.warn(f"TensorBoard: could not stop the profiler ({exc}).", stacklevel=2)


_BATCH_HOOK_CLASSES: dict[type, type] = {}


def _with_batch_hook(cls: type) -> type:
    """``cls`` plus an ``on_train_batch_end`` that runs ``_train_batch_end`` (then ``cls``'s own, if any).

    ``CallbackList`` decides from the class whether a callback wants batch hooks, so a TensorBoard
    that logs per epoch only must not define one; one that needs it gets this subclass.
    """
    if "_train_batch_hook" in cls.__dict__:
        return cls
    variant = _BATCH_HOOK_CLASSES.get(cls)
    if variant is None:
        def on_train_batch_end(self, batch, logs=None):
            self._train_batch_end(batch, logs)
            super(variant, self).on_train_batch_end(batch, logs)

        variant = type(cls.__name__, (cls,), {
            "on_train_batch_end": on_train_batch_end, "_train_batch_hook": True,
            "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
        })
        _BATCH_HOOK_CLASSES[cls] = variant
    return variant


# -- argument checks and helpers ----------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(name: str, value) -> int:
    if not _is_int(value) or value < 0:
        raise ConfigError(f"TensorBoard: {name} must be a non-negative integer (0 disables it), got {value!r}.")
    return int(value)


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"TensorBoard: {name} must be True or False, got {value!r}.")
    return bool(value)


def _check_update_freq(value):
    if value == "batch":
        return 1
    if value == "epoch":
        return "epoch"
    if not _is_int(value) or value < 1:
        raise ConfigError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive integer, got {value!r}.")
    return int(value)


def _check_profile_batch(value) -> tuple[int, int]:
    """``(start, stop)``, batches numbered from 1; ``(0, 0)`` disables profiling."""
    message = ("TensorBoard: profile_batch must be a non-negative integer (0 disables profiling) or a pair "
               f"(start, stop) of batch numbers with 1 <= start <= stop, got {value!r}.")
    parsed = value
    if isinstance(value, str):  # Keras also accepts "start,stop"
        try:
            parsed = tuple(int(part) for part in value.split(","))
        except ValueError:
            raise ConfigError(message) from None
        parsed = parsed[0] if len(parsed) == 1 else parsed
    if _is_int(parsed):
        parsed = (parsed, parsed)
    if not (isinstance(parsed, (tuple, list)) and len(parsed) == 2 and all(_is_int(p) for p in parsed)):
        raise ConfigError(message)
    start, stop = int(parsed[0]), int(parsed[1])
    if (start, stop) != (0, 0) and not 1 <= start <= stop:
        raise ConfigError(message)
    return start, stop


def _check_metadata(value):
    if value is None or isinstance(value, (str, os.PathLike)):
        return None if value is None else os.fspath(value)
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, (str, os.PathLike))
                                       for k, v in value.items()):
        return {k: os.fspath(v) for k, v in value.items()}
    raise ConfigError("TensorBoard: embeddings_metadata must be None, a file path, or a dict of Embedding layer "
                      f"name to file path, got {value!r}.")


def _scalar(value) -> float | None:
    """A log value as a float (fetching a device scalar), or None for anything but a scalar number."""
    try:
        array = np.asarray(value)
    except Exception:
        return None
    if array.ndim != 0 or not np.issubdtype(array.dtype, np.number):
        return None
    return float(array)


def _markdown_cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text.replace("|", "\\|").replace("\n", " ")


def _weight_image(values: np.ndarray) -> np.ndarray | None:
    """A weight as NHWC uint8 image(s), as Keras lays them out: a bias is a column, a 2-D kernel an
    image with the shorter side as height, a 3-D kernel one image per output channel."""
    w = np.squeeze(values)
    if w.ndim == 1:
        w = w.reshape(1, w.shape[0], 1, 1)
    elif w.ndim == 2:
        if w.shape[0] > w.shape[1]:
            w = w.T
        w = w.reshape(1, w.shape[0], w.shape[1], 1)
    elif w.ndim == 3:
        w = np.transpose(w, (2, 0, 1))[..., None]
    else:
        return None
    finite = w[np.isfinite(w)]
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    scaled = (np.nan_to_num(w, nan=low, posinf=high, neginf=low) - low) / ((high - low) or 1.0)
    return np.round(scaled * 255).astype(np.uint8)


def _event_file(writer) -> str:
    """The event file a tensorboardX writer appends to (its log directory if that is not known)."""
    events = getattr(getattr(writer, "file_writer", None), "event_writer", None)
    return getattr(getattr(events, "_ev_writer", None), "_file_name", None) or writer.logdir


def _check_writer(writer) -> None:
    """tensorboardX writes from a background thread; when a write there fails (a full disk), the thread
    dies and later events would block forever on its full queue: raise instead, naming the file."""
    events = getattr(getattr(writer, "file_writer", None), "event_writer", None)
    worker = getattr(events, "_worker", None)
    if worker is not None and not worker.is_alive() and not getattr(events, "_closed", False):
        raise StorageError(None, f"Cannot write TensorBoard events to {_event_file(writer)!r}: its writer thread "
                                 "stopped after a failed write (no space left on the device, or a file-size "
                                 "limit?); the run's other files are unaffected.")
