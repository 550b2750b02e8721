"""The residual networks of the CIFAR tables: He et al.'s ResNet-20 ... 110 and Zagoruyko &
Komodakis' Wide ResNets.

Each builder is a short function over :func:`keras_arches.models.resnet.ResNet` with the CIFAR
stem (a 3x3 conv to 16 channels) and three stages of 16, 32, 64 channels (times the width);
:data:`RESNETS` holds He et al.'s rows with their parameter counts and published checkpoints.
"""

import dataclasses
from typing import Optional, Tuple

from keras_arches import loading
from keras_arches.checks import check_positive_int
from keras_arches.models.resnet import HE2016, SHORTCUTS, WRN2016, ResNet, check_choice
from keras_arches.registry import akamaster_checkpoint, imgclsmob_checkpoint, register

_HUANG2016 = (
    "He et al. 2016 (arXiv:1512.03385) CIFAR-10 ResNet-110 with Huang et al. 2016, "
    "Deep Networks with Stochastic Depth (arXiv:1603.09382)"
)

#: The CIFAR stem and stages (He et al. 2016, section 4.2).
CIFAR = dict(block="basic", stem="3x3", stem_width=16, widths=(16, 32, 64), strides=(1, 2, 2))

#: Option B's two 1x1 projections and their batch norms (16 -> 32, 32 -> 64 channels).
PROJECTION_PARAMS = (16 * 32 + 4 * 32) + (32 * 64 + 4 * 64)


@dataclasses.dataclass(frozen=True)
class CifarResNet:
    """One row of He et al. 2016's Table 6: ``depth`` = 6n + 2 layers; ``params``: its
    ``count_params()`` with option-A shortcuts and 10 classes (batch-norm statistics included:
    akamaster's reference model has the same count); ``paper_params``: the table's figure (the
    trainable weights, in millions); ``akamaster``: ``(file-name hash, test error %)`` of
    akamaster's CIFAR-10 file; ``pytorchcv``: ``(release, file stem, SHA-1)`` of pytorchcv's
    CIFAR-10 file (option B), where published."""

    depth: int
    params: int
    paper_params: float
    akamaster: Tuple[str, float]
    pytorchcv: Optional[Tuple[str, str, str]] = None

    @property
    def blocks_per_stage(self):
        return ((self.depth - 2) // 6,) * 3

    def checkpoints(self):
        files = [akamaster_checkpoint(self.depth, *self.akamaster)]
        if self.pytorchcv:
            release, stem, sha1 = self.pytorchcv
            error = int(stem.split("-")[1]) / 100
            files.append(imgclsmob_checkpoint(
                "cifar10", release, stem, sha1, "pytorchcv.resnet_cifar", error,
                variant="projection",
            ))
        return tuple(files)

    def card(self, paper=HE2016, **facts):
        """The registry facts of this row: option A by default, ``shortcut="projection"`` the
        card's variant ``"projection"`` (pytorchcv's layout)."""
        projection = dict(twin=f"pytorchcv resnet{self.depth}_cifar10",
                          params=self.params + PROJECTION_PARAMS, layout="pytorchcv.resnet_cifar")
        if self.pytorchcv:
            projection["default_checkpoint"] = "cifar10"
        facts = {"recipe": "resnet_cifar", **facts}
        return dict(
            family="resnet", paper=paper, default_size=32, min_size=32, params=self.params,
            params_classes=10, preprocessing="torch", twin=f"akamaster resnet{self.depth}",
            layout="akamaster.resnet_cifar", checkpoints=self.checkpoints(),
            variants={"projection": projection}, variant_argument="shortcut", **facts,
        )


#: He et al. 2016, Table 6 (CIFAR-10): akamaster's README errors; pytorchcv 0.0.74's files.
RESNETS = {
    20: CifarResNet(20, 271_098, 0.27, ("12fca82f", 8.27), (
        "v0.0.163", "resnet20_cifar10-0597-9b0024ac", "9b0024ac4c2f374cde2c5052e0d0344a75871cdb")),
    32: CifarResNet(32, 466_426, 0.46, ("d509ac18", 7.37)),
    44: CifarResNet(44, 661_754, 0.66, ("014dd654", 6.90)),
    56: CifarResNet(56, 857_082, 0.85, ("4bfd9763", 6.61), (
        "v0.0.163", "resnet56_cifar10-0452-628c42a2", "628c42a26fe347b84060136212e018df2bb35e0f")),
    110: CifarResNet(110, 1_736_058, 1.7, ("1d1ed7c2", 6.32), (
        "v0.0.163", "resnet110_cifar10-0369-4d6ca1fc", "4d6ca1fc02eaeed724f4f596011e391528536049")),
}


def cifar_resnet(builder, depth, include_top, weights, input_tensor, input_shape, pooling,
                 classes, classifier_activation, name, *, drop_path_rate, shortcut):
    """The body of the CIFAR ResNets: ``RESNETS[depth]``'s blocks in the layout the weights
    need (``shortcut=None``) or ``shortcut`` names."""
    check_choice("shortcut", shortcut, (None, *SHORTCUTS))
    variant = "projection" if shortcut == "projection" else None
    info = loading.resolve_variant(builder.info, weights, variant)
    if shortcut == "zero_pad" and info.variant == "projection":
        raise ValueError(
            f"The checkpoint {weights!r} of {info.name} has projection shortcuts (option B), "
            "not shortcut='zero_pad'. Pass shortcut='projection' or leave `shortcut` unset."
        )
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=info,
        drop_path_rate=drop_path_rate, blocks_per_stage=RESNETS[depth].blocks_per_stage,
        shortcut="projection" if info.variant == "projection" else "zero_pad", **CIFAR,
    )


