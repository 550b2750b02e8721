"""The builder vocabulary the families share; family-specific blocks stay in their own module.

The channel axis of a build is its :class:`~keras_arches.contract.Contract`'s ``channel_axis``:
builders pass it to their blocks as ``axis``, and layers that take a ``data_format`` get
:func:`data_format_for` of it. Convolutions and batch norms are named from a prefix, in one of
the two conventions of keras.applications (:data:`INCEPTION_NAMES`, :data:`RESNET_NAMES`).
"""

from keras import layers

from keras_arches.contract import head_dtype
from keras_arches.layers import FusedBatchNormalization
from keras_arches.registry import WeightsFile

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
# torch.nn.BatchNorm2d's default epsilon, the torchvision/timm layouts' batch norms.
TORCH_BN_EPSILON = 1e-5

# Suffixes after a layer prefix of the conv and of the activation; the batch norm's is "_bn".
INCEPTION_NAMES = ("", "_act")  # keras.applications' Inception-ResNet v2 and Xception style
RESNET_NAMES = ("_conv", "_relu")  # keras.applications' ResNet and DenseNet style


def data_format_for(axis):
    """The ``data_format`` of layers whose channels are on ``axis`` (-1 or 3: last; 1: first)."""
    if axis in (-1, 3):
        return "channels_last"
    if axis == 1:
        return "channels_first"
    raise ValueError(
        f"`axis` must be -1 or 3 (channels last) or 1 (channels first). Received: axis={axis!r}"
    )


def check_bool(name, value):
    """Raises a ValueError unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")


def keras_weights(path, top_hash, notop_hash):
    """``{"imagenet": WeightsFile}`` of a keras.applications checkpoint pair.

    ``path`` is the file stem under keras' storage URL without its common ending, e.g.
    ``"vgg16/vgg16"``: the files are ``{path}_weights_tf_dim_ordering_tf_kernels.h5`` (with the
    top, ``top_hash``) and ``..._notop.h5`` (``notop_hash``).
    """
    stem = f"{KERAS_WEIGHTS_URL}{path}_weights_tf_dim_ordering_tf_kernels"
    return {"imagenet": WeightsFile(f"{stem}.h5", top_hash, f"{stem}_notop.h5", notop_hash)}


def conv(x, filters, kernel_size, name, *, strides=1, padding="same", groups=1,
         dilation_rate=1, use_bias=False, names=INCEPTION_NAMES):
    """A ``Conv2D`` named ``{name}`` plus the conv suffix of ``names``, no bias by default.

    An integer ``padding`` first pads that many zeros on every side (layer ``{name}_pad``) and
    convolves 'valid', as PyTorch does; Keras' 'same' pads a strided conv only at the bottom and
    right.
    """
    if isinstance(padding, int):
        x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        padding = "valid"
    return layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, groups=groups,
        dilation_rate=dilation_rate, use_bias=use_bias, name=f"{name}{names[0]}",
    )(x)


def bn_act(x, name, *, axis, epsilon=1e-3, scale=False, activation="relu", names=INCEPTION_NAMES):
    """Batch norm ``{name}_bn`` on ``axis``, then ``activation`` named with the suffix of ``names``
    (no activation layer when ``activation`` is None). Defaults as :func:`conv_bn`."""
    x = FusedBatchNormalization(axis=axis, epsilon=epsilon, scale=scale, name=f"{name}_bn")(x)
    if activation is None:
        return x
    return layers.Activation(activation, name=f"{name}{names[1]}")(x)


def conv_bn(x, filters, kernel_size, name, *, axis, strides=1, padding="same", groups=1,
            dilation_rate=1, use_bias=False, epsilon=1e-3, scale=False, activation="relu",
            names=INCEPTION_NAMES):
    """:func:`conv` -> :func:`bn_act`: conv, batch norm on ``axis``, ``activation``.

    The defaults are keras.applications' Inception ``conv2d_bn``: no conv bias, batch norm with
    epsilon 1e-3 and no ``scale``, ReLU, layers ``{name}``, ``{name}_bn``, ``{name}_act``.
    ``names=RESNET_NAMES`` gives ``{name}_conv``, ``{name}_bn``, ``{name}_relu``.
    """
    x = conv(
        x, filters, kernel_size, name, strides=strides, padding=padding, groups=groups,
        dilation_rate=dilation_rate, use_bias=use_bias, names=names,
    )
    return bn_act(
        x, name, axis=axis, epsilon=epsilon, scale=scale, activation=activation, names=names
    )


def gap_classifier(c, x, conv_name, dropout_rate=0.0):
    """NiN's classifier (Lin et al. 2014): [dropout] -> 1x1 conv to ``classes`` + ReLU -> global
    average pool, also SqueezeNet's.

    The class scores are the spatial means of per-class maps; ``classifier_activation`` then
    applies. With ``include_top=False`` this is ``c.head`` (``pooling``). The layers run in
    float32 under mixed precision.
    """
    if not c.include_top:
        return c.head(x)
    dtype = head_dtype()
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="head_dropout")(x)
    x = layers.Conv2D(c.classes, 1, activation="relu", dtype=dtype, name=conv_name)(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool", dtype=dtype)(x)
    return layers.Activation(c.classifier_activation, dtype=dtype, name="predictions")(x)
