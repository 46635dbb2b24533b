"""Keras 3's HDF5 weights (``.weights.h5``, and ``model.weights.h5`` inside a ``.keras`` file), both ways.

h5py is the reader and writer: HDF5 is the format Keras writes, and h5py is the maintained binding to
the HDF5 library itself (Keras uses it too), so every file Keras writes reads here byte for byte.

Reading is defensive, because a weights file is data from somewhere else:

* only hard links: soft and external links, external and virtual datasets (which would read other
  files on this machine) are refused;
* a dataset is read only after its shape matched the variable it is for, so memory is bounded by the
  model the caller built, never by what the file declares; only numeric and bool dtypes are accepted;
* anything h5py raises on a truncated or corrupted file becomes a :class:`FileFormatError` naming
  the file and the dataset.

The layout (which dataset is which variable) is :mod:`kerasish.saving.keras_layout`'s; the optimizer's
variables are translated by :mod:`kerasish.saving.keras_optimizer`.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import ml_dtypes
import numpy as np

from kerasish.distribution import to_host
from kerasish.errors import FileFormatError, KerasishError
from kerasish.saving import keras_layout, keras_optimizer, limits

_KINDS = "biuf"  # bool, signed and unsigned integers, floats


# -- writing -----------------------------------------------------------------------------------------
def write_weights(model, target, include_optimizer: bool = True) -> None:
    """Write ``model``'s variables (and, if given, its optimizer's) in Keras's layout to ``target``.

    Args:
        model: a built kerasish model.
        target: a path or a writable binary file object.
        include_optimizer: also write ``optimizer/vars`` when the optimizer's state translates to Keras's.
    """
    import h5py

    entries = keras_layout.weight_paths(model)
    with h5py.File(target, "w") as f:
        for path, name in keras_layout.saveable_groups(model):
            f.require_group(f"{path}/vars" if path else "vars").attrs["name"] = name
        for path, var in entries:
            _write_dataset(f, path, to_host(var.value))
        if include_optimizer:
            values = keras_optimizer.to_keras(model)
            if values is not None:
                group = f.require_group("optimizer/vars")
                group.attrs["name"] = model.optimizer.name
                for i, value in enumerate(values):
                    _write_dataset(group, str(i), value)


def _write_dataset(parent, path: str, value: np.ndarray) -> None:
    value = np.asarray(value)
    if value.dtype == ml_dtypes.bfloat16:  # as Keras: the raw 16 bits, tagged
        dataset = parent.create_dataset(path, data=value.view(np.uint16))
        dataset.attrs["dtype"] = "bfloat16"
    else:
        parent.create_dataset(path, data=value)


def weights_bytes(model, include_optimizer: bool = True) -> bytes:
    buffer = io.BytesIO()
    write_weights(model, buffer, include_optimizer)
    return buffer.getvalue()


# -- reading -----------------------------------------------------------------------------------------
class H5Reader:
    """Checked access to the datasets of a Keras HDF5 weights file (see the module's docstring)."""

    def __init__(self, file, source: str):
        self.file = file
        self.source = source

    def _fail(self, message: str, cause: BaseException | None = None):
        error = FileFormatError(f"{self.source}: {message}")
        if cause is not None:
            raise error from cause
        raise error

    def node(self, path: str):
        """The group or dataset at ``path`` (hard links only), or None when there is none."""
        import h5py

        current = self.file
        for part in path.split("/"):
            if not part:
                self._fail(f"invalid path {path!r}.")
            try:
                if not isinstance(current, h5py.Group) or part not in current:
                    return None
                link = current.get(part, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    self._fail(f"{path!r} is a {type(link).__name__}; kerasish follows only hard links "
                               "(a link may point at another file on this machine).")
                current = current[part]
            except KerasishError:
                raise
            except Exception as e:  # h5py raises OSError, KeyError, RuntimeError, ... on damaged files
                self._fail(f"cannot read {path!r} (truncated or corrupted): {type(e).__name__}: {e}", e)
        return current

    def names(self, path: str) -> list[str]:
        """The member names of the group at ``path`` (empty when there is no such group)."""
        import h5py

        group = self.node(path)
        if not isinstance(group, h5py.Group):
            return []
        try:
            return list(group.keys())
        except Exception as e:
            self._fail(f"cannot list {path!r} (truncated or corrupted): {type(e).__name__}: {e}", e)

    def shape(self, path: str) -> tuple:
        return tuple(self._dataset(path).shape)

    def _dataset(self, path: str):
        import h5py

        dataset = self.node(path)
        if dataset is None:
            self._fail(f"dataset {path!r} is missing.")
        if not isinstance(dataset, h5py.Dataset):
            self._fail(f"{path!r} is not a dataset.")
        try:
            external, virtual, dtype = dataset.external, dataset.is_virtual, dataset.dtype
        except Exception as e:
            self._fail(f"cannot read dataset {path!r} (truncated or corrupted): {type(e).__name__}: {e}", e)
        if external or virtual:
            self._fail(f"dataset {path!r} stores its data in other files; kerasish refuses external and "
                       "virtual datasets.")
        if dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
            self._fail(f"dataset {path!r} has dtype {dtype}, not a number type.")
        return dataset

    def read(self, path: str, expected_shape: tuple | None = None) -> np.ndarray:
        """The dataset at ``path`` as a NumPy array; its shape is checked against ``expected_shape``
        before anything is read."""
        dataset = self._dataset(path)
        shape = tuple(dataset.shape)
        if expected_shape is not None and shape != tuple(expected_shape):
            raise ShapeMismatch(path, shape, tuple(expected_shape))
        try:
            value = dataset[()]
            tagged = dataset.attrs.get("dtype")
        except Exception as e:
            self._fail(f"cannot read dataset {path!r} (truncated or corrupted): {type(e).__name__}: {e}", e)
        value = np.asarray(value)
        if isinstance(tagged, bytes):
            tagged = tagged.decode("utf-8", "replace")
        if tagged == "bfloat16":
            value = value.view(ml_dtypes.bfloat16) if value.dtype.itemsize == 2 else value.astype(ml_dtypes.bfloat16)
        return value


class ShapeMismatch(Exception):
    def __init__(self, path, found, expected):
        super().__init__(path, found, expected)
        self.path, self.found, self.expected = path, found, expected


@contextlib.contextmanager
def open_h5(source_data, source: str):
    """An :class:`H5Reader` over a path or bytes."""
    import h5py

    try:
        handle = h5py.File(io.BytesIO(source_data) if isinstance(source_data, bytes) else source_data, "r")
    except FileNotFoundError as e:
        raise FileFormatError(f"{source}: no such file.") from e
    except Exception as e:
        raise FileFormatError(f"{source}: not a valid HDF5 file (truncated or corrupted): "
                              f"{type(e).__name__}: {e}") from e
    try:
        yield H5Reader(handle, source)
    finally:
        handle.close()


def load_weights(model, reader: H5Reader, skip_mismatch: bool = False) -> None:
    """Assign every variable of ``model`` from a Keras-layout file, after checking all of them.

    A layer whose saved variables are missing, counted differently or shaped differently is an error
    naming the layer and the shapes (``skip_mismatch=True``: a warning, and the layer keeps its
    weights). Nothing is assigned unless every layer checked out.
    """
    entries = keras_layout.weight_paths(model)
    by_group: dict[str, list] = {}
    for path, var in entries:
        by_group.setdefault(path.rsplit("/", 1)[0], []).append((path, var))
    chosen = []
    for group, items in by_group.items():
        stored = reader.names(group)
        problem = None
        if len(stored) != len(items):
            problem = (f"the file's {group!r} holds {len(stored)} variables, but {len(items)} are expected "
                       f"({', '.join(v.path for _, v in items)})")
        else:
            values = []
            for path, var in items:
                try:
                    values.append(reader.read(path, tuple(var.shape)))
                except ShapeMismatch as e:
                    problem = (f"variable {var.path!r} has shape {e.expected}, but the file's {e.path!r} has "
                               f"shape {e.found}")
                    break
        if problem is not None:
            if skip_mismatch:
                warnings.warn(f"{reader.source}: skipping {group!r}: {problem}.", stacklevel=3)
                continue
            raise FileFormatError(f"{reader.source}: cannot load the weights of model {model.name!r}: {problem}. "
                                  "The architectures differ (pass skip_mismatch=True to skip such layers).")
        chosen.extend((var, value) for (_, var), value in zip(items, values))
    limits.check_finite(((var.path, value) for var, value in chosen), reader.source)
    for var, value in chosen:
        var.assign(np.asarray(value).astype(np.dtype(var.dtype), copy=False))


def load_optimizer(model, reader: H5Reader) -> bool:
    """Restore the compiled model's optimizer state from ``optimizer/vars``; each dataset is read only
    after its shape matched the state this model's optimizer has. A state that does not fit is skipped
    with a warning, as Keras skips it. Returns whether the state was restored."""
    names = reader.names("optimizer/vars")
    if not names:
        return False
    shapes = keras_optimizer.expected_shapes(model)
    if set(names) != {str(i) for i in range(len(names))}:
        warnings.warn(f"{reader.source}: skipping the optimizer state: its variables are not named "
                      f"0..{len(names) - 1}.", stacklevel=2)
        return False
    if shapes is None or len(names) != len(shapes):
        return keras_optimizer.from_keras(model, [None] * len(names), reader.source)  # warns and skips
    values = []
    for i, shape in enumerate(shapes):
        try:
            values.append(reader.read(f"optimizer/vars/{i}", shape))
        except ShapeMismatch as e:
            warnings.warn(f"{reader.source}: skipping the optimizer state: {e.path!r} has shape {e.found}, "
                          f"{type(model.optimizer).__name__} here needs {e.expected}.", stacklevel=2)
            return False
    limits.check_finite(((f"optimizer/vars/{i}", v) for i, v in enumerate(values)), reader.source,
                        "optimizer state arrays")
    return keras_optimizer.from_keras(model, values, reader.source)
