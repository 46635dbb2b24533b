"""ConvNeXt Tiny, Small, Base, Large and XLarge (Liu et al., "A ConvNet for the 2020s", CVPR 2022).

Keras's architecture, layer names and ImageNet weights (Base, Large and XLarge pre-trained on ImageNet-21k,
then fine-tuned on ImageNet-1k). The models normalize their inputs themselves (a ``Normalization`` layer
with ImageNet's mean and variance): give them images with values in [0, 255]; :func:`preprocess_input`
returns its input unchanged. Channels-last only.

Example:
    >>> model = kerasish.applications.ConvNeXtTiny(weights=None, include_top=False, pooling="avg",
    ...                                            input_shape=(64, 64, 3))
    >>> model.output_shape
    (None, 768)
"""

from __future__ import annotations

import numpy as np

from kerasish import backend, initializers, layers
from kerasish.applications import _c_common as common
from kerasish.applications import imagenet_utils
from kerasish.errors import ConfigError
from kerasish.layers import Layer
from kerasish.models import Model, Sequential

__all__ = ["ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge", "LayerScale",
           "StochasticDepth", "decode_predictions", "preprocess_input"]

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/convnext/"

# (file with the classifier, file without it): SHA-256 hashes Keras publishes.
WEIGHTS_HASHES = {
    "convnext_tiny": ("8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                      "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
    "convnext_small": ("ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
                       "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab"),
    "convnext_base": ("52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
                      "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45"),
    "convnext_large": ("070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
                       "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd"),
    "convnext_xlarge": ("c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
                        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05"),
}

MODEL_CONFIGS = {
    "tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "small": {"depths": [3, 3, 27, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "base": {"depths": [3, 3, 27, 3], "projection_dims": [128, 256, 512, 1024], "default_size": 224},
    "large": {"depths": [3, 3, 27, 3], "projection_dims": [192, 384, 768, 1536], "default_size": 224},
    "xlarge": {"depths": [3, 3, 27, 3], "projection_dims": [256, 512, 1024, 2048], "default_size": 224},
}


class StochasticDepth(Layer):
    """Drops a residual branch for whole samples while training (DropPath, "stochastic depth").

    In training, each sample's branch is zeroed with probability ``drop_path_rate`` and kept ones are scaled
    by ``1 / (1 - drop_path_rate)``; in inference the input passes unchanged.

    Args:
        drop_path_rate: probability of dropping the branch, in [0, 1).

    Input shape:
        Any shape with a batch axis first.

    Output shape:
        Same as the input.
    """

    def __init__(self, drop_path_rate, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= drop_path_rate < 1:
            raise ConfigError(f"StochasticDepth: drop_path_rate must be in [0, 1), got {drop_path_rate!r}.")
        self.drop_path_rate = drop_path_rate

    def call(self, x, training=None):
        if not training or not self.drop_path_rate:
            return x
        import jax

        keep_prob = 1.0 - self.drop_path_rate
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        keep = jax.random.bernoulli(self.random_key(x), keep_prob, shape)
        return (x / keep_prob) * keep.astype(x.dtype)

    def get_config(self):
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate}


class LayerScale(Layer):
    """Multiplies the last axis by a learned per-channel scale (Touvron et al., "Going deeper with Image
    Transformers", 2021), initialized to ``init_values``.

    Args:
        init_values: initial value of every scale (small: the residual branch starts almost switched off).
        projection_dim: the number of channels (size of the last axis).

    Input shape:
        ``(..., projection_dim)``.

    Output shape:
        Same as the input.
    """

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(self.projection_dim,),
                                     initializer=initializers.Constant(self.init_values), trainable=True)

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}


