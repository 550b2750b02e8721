"""keras_arches: the classic CNN canon (1998-2017) as Keras 3 builders.

Every builder has the signature of ``keras.applications``; see
``list_models()`` for what is here and ``model_info(name)`` for each entry.
"""

__version__ = "0.1.0"

import keras_arches._import_order  # noqa: F401  (first: Triton before TensorFlow)
from keras_arches import (  # noqa: F401  (recipes registers schedules)
    _cli_startup,  # first, before TensorFlow loads: the keras-arches command's quiet start-up
    data,
    distributing,
    explain,
    layers,  # noqa: F401
    recipes,
    training,
)
from keras_arches.analysis import profile
from keras_arches.arch_model import ArchModel, strip_auxiliary
from keras_arches.data import class_names, decode_predictions, load_images, preprocess_input
from keras_arches.ensemble import ensemble
from keras_arches.exporting import export, export_all
from keras_arches.finetuning import finetune
from keras_arches.models import *  # noqa: F401,F403  (registers the builders)
from keras_arches.models import __all__ as _model_names
from keras_arches.registry import get_model, list_models, model_info
from keras_arches.saving import load_model
from keras_arches.training import train

__all__ = [
    "ArchModel", "class_names", "data", "decode_predictions", "ensemble", "export", "export_all",
    "finetune", "get_model", "layers", "list_models", "load_images", "load_model", "model_info",
    "preprocess_input", "profile", "recipes", "strip_auxiliary", "train", "training",
    *_model_names,
]
