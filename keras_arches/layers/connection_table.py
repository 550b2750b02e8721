"""Convolution with a sparse input-to-output connection table (LeNet-5's C3)."""

import keras
import numpy as np
from keras import ops

from keras_arches.checks import check_positive_int
from keras_arches.layers._data_format import standardize_data_format

# LeCun et al. 1998, Table I: the S2 feature maps (0-5) each C3 map (0-15) is connected to.
LENET5_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@keras.saving.register_keras_serializable(package="keras_arches")
class ConnectionTableConv2D(keras.layers.Layer):
    """A 'valid' 2D convolution in which output map ``j`` sees only the input maps listed in
    ``connections[j]`` (LeCun et al. 1998, "Gradient-based learning applied to document
    recognition", Table I: "break the symmetry" of C3 and cut its connections). Only the
    connected kernels are weights (``kernel``: ``(k, k, total connections)``; ``bias``: one per
    output map), so ``count_params()`` is the paper's (1,516 for C3); the dense kernel is
    gathered from them with zeros elsewhere at call time. Args: ``connections`` (a sequence of
    sequences of input-map indices, one per output map), ``kernel_size`` (int), ``activation``,
    ``data_format``. Output: ``len(connections)`` maps, 'valid' padding, stride 1.
    """

    def __init__(self, connections, kernel_size=5, activation=None, data_format=None, **kwargs):
        try:
            connections = [sorted(int(i) for i in maps) for maps in connections]
        except (TypeError, ValueError) as error:
            raise ValueError(
                "`connections` must be a sequence of sequences of input-map indices. "
                f"Received: connections={connections!r}"
            ) from error
        if not connections or any(
            not maps or min(maps) < 0 or len(set(maps)) != len(maps) for maps in connections
        ):
            raise ValueError(
                "Each output map must list distinct, non-negative input-map indices. "
                f"Received: connections={connections!r}"
            )
        check_positive_int("kernel_size", kernel_size)
        super().__init__(**kwargs)
        self.connections = connections
        self.kernel_size = kernel_size
        self.activation = keras.activations.get(activation)
        self.data_format = standardize_data_format(data_format)
        self.channel_axis = -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape):
        channels = input_shape[self.channel_axis]
        needed = 1 + max(max(maps) for maps in self.connections)
        if channels is None or channels < needed:
            raise ValueError(
                f"ConnectionTableConv2D: the connections use input maps up to {needed - 1}, but "
                f"the input has {channels} channels (input_shape={tuple(input_shape)})."
            )
        total = sum(len(maps) for maps in self.connections)
        k = self.kernel_size
        self.kernel = self.add_weight(
            name="kernel", shape=(k, k, total), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(
            name="bias", shape=(len(self.connections),), initializer="zeros"
        )
        # index[c, j]: position in `kernel` of connection (input c -> output j), or `total` (a
        # zero).
        index = np.full((channels, len(self.connections)), total, dtype="int32")
        position = 0
        for j, maps in enumerate(self.connections):
            for c in maps:
                index[c, j] = position
                position += 1
        self._index = index.reshape(-1)
        self._dense_shape = (k, k, channels, len(self.connections))

    def dense_kernel(self):
        """The full ``(k, k, in, out)`` kernel, zero where the table has no connection."""
        k = self.kernel_size
        padded = ops.concatenate(
            [self.kernel, ops.zeros((k, k, 1), dtype=self.kernel.dtype)], axis=-1
        )
        return ops.reshape(ops.take(padded, self._index, axis=-1), self._dense_shape)

    def call(self, inputs):
        kernel = ops.cast(self.dense_kernel(), inputs.dtype)
        x = ops.conv(inputs, kernel, strides=1, padding="valid", data_format=self.data_format)
        bias_shape = (1, 1, 1, -1) if self.data_format == "channels_last" else (1, -1, 1, 1)
        x = x + ops.reshape(ops.cast(self.bias, inputs.dtype), bias_shape)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        def size(n):
            return None if n is None else n - self.kernel_size + 1

        if self.data_format == "channels_last":
            height, width = size(input_shape[1]), size(input_shape[2])
            return (input_shape[0], height, width, len(self.connections))
        return (input_shape[0], len(self.connections), size(input_shape[2]), size(input_shape[3]))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "connections": [list(maps) for maps in self.connections],
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "data_format": self.data_format,
            }
        )
        return config
