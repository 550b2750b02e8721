"""Custom Keras 3 layers shared by the keras_arches architectures."""

from keras_arches.layers.aux_head import AuxiliaryClassifier
from keras_arches.layers.batch_norm import FusedBatchNormalization
from keras_arches.layers.ceil_pooling import CeilPooling2D
from keras_arches.layers.connection_table import ConnectionTableConv2D
from keras_arches.layers.fire import FireModule
from keras_arches.layers.fractal_join import FractalJoin, GlobalDropPath
from keras_arches.layers.lrn import LocalResponseNormalization, local_response_normalization
from keras_arches.layers.squeeze_excite import SqueezeExcite
from keras_arches.layers.stochastic_depth import StochasticDepth, drop_path_rates

__all__ = [
    "AuxiliaryClassifier",
    "CeilPooling2D",
    "ConnectionTableConv2D",
    "FireModule",
    "FusedBatchNormalization",
    "FractalJoin",
    "GlobalDropPath",
    "LocalResponseNormalization",
    "SqueezeExcite",
    "StochasticDepth",
    "drop_path_rates",
    "local_response_normalization",
]
