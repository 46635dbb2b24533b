"""``kerasish.applications.resnet50``: ResNet50 and its preprocessing, as Keras's module of that name
(the same functions as :mod:`kerasish.applications.resnet`)."""

from kerasish.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
