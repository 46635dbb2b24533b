"""``kerasish.applications``: Keras 3's ImageNet architectures, with Keras's arguments and layer names.

Every constructor takes Keras's arguments (``include_top``, ``weights``, ``input_tensor``, ``input_shape``,
``pooling``, ``classes``, ``classifier_activation`` and the family's own ones) and builds a functional
``kerasish.Model`` whose layers carry the names of Keras's, so Keras's weight files load into it
(``weights="imagenet"`` downloads Keras's published file once into the ``models`` folder of the dataset cache).
Each family is also a submodule with its ``preprocess_input`` and ``decode_predictions``
(``kerasish.applications.resnet50.preprocess_input``), as in Keras.

Example:
    >>> from kerasish.applications import ResNet50, resnet50
    >>> model = ResNet50(weights="imagenet")
    >>> preds = model.predict(resnet50.preprocess_input(images))
    >>> resnet50.decode_predictions(preds, top=3)

Submodules and constructors are imported on first use, so importing this package stays cheap.
"""

import importlib

# family submodules, by the names Keras uses
_SUBMODULES = (
    "convnext", "densenet", "efficientnet", "efficientnet_v2", "imagenet_utils", "inception_resnet_v2",
    "inception_v3", "mobilenet", "mobilenet_v2", "mobilenet_v3", "nasnet", "resnet", "resnet50", "resnet_v2",
    "vgg16", "vgg19", "xception",
)

# constructor -> the submodule that defines it
_CONSTRUCTORS = {
    **{f"ConvNeXt{size}": "convnext" for size in ("Tiny", "Small", "Base", "Large", "XLarge")},
    **{f"DenseNet{depth}": "densenet" for depth in (121, 169, 201)},
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2{v}": "efficientnet_v2" for v in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": "inception_resnet_v2",
    "InceptionV3": "inception_v3",
    "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3",
    "NASNetMobile": "nasnet",
    "NASNetLarge": "nasnet",
    **{f"ResNet{depth}": "resnet" for depth in (50, 101, 152)},
    **{f"ResNet{depth}V2": "resnet_v2" for depth in (50, 101, 152)},
    "VGG16": "vgg16",
    "VGG19": "vgg19",
    "Xception": "xception",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _CONSTRUCTORS:
        module = importlib.import_module(f"{__name__}.{_CONSTRUCTORS[name]}")
        value = getattr(module, name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_SUBMODULES, *_CONSTRUCTORS})


__all__ = sorted([*_CONSTRUCTORS, *_SUBMODULES])
