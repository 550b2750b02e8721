"""Published PyTorch checkpoints (torchvision, timm, pytorchcv) in keras_arches models.

:func:`read_state_dict` reads a ``.safetensors``, ``.pth`` or pytorchcv ``.pth.zip`` file into
numpy arrays; :func:`load_state_dict` copies them into a model under one of the ``LAYOUTS``::

    model = keras_arches.ResNet18(weights=None)
    state = read_state_dict("resnet18.safetensors")
    load_state_dict(model, state, "torchvision.resnet")
"""

from keras_arches.pretrained.convert import Conversion, get_layout, load_state_dict
from keras_arches.pretrained.layout import Layout
from keras_arches.pretrained.maps import LAYOUTS
from keras_arches.pretrained.readers import read_state_dict

__all__ = [
    "Conversion", "LAYOUTS", "Layout", "get_layout", "load_state_dict", "read_state_dict",
]
