"""History: the per-epoch logs that ``fit`` returns."""

from __future__ import annotations

from kerasish.callbacks.base import Callback


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is a list of floats, one per epoch."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def get_state(self) -> dict:
        return {"history": self.history, "epoch": self.epoch}

    def set_state(self, state: dict) -> None:
        self.history = {k: [float(v) for v in vals] for k, vals in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def plot(self, metrics=None, ax=None):
        """Draw the learning curves with matplotlib, one panel per metric (with its ``val_`` twin).

        Args:
            metrics: names to draw; default all non-validation names.
            ax: unused unless one metric is drawn: a matplotlib Axes to draw on.

        Returns:
            The matplotlib Figure.
        """
        import matplotlib.pyplot as plt

        names = metrics or [k for k in self.history if not k.startswith("val_")]
        if ax is not None and len(names) == 1:
            fig, axes = ax.figure, [ax]
        else:
            fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
            axes = list(axes[0])
        epochs = [e + 1 for e in self.epoch] or list(range(1, len(next(iter(self.history.values()), [])) + 1))
        for axis, name in zip(axes, names):
            axis.plot(epochs[: len(self.history[name])], self.history[name], label=name)
            if f"val_{name}" in self.history:
                val = self.history[f"val_{name}"]
                axis.plot(epochs[-len(val):] if len(val) < len(epochs) else epochs[: len(val)], val,
                          label=f"val_{name}")
            axis.set_xlabel("epoch")
            axis.set_title(name)
            axis.legend()
        fig.tight_layout()
        return fig
