"""EinsumDense: a dense layer whose kernel and contraction are given by an einsum equation (Keras 3)."""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np

from kerasish import activations, constraints, initializers, regularizers
from kerasish.errors import ConfigError, InputError
from kerasish.layers.base import Layer

# The three equation forms Keras accepts: no ellipsis, one on the left of input and output, one on the right.
_FORMS = (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$", False),
          (r"\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$", True),
          (r"([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$", False))


def _parse(equation: str) -> tuple[str, str, str, bool]:
    for pattern, left in _FORMS:
        m = re.match(pattern, equation)
        if m:
            return m.group(1), m.group(2), m.group(3), left
    raise ConfigError(f"EinsumDense: equation must look like 'ab,bc->ac', '...b,bc->...c' or 'ab...,bc->ac...', "
                      f"got {equation!r}.")


def einsum_shapes(equation: str, bias_axes, input_shape, output_shape):
    """``(kernel_shape, bias_shape or None, full_output_shape, kernel_input_axes, kernel_output_axes)``.

    The output shape given to the layer leaves out the batch axis and any axes the ellipsis stands for;
    they are filled in from ``input_shape``. A kernel axis takes its size from the output when its letter
    is in the output, else from the input. The bias spans the output from its first biased letter on,
    with size 1 on the letters not in ``bias_axes`` (and on the axes a right ellipsis covers).
    """
    in_spec, w_spec, out_spec, left = _parse(equation)
    input_shape = tuple(input_shape)
    elided = len(input_shape) - len(in_spec)
    if elided < 0:
        raise InputError(f"EinsumDense {equation!r}: the input spec {in_spec!r} needs rank >= {len(in_spec)}, "
                         f"got input shape {input_shape}.")
    out = [input_shape[0], *((output_shape,) if isinstance(output_shape, int) else output_shape)]
    if elided > 0 and left:
        out[1:1] = input_shape[1:elided]
    elif elided > 0:
        out.extend(input_shape[len(input_shape) - elided:])
    if left:
        in_pos = {c: i + elided for i, c in enumerate(in_spec)}
        out_pos = {c: i + elided for i, c in enumerate(out_spec)}
    else:
        in_pos = {c: i for i, c in enumerate(in_spec)}
        out_pos = {c: i for i, c in enumerate(out_spec)}
    for c in in_spec:
        if c in out_pos and out[out_pos[c]] is not None and out[out_pos[c]] != input_shape[in_pos[c]]:
            raise InputError(f"EinsumDense {equation!r}: input and output disagree on dimension {c!r} "
                             f"({input_shape[in_pos[c]]} vs {out[out_pos[c]]}); input shape {input_shape}, "
                             f"output_shape {output_shape!r}.")
    for c in out_spec:
        if c not in in_spec and c not in w_spec:
            raise ConfigError(f"EinsumDense {equation!r}: output dimension {c!r} is in neither the input nor "
                              "the kernel spec.")
    kernel, in_axes, out_axes = [], [], []
    for i, c in enumerate(w_spec):
        if c in out_pos:
            kernel.append(out[out_pos[c]])
            out_axes.append(i)
        elif c in in_pos:
            kernel.append(input_shape[in_pos[c]])
            in_axes.append(i)
        else:
            raise ConfigError(f"EinsumDense {equation!r}: kernel dimension {c!r} is in neither the input nor the "
                              "output spec.")
    if any(d is None for d in kernel):
        raise InputError(f"EinsumDense {equation!r}: the kernel shape {kernel} needs known input dimensions, got "
                         f"input shape {input_shape}.")
    bias = None
    if bias_axes is not None:
        for c in bias_axes:
            if c not in out_spec:
                raise ConfigError(f"EinsumDense: bias_axes letter {c!r} is not in the output spec {out_spec!r}.")
        first = min(out_spec.index(c) for c in bias_axes)
        offset = elided if left else 0
        bias = [out[i + offset] if c in bias_axes else 1 for i, c in enumerate(out_spec) if i >= first]
        if not left:
            bias.extend([1] * elided)
    return [int(d) for d in kernel], bias, out, in_axes, out_axes


