"""Callbacks: the Keras hook interface, History and the progress bar."""

from kerasish.callbacks.base import Callback, CallbackList
from kerasish.callbacks.history import History
from kerasish.callbacks.progress import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
