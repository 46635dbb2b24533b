"""Callbacks: the Keras hook interface and the built-in callbacks."""

from kerasish.callbacks.backup import BackupAndRestore
from kerasish.callbacks.base import Callback
from kerasish.callbacks.callback_list import CallbackList
from kerasish.callbacks.checkpoint import ModelCheckpoint, load_checkpoint
from kerasish.callbacks.csv_logger import CSVLogger
from kerasish.callbacks.early_stopping import EarlyStopping
from kerasish.callbacks.history import History
from kerasish.callbacks.lambda_callback import LambdaCallback, TerminateOnNaN
from kerasish.callbacks.lr import LearningRateScheduler, ReduceLROnPlateau
from kerasish.callbacks.orbax_checkpoint import OrbaxCheckpoint
from kerasish.callbacks.progress import ProgbarLogger
from kerasish.callbacks.remote_monitor import RemoteMonitor
from kerasish.callbacks.tensorboard import TensorBoard

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "OrbaxCheckpoint", "ProgbarLogger", "ReduceLROnPlateau",
    "RemoteMonitor", "TensorBoard",
    "TerminateOnNaN", "load_checkpoint",
]
