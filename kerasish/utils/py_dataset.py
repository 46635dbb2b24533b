"""PyDataset: a Python-indexed dataset of batches (Keras's ``keras.utils.PyDataset``)."""

from __future__ import annotations

import warnings

from kerasish.errors import ConfigError


class PyDataset:
    """Base class for a dataset of batches computed by Python code.

    Subclass it and implement ``__len__`` (the number of batches) and
    ``__getitem__(index)``, which returns one whole batch: ``(x, y)`` or
    ``(x, y, sample_weight)`` for ``fit``/``evaluate``, ``x`` or ``(x,)`` for
    ``predict``. ``on_epoch_begin()``/``on_epoch_end()`` run before and after every
    pass over the data (each training epoch, each validation, evaluate and predict).

    ``fit(..., shuffle=True)`` (the default) visits the batches of a finite
    PyDataset in a new order each epoch, drawn from the fit's seeded generator, as
    Keras 3 does; ``shuffle=False`` visits them in index order. A dataset whose
    ``num_batches`` is None is infinite: give ``steps_per_epoch``/``steps``; its
    indices keep counting across epochs.

    Args:
        workers: number of threads that fetch batches; with more than one, batches
            are fetched concurrently but delivered in order.
        use_multiprocessing: not supported (must be False): use threads.
        max_queue_size: how many batches the threads may fetch ahead.

    Example:
        ```python
        class Batches(kerasish.utils.PyDataset):
            def __init__(self, x, y, batch_size, **kwargs):
                super().__init__(**kwargs)
                self.x, self.y, self.batch_size = x, y, batch_size

            def __len__(self):
                return math.ceil(len(self.x) / self.batch_size)

            def __getitem__(self, index):
                s = slice(index * self.batch_size, (index + 1) * self.batch_size)
                return self.x[s], self.y[s]

        model.fit(Batches(x, y, 32, workers=4), epochs=3)
        ```
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    # The settings are checked when set, so a bad value fails in the subclass's __init__.
    @property
    def workers(self) -> int:
        return self._settings()["workers"]

    @workers.setter
    def workers(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{type(self).__name__}: workers must be a non-negative integer, got {value!r}.")
        self.__dict__["_workers"] = value

    @property
    def use_multiprocessing(self) -> bool:
        return self._settings()["use_multiprocessing"]

    @use_multiprocessing.setter
    def use_multiprocessing(self, value) -> None:
        if value:
            raise ConfigError(f"{type(self).__name__}: use_multiprocessing={value!r} is not supported by kerasish; "
                              "use workers > 1 (threads) instead.")
        self.__dict__["_use_multiprocessing"] = False

    @property
    def max_queue_size(self) -> int:
        return self._settings()["max_queue_size"]

    @max_queue_size.setter
    def max_queue_size(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{type(self).__name__}: max_queue_size must be a positive integer, got {value!r}.")
        self.__dict__["_max_queue_size"] = value

    def _settings(self) -> dict:
        d = self.__dict__
        if not any(k in d for k in ("_workers", "_use_multiprocessing", "_max_queue_size")):
            warnings.warn(f"{type(self).__name__} should call super().__init__(**kwargs) in its constructor "
                          "(kwargs may hold workers, use_multiprocessing, max_queue_size).", stacklevel=3)
            d["_workers"] = 1
        return {"workers": d.get("_workers", 1), "use_multiprocessing": d.get("_use_multiprocessing", False),
                "max_queue_size": d.get("_max_queue_size", 10)}

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index).")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (``len(self)``), or None for an infinite dataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ or the num_batches property.")

    def __iter__(self):
        n = self.num_batches
        index = 0
        while n is None or index < n:
            yield self[index]
            index += 1

    def on_epoch_begin(self) -> None:
        """Called before every pass over the data."""

    def on_epoch_end(self) -> None:
        """Called after every pass over the data."""


Sequence = PyDataset  # Keras's older name for the same class
