"""Squeeze-and-excitation block."""

import keras
from keras import ops

from keras_arches.checks import check_positive_int
from keras_arches.layers._data_format import standardize_data_format


@keras.saving.register_keras_serializable(package="keras_arches")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-excitation block (Hu et al. 2018, "Squeeze-and-Excitation Networks") in timm's
    `SEModule` layout: global average pooling over the spatial axes, a 1x1 convolution "fc1" to
    `reduced_channels` with bias + ReLU, a 1x1 convolution "fc2" back to the input channels with
    bias + sigmoid, and the product of that gate with the input. Args: `reduced_channels`
    (positive int, or None for `max(1, int(channels * ratio))`), `ratio` (in (0, 1], used only
    when `reduced_channels` is None), `data_format` (default `keras.config.image_data_format()`).
    Output: same shape as the input (4-D).
    """

    def __init__(self, reduced_channels=None, ratio=1 / 16, data_format=None, **kwargs):
        check_positive_int("reduced_channels", reduced_channels, allow_none=True)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 < ratio <= 1.0:
            raise ValueError(f"`ratio` must be a number in (0, 1]. Received: ratio={ratio!r}")
        super().__init__(**kwargs)
        self.reduced_channels = reduced_channels
        self.ratio = float(ratio)
        self.data_format = standardize_data_format(data_format)
        self.channel_axis = -1 if self.data_format == "channels_last" else 1
        self.spatial_axes = (1, 2) if self.data_format == "channels_last" else (2, 3)
        # fc1's width depends on the input channels when reduced_channels is None: made in build.
        self.fc1 = None
        self.fc2 = None

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"SqueezeExcite expects a 4-D input. Received: input_shape={input_shape}"
            )
        channels = input_shape[self.channel_axis]
        if channels is None:
            raise ValueError(
                "SqueezeExcite needs a known channel dimension. "
                f"Received: input_shape={input_shape}"
            )
        reduced = self.reduced_channels or max(1, int(channels * self.ratio))
        conv = dict(kernel_size=1, data_format=self.data_format, dtype=self.dtype_policy)
        self.fc1 = keras.layers.Conv2D(reduced, activation="relu", name="fc1", **conv)
        self.fc2 = keras.layers.Conv2D(channels, activation="sigmoid", name="fc2", **conv)
        pooled_shape = list(input_shape)
        for axis in self.spatial_axes:
            pooled_shape[axis] = 1
        self.fc1.build(tuple(pooled_shape))
        self.fc2.build(self.fc1.compute_output_shape(tuple(pooled_shape)))

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=self.spatial_axes, keepdims=True)
        return inputs * self.fc2(self.fc1(pooled))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "reduced_channels": self.reduced_channels,
                "ratio": self.ratio,
                "data_format": self.data_format,
            }
        )
        return config