@register(**RESNETS[20].card())
def ResNet20(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet20",
    drop_path_rate=0.0,
    shortcut=None,
):
    """ResNet-20 for CIFAR (He et al. 2016, section 4.2 and Table 6: 6n + 2 layers, n = 3).

    A 3x3 conv to 16 channels, three stages of n basic blocks with 16, 32, 64 channels (strides
    1, 2, 2), global average pooling and the classifier. 0.27M parameters in the paper.

    Args:
        drop_path_rate: stochastic depth of the last block, decaying linearly to the first
            (0 adds no layers).
        shortcut: None takes the checkpoint's layout, else ``"zero_pad"`` (option A, the
            default: strided subsampling and zero channel padding; akamaster's files) or
            ``"projection"`` (option B: a 1x1 conv + batch norm at the two transitions;
            pytorchcv's files).

    Returns:
        A Keras ``Model``.
    """
    return cifar_resnet(
        ResNet20, 20, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, drop_path_rate=drop_path_rate, shortcut=shortcut,
    )


@register(**RESNETS[32].card())
def ResNet32(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet32",
    drop_path_rate=0.0,
    shortcut=None,
):
    """ResNet-32 for CIFAR (He et al. 2016, Table 6): :func:`ResNet20` with n = 5, 0.46M
    parameters in the paper. Returns a Keras ``Model``."""
    return cifar_resnet(
        ResNet32, 32, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, drop_path_rate=drop_path_rate, shortcut=shortcut,
    )


@register(**RESNETS[44].card())
def ResNet44(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet44",
    drop_path_rate=0.0,
    shortcut=None,
):
    """ResNet-44 for CIFAR (He et al. 2016, Table 6): :func:`ResNet20` with n = 7, 0.66M
    parameters in the paper. Returns a Keras ``Model``."""
    return cifar_resnet(
        ResNet44, 44, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, drop_path_rate=drop_path_rate, shortcut=shortcut,
    )


@register(**RESNETS[56].card())
def ResNet56(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet56",
    drop_path_rate=0.0,
    shortcut=None,
):
    """ResNet-56 for CIFAR (He et al. 2016, Table 6): :func:`ResNet20` with n = 9, 0.85M
    parameters in the paper. Returns a Keras ``Model``."""
    return cifar_resnet(
        ResNet56, 56, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, drop_path_rate=drop_path_rate, shortcut=shortcut,
    )


@register(**RESNETS[110].card(paper=_HUANG2016, recipe="stochastic_depth"))
def ResNet110(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="resnet110",
    drop_path_rate=0.5,
    shortcut=None,
):
    """ResNet-110 for CIFAR (He et al. 2016, Table 6): :func:`ResNet20` with n = 18, 1.7M
    parameters in the paper, trained with stochastic depth (Huang et al. 2016).

    Args:
        drop_path_rate: stochastic depth of the last block, decaying linearly from the first;
            the default 0.5 is Huang et al. 2016's p_L.
        shortcut: as in :func:`ResNet20`; pytorchcv 0.0.74's ``resnet110_cifar10`` (the tag
            ``"cifar10"``) has projection shortcuts.

    Returns:
        A Keras ``Model``.
    """
    return cifar_resnet(
        ResNet110, 110, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name, drop_path_rate=drop_path_rate, shortcut=shortcut,
    )


_WIDE_RESNET_CHECKPOINTS = (
    imgclsmob_checkpoint(
        "cifar10", "v0.0.166", "wrn28_10_cifar10-0239-fe97dcd6",
        "fe97dcd6d0dd8dda8e9e38e6cfa320cffb9955ce", "pytorchcv.wrn_cifar", 2.39,
    ),
)


@register(
    family="wide_resnet", paper=WRN2016, default_size=32, min_size=32, params=36_497_146,
    params_classes=10, preprocessing="torch", layout="pytorchcv.wrn_cifar",
    checkpoints=_WIDE_RESNET_CHECKPOINTS, default_checkpoint="cifar10",
)
def WideResNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="wide_resnet",
    depth=28,
    width=10,
    dropout_rate=0.0,
    drop_path_rate=0.0,
):
    """WRN-``depth``-``width`` for CIFAR (Zagoruyko & Komodakis 2016, Table 1).

    A 3x3 conv to 16 channels, three stages of ``(depth - 4) / 6`` pre-activation basic blocks
    with ``16 * width``, ``32 * width``, ``64 * width`` channels (strides 1, 2, 2), 1x1
    projections where the width changes, a final BN-ReLU.

    Args:
        depth: 6n + 4 layers.
        width: the widening factor k.
        dropout_rate: dropout between each block's two convs.
        drop_path_rate: as in :func:`ResNet20`.

    Returns:
        A Keras ``Model``.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"`depth` must be 6n + 4 for a positive integer n (10, 16, 22, 28, 40, ...). "
            f"Received: depth={depth!r}"
        )
    check_positive_int("width", width)
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=WideResNet.info,
        dropout_rate=dropout_rate, drop_path_rate=drop_path_rate,
        **dict(CIFAR, preact=True, blocks_per_stage=((depth - 4) // 6,) * 3,
               widths=(16 * width, 32 * width, 64 * width)),
    )
