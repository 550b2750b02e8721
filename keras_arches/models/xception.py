"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
arXiv:1610.02357).

Twin of ``keras.applications.Xception``: the same weighted layers in the same order, so keras'
published ImageNet files load; the residual projections keras leaves auto-named are named here.
``variant="timm"`` is timm 1.0's ``legacy_xception`` (Cadene's port): the same layers, but its
strided max pools pad one row and column on every side (PyTorch's ``padding=1``) where Keras'
"same" pads an even-sized map only at the bottom and right (147 -> 74 -> 37 at 299 px), and its
batch norms use PyTorch's epsilon 1e-5.
"""

from keras import layers

from keras_arches import loading
from keras_arches.contract import Contract
from keras_arches.models.common import TORCH_BN_EPSILON, bn_act, conv_bn, keras_weights
from keras_arches.registry import INCEPTION_MEAN, INCEPTION_STD, register, timm_checkpoint

_PAPER = (
    "Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions "
    "(arXiv:1610.02357)"
)


KERAS_BN_EPSILON = 1e-3  # keras.applications' Xception batch norms


def sep_bn(x, filters, name, *, axis, epsilon=KERAS_BN_EPSILON):
    """3x3 'same' separable conv (no bias) -> batch norm: layers ``{name}``, ``{name}_bn``."""
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return bn_act(x, name, axis=axis, epsilon=epsilon, scale=True, activation=None)


def strided_max_pool(x, name, symmetric):
    """3x3/2 max pool: Keras' "same", or PyTorch's ``padding=1`` (``symmetric``), computed
    exactly as a 3x3/1 "same" pool (symmetric at stride 1, padded values never win) read at
    every second position (``{name}_stride``)."""
    if not symmetric:
        return layers.MaxPooling2D(3, strides=2, padding="same", name=name)(x)
    x = layers.MaxPooling2D(3, strides=1, padding="same", name=name)(x)
    return layers.MaxPooling2D(1, strides=2, name=f"{name}_stride")(x)


def xception_block(x, filters, name, *, axis, relu_first=True, epsilon=KERAS_BN_EPSILON,
                   symmetric_pool=False):
    """Entry/exit-flow block: [ReLU] -> sep conv -> BN -> ReLU -> sep conv -> BN -> 3x3/2 max
    pool, plus a 1x1/2 conv + BN projection of the input (``{name}_residual``).

    ``filters`` is one width or ``(first, second)``; ``relu_first=False`` for block2, which
    follows the stem's ReLU. ``epsilon``: the batch norms'; ``symmetric_pool``: PyTorch's
    padding of the max pool (see :func:`strided_max_pool`).
    """
    first, second = (filters, filters) if isinstance(filters, int) else filters
    residual = conv_bn(
        x, second, 1, f"{name}_residual", axis=axis, strides=2, scale=True, activation=None,
        epsilon=epsilon,
    )
    if relu_first:
        x = layers.Activation("relu", name=f"{name}_sepconv1_act")(x)
    x = sep_bn(x, first, f"{name}_sepconv1", axis=axis, epsilon=epsilon)
    x = layers.Activation("relu", name=f"{name}_sepconv2_act")(x)
    x = sep_bn(x, second, f"{name}_sepconv2", axis=axis, epsilon=epsilon)
    x = strided_max_pool(x, f"{name}_pool", symmetric_pool)
    return layers.Add(name=f"{name}_add")([x, residual])


def xception_middle_block(x, name, *, axis, filters=728, epsilon=KERAS_BN_EPSILON):
    """Middle-flow block: three (ReLU -> sep conv -> BN) and the identity shortcut."""
    residual = x
    for i in (1, 2, 3):
        x = layers.Activation("relu", name=f"{name}_sepconv{i}_act")(x)
        x = sep_bn(x, filters, f"{name}_sepconv{i}", axis=axis, epsilon=epsilon)
    return layers.Add(name=f"{name}_add")([x, residual])


_TIMM_CHECKPOINTS = (
    timm_checkpoint(
        "legacy_xception.tf_in1k", "timm.legacy_xception", 79.058, "apache-2.0",
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-cadene/"
            "xception-43020ad28.pth",
        input_size=299, crop_pct=0.8975, mean=INCEPTION_MEAN, std=INCEPTION_STD, variant="timm",
    ),
)


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
    checkpoints=_TIMM_CHECKPOINTS,
    variants={"timm": dict(
        twin="timm legacy_xception", weights={}, layout="timm.legacy_xception",
        published_top1=None, default_checkpoint="tf_in1k",
    )},
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
    variant=None,
):
    """Xception (Chollet 2017, Fig. 5), twin of ``keras.applications.Xception``.

    Entry flow (3x3/2 conv 32, 3x3 conv 64, blocks of 128, 256, 728) -> middle flow (8 x three
    728 separable convs with identity shortcuts) -> exit flow (block 728/1024, separable 1536,
    2048) -> global average pool -> FC ``classes``; 10x10x2048 at 299. ``"imagenet"`` loads
    keras' published weights. ``variant="timm"``: timm's ``legacy_xception`` (symmetric max-pool
    padding, batch-norm epsilon 1e-5), the layout of its checkpoint ``"tf_in1k"`` (also what
    ``"imagenet"`` then loads); a checkpoint chooses its variant (``variant=None``), and a
    contradicting ``variant`` is a ``ValueError``. Returns a Keras ``Model``.
    """
    info = loading.resolve_variant(Xception.info, weights, variant)
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    timm = info.variant == "timm"
    block = dict(axis=c.channel_axis, epsilon=TORCH_BN_EPSILON if timm else KERAS_BN_EPSILON)
    x = conv_bn(c.image, 32, 3, "block1_conv1", strides=2, padding="valid", scale=True, **block)
    x = conv_bn(x, 64, 3, "block1_conv2", padding="valid", scale=True, **block)
    pool = dict(block, symmetric_pool=timm)
    x = xception_block(x, 128, "block2", relu_first=False, **pool)
    x = xception_block(x, 256, "block3", **pool)
    x = xception_block(x, 728, "block4", **pool)
    for i in range(5, 13):
        x = xception_middle_block(x, f"block{i}", **block)
    x = xception_block(x, (728, 1024), "block13", **pool)
    x = sep_bn(x, 1536, "block14_sepconv1", **block)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = sep_bn(x, 2048, "block14_sepconv2", **block)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    return c.model(c.head(x))
