"""GoogLeNet (Szegedy et al., "Going deeper with convolutions", CVPR 2015, arXiv:1409.4842)."""

import dataclasses

import keras
from keras import layers

from keras_arches import loading
from keras_arches.contract import Contract, check_rate, check_width, scale_width
from keras_arches.layers import AuxiliaryClassifier, CeilPooling2D, LocalResponseNormalization
from keras_arches.models.common import bn_act, check_bool, data_format_for
from keras_arches.registry import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    register,
    torchvision_checkpoint,
)

_PAPER = "Szegedy et al. 2015, Going Deeper with Convolutions (CVPR 2015, arXiv:1409.4842)"

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION_TABLE = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
# The smallest input at which 4a's maps (input/16, pools rounding up) are the 5x5 that the
# auxiliary heads' 5x5/3 average pool needs: 79 -> 40 -> 20 -> 10 -> 5.
MIN_SIZE = 79


def inception_module(
    x, filters_1x1, reduce_3x3, filters_3x3, reduce_5x5, filters_5x5, pool_proj, name, axis=-1
):
    """The Inception module of GoogLeNet (Fig. 2b): four branches concatenated on ``axis``.

    1x1 conv ``filters_1x1``; 1x1 ``reduce_3x3`` -> 3x3 ``filters_3x3``; 1x1 ``reduce_5x5`` ->
    5x5 ``filters_5x5``; 3x3/1 max pool -> 1x1 ``pool_proj``; 'same' padding, ReLU after every
    conv. Output: same spatial size, ``filters_1x1 + filters_3x3 + filters_5x5 + pool_proj``
    channels (28x28x192 -> 28x28x256 for 3a). Layers are named ``{name}_1x1``,
    ``{name}_3x3_reduce``, ``{name}_3x3``, ``{name}_5x5_reduce``, ``{name}_5x5``, ``{name}_pool``,
    ``{name}_pool_proj`` and ``{name}_concat``.
    """
    data_format = data_format_for(axis)

    def conv(y, filters, kernel, suffix):
        return layers.Conv2D(
            filters, kernel, padding="same", activation="relu", data_format=data_format,
            name=f"{name}_{suffix}",
        )(y)

    branch1 = conv(x, filters_1x1, 1, "1x1")
    branch3 = conv(conv(x, reduce_3x3, 1, "3x3_reduce"), filters_3x3, 3, "3x3")
    branch5 = conv(conv(x, reduce_5x5, 1, "5x5_reduce"), filters_5x5, 5, "5x5")
    pooled = layers.MaxPooling2D(
        3, strides=1, padding="same", data_format=data_format, name=f"{name}_pool"
    )(x)
    branch_pool = conv(pooled, pool_proj, 1, "pool_proj")
    branches = [branch1, branch3, branch5, branch_pool]
    return layers.Concatenate(axis=axis, name=f"{name}_concat")(branches)


def _lrn(data_format, name):
    # Caffe's bvlc_googlenet LRN: local_size 5, alpha 1e-4 (divided by the size), beta 0.75.
    return LocalResponseNormalization(
        depth_radius=2, bias=1.0, alpha=1e-4 / 5, beta=0.75, data_format=data_format, name=name
    )


def _torchvision_unit(x, filters, kernel, name, strides=1, data_format=None):
    """torchvision's BasicConv2d: conv (no bias) -> batch norm (eps 1e-3) -> ReLU."""
    axis = 1 if data_format == "channels_first" else -1
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same" if strides == 1 else
                      "valid", use_bias=False, data_format=data_format, name=name)(x)
    x = bn_act(x, name, axis=axis, epsilon=1e-3, scale=True, activation=None)
    return layers.ReLU(name=f"{name}_relu")(x)


