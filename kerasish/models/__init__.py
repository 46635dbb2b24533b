"""Models: Sequential, functional and subclassed; loading them from files and JSON."""

from kerasish.models.cloning import clone_model, save_model
from kerasish.models.functional import Functional
from kerasish.models.model import Model
from kerasish.models.sequential import Sequential
from kerasish.saving.api import load_model
from kerasish.saving.model_file import model_from_json

__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
