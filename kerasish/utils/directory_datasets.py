"""``image_dataset_from_directory`` and ``text_dataset_from_directory`` without TensorFlow.

The files are indexed as Keras indexes them (class sub-folders in alphanumeric order, files sorted,
shuffled with ``RandomState(seed)``, the validation split taken from the end), and the result is a
:class:`~kerasish.utils.dataset_utils.BatchedDataset` (a PyDataset of NumPy batches, read from disk batch
by batch) that ``fit`` takes, instead of Keras's ``tf.data.Dataset``. Images are decoded with Pillow and
resized with ``jax.image.resize`` (bilinear: the same half-pixel sampling as TensorFlow's, without
antialiasing, like Keras's default).
"""

from __future__ import annotations

import os

import numpy as np

from kerasish.errors import ConfigError, InputError
from kerasish.utils.dataset_utils import BatchedDataset

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _index(directory, labels, formats, class_names, shuffle, seed, follow_links, verbose):
    """``(paths, labels or None, class_names)`` in Keras's order."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise InputError(f"directory {directory!r} is not a folder.")
    if labels == "inferred":
        found = sorted(d for d in os.listdir(directory)
                       if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
        if class_names is not None:
            if not set(class_names) <= set(found):
                raise ConfigError(f"class_names {list(class_names)} must name sub-folders of {directory!r}: {found}.")
            found = list(class_names)
        subdirs = found
    else:
        if class_names is not None:
            raise ConfigError("class_names can only be given with labels='inferred'.")
        subdirs = [""]
    files, file_labels = [], []
    for index, subdir in enumerate(subdirs):
        root_dir = os.path.join(directory, subdir)
        for root, _, names in sorted(os.walk(root_dir, followlinks=follow_links), key=lambda w: w[0]):
            for name in sorted(names):
                if name.lower().endswith(formats):
                    files.append(os.path.join(root, name))
                    file_labels.append(index)
    if labels == "inferred":
        label_array = np.asarray(file_labels, dtype="int32")
        names = subdirs
    elif labels is None:
        label_array, names = None, None
    else:
        label_array = np.asarray(labels)
        if len(label_array) != len(files):
            raise InputError(f"labels has {len(label_array)} entries but {len(files)} files were found in "
                             f"{directory!r}.")
        names = [str(x) for x in sorted(set(label_array.tolist()))]
    if verbose:
        print(f"Found {len(files)} files." if label_array is None
              else f"Found {len(files)} files belonging to {len(names)} classes.")
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(files)
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return files, label_array, names


def _check_split(validation_split, subset, shuffle, seed):
    if subset not in (None, "training", "validation", "both"):
        raise ConfigError(f"subset must be None, 'training', 'validation' or 'both', got {subset!r}.")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ConfigError(f"validation_split must be in (0, 1), got {validation_split!r}.")
    if (validation_split is None) != (subset is None):
        raise ConfigError("validation_split and subset go together: give both or neither.")
    if validation_split and shuffle and seed is None:
        raise ConfigError("With validation_split and shuffle=True, give a seed so that the training and "
                          "validation subsets do not overlap.")


def _split(files, labels, validation_split, subset):
    if not validation_split:
        return files, labels
    n_val = int(validation_split * len(files))
    part = slice(None, len(files) - n_val) if subset == "training" else slice(len(files) - n_val, None)
    return files[part], None if labels is None else labels[part]


def _encode_labels(labels, label_mode, num_classes):
    if label_mode == "int":
        return labels.astype("int32")
    if label_mode == "binary":
        return labels.astype("float32")[:, None]
    return np.eye(num_classes, dtype="float32")[labels]


def _label_mode(label_mode, labels, class_names):
    if label_mode not in ("int", "categorical", "binary", None):
        raise ConfigError(f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}.")
    if labels is None or label_mode is None:
        return None
    if label_mode == "binary" and len(class_names) != 2:
        raise ConfigError(f"label_mode='binary' needs exactly 2 classes, found {len(class_names)}: {class_names}.")
    return label_mode


def _datasets(files, labels, class_names, validation_split, subset, batch_size, label_mode, load):
    subsets = ("training", "validation") if subset == "both" else (subset,)
    out = []
    for which in subsets:
        part_files, part_labels = _split(files, labels, validation_split, which)
        encoded = None if label_mode is None else _encode_labels(part_labels, label_mode, len(class_names))

        def sample(indices, single=False, part_files=part_files, encoded=encoded):
            x = np.stack([load(part_files[i]) for i in indices])
            y = None if encoded is None else encoded[indices]
            if single:
                x, y = x[0], None if y is None else y[0]
            return x if y is None else (x, y)

        dataset = BatchedDataset(len(part_files), sample, batch_size)
        dataset.class_names = class_names
        dataset.file_paths = list(part_files)
        out.append(dataset)
    return out if subset == "both" else out[0]


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode: str = "rgb", batch_size: int | None = 32, image_size=(256, 256),
                                 shuffle: bool = True, seed=None, validation_split=None, subset=None,
                                 interpolation: str = "bilinear", follow_links: bool = False,
                                 crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
                                 data_format=None, format: str = "tf", verbose: bool = True):
    """Batches of images (float32, ``(batch, height, width, channels)``) and labels from class sub-folders.

    Arguments as Keras's: ``labels`` ``"inferred"`` (one sub-folder per class), None, or a list of labels
    for the sorted files; ``label_mode`` ``"int"``, ``"categorical"``, ``"binary"`` or None; ``color_mode``
    ``"grayscale"``, ``"rgb"`` or ``"rgba"``; ``image_size`` ``(height, width)``; ``interpolation``
    ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"lanczos3"`` or ``"lanczos5"``; ``crop_to_aspect_ratio`` /
    ``pad_to_aspect_ratio``: crop the centre (or pad with zeros) to ``image_size``'s aspect ratio first;
    ``validation_split`` + ``subset`` (``"training"``, ``"validation"`` or ``"both"``, which returns both).
    ``format`` is accepted for Keras's sake.

    Returns:
        A :class:`BatchedDataset` (or two, for ``subset="both"``) with ``class_names`` and ``file_paths``.
    """
    import jax
    import jax.numpy as jnp

    from kerasish.utils.images import _data_format, load_img

    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}
    if color_mode not in channels:
        raise ConfigError(f"color_mode must be 'grayscale', 'rgb' or 'rgba', got {color_mode!r}.")
    methods = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic", "lanczos3": "lanczos3",
               "lanczos5": "lanczos5"}
    if interpolation not in methods:
        raise ConfigError(f"interpolation must be one of {list(methods)}, got {interpolation!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ConfigError("Give crop_to_aspect_ratio or pad_to_aspect_ratio, not both.")
    if format not in ("tf", "grain"):
        raise ConfigError(f"format must be 'tf' or 'grain', got {format!r}.")
    first = _data_format(data_format) == "channels_first"
    _check_split(validation_split, subset, shuffle, seed)
    files, file_labels, names = _index(directory, labels, IMAGE_FORMATS, class_names, shuffle, seed, follow_links,
                                       verbose)
    label_mode = _label_mode(label_mode, file_labels, names)
    height, width = int(image_size[0]), int(image_size[1])

    def load(path):
        img = np.asarray(load_img(path, color_mode=color_mode), dtype="float32")
        img = img[..., None] if img.ndim == 2 else img
        h, w = img.shape[:2]
        if crop_to_aspect_ratio or pad_to_aspect_ratio:
            crop = crop_to_aspect_ratio
            target_h = min(h, (w * height) // width) if crop else max(h, (w * height) // width)
            target_w = min(w, (h * width) // height) if crop else max(w, (h * width) // height)
            if crop:
                top, left = (h - target_h) // 2, (w - target_w) // 2
                img = img[top:top + target_h, left:left + target_w]
            else:
                canvas = np.zeros((target_h, target_w, img.shape[2]), "float32")
                top, left = (target_h - h) // 2, (target_w - w) // 2
                canvas[top:top + h, left:left + w] = img
                img = canvas
        if img.shape[:2] != (height, width):
            img = np.asarray(jax.image.resize(jnp.asarray(img), (height, width, img.shape[2]),
                                              methods[interpolation], antialias=False))
        return img.transpose(2, 0, 1) if first else img

    return _datasets(files, file_labels, names, validation_split, subset, batch_size, label_mode, load)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                batch_size: int | None = 32, max_length=None, shuffle: bool = True, seed=None,
                                validation_split=None, subset=None, follow_links: bool = False, format: str = "tf",
                                verbose: bool = True):
    """Batches of texts (NumPy string arrays) and labels from class sub-folders of ``.txt`` files.

    Arguments as :func:`image_dataset_from_directory`'s; ``max_length`` truncates each text to that many
    characters. Texts are read as UTF-8. Feed the batches to a ``TextVectorization`` layer or model.
    """
    if format not in ("tf", "grain"):
        raise ConfigError(f"format must be 'tf' or 'grain', got {format!r}.")
    _check_split(validation_split, subset, shuffle, seed)
    files, file_labels, names = _index(directory, labels, (".txt",), class_names, shuffle, seed, follow_links,
                                       verbose)
    label_mode = _label_mode(label_mode, file_labels, names)

    def load(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return np.asarray(text if max_length is None else text[:max_length])

    return _datasets(files, file_labels, names, validation_split, subset, batch_size, label_mode, load)
