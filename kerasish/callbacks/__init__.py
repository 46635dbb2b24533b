"""Callbacks: the Keras hook interface and the built-in callbacks."""

from kerasish.callbacks.backup import BackupAndRestore
from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.checkpoint import ModelCheckpoint, load_checkpoint
from kerasish.callbacks.history import History
from kerasish.callbacks.progress import ProgbarLogger

__all__ = ["BackupAndRestore", "Callback", "CallbackList", "History", "ModelCheckpoint", "ProgbarLogger", "load_checkpoint"]
