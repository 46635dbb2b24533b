"""Run code written for Keras 3 over kerasish: ``import keras`` and ``import keras.X`` give kerasish's modules.

Inside ``with kerasish_as_keras():`` every import of ``keras`` or ``keras.<sub>`` (``import keras.ops``,
``from keras.layers import Dense``, ``from keras import ops``) resolves to ``kerasish`` or ``kerasish.<sub>``;
a submodule kerasish does not have raises ``ModuleNotFoundError`` naming it (the real Keras is never reached).
On exit the real Keras modules are put back exactly as they were, so Keras and kerasish can run in turn in one
process (the compatibility corpus, ``tests/compat/test_corpus.py``, runs each script under both).

Only imports are mapped: an attribute that kerasish lacks (``keras.ops.foo``) fails as it would for a user.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Iterator


def _is_keras(name: str) -> bool:
    return name == "keras" or name.startswith("keras.")


class _KerasishFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of ``keras[.sub]`` with the already imported ``kerasish[.sub]`` module object."""

    def find_spec(self, fullname, path=None, target=None):
        if not _is_keras(fullname):
            return None
        target_name = "kerasish" + fullname[len("keras"):]
        try:
            module = importlib.import_module(target_name)
        except ModuleNotFoundError as error:
            if error.name is not None and target_name.startswith(error.name):
                raise ModuleNotFoundError(f"No module named {fullname!r} (kerasish has no {target_name!r})",
                                          name=fullname) from None
            raise
        spec = importlib.util.spec_from_loader(fullname, self)
        spec.loader_state = module
        return spec

    def create_module(self, spec):
        return spec.loader_state

    def exec_module(self, module):
        pass  # already executed, as kerasish's own module


@contextlib.contextmanager
def kerasish_as_keras() -> Iterator[None]:
    """While active, ``keras`` is kerasish for every import; Keras's own modules are restored on exit."""
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_keras(name)}
    finder = _KerasishFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name in sys.modules if _is_keras(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
