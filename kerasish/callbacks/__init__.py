"""Callbacks: the Keras hook interface and the built-in callbacks."""

from kerasish.callbacks.backup import BackupAndRestore
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.checkpoint import ModelCheckpoint, load_checkpoint
from kerasish.callbacks.history import History
from kerasish.callbacks.progress import ProgbarLogger
from kerasish.callbacks.tensorboard import TensorBoard

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "History", "ModelCheckpoint", "ProgbarLogger", "TensorBoard",
           "load_checkpoint"]
