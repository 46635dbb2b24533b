"""ResNet50V2, ResNet101V2 and ResNet152V2 (He et al., "Identity Mappings in Deep Residual Networks", 2016):
pre-activation residual blocks.

Inputs are preprocessed with :func:`preprocess_input` ("tf" mode: pixels scaled to [-1, 1]).
"""

from __future__ import annotations

from kerasish.applications import _a_base, imagenet_utils
from kerasish.applications.resnet import ResNet, stack_residual_blocks_v2

__all__ = ["ResNet101V2", "ResNet152V2", "ResNet50V2", "decode_predictions", "preprocess_input"]


def _v2_stages(depths):
    def stack_fn(x):
        for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), depths)):
            x = stack_residual_blocks_v2(x, filters, blocks, stride1=1 if i == 3 else 2, name=f"conv{i + 2}")
        return x

    return stack_fn


def _resnet_v2(depths, weights_name, **kwargs):
    return ResNet(_v2_stages(depths), preact=True, use_bias=True, weights_name=weights_name, **kwargs)


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
               classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """ResNet50V2 (stages of 3, 4, 6 and 3 pre-activation blocks); default input 224x224."""
    return _resnet_v2((3, 4, 6, 3), "resnet50v2", include_top=include_top, weights=weights,
                      input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                      classifier_activation=classifier_activation, name=name)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="resnet101v2"):
    """ResNet101V2 (stages of 3, 4, 23 and 3 pre-activation blocks); default input 224x224."""
    return _resnet_v2((3, 4, 23, 3), "resnet101v2", include_top=include_top, weights=weights,
                      input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                      classifier_activation=classifier_activation, name=name)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="resnet152v2"):
    """ResNet152V2 (stages of 3, 8, 36 and 3 pre-activation blocks); default input 224x224."""
    return _resnet_v2((3, 8, 36, 3), "resnet152v2", include_top=include_top, weights=weights,
                      input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                      classifier_activation=classifier_activation, name=name)


_a_base.add_args_doc(ResNet50V2, ResNet101V2, ResNet152V2, default_size=224, min_size=32)


def preprocess_input(x, data_format=None):
    """ResNetV2's preprocessing: ``imagenet_utils.preprocess_input`` in "tf" mode (pixels to [-1, 1])."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
