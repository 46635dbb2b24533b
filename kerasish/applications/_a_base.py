"""The frame every convolutional application shares: argument checks, the image input, the classifier or
pooling head, and the final model with its weights.

A family module writes only its body; the constructor reads::

    img_input = start(name, weights, include_top, classes, pooling, input_tensor, input_shape, ...)
    x = body(img_input)
    x = head(x, include_top, pooling, classes, classifier_activation, weights)
    return finish(img_input, input_tensor, x, name, weights, include_top, **weight_files)
"""

from __future__ import annotations

from kerasish import layers
from kerasish.applications import imagenet_utils
from kerasish.applications._weights import check_weights_argument, load_weights
from kerasish.errors import ConfigError

_POOLINGS = (None, "avg", "max")


def check_pooling(pooling, name: str) -> None:
    """``pooling`` must be None, ``"avg"`` or ``"max"`` (Keras ignores other values; kerasish rejects them)."""
    if pooling not in _POOLINGS:
        raise ConfigError(f"{name}: pooling must be None, 'avg' or 'max'; got pooling={pooling!r}.")


def image_input(input_tensor, input_shape, name: str):
    """The model's image tensor: ``input_tensor`` itself, or a new ``Input`` of ``input_shape``."""
    from kerasish.backend import is_keras_tensor

    if input_tensor is None:
        return layers.Input(shape=input_shape)
    if not is_keras_tensor(input_tensor):
        raise ConfigError(f"{name}: input_tensor must be a symbolic tensor (the output of kerasish.Input() or of "
                          f"a layer called on one); got {type(input_tensor).__name__}.")
    return input_tensor


def start(name: str, *, weights, include_top: bool, classes: int, pooling, input_tensor, input_shape,
          default_size: int, min_size: int, require_flatten: bool | None = None):
    """Check the common arguments and return the image input tensor.

    Args:
        name: the application's name, for error messages.
        default_size / min_size: the model's default and smallest height and width.
        require_flatten: whether the input shape must be static; default ``include_top``.
    """
    check_weights_argument(weights, include_top, classes, name=name)
    check_pooling(pooling, name)
    shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=min_size, data_format="channels_last",
        require_flatten=include_top if require_flatten is None else require_flatten, weights=weights)
    return image_input(input_tensor, shape, name)


def head(x, *, include_top: bool, pooling, classes: int, classifier_activation, weights,
         top_pool_name: str | None = "avg_pool", avg_name: str | None = None, max_name: str | None = None):
    """Global average pooling and the ``predictions`` classifier, or the feature-extractor pooling.

    ``top_pool_name`` names the pooling before the classifier; ``avg_name`` / ``max_name`` name the pooling
    layers of ``include_top=False`` (None: automatic names, as most Keras families use).
    """
    if include_top:
        x = layers.GlobalAveragePooling2D(name=top_pool_name)(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def finish(img_input, input_tensor, x, name: str, *, weights, include_top: bool, **weight_files):
    """The functional model from the graph's source inputs to ``x``, with ``weights`` loaded.

    ``weight_files`` are :func:`kerasish.applications._weights.load_weights`'s file arguments
    (``fname_top``, ``origin_top``, ``hash_top``, and the same ``_notop``).
    """
    from kerasish.models import Model
    from kerasish.utils import get_source_inputs

    inputs = img_input if input_tensor is None else get_source_inputs(input_tensor)
    model = Model(inputs, x, name=name)
    load_weights(model, weights, include_top=include_top, **weight_files)
    return model


def add_args_doc(*constructors, default_size: int, min_size: int) -> None:
    """Append the shared ``Args:`` section (sizes filled in) to each constructor's docstring."""
    for fn in constructors:
        if fn.__doc__ is not None:  # None under python -OO
            fn.__doc__ = fn.__doc__.rstrip() + "\n" + _args_doc(default_size, min_size)


def _args_doc(default_size: int, min_size: int) -> str:
    return f"""
    Args:
        include_top: whether to build the classifier (global average pooling and a dense ``predictions``
            layer, VGG: three dense layers) on top of the convolutional features.
        weights: None (random initialization), ``"imagenet"`` (Keras's published ImageNet weights, downloaded
            once into the ``models`` folder of the dataset cache) or the path of a weights file to load.
        input_tensor: an optional symbolic tensor (``kerasish.Input(...)`` or a layer's output) to use as the
            image input; the model's inputs are then the graph's source inputs.
        input_shape: the image shape without the batch axis, channels last. With ``include_top=True`` and
            ImageNet weights it must be ``({default_size}, {default_size}, 3)``; otherwise any static or
            None height and width of at least {min_size}. Default: ``({default_size}, {default_size}, 3)``
            with the top, ``(None, None, 3)`` without.
        pooling: with ``include_top=False``: None (the model returns the last 4D feature map), ``"avg"`` or
            ``"max"`` (global average / max pooling: the model returns 2D features).
        classes: number of classes of the classifier (1000 with ImageNet weights).
        classifier_activation: activation of the ``predictions`` layer (a name, a callable, or None for
            logits); only None or ``"softmax"`` with pretrained weights.
        name: the model's name.

    Returns:
        A functional ``kerasish.Model``.

    Raises:
        ConfigError: a bad ``weights``, ``pooling``, ``input_shape``, ``input_tensor`` or
            ``classifier_activation``, or ``classes != 1000`` with ImageNet weights and the top.
    """