def ConvNeXtBlock(projection_dim, drop_path_rate=0.0, layer_scale_init_value=1e-6, name=None):
    """One ConvNeXt block: 7x7 depthwise conv, LayerNorm, an MLP (dense layers as 1x1 convs, GELU),
    layer scale, and the residual connection.

    Returns:
        A function of the input tensor that builds the block (layer names prefixed with ``name``).
    """
    if name is None:
        name = f"prestem{backend.get_uid('prestem')}"

    def apply(inputs):
        x = layers.Conv2D(filters=projection_dim, kernel_size=7, padding="same", groups=projection_dim,
                          name=f"{name}_depthwise_conv")(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = LayerScale(layer_scale_init_value, projection_dim, name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            branch = StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")
        else:
            branch = layers.Activation("linear", name=f"{name}_identity")
        return inputs + branch(x)

    return apply


def PreStem(name=None):
    """Normalization of [0, 255] RGB inputs with ImageNet-1k's mean and standard deviation."""
    if name is None:
        name = f"prestem{backend.get_uid('prestem')}"

    def apply(x):
        return layers.Normalization(mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
                                    variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
                                    name=f"{name}_prestem_normalization")(x)

    return apply


def Head(num_classes=1000, classifier_activation=None, name=None):
    """The classifier: global average pooling, LayerNorm and a ``num_classes``-way dense layer."""
    if name is None:
        name = str(backend.get_uid("head"))

    def apply(x):
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        return layers.Dense(num_classes, activation=classifier_activation, name=f"{name}_head_dense")(x)

    return apply


def _downsampling_layers(name: str, projection_dims) -> list:
    """The stem (4x4 patches) and the three 2x2 downsamplings, each a nested ``Sequential`` as Keras's."""
    stem = Sequential([layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
                       layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm")],
                      name=f"{name}_stem")
    return [stem] + [
        Sequential([layers.LayerNormalization(epsilon=1e-6, name=f"{name}_downsampling_layernorm_{i}"),
                    layers.Conv2D(projection_dims[i + 1], kernel_size=2, strides=2,
                                  name=f"{name}_downsampling_conv_{i}")],
                   name=f"{name}_downsampling_block_{i}")
        for i in range(3)
    ]


def _check_imagenet_config(weights_name, depths, projection_dims, name) -> None:
    expected = MODEL_CONFIGS.get(str(weights_name).split("convnext_")[-1])
    if expected is None:
        raise ConfigError(f"{name}: no ImageNet weights are published for weights_name={weights_name!r}.")
    if list(depths) != expected["depths"] or list(projection_dims) != expected["projection_dims"]:
        raise ConfigError(f"{name}: ImageNet weights of {weights_name} need depths={expected['depths']} and "
                          f"projection_dims={expected['projection_dims']}; got depths={list(depths)} and "
                          f"projection_dims={list(projection_dims)}.")
    if weights_name not in name:
        raise ConfigError(f"With weights='imagenet' the model name must contain {weights_name!r} (the file "
                          f"names follow it); got name={name!r}.")


def ConvNeXt(depths, projection_dims, drop_path_rate=0.0, layer_scale_init_value=1e-6, default_size=224,
             name="convnext", include_preprocessing=True, include_top=True, weights=None, input_tensor=None,
             input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", weights_name=None):
    """A ConvNeXt of the given stage depths and widths (the variants' constructors call this).

    Args:
        depths: the number of blocks of each of the four stages.
        projection_dims: the channels of each stage.
        drop_path_rate: stochastic depth rate, growing linearly from 0 to this along the blocks (0: none).
        layer_scale_init_value: initial layer scale (None: no ``LayerScale``).
        default_size: the default input height and width.
        name: the model's name (and the prefix of its layer names).
        include_preprocessing: normalize [0, 255] inputs inside the model (when they have 3 channels).
        include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation: as in
            :func:`ConvNeXtTiny`.
        weights_name: the variant (``"convnext_tiny"`` ...) whose published weights ``weights="imagenet"``
            loads.

    Returns:
        A functional ``Model``.
    """
    common.check_arguments(name, weights, include_top, classes, pooling)
    if weights == "imagenet":
        _check_imagenet_config(weights_name, depths, projection_dims, name)
    input_shape = common.obtain_input_shape(input_shape, default_size, include_top, weights)
    img_input = common.image_input(input_tensor, input_shape)
    inputs = img_input if input_tensor is None else common.model_inputs(input_tensor, img_input)[0]

    x = img_input
    if include_preprocessing and input_shape[-1] == 3:
        x = PreStem(name=name)(x)

    drop_rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    downsampling = _downsampling_layers(name, projection_dims)
    start = 0
    for i in range(4):
        x = downsampling[i](x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(projection_dim=projection_dims[i], drop_path_rate=drop_rates[start + j],
                              layer_scale_init_value=layer_scale_init_value, name=f"{name}_stage_{i}_block_{j}")(x)
        start += depths[i]

    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Head(num_classes=classes, classifier_activation=classifier_activation, name=name)(x)
    else:
        x = common.pooled(x, pooling, avg_name=None, max_name=None)
        x = layers.LayerNormalization(epsilon=1e-6)(x)

    model = Model(inputs=inputs, outputs=x, name=name)
    common.load_published(model, weights, include_top=include_top, base_url=BASE_WEIGHTS_PATH, file_stem=name,
                          hashes=WEIGHTS_HASHES.get(weights_name))
    return model


def _variant(size: str):
    config = MODEL_CONFIGS[size]
    key = f"convnext_{size}"

    def constructor(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
                    input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name=key):
        return ConvNeXt(weights_name=key, depths=config["depths"], projection_dims=config["projection_dims"],
                        drop_path_rate=0.0, layer_scale_init_value=1e-6, default_size=config["default_size"],
                        name=name, include_top=include_top, include_preprocessing=include_preprocessing,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation)

    title = "XLarge" if size == "xlarge" else size.capitalize()
    constructor.__name__ = constructor.__qualname__ = f"ConvNeXt{title}"
    constructor.__doc__ = f"""The ConvNeXt{title} image classifier (depths {config['depths']}, widths
    {config['projection_dims']}, default input 224x224).

    The model normalizes its inputs itself: give it RGB images with values in [0, 255].

    Args:
        include_top: build the classifier (global average pooling, LayerNorm, a ``classes``-way dense
            layer). Defaults to True.
        include_preprocessing: normalize the inputs inside the model (keep True with ImageNet weights).
        weights: None (random initialization), ``"imagenet"`` (Keras's ImageNet weights, downloaded once into
            the dataset cache) or the path of a weights file. Defaults to ``"imagenet"``.
        input_tensor: an optional ``kerasish.Input`` (or a layer's output) to build the model on.
        input_shape: the image shape without the batch axis, e.g. ``(224, 224, 3)``; at least 32x32.
            Free (``(None, None, 3)``) when ``include_top`` is False and it is not given.
        pooling: with ``include_top=False``: None (4D features), ``"avg"`` or ``"max"`` (global pooling to
            2D); a final LayerNormalization follows in every case.
        classes: size of the classifier; 1000 with ImageNet weights.
        classifier_activation: activation of the classifier (None gives logits); with pretrained weights only
            None or ``"softmax"``.
        name: the model's name and the prefix of its layer names (must contain ``"{key}"`` with ImageNet
            weights).

    Returns:
        A functional ``Model``.

    Raises:
        ConfigError: bad ``weights``, ``pooling``, ``input_shape``, ``classes``, ``classifier_activation`` or
            ``name``.
    """
    return constructor


ConvNeXtTiny = _variant("tiny")
ConvNeXtSmall = _variant("small")
ConvNeXtBase = _variant("base")
ConvNeXtLarge = _variant("large")
ConvNeXtXLarge = _variant("xlarge")


def preprocess_input(x, data_format=None):
    """ConvNeXt models normalize their inputs themselves: ``x`` is returned unchanged.

    Args:
        x: RGB images with values in [0, 255] (NumPy array or tensor).
        data_format: unused (accepted as Keras's).

    Returns:
        ``x`` itself.
    """
    return x


def decode_predictions(preds, top: int = 5):
    """The ``top`` best ImageNet classes ``(class_name, description, score)`` of each row of ``preds``
    (shape ``(samples, 1000)``), as ``imagenet_utils.decode_predictions``."""
    return imagenet_utils.decode_predictions(preds, top=top)
