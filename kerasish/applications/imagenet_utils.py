"""Shared helpers of the ImageNet applications: input preprocessing, decoding class scores, input-shape checks.

The three preprocessing conventions of the published ImageNet weights:

- ``"caffe"``: RGB is turned into BGR and each channel has the ImageNet mean pixel subtracted (no scaling);
- ``"tf"``: pixels are mapped from [0, 255] to [-1, 1];
- ``"torch"``: pixels are mapped to [0, 1], then each channel is standardized with ImageNet's mean and std.

Example:
    >>> x = np.random.uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    >>> kerasish.applications.imagenet_utils.preprocess_input(x, mode="tf").min() >= -1
    True
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from kerasish import activations, ops, settings
from kerasish.errors import ConfigError, InputError

__all__ = ["decode_predictions", "obtain_input_shape", "preprocess_input", "validate_activation"]

CLASS_INDEX = None  # the parsed ImageNet class index, read once
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_MODES = ("caffe", "tf", "torch")
_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR order, 0-255 scale
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def _check_data_format(data_format, where: str) -> str:
    if data_format is None:
        return settings.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ConfigError(f"{where}: data_format must be 'channels_first' or 'channels_last', "
                          f"got data_format={data_format!r}.")
    return data_format


def preprocess_input(x, data_format=None, mode: str = "caffe"):
    """Scale a batch of RGB images (values 0..255) the way an ImageNet model's weights expect.

    Args:
        x: a float NumPy array or a JAX array / ``KerasTensor``, 3D (one image) or 4D (a batch), with 3 color
            channels. As in Keras, a float NumPy array is modified in place (pass ``np.copy(x)`` to keep it);
            an integer array is first converted to ``floatx()``.
        data_format: ``"channels_last"`` (the default, ``kerasish.config.image_data_format()``) or
            ``"channels_first"``.
        mode: ``"caffe"`` (RGB to BGR, minus the ImageNet mean pixel), ``"tf"`` (to [-1, 1]) or ``"torch"``
            (to [0, 1], then standardized per channel).

    Returns:
        The preprocessed images, same type and shape as ``x``.

    Raises:
        ConfigError: unknown ``mode`` or ``data_format``.
    """
    if mode not in _MODES:
        raise ConfigError(f"preprocess_input: mode must be one of 'caffe', 'tf' or 'torch', got mode={mode!r}.")
    data_format = _check_data_format(data_format, "preprocess_input")
    if isinstance(x, np.ndarray):
        return _preprocess_numpy(x, data_format, mode)
    return _preprocess_tensor(x, data_format, mode)


def _mean_std(mode: str):
    if mode == "torch":
        return _TORCH_MEAN, _TORCH_STD
    return _CAFFE_MEAN, None


def _preprocess_numpy(x: np.ndarray, data_format: str, mode: str) -> np.ndarray:
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(settings.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
    channel_axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
    if mode == "caffe":
        x = np.flip(x, axis=channel_axis)  # a view: the in-place updates below still reach the caller's array
    mean, std = _mean_std(mode)
    for c in range(3):
        index = [slice(None)] * x.ndim
        index[channel_axis] = c
        index = tuple(index)
        x[index] -= mean[c]
        if std is not None:
            x[index] /= std[c]
    return x


def _channel_shape(ndim: int, data_format: str) -> tuple[int, ...]:
    if data_format == "channels_last":
        return (1,) * (ndim - 1) + (3,)
    return (3, 1, 1) if ndim == 3 else (1, 3) + (1,) * (ndim - 2)


def _preprocess_tensor(x, data_format: str, mode: str):
    ndim = len(x.shape)
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "torch":
        x = x / 255.0
    else:
        channel_axis = -1 if data_format == "channels_last" else (0 if ndim == 3 else 1)
        x = ops.flip(x, axis=channel_axis)
    mean, std = _mean_std(mode)
    shape = _channel_shape(ndim, data_format)
    x = x - ops.reshape(ops.convert_to_tensor(np.array(mean), dtype=x.dtype), shape)
    if std is not None:
        # Keras divides by a (3, 1, 1) std for every channels-first rank; the same shape broadcasts alike
        x = x / ops.reshape(ops.convert_to_tensor(np.array(std), dtype=x.dtype), shape)
    return x


def _class_index() -> dict:
    global CLASS_INDEX
    if CLASS_INDEX is None:
        from kerasish.utils import get_file

        path = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                        file_hash=CLASS_INDEX_HASH)
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    return CLASS_INDEX


def decode_predictions(preds, top: int = 5) -> list[list[tuple]]:
    """The ``top`` best ImageNet classes of each row of ``preds``.

    The class index (``imagenet_class_index.json``) is downloaded once into the ``models`` folder of the
    dataset cache (``kerasish.utils.get_file``).

    Args:
        preds: scores of shape ``(samples, 1000)`` (NumPy or JAX array).
        top: how many classes to return per sample.

    Returns:
        One list per sample of ``(class_name, class_description, score)`` tuples, best first.

    Raises:
        InputError: ``preds`` is not of shape ``(samples, 1000)``.

    Example:
        >>> decode_predictions(model.predict(images), top=3)[0]
        [('n02504458', 'African_elephant', 0.81), ...]
    """
    shape = tuple(getattr(preds, "shape", np.shape(preds)))
    if len(shape) != 2 or shape[1] != 1000:
        raise InputError("decode_predictions expects a batch of ImageNet scores, an array of shape "
                         f"(samples, 1000); got an array of shape {shape}.")
    index = _class_index()
    scores = np.asarray(ops.convert_to_numpy(preds))
    results = []
    for row in scores:
        best = row.argsort()[-top:][::-1]
        decoded = [(*index[str(i)], row[i]) for i in best]
        decoded.sort(key=lambda item: item[2], reverse=True)
        results.append(decoded)
    return results


def obtain_input_shape(input_shape, default_size: int, min_size: int, data_format: str, require_flatten: bool,
                       weights=None) -> tuple:
    """Check a user's ``input_shape`` for an application (or pick its default) and return the shape to build.

    Args:
        input_shape: None (use the default) or a 3-tuple of the image's shape without the batch axis.
        default_size: the model's default height and width.
        min_size: the smallest height and width the model accepts.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        require_flatten: whether the top is a ``Flatten`` + dense classifier (then the shape must be static).
        weights: None, ``"imagenet"`` or a file path; ImageNet weights need 3 channels (and the default size
            when ``require_flatten``).

    Returns:
        The shape as a tuple, possibly with None height and width.

    Raises:
        ConfigError: a shape of the wrong rank, too small, with the wrong channels for ImageNet weights, or
            not static when ``require_flatten``.
    """
    channels_first = data_format == "channels_first"
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn(f"This model usually expects 1 or 3 input channels; input_shape={input_shape} has "
                          f"{channels}.", stacklevel=2)
        default_shape = (channels, default_size, default_size) if channels_first else (
            default_size, default_size, channels)
    else:
        default_shape = (3, default_size, default_size) if channels_first else (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ConfigError("With include_top=True and weights='imagenet', input_shape must be "
                              f"{default_shape}; got input_shape={input_shape}.")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ConfigError(f"input_shape must be a tuple of three integers; got input_shape={input_shape}.")
        channels = input_shape[0] if channels_first else input_shape[-1]
        if channels != 3 and weights == "imagenet":
            raise ConfigError(f"ImageNet weights need 3 input channels; got input_shape={input_shape}.")
        spatial = input_shape[1:] if channels_first else input_shape[:2]
        if any(size is not None and size < min_size for size in spatial):
            raise ConfigError(f"Input size must be at least {min_size}x{min_size}; got input_shape={input_shape}.")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if channels_first else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ConfigError("With include_top=True the input_shape must be static (no None); "
                          f"got input_shape={input_shape}.")
    return input_shape


def correct_pad(inputs, kernel_size) -> tuple[tuple[int, int], tuple[int, int]]:
    """The ``ZeroPadding2D`` padding that makes a strided "valid" convolution of ``kernel_size`` behave like
    TensorFlow's "same" one on ``inputs`` (a 4D tensor, channels last)."""
    height, width = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if height is None else (1 - height % 2, 1 - width % 2)
    half = (kernel_size[0] // 2, kernel_size[1] // 2)
    return (half[0] - adjust[0], half[0]), (half[1] - adjust[1], half[1])


def validate_activation(classifier_activation, weights) -> None:
    """Pretrained weights allow only ``None`` or ``"softmax"`` as ``classifier_activation``.

    Raises:
        ConfigError: another activation together with ``weights`` that are not None.
    """
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in (activations.get("softmax"), activations.get(None)):
        raise ConfigError("With pretrained weights and include_top=True, classifier_activation must be None or "
                          f"'softmax'; got classifier_activation={classifier_activation!r}.")
