"""VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2015).

Inputs are preprocessed with :func:`preprocess_input` ("caffe" mode: RGB to BGR, minus the ImageNet mean pixel).
"""

from __future__ import annotations

from kerasish.applications import _a_base, imagenet_utils
from kerasish.applications._a_vgg import build_vgg

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """The VGG16 network (13 convolutions in 5 blocks, then 3 dense layers); default input 224x224.

    Example:
        >>> model = kerasish.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
        >>> model.output_shape
        (None, 2, 2, 512)
    """
    return build_vgg((2, 2, 3, 3, 3), name=name, include_top=include_top, weights=weights,
                     input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation,
                     hashes=("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"))


_a_base.add_args_doc(VGG16, default_size=224, min_size=32)


def preprocess_input(x, data_format=None):
    """VGG16's preprocessing: ``imagenet_utils.preprocess_input`` in "caffe" mode (RGB to BGR, minus the
    ImageNet mean pixel, no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
