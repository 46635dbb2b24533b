"""The ``weights=`` argument of every application: checking it, and loading ImageNet or local weights.

ImageNet weights are Keras's published files (Keras 2 HDF5 weight files), downloaded once into the ``models``
folder of the dataset cache by :func:`kerasish.utils.get_file` and verified against Keras's published hash.
"""

from __future__ import annotations

import os

from kerasish.errors import ConfigError

__all__ = ["check_weights_argument", "load_weights"]


def check_weights_argument(weights, include_top: bool, classes: int, *, name: str = "this model") -> None:
    """Raise early on a ``weights`` value the constructor cannot honour.

    Args:
        weights: None, ``"imagenet"`` or the path of an existing weights file.
        include_top: whether the classifier is built.
        classes: number of classes of the classifier.
        name: the application, for the message.

    Raises:
        ConfigError: ``weights`` is none of the three, or ImageNet weights with a top of ``classes != 1000``.
    """
    if not (weights is None or weights == "imagenet" or (isinstance(weights, (str, os.PathLike))
                                                           and os.path.exists(weights))):
        raise ConfigError(f"{name}: weights must be None (random initialization), 'imagenet' (pre-training on "
                          f"ImageNet) or the path of an existing weights file; got weights={weights!r}.")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ConfigError(f"{name}: with weights='imagenet' and include_top=True, classes must be 1000; "
                          f"got classes={classes!r}.")


def load_weights(model, weights, *, include_top: bool, fname_top: str | None = None, origin_top: str | None = None,
                 hash_top: str | None = None, fname_notop: str | None = None, origin_notop: str | None = None,
                 hash_notop: str | None = None) -> None:
    """Load ``weights`` into ``model``: nothing for None, the published file for ``"imagenet"``, else a path.

    Args:
        model: the freshly built application.
        weights: None, ``"imagenet"`` or a local file path.
        include_top: picks the ``*_top`` or the ``*_notop`` file.
        fname_top, origin_top, hash_top: cache file name, URL and hash (MD5 or SHA-256) of the file with
            the classifier; ``fname`` defaults to the URL's last part.
        fname_notop, origin_notop, hash_notop: the same for the file without it.

    Raises:
        ConfigError: a local path that does not exist, or ``"imagenet"`` for a model with no published file
            in that configuration.
    """
    if weights is None:
        return
    if weights == "imagenet":
        fname, origin, file_hash = ((fname_top, origin_top, hash_top) if include_top
                                    else (fname_notop, origin_notop, hash_notop))
        if origin is None:
            raise ConfigError(f"{model.name}: no ImageNet weights are published for include_top={include_top}.")
        from kerasish.utils import get_file

        path = get_file(fname or origin.rsplit("/", 1)[-1], origin, cache_subdir="models", file_hash=file_hash)
        model.load_weights(path)
        return
    path = os.fspath(weights)
    if not os.path.exists(path):
        raise ConfigError(f"{model.name}: the weights file {path!r} does not exist.")
    model.load_weights(path)
