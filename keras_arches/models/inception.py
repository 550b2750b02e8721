"""Inception v2, v3, v4 and Inception-ResNet v2 (Szegedy et al. 2015, 2016).

InceptionV3 and InceptionResNetV2 are twins of ``keras.applications``: the same weighted layers in
the same order, so keras' published ImageNet files load (by order: keras names these layers
automatically, here every layer is named from its block). The blocks are shared: v2 and v3 use the
same modules, v4 and Inception-ResNet v2 reuse their layouts with other widths.
"""

from keras import layers

from keras_arches import loading
from keras_arches.arch_model import ArchModel
from keras_arches.contract import Contract, check_rate
from keras_arches.layers import AuxiliaryClassifier
from keras_arches.models.common import check_bool, conv_bn, data_format_for, keras_weights
from keras_arches.registry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INCEPTION_MEAN,
    INCEPTION_STD,
    register,
    timm_checkpoint,
)

_RETHINKING = (
    "Szegedy et al. 2016, Rethinking the Inception Architecture for Computer Vision "
    "(CVPR 2016, arXiv:1512.00567)"
)
_V4_PAPER = (
    "Szegedy et al. 2017, Inception-v4, Inception-ResNet and the Impact of Residual "
    "Connections on Learning (AAAI 2017, arXiv:1602.07261)"
)

# -- shared blocks -----------------------------------------------------------------------------


def tower(x, specs, name, *, axis, scale=False):
    """A chain of :func:`conv_bn`; each spec is ``(filters, kernel[, strides, padding])``.

    Layers are named ``{name}_{i}`` for the i-th conv (from 0).
    """
    for i, spec in enumerate(specs):
        filters, kernel, strides, padding = (*spec, 1, "same")[:4] if len(spec) == 2 else spec
        x = conv_bn(
            x, filters, kernel, f"{name}_{i}", axis=axis, strides=strides, padding=padding,
            scale=scale,
        )
    return x


def _avg_pool_branch(x, filters, name, *, axis, scale, count_pad=False):
    """3x3/1 average pool -> 1x1 conv. Keras' 'same' excludes the padded zeros from each mean
    (as timm's ``count_include_pad=False``); ``count_pad=True`` counts them, as torchvision's
    ``F.avg_pool2d(x, 3, stride=1, padding=1)`` does: explicit zero padding, then 'valid'."""
    if count_pad:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    pooled = layers.AveragePooling2D(
        3, strides=1, padding="valid" if count_pad else "same", name=f"{name}_pool"
    )(x)
    return conv_bn(pooled, filters, 1, f"{name}_proj", axis=axis, scale=scale)


def _max_pool_reduce(x, name):
    return layers.MaxPooling2D(3, strides=2, name=name)(x)


def inception_a(x, widths, name, *, axis, kernel=5, scale=False, count_pad=False):
    """The 35x35 module (Rethinking Fig. 5; v4's Inception-A): four branches concatenated.

    ``widths = (b0, (b1_reduce, b1), (b2_reduce, b2a, b2b), pool)``: 1x1 b0 | 1x1 -> ``kernel``
    x``kernel`` b1 | 1x1 -> 3x3 -> 3x3 | 3x3 average pool -> 1x1. ``kernel=3`` is the paper's
    factorised module; keras' Inception v3 keeps a 5x5 in the second branch. ``scale``: batch
    norms with gamma; ``count_pad``: the pool's mean counts its padding (torchvision).
    """
    b0, (r1, b1), b2, pool = widths
    branches = [
        conv_bn(x, b0, 1, f"{name}_b0", axis=axis, scale=scale),
        tower(x, [(r1, 1), (b1, kernel)], f"{name}_b1", axis=axis, scale=scale),
        tower(x, [(b2[0], 1), (b2[1], 3), (b2[2], 3)], f"{name}_b2", axis=axis, scale=scale),
        _avg_pool_branch(x, pool, f"{name}_b3", axis=axis, scale=scale, count_pad=count_pad),
    ]
    return layers.Concatenate(axis=axis, name=name)(branches)


