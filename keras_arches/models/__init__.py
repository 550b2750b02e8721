"""The architectures, one module per family; importing registers them."""

from keras_arches.models.vgg import VGG16, VGG19

__all__ = ["VGG16", "VGG19"]