def _torchvision_module(x, filters, name, data_format):
    """torchvision's Inception block: Table 1's widths, a 3x3 conv in the "5x5" branch."""
    f1, r3, f3, r5, f5, proj = filters

    def unit(y, width, kernel, suffix):
        return _torchvision_unit(y, width, kernel, f"{name}_{suffix}", data_format=data_format)

    pooled = layers.MaxPooling2D(3, strides=1, padding="same", data_format=data_format,
                                 name=f"{name}_pool")(x)
    branches = [
        unit(x, f1, 1, "1x1"),
        unit(unit(x, r3, 1, "3x3_reduce"), f3, 3, "3x3"),
        unit(unit(x, r5, 1, "5x5_reduce"), f5, 3, "5x5"),
        unit(pooled, proj, 1, "pool_proj"),
    ]
    axis = 1 if data_format == "channels_first" else -1
    return layers.Concatenate(axis=axis, name=f"{name}_concat")(branches)


def _torchvision_aux(c, x, name, data_format):
    """torchvision's InceptionAux: adaptive 4x4 average pool -> BasicConv2d 128 -> flatten ->
    FC 1024 + ReLU -> dropout 0.7 -> FC ``classes``."""
    x = layers.AdaptiveAveragePooling2D(4, data_format=data_format, name=f"{name}_pool")(x)
    x = _torchvision_unit(x, 128, 1, f"{name}_conv", data_format=data_format)
    x = layers.Flatten(data_format=data_format, name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc1")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return c.classifier(x, name=f"{name}_fc2")


def _torchvision_googlenet(c, aux_classifiers, dropout_rate):
    if aux_classifiers and not hasattr(layers, "AdaptiveAveragePooling2D"):
        raise ValueError(
            "torchvision's GoogLeNet aux heads need keras.layers.AdaptiveAveragePooling2D, new "
            f"in Keras 3.13 (installed: {keras.__version__}). Upgrade Keras, or build with "
            "aux_classifiers=False."
        )
    data_format = data_format_for(c.channel_axis)
    x = layers.ZeroPadding2D(3, data_format=data_format, name="conv1_pad")(c.image)
    x = _torchvision_unit(x, 64, 7, "conv1_7x7", strides=2, data_format=data_format)
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool1")(x)
    x = _torchvision_unit(x, 64, 1, "conv2_3x3_reduce", data_format=data_format)
    x = _torchvision_unit(x, 192, 3, "conv2_3x3", data_format=data_format)
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool2")(x)
    aux = []
    for stage, modules in (("3", "ab"), ("4", "abcde"), ("5", "ab")):
        for m in modules:
            x = _torchvision_module(x, INCEPTION_TABLE[stage + m], f"inception_{stage}{m}",
                                    data_format)
            if aux_classifiers and stage + m in ("4a", "4d"):
                aux.append(_torchvision_aux(c, x, f"aux{len(aux) + 1}", data_format))
        if stage != "5":  # torchvision's maxpool4 is 2x2/2
            size = 2 if stage == "4" else 3
            x = CeilPooling2D(size, 2, data_format=data_format, name=f"pool{stage}")(x)
    outputs = c.head(x, dropout_rate=dropout_rate)
    return c.model([outputs, *aux] if aux else outputs)


# torchvision builds GoogLeNet with transform_input=True for these weights: the network sees
# (x/255 - 0.5) / 0.5, Keras' "tf" mode, whatever normalisation came first.
_CHECKPOINTS = (
    dataclasses.replace(
        torchvision_checkpoint("tv_in1k", "googlenet-1378be20.pth", "torchvision.googlenet",
                               69.778, variant="torchvision"),
        mean=INCEPTION_MEAN, std=INCEPTION_STD,
    ),
)


@register(
    family="googlenet",
    paper=_PAPER,
    default_size=224,
    min_size=MIN_SIZE,
    params=6_998_552,
    preprocessing="torch",
    checkpoints=_CHECKPOINTS,
    variants={
        "torchvision": dict(
            twin="torchvision googlenet", min_size=15, params=6_639_464,
            preprocessing="tf", layout="torchvision.googlenet", default_checkpoint="tv_in1k",
            published_top1=(69.778, "torchvision"),
            classifier=("predictions", "aux1_fc2", "aux2_fc2"),
        ),
    },
)
def GoogLeNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="googlenet",
    aux_classifiers=False,
    dropout_rate=0.4,
    width_multiplier=1.0,
    variant=None,
):
    """GoogLeNet as in Table 1 of Szegedy et al. (2015): no batch norm, real 5x5 branches.

    conv 7x7/2 64 -> max pool 3/2 -> LRN -> conv 1x1 64 -> conv 3x3 192 -> LRN -> max pool ->
    inception 3a, 3b -> max pool -> 4a-4e -> max pool -> 5a, 5b (7x7x1024 at 224) -> global
    average pool -> dropout ``dropout_rate`` -> FC ``classes``. Pools round up as in the
    authors' Caffe net (112 -> 56 -> 28 -> 14 -> 7). ``aux_classifiers=True`` adds the paper's two
    auxiliary heads on 4a and 4d (5x5/3 average pool -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 ->
    FC ``classes``) and the model returns ``[predictions, aux1, aux2]``: compile with one loss
    per output and ``loss_weights=[1, 0.3, 0.3]`` and use ``keras_arches.strip_auxiliary(model)``
    for inference. ``include_top=False`` gives 5b's maps (aux heads need the top).
    ``width_multiplier`` scales the stem and every branch of Table 1.

    ``variant="torchvision"`` is torchvision 0.29's ``googlenet`` (its ``tv_in1k`` checkpoint
    chooses it): every conv without bias and followed by batch norm (eps 1e-3), no LRN, a 3x3
    conv in the "5x5" branch, a 2x2/2 max pool before 5a, and its own aux heads (adaptive 4x4
    average pool -> conv 1x1 128 + BN -> FC 1024 -> dropout 0.7 -> FC ``classes``); minimum input
    15, torchvision's. That checkpoint expects Keras' "tf" preprocessing (torchvision's
    ``transform_input``). ``width_multiplier`` applies to the paper's layout only. Returns a Keras
    ``Model``.
    """
    info = loading.resolve_variant(GoogLeNet.info, weights, variant)
    check_bool("aux_classifiers", aux_classifiers)
    if aux_classifiers and not include_top:
        raise ValueError(
            "`aux_classifiers=True` needs `include_top=True`: the auxiliary heads are classifiers. "
            "Received: include_top=False"
        )
    check_rate("dropout_rate", dropout_rate)
    check_width(width_multiplier, weights)
    if info.variant is not None and width_multiplier != 1:
        raise ValueError(
            f"`width_multiplier` applies to the paper's layout only. Received: "
            f"width_multiplier={width_multiplier}, variant={info.variant!r}"
        )
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    if info.variant == "torchvision":
        return _torchvision_googlenet(c, aux_classifiers, dropout_rate)
    axis = c.channel_axis
    data_format = data_format_for(axis)

    def width(filters):
        return scale_width(filters, width_multiplier)

    x = layers.ZeroPadding2D(3, name="conv1_pad")(c.image)
    x = layers.Conv2D(width(64), 7, strides=2, activation="relu", name="conv1_7x7")(x)
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool1")(x)
    x = _lrn(data_format, "norm1")(x)
    x = layers.Conv2D(width(64), 1, activation="relu", name="conv2_3x3_reduce")(x)
    x = layers.Conv2D(width(192), 3, padding="same", activation="relu", name="conv2_3x3")(x)
    x = _lrn(data_format, "norm2")(x)
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool2")(x)

    aux = []
    for stage, modules in (("3", "ab"), ("4", "abcde"), ("5", "ab")):
        for m in modules:
            filters = map(width, INCEPTION_TABLE[stage + m])
            x = inception_module(x, *filters, name=f"inception_{stage}{m}", axis=axis)
            if aux_classifiers and stage + m in ("4a", "4d"):
                aux.append(
                    AuxiliaryClassifier(
                        c.classes, classifier_activation=c.classifier_activation,
                        data_format=data_format, name=f"aux{len(aux) + 1}",
                    )(x)
                )
        if stage != "5":
            x = CeilPooling2D(3, 2, data_format=data_format, name=f"pool{stage}")(x)
    outputs = c.head(x, dropout_rate=dropout_rate)
    return c.model([outputs, *aux] if aux else outputs)
