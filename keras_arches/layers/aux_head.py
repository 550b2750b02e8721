"""Auxiliary classifier heads of GoogLeNet and Inception v3."""

import keras

from keras_arches.checks import check_positive_int, check_rate
from keras_arches.layers._data_format import standardize_data_format
from keras_arches.layers.batch_norm import FusedBatchNormalization


@keras.saving.register_keras_serializable(package="keras_arches")
class AuxiliaryClassifier(keras.layers.Layer):
    """Auxiliary classifier head of GoogLeNet (Szegedy et al. 2014, "Going deeper with
    convolutions": average pooling `pool_size`/`pool_strides` 'valid' -> 1x1 conv `filters` + ReLU
    -> flatten -> FC `hidden_units` + ReLU -> dropout `dropout_rate` -> FC `classes`), the
    defaults, and of Inception v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture")
    with `batch_norm=True, conv2_filters=768, conv2_kernel=5, hidden_units=None, dropout_rate=0`
    (1x1 conv 128 + BN + ReLU -> 5x5 'valid' conv 768 + BN + ReLU -> flatten -> FC `classes`).
    With `batch_norm` the convolutions have no bias and BN uses epsilon=1e-3 and no gamma
    (keras.applications' `conv2d_bn`), or a gamma with `bn_scale=True` (torchvision 0.29's
    `InceptionAux`, whose adaptive average pool is the identity on its 1x1 map at 299 px).
    `hidden_units=None` drops the hidden FC, `dropout_rate=0` the dropout, `conv2_filters=None`
    the second conv. Sublayers: "pool", "conv", "bn", "conv2", "bn2", "flatten", "fc",
    "dropout", "classifier". Under a mixed-precision policy the classifier computes in float32.
    Output: `(batch, classes)` scores after `classifier_activation` (None gives logits).
    """

    def __init__(
        self,
        classes,
        pool_size=5,
        pool_strides=3,
        filters=128,
        conv2_filters=None,
        conv2_kernel=5,
        hidden_units=1024,
        dropout_rate=0.7,
        batch_norm=False,
        bn_scale=False,
        classifier_activation="softmax",
        data_format=None,
        **kwargs,
    ):
        for arg, value in (
            ("classes", classes),
            ("pool_size", pool_size),
            ("pool_strides", pool_strides),
            ("filters", filters),
            ("conv2_kernel", conv2_kernel),
        ):
            check_positive_int(arg, value)
        check_positive_int("conv2_filters", conv2_filters, allow_none=True)
        check_positive_int("hidden_units", hidden_units, allow_none=True)
        check_rate("dropout_rate", dropout_rate)
        for arg, value in (("batch_norm", batch_norm), ("bn_scale", bn_scale)):
            if not isinstance(value, bool):
                raise ValueError(f"`{arg}` must be True or False. Received: {arg}={value!r}")
        keras.activations.get(classifier_activation)  # fails early on an unknown activation
        super().__init__(**kwargs)
        self.classes = classes
        self.pool_size = pool_size
        self.pool_strides = pool_strides
        self.filters = filters
        self.conv2_filters = conv2_filters
        self.conv2_kernel = conv2_kernel
        self.hidden_units = hidden_units
        self.dropout_rate = float(dropout_rate)
        self.batch_norm = batch_norm
        self.bn_scale = bn_scale
        self.classifier_activation = classifier_activation
        self.data_format = standardize_data_format(data_format)
        channel_axis = -1 if self.data_format == "channels_last" else 1

        policy = self.dtype_policy
        conv = dict(use_bias=not batch_norm, data_format=self.data_format, dtype=policy)
        bn = dict(axis=channel_axis, epsilon=1e-3, scale=bn_scale, dtype=policy)
        self.pool = keras.layers.AveragePooling2D(
            pool_size,
            strides=pool_strides,
            padding="valid",
            data_format=self.data_format,
            name="pool",
            dtype=policy,
        )
        self.conv = keras.layers.Conv2D(filters, 1, name="conv", **conv)
        self.bn = FusedBatchNormalization(name="bn", **bn) if batch_norm else None
        self.conv2 = self.bn2 = None
        if conv2_filters is not None:
            self.conv2 = keras.layers.Conv2D(
                conv2_filters, conv2_kernel, padding="valid", name="conv2", **conv
            )
            self.bn2 = FusedBatchNormalization(name="bn2", **bn) if batch_norm else None
        self.relu = keras.layers.ReLU(name="relu", dtype=policy)
        # Flatten in channels_last order whatever the data format, so weights are portable.
        self.flatten = keras.layers.Flatten(
            data_format=self.data_format, name="flatten", dtype=policy
        )
        self.fc = None
        if hidden_units is not None:
            self.fc = keras.layers.Dense(hidden_units, activation="relu", name="fc", dtype=policy)
        self.dropout = (
            keras.layers.Dropout(self.dropout_rate, name="dropout", dtype=policy)
            if self.dropout_rate
            else None
        )
        # keras.applications returns float16 softmax under mixed precision; keep the head float32.
        classifier_dtype = "float32" if policy.name.startswith("mixed") else policy
        self.classifier = keras.layers.Dense(
            classes, activation=classifier_activation, name="classifier", dtype=classifier_dtype
        )

    def _stages(self):
        return [(self.conv, self.bn), (self.conv2, self.bn2)]

    def build(self, input_shape):
        min_size = self.pool_size
        if self.conv2 is not None:  # the 'valid' conv2 needs conv2_kernel pooled positions
            min_size += (self.conv2_kernel - 1) * self.pool_strides
        spatial = input_shape[1:3] if self.data_format == "channels_last" else input_shape[2:4]
        if any(size is not None and size < min_size for size in spatial):
            raise ValueError(
                f"AuxiliaryClassifier: input_shape={tuple(input_shape)} is too small; with "
                f"pool_size={self.pool_size}, pool_strides={self.pool_strides} and "
                f"conv2_kernel={self.conv2_kernel} the spatial size must be at least {min_size}."
            )
        shape = self.pool.compute_output_shape(input_shape)
        for conv, bn in self._stages():
            if conv is None:
                continue
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if bn is not None:
                bn.build(shape)
        shape = self.flatten.compute_output_shape(shape)
        if self.fc is not None:
            self.fc.build(shape)
            shape = self.fc.compute_output_shape(shape)
        self.classifier.build(shape)

    def call(self, inputs, training=None):
        x = self.pool(inputs)
        for conv, bn in self._stages():
            if conv is None:
                continue
            x = conv(x)
            if bn is not None:
                x = bn(x, training=training)
            x = self.relu(x)
        x = self.flatten(x)
        if self.fc is not None:
            x = self.fc(x)
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        return self.classifier(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.classes)

    def get_config(self):
        config = super().get_config()
        activation = self.classifier_activation
        if activation is not None and not isinstance(activation, str):
            activation = keras.activations.serialize(activation)
        config.update(
            {
                "classes": self.classes,
                "pool_size": self.pool_size,
                "pool_strides": self.pool_strides,
                "filters": self.filters,
                "conv2_filters": self.conv2_filters,
                "conv2_kernel": self.conv2_kernel,
                "hidden_units": self.hidden_units,
                "dropout_rate": self.dropout_rate,
                "batch_norm": self.batch_norm,
                "bn_scale": self.bn_scale,
                "classifier_activation": activation,
                "data_format": self.data_format,
            }
        )
        return config