class EinsumDense(Layer):
    """A dense layer over any axes: ``activation(einsum(equation, inputs, kernel) + bias)``.

    Args:
        equation: ``"<input>,<kernel>-><output>"`` with single-letter axes, optionally with ``...`` on the
            left of input and output (``"...b,bc->...c"``) or on the right (``"ab...,bc->ac..."``).
        output_shape: the output's shape without the batch axis and the ``...`` axes; ``None`` entries
            take the input's size; an int for a single axis.
        activation: name or callable; ``None`` is linear.
        bias_axes: the output letters that get a bias (``None`` for no bias).
        kernel_initializer / bias_initializer, kernel_regularizer / bias_regularizer,
            kernel_constraint / bias_constraint: as :class:`Dense`. A variance-scaling initializer
            (``glorot_uniform``, ...) counts the kernel's input-letter axes as fan-in and its output
            axes as fan-out, as Keras.
        lora_rank, lora_alpha, gptq_unpacked_column_size, quantization_config: Keras's LoRA and
            quantization options; kerasish does not implement them (any value but None raises ConfigError).

    Example: ``EinsumDense("abc,cde->abde", output_shape=(None, 4, 8), bias_axes="de")`` maps
    ``(batch, t, c)`` to ``(batch, t, 4, 8)`` (a multi-head projection).
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(equation, str):
            raise ConfigError(f"EinsumDense: equation must be a string, got {equation!r}.")
        _parse(equation)
        for arg, value in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha),
                           ("gptq_unpacked_column_size", gptq_unpacked_column_size),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise ConfigError(f"EinsumDense: {arg}={value!r} is not supported by kerasish (no LoRA or "
                                  "quantization); leave it None.")
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise ConfigError(f"EinsumDense: bias_axes must be None or a string of output letters, got {bias_axes!r}.")
        self.equation = equation
        shape = (output_shape,) if isinstance(output_shape, int) else output_shape
        if not isinstance(shape, (list, tuple)) or any(
                d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0) for d in shape):
            raise ConfigError(f"EinsumDense: output_shape must be an int or a tuple of positive ints or None, "
                              f"got {output_shape!r}.")
        self.partial_output_shape = tuple(shape)
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get_argument("EinsumDense", "kernel_constraint", kernel_constraint)
        self.bias_constraint = constraints.get_argument("EinsumDense", "bias_constraint", bias_constraint)
        self.lora_rank = self.lora_alpha = self.gptq_unpacked_column_size = self.quantization_config = None

    def _kernel_init(self, in_axes, out_axes):
        init = self.kernel_initializer
        if not isinstance(init, initializers.VarianceScaling):
            return init

        def grouped(key, shape, dtype=jnp.float32):
            # Draw a (fan_in, fan_out) matrix, then lay its axes out in the kernel's letter order.
            ins, outs = [shape[i] for i in in_axes], [shape[i] for i in out_axes]
            flat = np.asarray(init(key, (math.prod(ins), math.prod(outs)), dtype))
            order = list(in_axes) + list(out_axes)
            return jax.device_put(np.transpose(flat.reshape(ins + outs), np.argsort(order)))

        return grouped if in_axes and out_axes else init

    def build(self, input_shape):
        if not isinstance(input_shape, tuple):
            raise InputError(f"Layer {self.name!r} (EinsumDense) takes one input, got input shape {input_shape}.")
        kernel, bias, out, in_axes, out_axes = einsum_shapes(self.equation, self.bias_axes, input_shape,
                                                             self.partial_output_shape)
        self.full_output_shape = tuple(out)
        self._input_rank = len(input_shape)
        self.kernel = self.add_weight(name="kernel", shape=kernel, initializer=self._kernel_init(in_axes, out_axes),
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None
        if bias is not None:
            self.bias = self.add_weight(name="bias", shape=bias, initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)

    def _check_input(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self._input_rank:
            raise InputError(f"Layer {self.name!r} (EinsumDense) was built for inputs of rank {self._input_rank}, "
                             f"got input shape {input_shape}.")

    def call(self, inputs):
        y = jnp.einsum(self.equation, inputs, self.kernel.value)
        if self.bias is not None:
            y = y + self.bias.value
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "output_shape": list(self.partial_output_shape), "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint), "quantization_config": None}
