"""VGG19 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2015).

Inputs are preprocessed with :func:`preprocess_input` ("caffe" mode: RGB to BGR, minus the ImageNet mean pixel).
"""

from __future__ import annotations

from kerasish.applications import _a_base, imagenet_utils
from kerasish.applications._a_vgg import build_vgg

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """The VGG19 network (16 convolutions in 5 blocks, then 3 dense layers); default input 224x224.

    Example:
        >>> model = kerasish.applications.VGG19(weights=None, include_top=False, input_shape=(64, 64, 3))
        >>> model.output_shape
        (None, 2, 2, 512)
    """
    return build_vgg((2, 2, 4, 4, 4), name=name, include_top=include_top, weights=weights,
                     input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                     classifier_activation=classifier_activation,
                     hashes=("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"))


_a_base.add_args_doc(VGG19, default_size=224, min_size=32)


def preprocess_input(x, data_format=None):
    """VGG19's preprocessing: ``imagenet_utils.preprocess_input`` in "caffe" mode (RGB to BGR, minus the
    ImageNet mean pixel, no scaling)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each row of ``preds`` (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
