"""Running on several devices with ``jax.sharding``, as ``keras.distribution``.

A distribution tells ``fit``/``evaluate``/``predict`` how to lay the state and the batches over a mesh of
devices; XLA partitions the jitted step from those shardings (no pmap, no hand-written collectives).

Example (8 devices, data parallel: each device gets 1/8 of every batch, the state is replicated, and
XLA all-reduces the gradients)::

    kerasish.distribution.set_distribution(kerasish.distribution.DataParallel())
    model.fit(x, y, batch_size=64)   # 64 must be a multiple of the 8 devices

Several processes (hosts) -- :func:`initialize` first, then the same script on every process::

    kerasish.distribution.initialize()          # or initialize("10.0.0.1:1234", num_processes=2, process_id=i)
    kerasish.distribution.set_distribution(kerasish.distribution.DataParallel())   # all devices of all hosts
    model.fit(x, y, batch_size=64)

Every process runs the same calls on the same inputs (NumPy arrays, generators, PyDatasets: each process
draws the same global batches, in the same order, and feeds its devices their rows of each; from arrays
it gathers only those rows), so the jitted steps are one global program. The first placement of the state takes process 0's values, so the
replicas start equal even without a common seed; the shuffling seed and the fused-steps choice are
process 0's too. Progress bars, TensorBoard and CSV logs, and saved files are written by process 0 only;
orbax checkpoints (``ModelCheckpoint`` directories, ``BackupAndRestore``) are written by all processes
together, as orbax does.
"""

from __future__ import annotations

import contextlib
import os
import types

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from kerasish.errors import ConfigError, InputError

