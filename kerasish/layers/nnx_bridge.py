"""Layers whose math is a flax.nnx module: the module's weights become the layer's Variables.

A layer builds its nnx module once (fresh weights from kerasish's initializers), :func:`adopt`
takes the weights as Keras-named Variables, and at call time :func:`module` rebuilds the module
around the variables' current values (a trace-time cost only under jit), so the same nnx math
runs eagerly, under ``jax.eval_shape`` and inside a jitted step.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from kerasish import regularizers
from kerasish.backend import Variable


def adopt(layer, module, names: dict[str, tuple[str, bool, Any]], autocast: bool = True) -> None:
    """Take a freshly initialized nnx ``module``'s weights as ``layer``'s variables.

    ``names`` maps each Keras weight name (in Keras's order) to
    ``(nnx_attribute, trainable, regularizer[, constraint])``. Floating weights are stored in the
    layer's variable dtype; ``autocast`` is the variables' (see ``Layer.add_weight``).
    """
    from flax import nnx

    graphdef, state = nnx.split(module)
    pure = nnx.to_pure_dict(state)
    layer._nnx_graphdef = graphdef
    layer._nnx_names = {}
    for keras_name, (attr, trainable, reg, *constraint) in names.items():
        value = pure[attr]
        if jnp.issubdtype(value.dtype, jnp.floating) and value.dtype != layer.dtype:
            value = value.astype(layer.dtype)
        var = layer._track_variable(Variable(value, name=keras_name, trainable=trainable,
                                             regularizer=regularizers.get(reg),
                                             constraint=constraint[0] if constraint else None, autocast=autocast))
        layer._nnx_names[attr] = var
        object.__setattr__(layer, keras_name, var)
    layer._nnx_template = {k: v for k, v in pure.items() if k not in layer._nnx_names}


def module(layer, dtype=None):
    """``layer``'s nnx module around its current weight values (floating ones cast to ``dtype`` if given)."""
    from flax import nnx

    pure = dict(layer._nnx_template)
    pure.update({attr: var.value for attr, var in layer._nnx_names.items()})
    if dtype is not None:
        pure = {k: v.astype(dtype) if hasattr(v, "dtype") and v.dtype != dtype
                and jnp.issubdtype(v.dtype, jnp.floating) else v for k, v in pure.items()}
    return nnx.merge(layer._nnx_graphdef, pure)
