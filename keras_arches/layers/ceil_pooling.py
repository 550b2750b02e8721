"""Pooling with Caffe's / PyTorch's ``ceil_mode`` output size."""

import keras
from keras import ops

from keras_arches.checks import check_positive_int
from keras_arches.layers._data_format import standardize_data_format


@keras.saving.register_keras_serializable(package="keras_arches")
class CeilPooling2D(keras.layers.Layer):
    """Max or average pooling whose output size rounds up, as Caffe (and PyTorch's
    ``ceil_mode=True``) compute it: ``ceil((size - pool_size) / strides) + 1``, with no padding at
    the start. Keras' "valid" rounds down and "same" pads both sides, so neither reproduces the
    spatial sizes of Caffe-era nets (GoogLeNet's 112->56, NiN's 54->27, SqueezeNet's 109->54).
    The input is padded at the end by ``strides - 1`` rows and columns: for max pooling with
    copies of its last row and column, which every clipped window already holds when
    ``pool_size >= strides`` (so the max is unchanged); for average pooling with zeros, left out
    of the divisor (Caffe counts only real elements in a clipped last window). Args:
    ``pool_size``, ``strides`` (positive ints), ``mode`` ("max" or "average"), ``data_format``.
    Output: ``(batch, ceil((h-k)/s)+1, ceil((w-k)/s)+1, channels)``.
    """

    def __init__(self, pool_size=3, strides=2, mode="max", data_format=None, **kwargs):
        for arg, value in (("pool_size", pool_size), ("strides", strides)):
            check_positive_int(arg, value)
        if mode not in ("max", "average"):
            raise ValueError(f"`mode` must be 'max' or 'average'. Received: mode={mode!r}")
        super().__init__(**kwargs)
        self.pool_size = pool_size
        self.strides = strides
        self.mode = mode
        self.data_format = standardize_data_format(data_format)

    def _spatial_axes(self):
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def _pad(self, x, value):
        end = self.strides - 1
        widths = [[0, 0]] * 4
        for axis in self._spatial_axes():
            widths[axis] = [0, end]
        return ops.pad(x, widths, constant_values=value)

    def _pad_with_edge(self, x):
        """``x`` with its last row and column repeated ``strides - 1`` times at the end.

        A concatenation, not ``ops.pad(constant_values=<tensor>)``, which the torch backend
        rejects, nor ``-inf`` padding, which makes full-integer TFLite models fail in XNNPACK.
        """
        end = self.strides - 1
        for axis in self._spatial_axes():
            last = [slice(None)] * 4
            last[axis] = slice(-1, None)
            x = ops.concatenate([x] + [x[tuple(last)]] * end, axis=axis)
        return x

    def _pool(self, x):
        pool = ops.max_pool if self.mode == "max" else ops.average_pool
        return pool(x, self.pool_size, self.strides, padding="valid", data_format=self.data_format)

    def call(self, inputs):
        if self.strides == 1:
            return self._pool(inputs)
        if self.mode == "max":
            return self._pool(self._pad_with_edge(inputs))
        # The mean over real elements only: padded sum / number of real elements.
        ones = ops.ones_like(
            inputs[..., :1] if self.data_format == "channels_last" else inputs[:, :1]
        )
        return self._pool(self._pad(inputs, 0.0)) / self._pool(self._pad(ones, 0.0))

    def compute_output_shape(self, input_shape):
        def size(n):
            if n is None:
                return None
            return -(-(n - self.pool_size) // self.strides) + 1

        if self.data_format == "channels_last":
            return (input_shape[0], size(input_shape[1]), size(input_shape[2]), input_shape[3])
        return (input_shape[0], input_shape[1], size(input_shape[2]), size(input_shape[3]))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "pool_size": self.pool_size,
                "strides": self.strides,
                "mode": self.mode,
                "data_format": self.data_format,
            }
        )
        return config
