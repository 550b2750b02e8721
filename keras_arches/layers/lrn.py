"""Local response normalization across channels (AlexNet, GoogLeNet)."""

import keras
from keras import ops

from keras_arches.layers._data_format import standardize_data_format


def local_response_normalization(x, depth_radius=2, bias=1.0, alpha=1e-4, beta=0.75, axis=-1):
    """Backend-independent LRN along `axis`, with TensorFlow's formula.

    `sqr_sum[..., d] = sum(x[..., d - r : d + r + 1] ** 2)` (the window is clipped at the edges,
    which zero padding reproduces) and the result is `x / (bias + alpha * sqr_sum) ** beta`.
    """
    x = ops.convert_to_tensor(x)
    x = ops.moveaxis(x, axis, -1)
    depth = x.shape[-1]
    squared = ops.square(x)
    padding = [[0, 0]] * (len(x.shape) - 1) + [[depth_radius, depth_radius]]
    padded = ops.pad(squared, padding)
    sqr_sum = padded[..., 0:depth]
    for offset in range(1, 2 * depth_radius + 1):
        sqr_sum = sqr_sum + padded[..., offset : offset + depth]
    outputs = x / ops.power(bias + alpha * sqr_sum, beta)
    return ops.moveaxis(outputs, -1, axis)


@keras.saving.register_keras_serializable(package="keras_arches")
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel local response normalization (Krizhevsky et al. 2012, "ImageNet
    Classification with Deep Convolutional Neural Networks", sec. 3.3), with exactly
    TensorFlow's formula `x / (bias + alpha * sum(x[d-r:d+r+1] ** 2)) ** beta`. Note that, unlike
    Caffe, `alpha` is not divided by the window size: the paper's k=2, n=5, alpha=1e-4, beta=0.75
    are `depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75` here. Args: `depth_radius` (int >= 0,
    half-width of the window), `bias` (> 0), `alpha` (>= 0), `beta` (> 0), `data_format`
    ("channels_last"/"channels_first", default `keras.config.image_data_format()`). On the
    TensorFlow backend with 4-D channels_last input the fused `tf.nn.local_response_normalization`
    kernel is used (TFLite converts it to its builtin LRN op); otherwise the `keras.ops` version.
    The layer computes in float32 unless a `dtype` is given, because LRN is unstable in float16.
    Output: same shape as the input, float32 by default.
    """

    def __init__(self, depth_radius=2, bias=1.0, alpha=1e-4, beta=0.75, data_format=None, **kwargs):
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, int) or depth_radius < 0:
            raise ValueError(
                f"`depth_radius` must be an integer >= 0. Received: depth_radius={depth_radius!r}"
            )
        for arg, value, minimum in (("bias", bias, 0.0), ("beta", beta, 0.0)):
            if not float(value) > minimum:
                raise ValueError(f"`{arg}` must be > 0. Received: {arg}={value!r}")
        if not float(alpha) >= 0.0:
            raise ValueError(f"`alpha` must be >= 0. Received: alpha={alpha!r}")
        # float16 LRN overflows (sqr_sum) and fails under XLA; default to a float32 policy.
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.data_format = standardize_data_format(data_format)
        self.channel_axis = -1 if self.data_format == "channels_last" else 1

    def call(self, inputs):
        if (
            keras.backend.backend() == "tensorflow"
            and self.data_format == "channels_last"
            and len(inputs.shape) == 4
        ):
            import tensorflow as tf

            return tf.nn.local_response_normalization(
                inputs,
                depth_radius=self.depth_radius,
                bias=self.bias,
                alpha=self.alpha,
                beta=self.beta,
            )
        return local_response_normalization(
            inputs, self.depth_radius, self.bias, self.alpha, self.beta, axis=self.channel_axis
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "depth_radius": self.depth_radius,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
                "data_format": self.data_format,
            }
        )
        return config
