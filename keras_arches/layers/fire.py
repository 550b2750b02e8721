"""SqueezeNet's fire module."""

import keras

from keras_arches.checks import check_positive_int
from keras_arches.layers._data_format import standardize_data_format


@keras.saving.register_keras_serializable(package="keras_arches")
class FireModule(keras.layers.Layer):
    """Fire module of SqueezeNet (Iandola et al. 2016, "SqueezeNet: AlexNet-level accuracy with
    50x fewer parameters and <0.5MB model size"): a 1x1 "squeeze" convolution with `squeeze`
    filters + ReLU, then the channel concatenation of a 1x1 convolution with `expand1x1` filters
    + ReLU and a 3x3 'same' convolution with `expand3x3` filters + ReLU. All convolutions have a
    bias; the sublayers are named "squeeze", "expand1x1", "expand3x3" (torchvision's order).
    Args: `squeeze`, `expand1x1`, `expand3x3` (positive ints), `data_format` (default
    `keras.config.image_data_format()`). Output: same spatial size as the input with
    `expand1x1 + expand3x3` channels.
    """

    def __init__(self, squeeze, expand1x1, expand3x3, data_format=None, **kwargs):
        for arg, value in (
            ("squeeze", squeeze),
            ("expand1x1", expand1x1),
            ("expand3x3", expand3x3),
        ):
            check_positive_int(arg, value)
        super().__init__(**kwargs)
        self.squeeze = squeeze
        self.expand1x1 = expand1x1
        self.expand3x3 = expand3x3
        self.data_format = standardize_data_format(data_format)
        self.channel_axis = -1 if self.data_format == "channels_last" else 1
        conv = dict(activation="relu", data_format=self.data_format, dtype=self.dtype_policy)
        self.squeeze_conv = keras.layers.Conv2D(squeeze, 1, name="squeeze", **conv)
        self.expand1x1_conv = keras.layers.Conv2D(expand1x1, 1, name="expand1x1", **conv)
        self.expand3x3_conv = keras.layers.Conv2D(
            expand3x3, 3, padding="same", name="expand3x3", **conv
        )
        self.concat = keras.layers.Concatenate(
            axis=self.channel_axis, name="concat", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        self.squeeze_conv.build(input_shape)
        squeezed_shape = self.squeeze_conv.compute_output_shape(input_shape)
        self.expand1x1_conv.build(squeezed_shape)
        self.expand3x3_conv.build(squeezed_shape)

    def call(self, inputs):
        squeezed = self.squeeze_conv(inputs)
        return self.concat([self.expand1x1_conv(squeezed), self.expand3x3_conv(squeezed)])

    def compute_output_shape(self, input_shape):
        output_shape = list(self.squeeze_conv.compute_output_shape(input_shape))
        output_shape[self.channel_axis] = self.expand1x1 + self.expand3x3
        return tuple(output_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "squeeze": self.squeeze,
                "expand1x1": self.expand1x1,
                "expand3x3": self.expand3x3,
                "data_format": self.data_format,
            }
        )
        return config