def reduction_a(x, widths, name, *, axis, scale=False):
    """Grid reduction 35x35 -> 17x17 (Rethinking Fig. 10; v4's Reduction-A).

    ``widths = (b0, (reduce, b1a, b1b))``: 3x3/2 b0 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool, the
    strided convs 'valid'.
    """
    b0, (r, b1a, b1b) = widths
    branches = [
        conv_bn(x, b0, 3, f"{name}_b0", axis=axis, strides=2, padding="valid", scale=scale),
        tower(x, [(r, 1), (b1a, 3), (b1b, 3, 2, "valid")], f"{name}_b1", axis=axis, scale=scale),
        _max_pool_reduce(x, f"{name}_pool"),
    ]
    return layers.Concatenate(axis=axis, name=name)(branches)


def inception_b(x, widths, name, *, axis, scale=False, count_pad=False):
    """The 17x17 module with 7x7 factorised into 1x7 and 7x1 (Rethinking Fig. 6, n=7; v4's B).

    ``widths = (b0, (r1, b1a, b1b), (r2, b2a, b2b, b2c, b2d), pool)``: 1x1 | 1x1 -> 1x7 -> 7x1 |
    1x1 -> 7x1 -> 1x7 -> 7x1 -> 1x7 | 3x3 average pool -> 1x1; ``scale``, ``count_pad`` as in
    :func:`inception_a`.
    """
    b0, (r1, b1a, b1b), (r2, b2a, b2b, b2c, b2d), pool = widths
    branches = [
        conv_bn(x, b0, 1, f"{name}_b0", axis=axis, scale=scale),
        tower(x, [(r1, 1), (b1a, (1, 7)), (b1b, (7, 1))], f"{name}_b1", axis=axis, scale=scale),
        tower(
            x, [(r2, 1), (b2a, (7, 1)), (b2b, (1, 7)), (b2c, (7, 1)), (b2d, (1, 7))],
            f"{name}_b2", axis=axis, scale=scale,
        ),
        _avg_pool_branch(x, pool, f"{name}_b3", axis=axis, scale=scale, count_pad=count_pad),
    ]
    return layers.Concatenate(axis=axis, name=name)(branches)


def reduction_b(x, widths, name, *, axis, scale=False):
    """Grid reduction 17x17 -> 8x8 (Inception v3's mixed8; v4's Reduction-B).

    ``widths = ((r0, b0), (r1, b1a, b1b, b1c))``: 1x1 -> 3x3/2 | 1x1 -> 1x7 -> 7x1 -> 3x3/2 |
    3x3/2 max pool, the strided convs 'valid'.
    """
    (r0, b0), (r1, b1a, b1b, b1c) = widths
    branches = [
        tower(x, [(r0, 1), (b0, 3, 2, "valid")], f"{name}_b0", axis=axis, scale=scale),
        tower(
            x, [(r1, 1), (b1a, (1, 7)), (b1b, (7, 1)), (b1c, 3, 2, "valid")],
            f"{name}_b1", axis=axis, scale=scale,
        ),
        _max_pool_reduce(x, f"{name}_pool"),
    ]
    return layers.Concatenate(axis=axis, name=name)(branches)


def _split_1x3_3x1(x, filters, name, *, axis, scale):
    branches = [
        conv_bn(x, filters, (1, 3), f"{name}_1x3", axis=axis, scale=scale),
        conv_bn(x, filters, (3, 1), f"{name}_3x1", axis=axis, scale=scale),
    ]
    return layers.Concatenate(axis=axis, name=f"{name}_concat")(branches)


