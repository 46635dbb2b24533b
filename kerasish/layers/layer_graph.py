"""The functional-graph half of the Layer API (Keras's ``symbolic_call``, ``compute_output_spec``,
``compute_output_shape``, build configs, ``add_variable``, ``input``/``output``): a mixin of ``Layer``."""

from __future__ import annotations

import jax

from kerasish.backend import StatelessScope, Variable
from kerasish.errors import NotBuiltError
from kerasish.layers.symbolic import symbolic_call, to_spec


class LayerGraphAPI:
    """Methods of :class:`kerasish.layers.Layer` about shapes, symbolic calls and build configs."""

    def _symbolic_call(self, args: tuple, kwargs: dict):
        return symbolic_call(self, args, kwargs)

    def symbolic_call(self, *args, **kwargs):
        """The call on KerasTensors: the outputs' KerasTensors, and a node of the functional graph."""
        return self._symbolic_call(args, kwargs)

    def compute_output_spec(self, *args, **kwargs):
        """KerasTensors with the shapes and dtypes the call would give (as Keras); nothing is recorded."""
        from kerasish.layers.symbolic import KerasTensor, infer_output_specs

        flat, treedef = jax.tree.flatten((args, kwargs), is_leaf=lambda t: isinstance(t, KerasTensor))
        positions = [i for i, t in enumerate(flat) if isinstance(t, KerasTensor) or hasattr(t, "shape")]
        tensors = [flat[i] if isinstance(flat[i], KerasTensor) else KerasTensor(flat[i].shape, flat[i].dtype)
                   for i in positions]
        self._maybe_build(jax.tree.map(lambda t: tuple(t.shape), tensors[0]) if tensors else None)

        def run(*arrays):
            filled = list(flat)
            for i, a in zip(positions, arrays):
                filled[i] = a
            a2, k2 = jax.tree.unflatten(treedef, filled)
            with StatelessScope({}, rng=jax.random.PRNGKey(0), training=False):
                return self._call_autocast(*self._autocast_inputs(a2, self._resolve_training(k2)))

        return jax.tree.map(lambda o: KerasTensor(o.shape, o.dtype), infer_output_specs(run, tensors))

    def get_build_config(self):
        """``{"input_shape": ...}`` once built (as Keras); None before."""
        if self._build_shape is None:
            return None
        return {"input_shape": jax.tree.map(list, self._build_shape, is_leaf=lambda s: isinstance(s, tuple))}

    def build_from_config(self, config) -> None:
        if config and config.get("input_shape") is not None and not self.built:
            shape = config["input_shape"]
            self._maybe_build(tuple(shape) if shape and not isinstance(shape[0], (list, dict)) else shape)

    def add_variable(self, shape, initializer, dtype=None, trainable: bool = True, autocast: bool = True,
                     regularizer=None, constraint=None, name: str | None = None) -> Variable:
        """Keras's ``add_variable``: :meth:`add_weight` with ``shape`` and ``initializer`` required."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype, trainable=trainable,
                               autocast=autocast, regularizer=regularizer, constraint=constraint, name=name)

    @property
    def path(self) -> str:
        """The layer's name (Keras's path of a top-level layer)."""
        return self.name

    @property
    def metrics(self) -> list:
        """The metrics this layer (and its sublayers) hold as attributes."""
        return self._tracked_metrics()

    @property
    def input_dtype(self) -> str:
        """The dtype floating inputs are cast to (the compute dtype; Keras's ``input_dtype``)."""
        return self.compute_dtype

    def compute_output_shape(self, input_shape):
        """The output shape for an input shape (``None`` for the batch), from ``jax.eval_shape``."""
        self._maybe_build(input_shape)
        spec = jax.tree.map(lambda s: to_spec(s, self.dtype, batch=2), input_shape,
                            is_leaf=lambda s: isinstance(s, tuple))

        def run(x):
            with StatelessScope({}, rng=jax.random.PRNGKey(0), training=False):
                return self._call_autocast(*self._autocast_inputs((x,), self._resolve_training({})))

        out = jax.eval_shape(run, spec)
        return jax.tree.map(lambda o: (None,) + tuple(o.shape[1:]), out)

    # -- functional graph accessors ------------------------------------------------------------
    @property
    def output(self):
        if not self._inbound_nodes:
            raise NotBuiltError(f"Layer {self.name!r} has never been called on a symbolic input.")
        return self._inbound_nodes[0].outputs

    @property
    def input(self):
        if not self._inbound_nodes:
            raise NotBuiltError(f"Layer {self.name!r} has never been called on a symbolic input.")
        node = self._inbound_nodes[0]
        return node.args[0]
