"""OrbaxCheckpoint: Keras 3's orbax checkpoint callback, as a kerasish orbax checkpoint directory."""

from __future__ import annotations

import os

from kerasish.callbacks.checkpoint import ModelCheckpoint


class OrbaxCheckpoint(ModelCheckpoint):
    """Saves orbax checkpoints of the model (weights and optimizer state) into a directory (Keras's arguments).

    It is :class:`ModelCheckpoint` writing an orbax directory, whatever the directory's name: one
    ``CheckpointManager`` step per save (the model's step count), ``max_to_keep`` kept.
    :func:`kerasish.callbacks.load_checkpoint` reads one back into a model.

    Args:
        directory: the checkpoint directory (created if missing; not a template).
        monitor, verbose, save_best_only, mode, save_freq, initial_value_threshold: as ModelCheckpoint's.
        max_to_keep: how many checkpoints to keep (Keras's default 1; None keeps all).
        save_on_background: write asynchronously while training goes on (True), or wait for each write.
        save_weights_only: leave the optimizer state out.

    A write that fails for lack of room (disk full, quota, file-size limit) or permission, in the
    background or not, is a :class:`kerasish.errors.StorageError` naming the directory; the checkpoints
    committed before stay intact. Temporary directories left by a save killed midway are removed when a
    later fit's first save opens the directory.

    Differences from Keras: the directory's layout is kerasish's (``weights``, ``optimizer`` and ``meta``
    items per step), not Keras's state tree, so Keras cannot read it and kerasish cannot read Keras's.
    """

    _always_orbax = True

    def __init__(self, directory, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 mode: str = "auto", save_freq="epoch", initial_value_threshold: float | None = None,
                 max_to_keep: int | None = 1, save_on_background: bool = True, save_weights_only: bool = False):
        self._save_on_background = bool(save_on_background)
        super().__init__(directory, monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                         save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                         initial_value_threshold=initial_value_threshold, max_to_keep=max_to_keep)
        self.directory = os.fspath(directory)
        self.save_on_background = self._save_on_background
