"""``model.summary()``: a rich table in a terminal, HTML in Jupyter (rich renders both)."""

from __future__ import annotations

import io

import numpy as np


def _shape_str(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_shape_str(s) for s in shape)
    if isinstance(shape, dict):
        return ", ".join(f"{k}: {_shape_str(v)}" for k, v in shape.items())
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _output_shape(layer):
    from kerasish.layers.symbolic import KerasTensor

    if layer._inbound_nodes:
        out = layer._inbound_nodes[-1].outputs
        if isinstance(out, KerasTensor):
            return out.shape
        if isinstance(out, (list, tuple)):
            return [t.shape for t in out]
        if isinstance(out, dict):
            return {k: t.shape for k, t in out.items()}
    seen = getattr(layer, "_last_output_shape", None)
    return seen


def summary_rows(model) -> list[tuple[str, str, int, bool]]:
    rows = []
    for layer in getattr(model, "operations", model.layers):  # a functional model's ops too, as Keras shows them
        params = int(sum(int(np.prod(v.shape)) for v in layer.weights)) if layer.built else 0
        kind = getattr(layer, "summary_type", type(layer).__name__)
        rows.append((f"{layer.name} ({kind})", _shape_str(_output_shape(layer)), params, layer.trainable))
    return rows


def print_summary(model, line_length=None, print_fn=None, show_trainable=False) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = summary_rows(model)
    table = Table(title=f'Model: "{model.name}"', title_justify="left")
    table.add_column("Layer (type)")
    table.add_column("Output Shape")
    table.add_column("Param #", justify="right")
    if show_trainable:
        table.add_column("Trainable")
    for name, shape, params, trainable in rows:
        cells = [name, shape, f"{params:,}"]
        if show_trainable:
            cells.append("Y" if trainable else "N")
        table.add_row(*cells)
    built = model.built
    total = sum(int(np.prod(v.shape)) for v in model.weights) if built else 0
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights) if built else 0
    footer = (f"Total params: {total:,}\nTrainable params: {trainable:,}\n"
              f"Non-trainable params: {total - trainable:,}")
    if not built:
        footer += "\n(The model is not built yet: its weights are created on the first data it sees.)"
    if print_fn is None:
        console = Console(width=line_length)
        console.print(table)
        console.print(footer, highlight=False)
        return
    buffer = io.StringIO()
    console = Console(file=buffer, width=line_length or 100, force_terminal=False, force_jupyter=False)
    console.print(table)
    console.print(footer, highlight=False)
    for line in buffer.getvalue().rstrip("\n").split("\n"):
        print_fn(line)