_STATE = types.SimpleNamespace(distribution=None)  # one per process, as Keras's global distribution


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices as ``"cpu:0"``, ``"gpu:1"``, ... (all of the default backend, or of ``device_type``)."""
    devices = jax.devices(device_type) if device_type else jax.devices()
    return [f"{d.platform}:{d.id}" for d in devices]


def get_device_count(device_type: str | None = None) -> int:
    """How many devices :func:`list_devices` lists: of ``device_type`` (``"cpu"``, ``"gpu"``, ``"tpu"``), or
    of the default backend (an accelerator if there is one, else the CPU)."""
    return len(list_devices(device_type))


def _resolve_devices(devices) -> list:
    if devices is None:
        return list(jax.devices())
    out = []
    by_name = {f"{d.platform}:{d.id}": d for d in jax.devices()}
    for d in devices:
        if isinstance(d, str):
            key = d.lower()
            if key not in by_name:
                raise ConfigError(f"Unknown device {d!r}; available: {sorted(by_name)}.")
            out.append(by_name[key])
        else:
            out.append(d)
    return out


class DeviceMesh:
    """A named grid of devices (``jax.sharding.Mesh``).

    Args:
        shape: the grid's shape, e.g. ``(8,)`` or ``(2, 4)``.
        axis_names: one name per axis, e.g. ``["batch"]`` or ``["batch", "model"]``.
        devices: device names (``"gpu:0"``) or jax devices; default: all devices of the default backend.
    """

    def __init__(self, shape, axis_names, devices=None):
        shape = tuple(int(s) for s in shape)
        axis_names = tuple(axis_names)
        if len(shape) != len(axis_names):
            raise ConfigError(f"DeviceMesh: shape {shape} and axis_names {axis_names} must have the same length.")
        devs = _resolve_devices(devices)
        if int(np.prod(shape)) != len(devs):
            raise ConfigError(f"DeviceMesh: shape {shape} holds {int(np.prod(shape))} devices, but {len(devs)} "
                              f"were given ({[f'{d.platform}:{d.id}' for d in devs]}).")
        self.shape, self.axis_names, self.devices = shape, axis_names, devs
        self.mesh = Mesh(np.asarray(devs, dtype=object).reshape(shape), axis_names)


class TensorLayout:
    """How one tensor is split over a :class:`DeviceMesh`: a mesh axis name (or None) per tensor axis.

    The mesh may come later (``layout.device_mesh = mesh``, once). :attr:`backend_layout` is the
    ``jax.sharding.NamedSharding`` it stands for.

    Args:
        axes: one mesh axis name or None per tensor axis, e.g. ``(None, "model")``.
        device_mesh: the mesh, or None for now.
    """

    def __init__(self, axes, device_mesh: DeviceMesh | None = None):
        self._axes = tuple(axes)
        self._device_mesh = None
        if device_mesh is not None:
            self.device_mesh = device_mesh

    @property
    def axes(self) -> tuple:
        return self._axes

    @property
    def device_mesh(self) -> DeviceMesh | None:
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh: DeviceMesh) -> None:
        if self._device_mesh is not None:
            raise ConfigError(f"TensorLayout: the device mesh is already set ({self._device_mesh!r}); it cannot be "
                              "replaced.")
        unknown = sorted(a for a in set(self._axes) - {None} if a not in device_mesh.axis_names)
        if unknown:
            raise ConfigError(f"TensorLayout: axes {unknown} are not axes of the mesh {list(device_mesh.axis_names)}.")
        self._device_mesh = device_mesh

    @property
    def backend_layout(self) -> NamedSharding:
        if self._device_mesh is None:
            raise ConfigError(f"TensorLayout{self._axes}: set its device_mesh before using it.")
        return NamedSharding(self._device_mesh.mesh, PartitionSpec(*self._axes))

    def __repr__(self) -> str:
        return f"<TensorLayout axes={self._axes}, device_mesh={self._device_mesh}>"


def distribute_tensor(tensor, layout):
    """``tensor`` laid out as ``layout`` says (a :class:`TensorLayout` with a mesh, or a
    ``jax.sharding.Sharding``): placed on the devices eagerly, a sharding constraint inside ``jax.jit``.
    """
    sharding = layout.backend_layout if isinstance(layout, TensorLayout) else layout
    if not isinstance(sharding, jax.sharding.Sharding):
        raise ConfigError(f"distribute_tensor: layout must be a TensorLayout or a jax Sharding, got {layout!r}.")
    if isinstance(tensor, jax.core.Tracer):
        return jax.lax.with_sharding_constraint(tensor, sharding)
    if isinstance(tensor, jax.Array) and tensor.sharding.is_equivalent_to(sharding, tensor.ndim):
        return tensor
    return jax.device_put(tensor, sharding)


class Distribution:
    """Base class: how the state and the batches are laid out over a :class:`DeviceMesh`."""

    def __init__(self, device_mesh: DeviceMesh, batch_dim_name: str):
        self.device_mesh = device_mesh
        self.batch_dim_name = batch_dim_name

    @property
    def mesh(self) -> Mesh:
        return self.device_mesh.mesh

    @property
    def batch_shards(self) -> int:
        return self.mesh.shape[self.batch_dim_name]

    def state_sharding(self) -> NamedSharding:
        """Every weight and optimizer slot: replicated (override for model parallelism)."""
        return NamedSharding(self.mesh, PartitionSpec())

    def state_shardings(self, state, trainable_vars: list, non_trainable_vars: list, slot_owners: list = ()):
        """The sharding of each leaf of a training/evaluation ``state`` (a prefix tree is fine).

        ``slot_owners`` gives, for each optimizer variable, the index of the trainable variable it is a
        slot of (Adam's moments), or None."""
        return self.state_sharding()

    def batch_sharding(self, stacked: bool = False) -> NamedSharding:
        """Every batch array split along its batch axis (axis 1 for stacked multi-step batches)."""
        spec = PartitionSpec(None, self.batch_dim_name) if stacked else PartitionSpec(self.batch_dim_name)
        return NamedSharding(self.mesh, spec)

    def global_batch(self, batch, stacked: bool = False):
        """Host arrays of a whole (global) batch as global jax.Arrays: each process hands its own devices
        their rows of it (in a single process, jit's own transfer does the same, so they stay NumPy)."""
        if jax.process_count() == 1:
            return batch
        sharding = self.batch_sharding(stacked)

        def one(a):
            if is_global(a):
                return a
            a = np.asarray(a)
            return jax.make_array_from_callback(a.shape, sharding, lambda index: a[index])

        return jax.tree.map(one, batch)

    def local_rows(self, steps: int, batch_size: int) -> np.ndarray | None:
        """The rows of a call's ``steps * batch_size`` host rows (step-major) that this process's devices
        hold, sorted; None in a single process (it holds all)."""
        if jax.process_count() == 1:
            return None
        key = (steps, batch_size)
        cache = self.__dict__.setdefault("_local_rows", {})
        if key not in cache:
            shape = (steps, batch_size) if steps > 1 else (batch_size,)
            rows = np.arange(steps * batch_size).reshape(shape)
            index_map = self.batch_sharding(stacked=steps > 1).addressable_devices_indices_map(shape)
            cache[key] = np.unique(np.concatenate([rows[index].ravel() for index in index_map.values()]))
        return cache[key]

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.batch_shards:
            raise InputError(f"{type(self).__name__} splits every batch over {self.batch_shards} devices, so the "
                             f"batch size must be a multiple of {self.batch_shards}; got {batch_size}.")

    @contextlib.contextmanager
    def scope(self):
        """``with distribution.scope():`` uses this distribution inside the block only."""
        previous = getattr(_STATE, "distribution", None)
        _STATE.distribution = self
        try:
            yield self
        finally:
            _STATE.distribution = previous


class DataParallel(Distribution):
    """Data parallelism: each batch is split over the devices, the state is replicated on each.

    Args:
        device_mesh: a 1-D :class:`DeviceMesh`; default: all devices on one axis named ``"batch"``.
        devices: instead of a mesh, the devices to use (names or jax devices).
    """

    def __init__(self, device_mesh: DeviceMesh | None = None, devices=None):
        if device_mesh is not None and devices is not None:
            raise ConfigError("DataParallel takes device_mesh or devices, not both.")
        if device_mesh is None:
            devs = _resolve_devices(devices)
            device_mesh = DeviceMesh((len(devs),), ["batch"], devs)
        if len(device_mesh.shape) != 1:
            raise ConfigError(f"DataParallel needs a 1-D device mesh, got shape {device_mesh.shape}.")
        super().__init__(device_mesh, device_mesh.axis_names[0])


class LayoutMap:
    """Variable paths (regular expressions, ``re.search``) to how each weight is split over a mesh.

    Example::

        layout_map = LayoutMap(DeviceMesh((2, 4), ["batch", "model"]))
        layout_map["dense.*/kernel"] = (None, "model")    # split the output units over "model"
        layout_map["dense.*/bias"] = ("model",)

    A weight's path is ``"<layer name>/<weight name>"`` (``model.weights[i].path``); the first matching
    pattern wins, an unmatched weight is replicated. A spec names one mesh axis (or None) per weight axis.
    """

    def __init__(self, device_mesh: DeviceMesh):
        self.device_mesh = device_mesh
        self._specs: dict[str, tuple] = {}

    def __setitem__(self, pattern: str, spec) -> None:
        import re

        try:
            re.compile(pattern)
        except re.error as e:
            raise ConfigError(f"LayoutMap: {pattern!r} is not a regular expression ({e}).") from None
        if isinstance(spec, TensorLayout):  # Keras's form; its mesh, if set, must be this map's
            spec = spec.axes
        spec = tuple(spec) if isinstance(spec, (list, tuple)) else (spec,)
        unknown = [a for a in spec if a is not None and a not in self.device_mesh.axis_names]
        if unknown:
            raise ConfigError(f"LayoutMap[{pattern!r}]: mesh axes {unknown} are not among "
                              f"{list(self.device_mesh.axis_names)}.")
        self._specs[pattern] = spec

    def __getitem__(self, path: str):
        """The spec of the first pattern that matches ``path``, or None."""
        import re

        return next((spec for pattern, spec in self._specs.items() if re.search(pattern, path)), None)

    def __len__(self) -> int:
        return len(self._specs)


class ModelParallel(Distribution):
    """Weights split over mesh axes as a :class:`LayoutMap` says (tensor parallelism), batches split over
    ``batch_dim_name``; optimizer slots follow their weights' layout.

    Args:
        layout_map: the weights' layouts (its mesh is the distribution's).
        batch_dim_name: the mesh axis that splits batches (default: the mesh's first axis).
    """

    def __init__(self, layout_map: LayoutMap, batch_dim_name: str | None = None):
        if not isinstance(layout_map, LayoutMap):
            raise ConfigError(f"ModelParallel takes a kerasish.distribution.LayoutMap, got {layout_map!r}.")
        mesh = layout_map.device_mesh
        batch_dim_name = batch_dim_name or mesh.axis_names[0]
        if batch_dim_name not in mesh.axis_names:
            raise ConfigError(f"ModelParallel: batch_dim_name {batch_dim_name!r} is not a mesh axis "
                              f"{list(mesh.axis_names)}.")
        super().__init__(mesh, batch_dim_name)
        self.layout_map = layout_map

    def _weight_sharding(self, var) -> NamedSharding:
        spec = self.layout_map[var.path]
        if spec is None:
            return self.state_sharding()
        if len(spec) != len(var.shape):
            raise ConfigError(f"LayoutMap: weight {var.path!r} has shape {var.shape}, but its layout {spec} names "
                              f"{len(spec)} axes.")
        for dim, axis in zip(var.shape, spec):
            if axis is not None and dim % self.mesh.shape[axis]:
                raise ConfigError(f"LayoutMap: weight {var.path!r} of shape {var.shape} cannot be split over mesh "
                                  f"axis {axis!r} ({self.mesh.shape[axis]} devices) by its layout {spec}.")
        return NamedSharding(self.mesh, PartitionSpec(*spec))

    def state_shardings(self, state, trainable_vars: list, non_trainable_vars: list, slot_owners: list = ()):
        replicated = self.state_sharding()
        weights = [self._weight_sharding(v) for v in trainable_vars]
        owners = list(slot_owners) + [None] * (len(state.optimizer) - len(slot_owners))
        return state._replace(
            trainable=weights, non_trainable=[self._weight_sharding(v) for v in non_trainable_vars],
            optimizer=[replicated if o is None else weights[o] for o in owners[:len(state.optimizer)]],
            metrics=[replicated] * len(state.metrics), rng=replicated, step=replicated)


def set_distribution(value: Distribution | None) -> None:
    """Use ``value`` for every following fit/evaluate/predict (None: one device again)."""
    if value is not None and not isinstance(value, Distribution):
        raise ConfigError(f"set_distribution takes a kerasish.distribution.Distribution or None, got {value!r}.")
    _STATE.distribution = value


def distribution() -> Distribution | None:
    """The distribution in effect (set by :func:`set_distribution` or a ``scope()``), or None."""
    return getattr(_STATE, "distribution", None)


# -- several processes ------------------------------------------------------------------------------------
def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, local_device_ids=None, **kwargs) -> None:
    """Join a multi-process (multi-host) run, over ``jax.distributed.initialize``. Call it first, before
    anything else uses JAX, on every process.

    Args:
        coordinator_address: ``"host:port"`` of process 0's coordination service. Default: the environment
            variable ``KERASISH_COORDINATOR_ADDRESS``, else JAX's auto-detection (SLURM, Open MPI,
            Kubernetes, Cloud TPU).
        num_processes: how many processes take part (default: ``KERASISH_NUM_PROCESSES``, else detected).
        process_id: this process's index in ``[0, num_processes)`` (default: ``KERASISH_PROCESS_ID``, else
            detected).
        local_device_ids: the local devices this process uses (default: all).
        **kwargs: passed on to ``jax.distributed.initialize`` (e.g. ``initialization_timeout``).

    On CPU the processes exchange data through gloo collectives, which this selects.
    """
    env = {"coordinator_address": os.environ.get("KERASISH_COORDINATOR_ADDRESS"),
           "num_processes": os.environ.get("KERASISH_NUM_PROCESSES"),
           "process_id": os.environ.get("KERASISH_PROCESS_ID")}
    coordinator_address = coordinator_address or env["coordinator_address"]
    try:
        num_processes = int(num_processes if num_processes is not None else env["num_processes"]) \
            if (num_processes is not None or env["num_processes"]) else None
        process_id = int(process_id if process_id is not None else env["process_id"]) \
            if (process_id is not None or env["process_id"]) else None
    except ValueError:
        raise ConfigError(f"initialize: num_processes and process_id must be integers, got {num_processes!r} and "
                          f"{process_id!r} (arguments or KERASISH_NUM_PROCESSES / KERASISH_PROCESS_ID).") from None
    if num_processes is not None and process_id is not None and not 0 <= process_id < num_processes:
        raise ConfigError(f"initialize: process_id must be in [0, {num_processes}), got {process_id}.")
    if _distributed_client() is not None:
        raise ConfigError("initialize: this process has already joined a multi-process run.")
    try:
        if jax.config.jax_cpu_collectives_implementation in (None, "none"):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except AttributeError:  # a JAX without the option: CPU collectives are on by default there
        pass
    try:
        jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                                   process_id=process_id, local_device_ids=local_device_ids, **kwargs)
    except RuntimeError as err:
        raise ConfigError(f"initialize: JAX could not join the run ({err}). Call "
                          "kerasish.distribution.initialize() before anything uses JAX (before building a "
                          "model or calling list_devices), on every process.") from err
    except ValueError as err:
        raise ConfigError(f"initialize: {err} Give coordinator_address, num_processes and process_id, or run "
                          "under a cluster manager that JAX detects (SLURM, Open MPI, Kubernetes, Cloud TPU).") \
            from err


def _distributed_client():
    try:
        from jax._src import distributed
    except ImportError:  # pragma: no cover - a JAX that moved it
        return None
    return getattr(distributed.global_state, "client", None)


def process_index() -> int:
    """This process's index in a multi-process run (0 in a single process)."""
    return jax.process_index()


def process_count() -> int:
    """How many processes take part in the run (1 unless :func:`initialize` joined several)."""
    return jax.process_count()


def is_global(a) -> bool:
    """True for a jax.Array that spans devices of other processes."""
    return isinstance(a, jax.Array) and not a.is_fully_addressable


def to_host(a) -> np.ndarray:
    """A NumPy copy of any array, including a global one (gathered from the processes that hold its
    shards: every process must make the same call)."""
    if not is_global(a):
        return np.asarray(a)
    if a.is_fully_replicated:
        return np.asarray(a.addressable_data(0))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def broadcast_from_first(tree):
    """Process 0's values of a tree of host values, on every process (unchanged in a single process)."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.broadcast_one_to_all(tree)


def sync(name: str) -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


__all__ = ["DataParallel", "DeviceMesh", "Distribution", "LayoutMap", "ModelParallel", "distribution", "initialize",
           "list_devices", "process_count", "process_index", "set_distribution"]