def inception_c(x, widths, name, *, axis, scale=False, count_pad=False):
    """The 8x8 module with expanded filter bank outputs (Rethinking Fig. 7; v4's Inception-C).

    ``widths = (b0, (r1, split1), (specs2, split2), pool)``: 1x1 b0 | 1x1 -> (1x3 | 3x1) |
    the :func:`tower` ``specs2`` -> (1x3 | 3x1) | 3x3 average pool -> 1x1 ``pool``; ``scale``,
    ``count_pad`` as in :func:`inception_a`.
    """
    b0, (r1, split1), (specs2, split2), pool = widths
    b1 = conv_bn(x, r1, 1, f"{name}_b1_0", axis=axis, scale=scale)
    b2 = tower(x, specs2, f"{name}_b2", axis=axis, scale=scale)
    branches = [
        conv_bn(x, b0, 1, f"{name}_b0", axis=axis, scale=scale),
        _split_1x3_3x1(b1, split1, f"{name}_b1", axis=axis, scale=scale),
        _split_1x3_3x1(b2, split2, f"{name}_b2", axis=axis, scale=scale),
        _avg_pool_branch(x, pool, f"{name}_b3", axis=axis, scale=scale, count_pad=count_pad),
    ]
    return layers.Concatenate(axis=axis, name=name)(branches)


# -- Inception v2 and v3 -------------------------------------------------------------------------

# The widths of keras' (and TF-slim's) Inception v3, which v2 shares where the paper gives none.
_V3_A = [(64, (48, 64), (64, 96, 96), pool) for pool in (32, 64, 64)]
_V3_REDUCTION_A = (384, (64, 96, 96))
_V3_B = [(192, (c, c, 192), (c, c, c, c, 192), 192) for c in (128, 160, 160, 192)]
_V3_REDUCTION_B = ((192, 320), (192, 192, 192, 192))
_V3_C = (320, (384, 384), ([(448, 1), (384, 3)], 384), 192)


def _v3_stem(x, *, axis, scale=False):
    x = conv_bn(x, 32, 3, "stem_conv1", axis=axis, strides=2, padding="valid", scale=scale)
    x = conv_bn(x, 32, 3, "stem_conv2", axis=axis, padding="valid", scale=scale)
    x = conv_bn(x, 64, 3, "stem_conv3", axis=axis, scale=scale)
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv_bn(x, 80, 1, "stem_conv4", axis=axis, padding="valid", scale=scale)
    x = conv_bn(x, 192, 3, "stem_conv5", axis=axis, padding="valid", scale=scale)
    return layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)


