"""Config-driven runs: ``kerasish run CONFIG.yaml key=value ...`` and :func:`run` from Python.

A config (YAML, see :mod:`kerasish.runs.config`) names a recipe, a plain Python module in ``recipes/``
with ``run(config, ctx) -> (model, metrics)`` and pydantic models for its own sections
(``SECTIONS = {"data": ..., "model": ...}``, optional ``DEFAULTS``). The run validates everything before
training and writes a run directory (see :mod:`kerasish.runs.runner`).
"""

from kerasish.runs.config import RunConfig, Section, load_config
from kerasish.runs.runner import RunContext, RunResult, run

__all__ = ["RunConfig", "RunContext", "RunResult", "Section", "load_config", "run"]
