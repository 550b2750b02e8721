"""Batch normalization whose training step uses TensorFlow's fused kernel."""

import keras


@keras.saving.register_keras_serializable(package="keras_arches")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` (Ioffe & Szegedy 2015) with the same arguments, weights
    and results, whose training-mode call on the TensorFlow backend is one `FusedBatchNormV3` op
    (as Keras 2's `fused=True`) instead of Keras 3's composite of moments and element-wise ops.

    Keras 3.15's composite makes the backward pass of the CPU training step slow: on ResNet-50 and
    DenseNet-121 the whole step ran at about 0.8x-0.9x of timm's, and 1.2x with this op
    (BENCHMARKS.md, "The training step"). The moving statistics follow Keras' rule with the biased
    batch variance. Inference, the other backends, masks, renorm, synchronized statistics and
    inputs other than 4-D use the parent's code unchanged.
    """

    def _fusable(self, inputs, training, mask):
        return (
            training
            and self.trainable
            and mask is None
            and not self.renorm
            and not self.synchronized
            and len(inputs.shape) == 4
            and self.axis % 4 in (1, 3)
            and keras.backend.backend() == "tensorflow"
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf  # only on the TensorFlow backend

        x = tf.cast(inputs, tf.float32)  # as the parent: statistics in float32
        channels = x.shape[self.axis]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.zeros([0]), variance=tf.zeros([0]),
            epsilon=self.epsilon, data_format="NHWC" if self.axis % 4 == 3 else "NCHW",
            is_training=True,
        )
        # The op returns the unbiased (n - 1) batch variance; Keras averages the biased one.
        count = tf.cast(tf.size(x) // channels, tf.float32)
        variance = variance * (count - 1.0) / tf.maximum(count, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )
        return tf.cast(outputs, self.compute_dtype)