@register(
    family="inception",
    paper=_RETHINKING,
    default_size=299,
    min_size=75,
    test_size=75,
    params=25_954_216,
    preprocessing="tf",
)
def InceptionV2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v2",
    factorized_stem=False,
):
    """Inception v2: the network of Table 1 of Szegedy et al. (2016, "Rethinking").

    Stem 7x7/2 conv 64 'valid' (299 -> 147; Table 3 lists factorising it as a v3 change;
    ``factorized_stem=True`` gives Table 1's 3x3/2 32, 3x3 32, padded 3x3 64 instead) -> 3x3/2 max
    pool -> 3x3 conv 80 -> 3x3/2 conv 192 -> padded 3x3 conv 288 (35x35x288) -> 3 x Fig. 5
    (5x5 factorised into two 3x3) -> grid reduction (17x17x768) -> 5 x Fig. 6 (1x7/7x1) -> grid
    reduction (8x8x1280) -> 2 x Fig. 7 (8x8x2048) -> global average pool -> FC ``classes``. The
    paper gives no module widths: they are Inception v3's (keras.applications), the fifth 17x17
    module repeating the 160-wide one, the first 35x35 modules' pool projection 64 so that each
    keeps 288 channels. Conv layers have no bias and batch norm without scale (epsilon 1e-3), as
    keras' Inception v3. Returns a Keras ``Model``.
    """
    check_bool("factorized_stem", factorized_stem)
    c = Contract(
        InceptionV2.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    axis = c.channel_axis
    if factorized_stem:
        x = conv_bn(c.image, 32, 3, "stem_conv1", axis=axis, strides=2, padding="valid")
        x = conv_bn(x, 32, 3, "stem_conv2", axis=axis, padding="valid")
        x = conv_bn(x, 64, 3, "stem_conv3", axis=axis)
    else:
        x = conv_bn(c.image, 64, 7, "stem_conv1", axis=axis, strides=2, padding="valid")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    x = conv_bn(x, 80, 3, "stem_conv4", axis=axis, padding="valid")
    x = conv_bn(x, 192, 3, "stem_conv5", axis=axis, strides=2, padding="valid")
    x = conv_bn(x, 288, 3, "stem_conv6", axis=axis)
    for i in range(3):
        x = inception_a(x, (64, (48, 64), (64, 96, 96), 64), f"mixed_35_{i}", axis=axis, kernel=3)
    x = reduction_a(x, _V3_REDUCTION_A, "reduction_17", axis=axis)
    for i, width in enumerate((128, 160, 160, 160, 192)):
        b = (192, (width, width, 192), (width,) * 4 + (192,), 192)
        x = inception_b(x, b, f"mixed_17_{i}", axis=axis)
    x = reduction_b(x, _V3_REDUCTION_B, "reduction_8", axis=axis)
    for i in range(2):
        x = inception_c(x, _V3_C, f"mixed_8_{i}", axis=axis)
    return c.model(c.head(x))


def _inception_v3_checkpoint(tag, top1, mean=INCEPTION_MEAN, std=INCEPTION_STD):
    return timm_checkpoint(
        f"inception_v3.{tag}", "torchvision.inception_v3", top1, "apache-2.0", input_size=299,
        mean=mean, std=std, variant="torchvision",
    )


# timm 1.0's inception_v3 files, all in torchvision's layout. torchvision's own file expects
# inputs in [-1, 1] (its transform_input); timm's copy "tv_in1k" says so with mean = std = 0.5.
_INCEPTION_V3_CHECKPOINTS = (
    _inception_v3_checkpoint("tv_in1k", 77.472),
    _inception_v3_checkpoint("tf_in1k", 77.866),
    _inception_v3_checkpoint("tf_adv_in1k", 77.598),
    _inception_v3_checkpoint("gluon_in1k", 78.806, IMAGENET_MEAN, IMAGENET_STD),
)


@register(
    family="inception",
    paper=_RETHINKING,
    default_size=299,
    min_size=75,
    test_size=75,
    twin="keras.applications.InceptionV3",
    params=23_851_784,
    weights=keras_weights(
        "inception_v3/inception_v3", "9a0d58056eeedaa3f26cb7ebd46da564",
        "bcbd6486424b2319ff4ef7d526e38f63",
    ),
    preprocessing="tf", published_top1=(77.9, "keras.applications"),
    checkpoints=_INCEPTION_V3_CHECKPOINTS,
    variants={"torchvision": dict(
        twin="torchvision inception_v3", params=23_869_000, weights={},
        layout="torchvision.inception_v3", published_top1=(77.294, "torchvision"),
        default_checkpoint="tv_in1k",
    )},
)
def InceptionV3(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
    aux_classifiers=False,
    variant=None,
):
    """Inception v3 (Szegedy et al. 2016), twin of ``keras.applications.InceptionV3``.

    Stem -> mixed0-2 (35x35) -> mixed3 (reduction) -> mixed4-7 (17x17x768) -> mixed8 (reduction)
    -> mixed9-10 (8x8x2048) -> global average pool -> FC ``classes``; ``"imagenet"`` loads keras'
    published weights. ``aux_classifiers=True`` adds the paper's batch-normalised auxiliary head
    on mixed7 (5x5/3 average pool -> 1x1 conv 128 -> 5x5 conv 768 -> FC ``classes``; its 17x17
    input needs the 299x299 input) and the model returns ``[predictions, aux]``: compile with
    ``loss_weights=[1, 0.4]`` and use ``keras_arches.strip_auxiliary(model)`` for inference.
    With a named checkpoint the auxiliary head starts random (keras' files and timm's tf/gluon
    files hold none). ``variant="torchvision"``: torchvision 0.29's ``inception_v3`` (and timm
    1.0's), the layout of the checkpoints ``"tv_in1k"`` (what ``"imagenet"`` then loads),
    ``"tf_in1k"``, ``"tf_adv_in1k"`` and ``"gluon_in1k"``: batch norms with gamma (epsilon
    1e-3), average-pool branches whose means count the zero padding, and torchvision's
    ``AuxLogits`` under ``aux_classifiers``. A checkpoint chooses its variant (``variant=None``);
    a contradicting ``variant`` is a ``ValueError``. Returns a Keras ``Model``.
    """
    check_bool("aux_classifiers", aux_classifiers)
    if aux_classifiers and not include_top:
        raise ValueError(
            "`aux_classifiers=True` needs `include_top=True`: the auxiliary head is a "
            "classifier. Received: include_top=False"
        )
    info = loading.resolve_variant(InceptionV3.info, weights, variant)
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    axis = c.channel_axis
    torchvision = info.variant == "torchvision"
    block = dict(axis=axis, scale=torchvision)
    pooled = dict(block, count_pad=torchvision)
    x = _v3_stem(c.image, **block)
    for i, widths in enumerate(_V3_A):
        x = inception_a(x, widths, f"mixed{i}", **pooled)
    x = reduction_a(x, _V3_REDUCTION_A, "mixed3", **block)
    for i, widths in enumerate(_V3_B):
        x = inception_b(x, widths, f"mixed{4 + i}", **pooled)
    aux = None
    if aux_classifiers:
        aux = AuxiliaryClassifier(
            c.classes, filters=128, conv2_filters=768, conv2_kernel=5, hidden_units=None,
            dropout_rate=0.0, batch_norm=True, bn_scale=torchvision,
            classifier_activation=c.classifier_activation, data_format=data_format_for(axis),
            name="aux",
        )(x)
    x = reduction_b(x, _V3_REDUCTION_B, "mixed8", **block)
    for i in range(2):
        x = inception_c(x, _V3_C, f"mixed{9 + i}", **pooled)
    outputs = c.head(x)
    if aux is None:
        return c.model(outputs)
    if c.checkpoint is not None:
        main = c.model(outputs)  # loads the checkpoint into the main network's (shared) layers
        return ArchModel(
            c.inputs, [outputs, aux], name=c.name, arch=main.arch, checkpoint=main.checkpoint,
            variant=main.variant,
        )
    return c.model([outputs, aux])


# -- Inception v4 --------------------------------------------------------------------------------

_V4_A = (96, (64, 96), (64, 96, 96), 96)
_V4_REDUCTION_A = (384, (192, 224, 256))
_V4_B = (384, (192, 224, 256), (192, 192, 224, 224, 256), 128)
_V4_REDUCTION_B = ((192, 192), (256, 256, 320, 320))
_V4_C = (256, (384, 256), ([(384, 1), (448, (3, 1)), (512, (1, 3))], 256), 256)


def inception_v4_stem(x, *, axis):
    """Inception v4's stem (Fig. 3; timm's layout): 299x299x3 -> 35x35x384.

    3x3/2 conv 32 -> 3x3 conv 32 -> padded 3x3 conv 64 -> (3x3/2 max pool | 3x3/2 conv 96) ->
    (1x1 64 -> 3x3 96 | 1x1 64 -> 1x7 64 -> 7x1 64 -> 3x3 96) -> (3x3/2 conv 192 | 3x3/2 max
    pool); the unpadded convs 'valid'. Batch norm with scale, as timm.
    """
    conv = dict(axis=axis, scale=True)
    x = conv_bn(x, 32, 3, "stem_conv1", strides=2, padding="valid", **conv)
    x = conv_bn(x, 32, 3, "stem_conv2", padding="valid", **conv)
    x = conv_bn(x, 64, 3, "stem_conv3", **conv)
    x = layers.Concatenate(axis=axis, name="mixed_3a")([
        _max_pool_reduce(x, "mixed_3a_pool"),
        conv_bn(x, 96, 3, "mixed_3a_b1", strides=2, padding="valid", **conv),
    ])
    x = layers.Concatenate(axis=axis, name="mixed_4a")([
        tower(x, [(64, 1), (96, 3, 1, "valid")], "mixed_4a_b0", **conv),
        tower(
            x, [(64, 1), (64, (1, 7)), (64, (7, 1)), (96, 3, 1, "valid")], "mixed_4a_b1", **conv
        ),
    ])
    return layers.Concatenate(axis=axis, name="mixed_5a")([
        conv_bn(x, 192, 3, "mixed_5a_b0", strides=2, padding="valid", **conv),
        _max_pool_reduce(x, "mixed_5a_pool"),
    ])


_INCEPTION_V4_CHECKPOINTS = (
    timm_checkpoint(
        "inception_v4.tf_in1k", "timm.inception_v4", 80.144, "apache-2.0", input_size=299,
        mean=INCEPTION_MEAN, std=INCEPTION_STD,
    ),
)


@register(
    family="inception",
    paper=_V4_PAPER,
    default_size=299,
    min_size=75,
    test_size=75,
    twin="timm.inception_v4",
    params=42_742_984,
    preprocessing="tf",
    layout="timm.inception_v4", checkpoints=_INCEPTION_V4_CHECKPOINTS, default_checkpoint="tf_in1k",
)
def InceptionV4(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_v4",
    dropout_rate=0.2,
):
    """Inception v4 (Szegedy et al. 2017, Fig. 9), laid out as timm's ``inception_v4``.

    Stem (35x35x384) -> 4 x Inception-A -> Reduction-A (17x17x1024) -> 7 x Inception-B ->
    Reduction-B (8x8x1536) -> 3 x Inception-C -> global average pool -> dropout ``dropout_rate``
    (the paper's keep probability 0.8) -> FC ``classes``. Convs without bias, batch norm with
    scale and epsilon 1e-3. Returns a Keras ``Model``.
    """
    check_rate("dropout_rate", dropout_rate)
    c = Contract(
        InceptionV4.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    axis = c.channel_axis
    x = inception_v4_stem(c.image, axis=axis)
    for i in range(4):
        x = inception_a(x, _V4_A, f"inception_a{i + 1}", axis=axis, kernel=3, scale=True)
    x = reduction_a(x, _V4_REDUCTION_A, "reduction_a", axis=axis, scale=True)
    for i in range(7):
        x = inception_b(x, _V4_B, f"inception_b{i + 1}", axis=axis, scale=True)
    x = reduction_b(x, _V4_REDUCTION_B, "reduction_b", axis=axis, scale=True)
    for i in range(3):
        x = inception_c(x, _V4_C, f"inception_c{i + 1}", axis=axis, scale=True)
    return c.model(c.head(x, dropout_rate=dropout_rate))


# -- Inception-ResNet v2 -------------------------------------------------------------------------

# Residual branches of the Inception-ResNet-A/B/C blocks (keras' block35/block17/block8).
_RESIDUAL_TOWERS = {
    "block35": ([(32, 1)], [(32, 1), (32, 3)], [(32, 1), (48, 3), (64, 3)]),
    "block17": ([(192, 1)], [(128, 1), (160, (1, 7)), (192, (7, 1))]),
    "block8": ([(192, 1)], [(192, 1), (224, (1, 3)), (256, (3, 1))]),
}


def inception_resnet_block(x, block_type, scale, name, *, axis, activation="relu"):
    """Inception-ResNet block (Figs. 16-19): ``x + scale * conv1x1(concat(towers(x)))``.

    ``block_type`` is "block35" (35x35, A), "block17" (17x17, B) or "block8" (8x8, C); the 1x1
    conv restores x's channels and has a bias (no batch norm), as in keras.applications.
    """
    branches = [
        tower(x, specs, f"{name}_b{i}", axis=axis)
        for i, specs in enumerate(_RESIDUAL_TOWERS[block_type])
    ]
    mixed = layers.Concatenate(axis=axis, name=f"{name}_mixed")(branches)
    up = layers.Conv2D(x.shape[axis], 1, name=f"{name}_conv")(mixed)
    up = layers.Rescaling(scale, name=f"{name}_scale")(up)
    x = layers.Add(name=f"{name}_add")([x, up])
    if activation is None:
        return x
    return layers.Activation(activation, name=f"{name}_ac")(x)


def inception_resnet_reduction_b(x, name, *, axis):
    """Inception-ResNet v2's 17x17 -> 8x8 reduction (keras' mixed_7a): 1x1 256 -> 3x3/2 384 |
    1x1 256 -> 3x3/2 288 | 1x1 256 -> 3x3 288 -> 3x3/2 320 | 3x3/2 max pool."""
    branches = [
        tower(x, [(256, 1), (384, 3, 2, "valid")], f"{name}_b0", axis=axis),
        tower(x, [(256, 1), (288, 3, 2, "valid")], f"{name}_b1", axis=axis),
        tower(x, [(256, 1), (288, 3), (320, 3, 2, "valid")], f"{name}_b2", axis=axis),
        _max_pool_reduce(x, f"{name}_pool"),
    ]
    return layers.Concatenate(axis=axis, name=name)(branches)


_INCEPTION_RESNET_V2_CHECKPOINTS = (
    timm_checkpoint(
        "inception_resnet_v2.tf_ens_adv_in1k", "timm.inception_resnet_v2", 79.998, "apache-2.0",
        input_size=299, crop_pct=0.8975, mean=INCEPTION_MEAN, std=INCEPTION_STD,
    ),
    timm_checkpoint(
        "inception_resnet_v2.tf_in1k", "timm.inception_resnet_v2", 80.434, "apache-2.0",
        input_size=299, crop_pct=0.8975, mean=INCEPTION_MEAN, std=INCEPTION_STD,
    ),
)


@register(
    family="inception",
    paper=_V4_PAPER,
    default_size=299,
    min_size=75,
    test_size=75,
    twin="keras.applications.InceptionResNetV2",
    params=55_873_736,
    weights=keras_weights(
        "inception_resnet_v2/inception_resnet_v2", "e693bd0210a403b3192acc6073ad2e96",
        "d19885ff4a710c122648d3b5c3b684e4",
    ),
    preprocessing="tf", published_top1=(80.3, "keras.applications"),
    layout="timm.inception_resnet_v2", checkpoints=_INCEPTION_RESNET_V2_CHECKPOINTS,
)
def InceptionResNetV2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="inception_resnet_v2",
):
    """Inception-ResNet v2 (Szegedy et al. 2017), twin of ``keras.applications.InceptionResNetV2``.

    Inception v3's stem -> mixed_5b (35x35x320) -> 10 x block35 (residuals scaled 0.17) ->
    mixed_6a (17x17x1088) -> 20 x block17 (0.1) -> mixed_7a (8x8x2080) -> 10 x block8 (0.2, the
    last unscaled and without ReLU) -> 1x1 conv 1536 -> global average pool -> FC ``classes``;
    ``"imagenet"`` loads keras' published weights. Returns a Keras ``Model``.
    """
    c = Contract(
        InceptionResNetV2.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    axis = c.channel_axis
    x = _v3_stem(c.image, axis=axis)
    x = inception_a(x, (96, (48, 64), (64, 96, 96), 64), "mixed_5b", axis=axis)
    for i in range(1, 11):
        x = inception_resnet_block(x, "block35", 0.17, f"block35_{i}", axis=axis)
    x = reduction_a(x, (384, (256, 256, 384)), "mixed_6a", axis=axis)
    for i in range(1, 21):
        x = inception_resnet_block(x, "block17", 0.1, f"block17_{i}", axis=axis)
    x = inception_resnet_reduction_b(x, "mixed_7a", axis=axis)
    for i in range(1, 10):
        x = inception_resnet_block(x, "block8", 0.2, f"block8_{i}", axis=axis)
    x = inception_resnet_block(x, "block8", 1.0, "block8_10", axis=axis, activation=None)
    x = conv_bn(x, 1536, 1, "conv_7b", axis=axis)
    return c.model(c.head(x))
