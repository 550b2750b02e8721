"""Custom Keras 3 layers shared by the keras_arches architectures."""

from keras_arches.layers.aux_head import AuxiliaryClassifier
from keras_arches.layers.fire import FireModule
from keras_arches.layers.lrn import LocalResponseNormalization, local_response_normalization
from keras_arches.layers.squeeze_excite import SqueezeExcite
from keras_arches.layers.stochastic_depth import StochasticDepth, drop_path_rates

__all__ = [
    "AuxiliaryClassifier",
    "FireModule",
    "LocalResponseNormalization",
    "SqueezeExcite",
    "StochasticDepth",
    "drop_path_rates",
    "local_response_normalization",
]
