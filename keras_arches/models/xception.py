"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
arXiv:1610.02357).

Twin of ``keras.applications.Xception``: the same weighted layers in the same order, so keras'
published ImageNet files load; the residual projections keras leaves auto-named are named here.
"""

from keras import layers

from keras_arches.contract import Contract
from keras_arches.models.common import conv_bn, keras_weights
from keras_arches.registry import register

_PAPER = (
    "Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions "
    "(arXiv:1610.02357)"
)


def sep_bn(x, filters, name, *, axis):
    """3x3 'same' separable conv (no bias) -> batch norm: layers ``{name}``, ``{name}_bn``."""
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(axis=axis, name=f"{name}_bn")(x)


def xception_block(x, filters, name, *, axis, relu_first=True):
    """Entry/exit-flow block: [ReLU] -> sep conv -> BN -> ReLU -> sep conv -> BN -> 3x3/2 max
    pool, plus a 1x1/2 conv + BN projection of the input (``{name}_residual``).

    ``filters`` is one width or ``(first, second)``; ``relu_first=False`` for block2, which
    follows the stem's ReLU.
    """
    first, second = (filters, filters) if isinstance(filters, int) else filters
    residual = conv_bn(
        x, second, 1, f"{name}_residual", axis=axis, strides=2, scale=True, activation=None
    )
    if relu_first:
        x = layers.Activation("relu", name=f"{name}_sepconv1_act")(x)
    x = sep_bn(x, first, f"{name}_sepconv1", axis=axis)
    x = layers.Activation("relu", name=f"{name}_sepconv2_act")(x)
    x = sep_bn(x, second, f"{name}_sepconv2", axis=axis)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    return layers.Add(name=f"{name}_add")([x, residual])


def xception_middle_block(x, name, *, axis, filters=728):
    """Middle-flow block: three (ReLU -> sep conv -> BN) and the identity shortcut."""
    residual = x
    for i in (1, 2, 3):
        x = layers.Activation("relu", name=f"{name}_sepconv{i}_act")(x)
        x = sep_bn(x, filters, f"{name}_sepconv{i}", axis=axis)
    return layers.Add(name=f"{name}_add")([x, residual])


@register(
    family="xception",
    paper=_PAPER,
    default_size=299,
    min_size=71,
    test_size=71,
    twin="keras.applications.Xception",
    params=22_910_480,
    weights=keras_weights(
        "xception/xception", "0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97"
    ),
    preprocessing="tf", published_top1=(79.0, "keras.applications"),
)
def Xception(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="xception",
):
    """Xception (Chollet 2017, Fig. 5), twin of ``keras.applications.Xception``.

    Entry flow (3x3/2 conv 32, 3x3 conv 64, blocks of 128, 256, 728) -> middle flow (8 x three
    728 separable convs with identity shortcuts) -> exit flow (block 728/1024, separable 1536,
    2048) -> global average pool -> FC ``classes``; 10x10x2048 at 299. ``"imagenet"`` loads
    keras' published weights. Returns a Keras ``Model``.
    """
    c = Contract(
        Xception.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    axis = c.channel_axis
    x = conv_bn(c.image, 32, 3, "block1_conv1", axis=axis, strides=2, padding="valid", scale=True)
    x = conv_bn(x, 64, 3, "block1_conv2", axis=axis, padding="valid", scale=True)
    x = xception_block(x, 128, "block2", axis=axis, relu_first=False)
    x = xception_block(x, 256, "block3", axis=axis)
    x = xception_block(x, 728, "block4", axis=axis)
    for i in range(5, 13):
        x = xception_middle_block(x, f"block{i}", axis=axis)
    x = xception_block(x, (728, 1024), "block13", axis=axis)
    x = sep_bn(x, 1536, "block14_sepconv1", axis=axis)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = sep_bn(x, 2048, "block14_sepconv2", axis=axis)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    return c.model(c.head(x))
