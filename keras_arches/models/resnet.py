"""The residual family: ResNet, ResNetV2, ResNeXt, Wide ResNet, SENet (the CIFAR rows:
:mod:`keras_arches.models.resnet_cifar`).

One builder, :func:`ResNet`, and one block, :func:`residual_block`, make every variant; each
registered builder is a one-line wrapper (:func:`_build`) of its card in :data:`CARDS` and its
row of :data:`VARIANTS`. The options that separate the reference implementations are explicit:
keras.applications' ResNet50 keeps conv biases and strides the first 1x1 conv
(``stride_in_1x1``, ``conv_bias=True``, BN epsilon 1.001e-5); its ResNetV2 is pre-activation
with the stride in each stage's last block; torchvision and timm have no conv bias and stride
the 3x3 conv. Layer names follow keras.applications (``conv2_block1_1_conv``), so keras' weight
files load by name.
"""

import dataclasses
import math

from keras import layers

from keras_arches import loading
from keras_arches.checks import check_positive_int
from keras_arches.contract import Contract, check_rate
from keras_arches.layers import CeilPooling2D, SqueezeExcite, StochasticDepth, drop_path_rates
from keras_arches.models.common import (
    RESNET_NAMES,
    TORCH_BN_EPSILON,
    bn_act,
    conv,
    data_format_for,
    keras_weights,
)
from keras_arches.registry import (
    INCEPTION_MEAN,
    INCEPTION_STD,
    ModelInfo,
    register,
    timm_checkpoint,
    torchvision_checkpoint,
)

# The papers, cited on the cards (the CIFAR family file shares the first and the fourth).
HE2016 = "He et al. 2016, Deep Residual Learning for Image Recognition (arXiv:1512.03385)"
HE2016_V2 = "He et al. 2016, Identity Mappings in Deep Residual Networks (arXiv:1603.05027)"
XIE2017 = (
    "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks "
    "(arXiv:1611.05431)"
)
WRN2016 = "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv:1605.07146)"
HU2018 = "Hu et al. 2018, Squeeze-and-Excitation Networks (arXiv:1709.01507)"

KERAS_BN_EPSILON = 1.001e-5  # keras.applications' ResNet batch norms


def resnext_bottleneck_width(C, groups):
    """The per-path width ``c`` of a ResNeXt block as costly as a ``C``-channel bottleneck.

    A bottleneck on ``4C`` channels costs ``17 HWC^2`` multiply-adds; a ResNeXt block with
    ``groups`` paths of width ``c`` costs ``HW (9Gc^2 + 8GCc)`` (Xie et al. 2017, Table 2). This
    returns the positive root of ``9Gc^2 + 8GCc - 17C^2 = 0``, rounded to the nearest integer
    (C=64: G=4 -> 24, G=32 -> 4).
    """
    for arg, value in (("C", C), ("groups", groups)):
        check_positive_int(arg, value)
    a, b = 9 * groups, 8 * groups * C
    return round((-b + math.sqrt(b * b + 4 * a * 17 * C * C)) / (2 * a))


# ------------------------------------------------------------------------------ the layout

BLOCKS = ("basic", "bottleneck")
STEMS = ("7x7", "deep", "3x3")
SHORTCUTS = ("projection", "zero_pad")
CONV_BIAS = (False, True, "unnormalized")


def _positive_ints(name, value, length=None):
    if (
        not isinstance(value, (tuple, list)) or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)
        or (length is not None and len(value) != length)
    ):
        size = f"{length} " if length is not None else ""
        raise ValueError(
            f"`{name}` must be a non-empty sequence of {size}positive integers. "
            f"Received: {name}={value!r}"
        )


def check_choice(name, value, allowed):
    if not any(value is a or (type(value) is type(a) and value == a) for a in allowed):
        raise ValueError(f"`{name}` must be one of {allowed}. Received: {name}={value!r}")


@dataclasses.dataclass(frozen=True)
class ResNetLayout:
    """The options of one residual network, checked when made: the keyword arguments of
    :func:`ResNet`, documented there."""

    block: str
    blocks_per_stage: tuple
    widths: tuple
    strides: tuple
    groups: int
    base_width: int
    reduce_first: int
    preact: bool
    stem: str
    stem_width: int
    shortcut: str
    shortcut_kernel_size: int
    stride_in_1x1: bool
    stride_block: str
    conv_bias: bool | str
    bn_epsilon: float
    se: bool
    se_reduction: int
    dropout_rate: float
    head_dropout_rate: float
    drop_path_rate: float

    def __post_init__(self):
        check_choice("block", self.block, BLOCKS)
        check_choice("stem", self.stem, STEMS)
        check_choice("shortcut", self.shortcut, SHORTCUTS)
        check_choice("conv_bias", self.conv_bias, CONV_BIAS)
        check_choice("stride_block", self.stride_block, ("first", "last"))
        _positive_ints("blocks_per_stage", self.blocks_per_stage)
        for name in ("widths", "strides"):
            _positive_ints(name, getattr(self, name), len(self.blocks_per_stage))
        for name in ("groups", "base_width", "reduce_first", "stem_width", "se_reduction",
                     "shortcut_kernel_size"):
            _positive_ints(name, (getattr(self, name),))
        if self.block == "basic" and (self.groups, self.base_width, self.reduce_first) != (
            1, 64, 1
        ):
            raise ValueError(
                "Basic blocks support only groups=1, base_width=64 and reduce_first=1 (as in "
                f"torchvision). Received: groups={self.groups}, base_width={self.base_width}, "
                f"reduce_first={self.reduce_first}"
            )
        for name in ("dropout_rate", "head_dropout_rate", "drop_path_rate"):
            check_rate(name, getattr(self, name))


# ------------------------------------------------------------------------------- the block


def _conv(x, filters, kernel_size, layout, name, *, axis, strides=1, groups=1, normalized=True,
          activation="relu", dilation=1):
    """A conv ``{name}_conv``, then, if ``normalized``, :func:`_bn` with ``activation``.

    A strided conv pads both sides explicitly (``{name}_pad``), as PyTorch does (Keras' "same"
    would pad only the bottom/right). ``normalized`` also decides the bias under
    ``conv_bias="unnormalized"`` (keras' ResNetV2: only convs without batch norm have one).
    """
    padding = kernel_size // 2 if strides > 1 and kernel_size > 1 else "same"
    use_bias = layout.conv_bias is True or (
        layout.conv_bias == "unnormalized" and not normalized
    )
    x = conv(
        x, filters, kernel_size, name, strides=strides, padding=padding, groups=groups,
        dilation_rate=dilation, use_bias=use_bias, names=RESNET_NAMES,
    )
    return _bn(x, layout, name, axis=axis, activation=activation) if normalized else x


def _bn(x, layout, name, *, axis, activation="relu"):
    """Batch norm ``{name}_bn`` -> ``activation`` ``{name}_relu`` (None: no activation)."""
    return bn_act(
        x, name, axis=axis, epsilon=layout.bn_epsilon, scale=True, activation=activation,
        names=RESNET_NAMES,
    )


def _zero_pad_channels(x, channels, name, *, axis):
    """He et al.'s option A: the extra channels are zeros (no parameters), padded on both sides.

    ``ZeroPadding2D`` pads the first two non-batch axes, so the channels are moved there.
    """
    pad = channels - x.shape[axis]
    if axis == -1:
        x = layers.Permute((3, 1, 2), name=f"{name}_to_channels_first")(x)
    x = layers.ZeroPadding2D(
        ((pad // 2, pad - pad // 2), (0, 0)), data_format="channels_last", name=f"{name}_pad"
    )(x)
    if axis == -1:
        x = layers.Permute((2, 3, 1), name=f"{name}_to_channels_last")(x)
    return x


def _shortcut(x, preact, out_channels, stride, layout, name, *, axis, dilated=False):
    """Projection (1x1, or ``shortcut_kernel_size`` when strided or ``dilated`` instead) where
    the channels change, option-A zero padding under ``shortcut="zero_pad"``; a strided identity
    subsamples."""
    if x.shape[axis] != out_channels and layout.shortcut == "projection":
        kernel_size = layout.shortcut_kernel_size if stride > 1 or dilated else 1
        # Pre-activation nets project the activated input and leave the sum unnormalized.
        return _conv(
            preact, out_channels, kernel_size, layout, f"{name}_0", axis=axis, strides=stride,
            normalized=not layout.preact, activation=None,
        )
    if stride > 1:
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    if x.shape[axis] != out_channels:
        x = _zero_pad_channels(x, out_channels, f"{name}_0", axis=axis)
    return x


def residual_block(x, planes, stride, layout, name, *, axis, drop_rate=0.0, dilation=(1, 1)):
    """One residual block, basic or bottleneck, post- or pre-activation.

    ``planes`` is torchvision's: a bottleneck's 3x3 conv has ``int(planes * base_width / 64) *
    groups`` channels (its first 1x1 that over ``reduce_first``) and the block outputs
    ``4 * planes``; a basic block's convs and output have ``planes``. ``layout`` is a
    :class:`ResNetLayout`, ``axis`` the channel axis; ``drop_rate`` > 0 puts a
    ``StochasticDepth`` layer on the branch. ``dilation`` is timm 1.0's ``(first_dilation,
    dilation)``: of the first 3x3 conv, and of a basic block's second one.
    """
    bottleneck = layout.block == "bottleneck"
    out_channels = 4 * planes if bottleneck else planes
    first_dilation, later_dilation = dilation
    preact = _bn(x, layout, f"{name}_preact", axis=axis) if layout.preact else x
    shortcut = _shortcut(
        x, preact, out_channels, stride, layout, name, axis=axis,
        dilated=first_dilation != later_dilation,
    )
    if bottleneck:
        width = int(planes * layout.base_width / 64) * layout.groups
        first_stride, mid_stride = (stride, 1) if layout.stride_in_1x1 else (1, stride)
        y = _conv(
            preact, width // layout.reduce_first, 1, layout, f"{name}_1", axis=axis,
            strides=first_stride,
        )
        y = _conv(
            y, width, 3, layout, f"{name}_2", axis=axis, strides=mid_stride, groups=layout.groups,
            dilation=first_dilation,
        )
        last = f"{name}_3"
    else:
        y = _conv(
            preact, planes, 3, layout, f"{name}_1", axis=axis, strides=stride,
            dilation=first_dilation,
        )
        last = f"{name}_2"
    if layout.dropout_rate:
        y = layers.Dropout(layout.dropout_rate, name=f"{name}_dropout")(y)
    y = _conv(
        y, out_channels, 1 if bottleneck else 3, layout, last, axis=axis,
        normalized=not layout.preact, activation=None,
        dilation=1 if bottleneck else later_dilation,
    )
    if layout.se:
        y = SqueezeExcite(
            reduced_channels=out_channels // layout.se_reduction,
            data_format=data_format_for(axis), name=f"{name}_se",
        )(y)
    if drop_rate:
        y = StochasticDepth(drop_rate, name=f"{name}_drop_path")(y)
    if layout.preact:
        return layers.Add(name=f"{name}_out")([shortcut, y])
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _stem(x, layout, *, axis):
    """'7x7': conv 7x7/2, max pool 3x3/2; 'deep': SENet154's three 3x3 convs (64-64-128) and a
    ceil-mode pool; '3x3': the CIFAR nets' single 3x3 conv. Pre-activation nets leave the last
    batch norm and ReLU to the first block."""
    width = layout.stem_width
    if layout.stem == "deep":
        x = _conv(x, width, 3, layout, "conv1_1", axis=axis, strides=2)
        x = _conv(x, width, 3, layout, "conv1_2", axis=axis)
        x = _conv(x, 2 * width, 3, layout, "conv1_3", axis=axis)
        return CeilPooling2D(3, 2, data_format=data_format_for(axis), name="pool1_pool")(x)
    kernel_size, strides = (7, 2) if layout.stem == "7x7" else (3, 1)
    x = _conv(
        x, width, kernel_size, layout, "conv1", axis=axis, strides=strides,
        normalized=not layout.preact,
    )
    if layout.stem == "7x7":
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    return x


# ------------------------------------------------------------------------- the builder

OUTPUT_STRIDES = (None, 8, 16, 32)


def stage_plan(layout, output_stride=None):
    """Per stage, per block: ``(stride, (first_dilation, dilation))``.

    ``output_stride`` 8 or 16 (None or 32: none) is torchvision 0.29's
    ``replace_stride_with_dilation`` and timm 1.0's ``output_stride``: a stage that would bring
    the network's stride past it keeps stride 1 and multiplies the dilation by its stride
    instead; its strided block (and the blocks before it) keep the previous dilation in their
    first 3x3 conv, the blocks after it use the new one. Shortcuts stay 1x1 (SENet154's 3x3)
    with stride 1, so every weight keeps its shape and checkpoints load.
    """
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(
            f"`output_stride` must be one of {OUTPUT_STRIDES} (None: no dilation). "
            f"Received: output_stride={output_stride!r}"
        )
    current = 1 if layout.stem == "3x3" else 4
    dilation, plan = 1, []
    for count, stride in zip(layout.blocks_per_stage, layout.strides):
        strided = 1 if layout.stride_block == "first" else count
        previous = dilation
        if output_stride is not None and current * stride > output_stride:
            dilation, stride = dilation * stride, 1
        else:
            current *= stride
        plan.append([
            (stride if i == strided else 1,
             (previous if i <= strided else dilation, dilation if i >= strided else previous))
            for i in range(1, count + 1)
        ])
    return plan


def ResNet(
    include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
    classes=1000, classifier_activation="softmax", name="resnet", *, block="bottleneck",
    blocks_per_stage=(3, 4, 6, 3), widths=(64, 128, 256, 512), strides=(1, 2, 2, 2), groups=1,
    base_width=64, reduce_first=1, preact=False, stem="7x7", stem_width=64, shortcut="projection",
    shortcut_kernel_size=1, stride_in_1x1=False, stride_block="first", conv_bias=False,
    bn_epsilon=TORCH_BN_EPSILON, se=False, se_reduction=16, dropout_rate=0.0,
    head_dropout_rate=0.0, drop_path_rate=0.0, output_stride=None, info=None,
):
    """A residual network (He et al. 2016) of any of the family's kinds; the defaults build
    torchvision's ResNet-50.

    Stages ``conv2, conv3, ...`` of ``blocks_per_stage`` blocks with ``widths`` planes (see
    :func:`residual_block`) and ``strides`` (in each stage's first block, or its last with
    ``stride_block="last"``). ``block``: "basic" or "bottleneck"; ``groups``/``base_width``:
    ResNeXt cardinality and width per group (Wide ResNet: ``base_width=128``); ``reduce_first``:
    the first 1x1 conv's width divisor (SENet154: 2); ``preact``: pre-activation blocks and a
    final BN-ReLU (He et al. 2016b); ``stem``: "7x7", "deep" or "3x3" with ``stem_width``
    channels; ``shortcut``: "projection" (He et al.'s option B; 1x1 conv, or
    ``shortcut_kernel_size`` when strided) or "zero_pad" (option A); ``stride_in_1x1``: stride
    the first 1x1 conv (Caffe/keras) instead of the 3x3; ``conv_bias``: False, True or
    "unnormalized" (only convs not followed by batch norm); ``se``: a squeeze-excitation on each
    branch (Hu et al. 2018) with ``se_reduction``; ``dropout_rate``: dropout inside each branch
    (Wide ResNet); ``head_dropout_rate``: before the classifier; ``drop_path_rate``: stochastic
    depth of the last block, decaying linearly to the first (Huang et al. 2016; 0 adds no
    layers); ``output_stride``: 8 or 16 dilates the stages that would stride past it instead
    of striding them (:func:`stage_plan`); ``info``: the registry entry whose weight files and
    input sizes apply (None: default 224, minimum 32, no named weights). Returns a Keras ``Model``.
    """
    layout = ResNetLayout(
        block=block, blocks_per_stage=blocks_per_stage, widths=widths, strides=strides,
        groups=groups, base_width=base_width, reduce_first=reduce_first, preact=preact,
        stem=stem, stem_width=stem_width, shortcut=shortcut,
        shortcut_kernel_size=shortcut_kernel_size, stride_in_1x1=stride_in_1x1,
        stride_block=stride_block, conv_bias=conv_bias, bn_epsilon=bn_epsilon, se=se,
        se_reduction=se_reduction, dropout_rate=dropout_rate,
        head_dropout_rate=head_dropout_rate, drop_path_rate=drop_path_rate,
    )
    c = Contract(
        info or _GENERIC, include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation, name,
    )
    axis = c.channel_axis
    rates = iter(drop_path_rates(sum(layout.blocks_per_stage), layout.drop_path_rate))
    x = _stem(c.image, layout, axis=axis)
    for stage, blocks in enumerate(stage_plan(layout, output_stride), 2):
        for i, (stride, dilation) in enumerate(blocks, 1):
            x = residual_block(
                x, layout.widths[stage - 2], stride, layout, f"conv{stage}_block{i}",
                axis=axis, drop_rate=next(rates), dilation=dilation,
            )
    if layout.preact:
        x = _bn(x, layout, "post", axis=axis)
    return c.model(c.head(x, dropout_rate=layout.head_dropout_rate))


# Not registered: models of the generic builder carry no card.
_GENERIC = ModelInfo(
    name="resnet", builder=ResNet, family="resnet", paper=HE2016, default_size=224, min_size=32,
    preprocessing="torch", recipe="resnet",
)

# ----------------------------------------------------------------------- the variants

_KERAS_V1 = dict(stride_in_1x1=True, conv_bias=True, bn_epsilon=KERAS_BN_EPSILON)
_KERAS_V2 = dict(
    preact=True, strides=(2, 2, 2, 1), stride_block="last", conv_bias="unnormalized",
    bn_epsilon=KERAS_BN_EPSILON,
)
_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

#: Registry name -> the :func:`ResNet` options of that variant.
VARIANTS = {
    "resnet18": dict(block="basic", blocks_per_stage=(2, 2, 2, 2)),
    "resnet34": dict(block="basic", blocks_per_stage=(3, 4, 6, 3)),
    "resnet50": dict(_KERAS_V1, blocks_per_stage=_DEPTHS[50]),
    "resnet101": dict(_KERAS_V1, blocks_per_stage=_DEPTHS[101]),
    "resnet152": dict(_KERAS_V1, blocks_per_stage=_DEPTHS[152]),
    # variant="torchvision" of ResNet50/101/152: the generic builder's defaults.
    "resnet50_torchvision": dict(blocks_per_stage=_DEPTHS[50]),
    "resnet101_torchvision": dict(blocks_per_stage=_DEPTHS[101]),
    "resnet152_torchvision": dict(blocks_per_stage=_DEPTHS[152]),
    "resnet50v2": dict(_KERAS_V2, blocks_per_stage=_DEPTHS[50]),
    "resnet101v2": dict(_KERAS_V2, blocks_per_stage=_DEPTHS[101]),
    "resnet152v2": dict(_KERAS_V2, blocks_per_stage=_DEPTHS[152]),
    "resnext50_32x4d": dict(blocks_per_stage=_DEPTHS[50], groups=32, base_width=4),
    "resnext101_32x8d": dict(blocks_per_stage=_DEPTHS[101], groups=32, base_width=8),
    "resnext101_64x4d": dict(blocks_per_stage=_DEPTHS[101], groups=64, base_width=4),
    "wide_resnet50_2": dict(blocks_per_stage=_DEPTHS[50], base_width=128),
    "wide_resnet101_2": dict(blocks_per_stage=_DEPTHS[101], base_width=128),
    "seresnet50": dict(blocks_per_stage=_DEPTHS[50], se=True),
    "seresnext50_32x4d": dict(blocks_per_stage=_DEPTHS[50], groups=32, base_width=4, se=True),
    "senet154": dict(
        blocks_per_stage=_DEPTHS[152], groups=64, base_width=4, reduce_first=2, se=True,
        stem="deep", shortcut_kernel_size=3,
    ),
}

# ---------------------------------------------------------------------- the checkpoints

_RSB = dict(crop_pct=0.95, test=(288, 1.0))  # timm's "ResNet strikes back" (a1, a2, b1k, c1, ...)
_RSB_A3 = dict(input_size=160, crop_pct=0.95, test=(224, 0.95))  # its 160px a3 recipe
_RA = dict(test=(288, 0.95))  # timm's RandAugment recipes (ra, ram, bt, racm, ...)
_FB = dict(interpolation="bilinear")
_APACHE, _NC = "apache-2.0", "cc-by-nc-4.0"


def _timm_checkpoints(name, rows, variant=None):
    """timm 1.0's ``name.tag`` files: ``(tag, top1, licence, pretrained_cfg overrides)``."""
    return tuple(
        timm_checkpoint(f"{name}.{tag}", "timm.resnet", top1, licence, variant=variant, **options)
        for tag, top1, licence, options in rows
    )


def _tv(tag, file_name, top1, **options):
    """A torchvision 0.29 file in torchvision's ResNet layout."""
    return torchvision_checkpoint(tag, file_name, "torchvision.resnet", top1, **options)


def _tv_checkpoints(name, v1, top1_v1, v2, top1_v2, variant=None):
    """torchvision 0.29's IMAGENET1K_V1 (``tv_in1k``) and V2 (``tv2_in1k``) files of ``name``."""
    return (
        _tv("tv2_in1k", f"{name}-{v2}.pth", top1_v2, resize=232, variant=variant),
        _tv("tv_in1k", f"{name}-{v1}.pth", top1_v1, variant=variant),
    )


def _twin_checkpoints(name, rows, *torchvision_files):
    """Every timm 1.0 / torchvision 0.29 ImageNet-1k checkpoint of keras' ResNet50/101/152 twins
    (timm's headless "resnet50.bamboo" aside): timm's ``rows`` and torchvision's two files
    (:func:`_tv_checkpoints`), all in torchvision's layout: ``variant="torchvision"``."""
    return _timm_checkpoints(name, rows, "torchvision") + _tv_checkpoints(
        name, *torchvision_files, variant="torchvision"
    )


_RESNET50_CHECKPOINTS = _twin_checkpoints("resnet50", (
    ("a1_in1k", 80.382, _APACHE, _RSB),
    ("a1h_in1k", 79.264, _APACHE, dict(input_size=176, crop_pct=0.9, test=(224, 1.0))),
    ("a2_in1k", 79.828, _APACHE, _RSB), ("a3_in1k", 75.994, _APACHE, _RSB_A3),
    ("am_in1k", 79.004, _APACHE, {}), ("b1k_in1k", 79.564, _APACHE, _RSB),
    ("b2k_in1k", 79.388, _APACHE, _RSB), ("bt_in1k", 78.444, _APACHE, _RA),
    ("c1_in1k", 79.766, _APACHE, _RSB), ("c2_in1k", 79.868, _APACHE, _RSB),
    ("d_in1k", 79.904, _APACHE, _RSB), ("fb_ssl_yfcc100m_ft_in1k", 79.252, _NC, _FB),
    ("fb_swsl_ig1b_ft_in1k", 81.146, _NC, _FB), ("gluon_in1k", 77.58, _APACHE, {}),
    ("ra_in1k", 78.82, _APACHE, _RA), ("ram_in1k", 79.034, _APACHE, _RA),
), "0676ba61", 76.13, "11ad3fa6", 80.858)

_RESNET101_CHECKPOINTS = _twin_checkpoints("resnet101", (
    ("a1_in1k", 81.494, _APACHE, _RSB), ("a1h_in1k", 81.95, _APACHE, _RSB),
    ("a2_in1k", 81.344, _APACHE, _RSB), ("a3_in1k", 77.928, _APACHE, _RSB_A3),
    ("gluon_in1k", 79.306, _APACHE, {}),
), "63fe2227", 77.374, "cd907fc2", 81.886)

_RESNET152_CHECKPOINTS = _twin_checkpoints("resnet152", (
    ("a1_in1k", 81.998, _APACHE, _RSB), ("a1h_in1k", 82.818, _APACHE, _RSB),
    ("a2_in1k", 81.764, _APACHE, _RSB), ("a3_in1k", 78.896, _APACHE, _RSB_A3),
    ("gluon_in1k", 79.712, _APACHE, {}),
), "394f9c45", 78.312, "f82ba261", 82.284)

_RESNET18_CHECKPOINTS = _timm_checkpoints("resnet18", (
    ("a1_in1k", 71.504, _APACHE, _RSB), ("a2_in1k", 70.634, _APACHE, _RSB),
    ("a3_in1k", 65.67, _APACHE, _RSB_A3), ("fb_ssl_yfcc100m_ft_in1k", 72.636, _NC, _FB),
    ("fb_swsl_ig1b_ft_in1k", 73.286, _NC, _FB), ("gluon_in1k", 70.844, _APACHE, {}),
)) + (_tv("tv_in1k", "resnet18-f37072fd.pth", 69.758),)

_RESNET34_CHECKPOINTS = _timm_checkpoints("resnet34", (
    ("a1_in1k", 76.42, _APACHE, _RSB), ("a2_in1k", 75.52, _APACHE, _RSB),
    ("a3_in1k", 70.58, _APACHE, _RSB_A3), ("bt_in1k", 75.176, _APACHE, _RA),
    ("gluon_in1k", 74.574, _APACHE, {}),
    ("ra4_e3600_r224_in1k", 77.492, _APACHE,
     dict(crop_pct=0.9, mean=INCEPTION_MEAN, std=INCEPTION_STD, test=(288, 1.0))),
)) + (_tv("tv_in1k", "resnet34-b627a593.pth", 73.314),)

_RESNEXT50_32X4D_CHECKPOINTS = _timm_checkpoints("resnext50_32x4d", (
    ("a1_in1k", 80.526, _APACHE, _RSB), ("a1h_in1k", 81.14, _APACHE, _RSB),
    ("a2_in1k", 80.444, _APACHE, _RSB), ("a3_in1k", 77.732, _APACHE, _RSB_A3),
    ("fb_ssl_yfcc100m_ft_in1k", 80.316, _NC, _FB), ("fb_swsl_ig1b_ft_in1k", 82.162, _NC, _FB),
    ("gluon_in1k", 79.354, _APACHE, {}), ("ra_in1k", 79.8, _APACHE, _RA),
)) + _tv_checkpoints("resnext50_32x4d", "7cdf4587", 77.618, "1a0047aa", 81.198)

_RESNEXT101_32X8D_CHECKPOINTS = _timm_checkpoints("resnext101_32x8d", (
    ("fb_ssl_yfcc100m_ft_in1k", 81.62, _NC, _FB), ("fb_swsl_ig1b_ft_in1k", 84.276, _NC, _FB),
    ("fb_wsl_ig1b_ft_in1k", 82.72, _NC, _FB),
)) + _tv_checkpoints("resnext101_32x8d", "8ba56ff5", 79.312, "110c445d", 82.834)

_RESNEXT101_64X4D_CHECKPOINTS = _timm_checkpoints("resnext101_64x4d", (
    ("c1_in1k", 82.446, _APACHE, _RSB), ("gluon_in1k", 80.64, _APACHE, {}),
)) + (_tv("tv_in1k", "resnext101_64x4d-173b62eb.pth", 83.246, resize=232),)

_WIDE_RESNET50_2_CHECKPOINTS = _timm_checkpoints("wide_resnet50_2", (
    ("racm_in1k", 81.466, _APACHE, _RA),
)) + _tv_checkpoints("wide_resnet50_2", "95faca4d", 78.468, "9ba9bcbe", 81.602)

_WIDE_RESNET101_2_CHECKPOINTS = _tv_checkpoints(
    "wide_resnet101_2", "32ee1156", 78.848, "d733dc28", 82.51
)

_SERESNET50_CHECKPOINTS = _timm_checkpoints("seresnet50", (
    ("a1_in1k", 80.012, _APACHE, _RSB), ("a2_in1k", 80.102, _APACHE, _RSB),
    ("a3_in1k", 75.104, _APACHE, _RSB_A3), ("ra2_in1k", 80.26, _APACHE, _RA),
))

_SERESNEXT50_32X4D_CHECKPOINTS = _timm_checkpoints("seresnext50_32x4d", (
    ("gluon_in1k", 79.916, _APACHE, {}), ("racm_in1k", 81.268, _APACHE, _RA),
))

_SENET154_CHECKPOINTS = (
    timm_checkpoint(
        "legacy_senet154.in1k", "timm.legacy_senet", 81.32, _APACHE, **_FB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
        "legacy_senet154-e9eb9fe6.pth",
    ),
)

# --------------------------------------------------------------------------- the cards


def _imagenet_entry(family, paper, twin, params, **metadata):
    """Registry metadata of an ImageNet variant: 224 default, 32 minimum, tested at 32."""
    return dict(
        family=family, paper=paper, default_size=224, min_size=32, test_size=32, twin=twin,
        params=params, **metadata,
    )


def _torchvision_variant(name, params, top1):
    """The card fields of ``variant="torchvision"`` of keras' ResNet50/101/152 twins:
    torchvision's (and timm's) ``resnet50|101|152``, the stride on the 3x3 conv and no conv
    biases; ``"imagenet"`` then loads torchvision's IMAGENET1K_V1 file."""
    return dict(
        twin=f"torchvision {name}", params=params, weights={}, preprocessing="torch",
        published_top1=(top1, "torchvision"), layout="torchvision.resnet",
        default_checkpoint="tv_in1k",
    )


_TV = dict(preprocessing="torch", layout="torchvision.resnet", default_checkpoint="tv_in1k")
_TIMM = dict(preprocessing="torch", layout="timm.resnet")

#: Registry name -> the card facts of its builder (``register``'s keyword arguments).
CARDS = {
    # keras.applications twins: weights="imagenet" loads keras' published files; variant=
    # "torchvision" builds torchvision's layout, which the timm/torchvision checkpoints choose.
    "resnet50": _imagenet_entry(
        "resnet", HE2016, "keras.applications.ResNet50", 25_636_712,
        weights=keras_weights("resnet/resnet50", "2cb95161c43110f7111970584f804107",
                              "4d473c1dd8becc155b73f8504c6f6626"),
        checkpoints=_RESNET50_CHECKPOINTS,
        variants={"torchvision": _torchvision_variant("resnet50", 25_610_152, 76.13)},
        preprocessing="caffe", published_top1=(74.9, "keras.applications"),
    ),
    "resnet101": _imagenet_entry(
        "resnet", HE2016, "keras.applications.ResNet101", 44_707_176,
        weights=keras_weights("resnet/resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                              "88cf7a10940856eca736dc7b7e228a21"),
        checkpoints=_RESNET101_CHECKPOINTS,
        variants={"torchvision": _torchvision_variant("resnet101", 44_654_504, 77.374)},
        preprocessing="caffe", published_top1=(76.4, "keras.applications"),
    ),
    "resnet152": _imagenet_entry(
        "resnet", HE2016, "keras.applications.ResNet152", 60_419_944, slow=True,
        weights=keras_weights("resnet/resnet152", "100835be76be38e30d865e96f2aaae62",
                              "ee4c566cf9a93f14d82f913c2dc6dd0c"),
        checkpoints=_RESNET152_CHECKPOINTS,
        variants={"torchvision": _torchvision_variant("resnet152", 60_344_232, 78.312)},
        preprocessing="caffe", published_top1=(76.6, "keras.applications"),
    ),
    "resnet50v2": _imagenet_entry(
        "resnet", HE2016_V2, "keras.applications.ResNet50V2", 25_613_800,
        weights=keras_weights("resnet/resnet50v2", "3ef43a0b657b3be2300d5770ece849e0",
                              "fac2f116257151a9d068a22e544a4917"),
        preprocessing="tf", published_top1=(76.0, "keras.applications"),
    ),
    "resnet101v2": _imagenet_entry(
        "resnet", HE2016_V2, "keras.applications.ResNet101V2", 44_675_560,
        weights=keras_weights("resnet/resnet101v2", "6343647c601c52e1368623803854d971",
                              "c0ed64b8031c3730f411d2eb4eea35b5"),
        preprocessing="tf", published_top1=(77.2, "keras.applications"),
    ),
    "resnet152v2": _imagenet_entry(
        "resnet", HE2016_V2, "keras.applications.ResNet152V2", 60_380_648, slow=True,
        weights=keras_weights("resnet/resnet152v2", "a49b44d1979771252814e80f8ec446f9",
                              "ed17cf2e0169df9d443503ef94b23b33"),
        preprocessing="tf", published_top1=(78.0, "keras.applications"),
    ),
    # torchvision twins: no conv bias, BN epsilon 1e-5, the stride on the 3x3 conv.
    "resnet18": _imagenet_entry(
        "resnet", HE2016, "torchvision resnet18", 11_699_112, **_TV,
        published_top1=(69.758, "torchvision"), checkpoints=_RESNET18_CHECKPOINTS,
    ),
    "resnet34": _imagenet_entry(
        "resnet", HE2016, "torchvision resnet34", 21_814_696, **_TV,
        published_top1=(73.314, "torchvision"), checkpoints=_RESNET34_CHECKPOINTS,
    ),
    "resnext50_32x4d": _imagenet_entry(
        "resnext", XIE2017, "torchvision resnext50_32x4d", 25_097_128, **_TV,
        published_top1=(77.618, "torchvision"), checkpoints=_RESNEXT50_32X4D_CHECKPOINTS,
    ),
    "resnext101_32x8d": _imagenet_entry(
        "resnext", XIE2017, "torchvision resnext101_32x8d", 88_994_216, slow=True, **_TV,
        published_top1=(79.312, "torchvision"), checkpoints=_RESNEXT101_32X8D_CHECKPOINTS,
    ),
    "resnext101_64x4d": _imagenet_entry(
        "resnext", XIE2017, "torchvision resnext101_64x4d", 83_658_152, slow=True, **_TV,
        checkpoints=_RESNEXT101_64X4D_CHECKPOINTS,
    ),
    "wide_resnet50_2": _imagenet_entry(
        "wide_resnet", WRN2016, "torchvision wide_resnet50_2", 68_951_464, slow=True, **_TV,
        published_top1=(78.468, "torchvision"), checkpoints=_WIDE_RESNET50_2_CHECKPOINTS,
    ),
    "wide_resnet101_2": _imagenet_entry(
        "wide_resnet", WRN2016, "torchvision wide_resnet101_2", 127_024_552, slow=True, **_TV,
        published_top1=(78.848, "torchvision"), checkpoints=_WIDE_RESNET101_2_CHECKPOINTS,
    ),
    # timm twins: torchvision's bottleneck with a squeeze-excitation (reduction 16) on each branch.
    "seresnet50": _imagenet_entry(
        "senet", HU2018, "timm seresnet50", 28_141_144, **_TIMM,
        checkpoints=_SERESNET50_CHECKPOINTS, default_checkpoint="a1_in1k",
    ),
    "seresnext50_32x4d": _imagenet_entry(
        "senet", HU2018, "timm seresnext50_32x4d", 27_628_120, **_TIMM,
        checkpoints=_SERESNEXT50_32X4D_CHECKPOINTS, default_checkpoint="racm_in1k",
    ),
    "senet154": _imagenet_entry(
        "senet", HU2018, "timm legacy_senet154", 115_336_536, slow=True, preprocessing="torch",
        layout="timm.legacy_senet", checkpoints=_SENET154_CHECKPOINTS, default_checkpoint="in1k",
    ),
}

# ------------------------------------------------------------------------ the builders


def _build(builder, arguments):
    """:func:`ResNet` with a registered builder's ``arguments`` (its ``locals()``), its card and
    its row of :data:`VARIANTS`.

    ``variant`` (ResNet50/101/152) resolves the card against ``weights`` first
    (:func:`keras_arches.loading.resolve_variant`); the torchvision layout is the row
    ``"<name>_torchvision"``. SENet154's ``dropout_rate`` is the head's.
    """
    arguments, info = dict(arguments), builder.info
    row = info.name
    if "variant" in arguments:
        info = loading.resolve_variant(info, arguments["weights"], arguments.pop("variant"))
        row = row if info.variant is None else f"{row}_{info.variant}"
    if "dropout_rate" in arguments:
        arguments["head_dropout_rate"] = arguments.pop("dropout_rate")
    return ResNet(**arguments, info=info, **VARIANTS[row])


@register(**CARDS["resnet50"])
def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50",
             drop_path_rate=0.0, output_stride=None, variant=None):
    """ResNet-50 (He et al. 2016, Table 1), a twin of ``keras.applications.ResNet50``.

    Bottleneck blocks 3-4-6-3 with conv biases and the stride on the first 1x1 conv.

    Args:
        drop_path_rate: stochastic depth of the last block, decaying linearly to the first (0
            adds no layers).
        output_stride: 8 or 16 dilates the stages that would stride past it instead of
            striding them (:func:`stage_plan`; None or 32: no dilation).
        variant: ``"torchvision"``: torchvision 0.29's (and timm 1.0's) ``resnet50``, no conv
            biases and the stride on the 3x3 conv, the layout of every timm/torchvision
            checkpoint (``"tv_in1k"``, ``"a1_in1k"``, ...; ``"imagenet"`` then loads
            ``"tv_in1k"``). None: the checkpoint chooses its variant; a contradicting
            ``variant`` is a ``ValueError``.

    Returns:
        A Keras Model.
    """
    return _build(ResNet50, locals())


@register(**CARDS["resnet101"])
def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet101",
              drop_path_rate=0.0, output_stride=None, variant=None):
    """ResNet-101 (He et al. 2016, Table 1), a twin of ``keras.applications.ResNet101``.

    As :func:`ResNet50`, with 3-4-23-3 blocks (``variant="torchvision"``: torchvision's
    ``resnet101``).

    Returns:
        A Keras Model.
    """
    return _build(ResNet101, locals())


@register(**CARDS["resnet152"])
def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet152",
              drop_path_rate=0.0, output_stride=None, variant=None):
    """ResNet-152 (He et al. 2016, Table 1), a twin of ``keras.applications.ResNet152``.

    As :func:`ResNet50`, with 3-8-36-3 blocks (``variant="torchvision"``: torchvision's
    ``resnet152``).

    Returns:
        A Keras Model.
    """
    return _build(ResNet152, locals())


@register(**CARDS["resnet50v2"])
def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="resnet50v2",
               drop_path_rate=0.0, output_stride=None):
    """Pre-activation ResNet-50 (He et al. 2016, Identity Mappings in Deep Residual Networks).

    A twin of ``keras.applications.ResNet50V2``: BN-ReLU before each conv, each stage's stride in
    its last block, a final BN-ReLU. ``drop_path_rate`` and ``output_stride`` as in
    :func:`ResNet50`.

    Returns:
        A Keras Model.
    """
    return _build(ResNet50V2, locals())


@register(**CARDS["resnet101v2"])
def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="resnet101v2",
                drop_path_rate=0.0, output_stride=None):
    """Pre-activation ResNet-101 (He et al. 2016), a twin of ``keras.applications.ResNet101V2``.

    As :func:`ResNet50V2`, with 3-4-23-3 blocks.

    Returns:
        A Keras Model.
    """
    return _build(ResNet101V2, locals())


@register(**CARDS["resnet152v2"])
def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="resnet152v2",
                drop_path_rate=0.0, output_stride=None):
    """Pre-activation ResNet-152 (He et al. 2016), a twin of ``keras.applications.ResNet152V2``.

    As :func:`ResNet50V2`, with 3-8-36-3 blocks.

    Returns:
        A Keras Model.
    """
    return _build(ResNet152V2, locals())


@register(**CARDS["resnet18"])
def ResNet18(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="resnet18",
             drop_path_rate=0.0, output_stride=None):
    """ResNet-18 (He et al. 2016, Table 1) in torchvision's layout (``resnet18``).

    Basic blocks 2-2-2-2, 1x1 projection shortcuts where the shape changes.

    Args:
        drop_path_rate: stochastic depth of the last block, decaying linearly to the first (0
            adds no layers).
        output_stride: 8 or 16 dilates the stages that would stride past it instead of
            striding them (:func:`stage_plan`; None or 32: no dilation).

    Returns:
        A Keras Model.
    """
    return _build(ResNet18, locals())


@register(**CARDS["resnet34"])
def ResNet34(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="resnet34",
             drop_path_rate=0.0, output_stride=None):
    """ResNet-34 (He et al. 2016, Table 1) in torchvision's layout (``resnet34``).

    As :func:`ResNet18`, with 3-4-6-3 basic blocks.

    Returns:
        A Keras Model.
    """
    return _build(ResNet34, locals())


@register(**CARDS["resnext50_32x4d"])
def ResNeXt50_32x4d(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=1000, classifier_activation="softmax",
                    name="resnext50_32x4d", drop_path_rate=0.0, output_stride=None):
    """ResNeXt-50 32x4d (Xie et al. 2017, Table 1) in torchvision's layout.

    Bottlenecks 3-4-6-3 whose 3x3 conv is ``Conv2D(groups=32)`` with 4 channels per group at
    the first stage. ``drop_path_rate`` and ``output_stride`` as in :func:`ResNet18`.

    Returns:
        A Keras Model.
    """
    return _build(ResNeXt50_32x4d, locals())


@register(**CARDS["resnext101_32x8d"])
def ResNeXt101_32x8d(include_top=True, weights=None, input_tensor=None, input_shape=None,
                     pooling=None, classes=1000, classifier_activation="softmax",
                     name="resnext101_32x8d", drop_path_rate=0.0, output_stride=None):
    """ResNeXt-101 32x8d (Xie et al. 2017) in torchvision's layout (``resnext101_32x8d``).

    As :func:`ResNeXt50_32x4d`, with 3-4-23-3 bottlenecks and 32 groups of 8 channels at the
    first stage.

    Returns:
        A Keras Model.
    """
    return _build(ResNeXt101_32x8d, locals())


@register(**CARDS["resnext101_64x4d"])
def ResNeXt101_64x4d(include_top=True, weights=None, input_tensor=None, input_shape=None,
                     pooling=None, classes=1000, classifier_activation="softmax",
                     name="resnext101_64x4d", drop_path_rate=0.0, output_stride=None):
    """ResNeXt-101 64x4d (Xie et al. 2017) in torchvision's layout (``resnext101_64x4d``).

    As :func:`ResNeXt50_32x4d`, with 3-4-23-3 bottlenecks and 64 groups of 4 channels at the
    first stage.

    Returns:
        A Keras Model.
    """
    return _build(ResNeXt101_64x4d, locals())


@register(**CARDS["wide_resnet50_2"])
def WideResNet50_2(include_top=True, weights=None, input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="wide_resnet50_2", drop_path_rate=0.0, output_stride=None):
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016) in torchvision's layout.

    torchvision's ResNet-50 with the inner 1x1 and 3x3 convs of every bottleneck twice as wide.

    Returns:
        A Keras Model.
    """
    return _build(WideResNet50_2, locals())


@register(**CARDS["wide_resnet101_2"])
def WideResNet101_2(include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=1000, classifier_activation="softmax",
                    name="wide_resnet101_2", drop_path_rate=0.0, output_stride=None):
    """Wide ResNet-101-2 (Zagoruyko & Komodakis 2016) in torchvision's layout.

    As :func:`WideResNet50_2`, with 3-4-23-3 blocks (torchvision ``wide_resnet101_2``).

    Returns:
        A Keras Model.
    """
    return _build(WideResNet101_2, locals())


@register(**CARDS["seresnet50"])
def SEResNet50(include_top=True, weights=None, input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="seresnet50",
               drop_path_rate=0.0, output_stride=None):
    """SE-ResNet-50 (Hu et al. 2018) as timm's ``seresnet50``.

    torchvision's ResNet-50 with a squeeze-excitation (reduction 16, biased 1x1 convs) after
    each branch's last batch norm. ``drop_path_rate`` and ``output_stride`` as in
    :func:`ResNet18`.

    Returns:
        A Keras Model.
    """
    return _build(SEResNet50, locals())


@register(**CARDS["seresnext50_32x4d"])
def SEResNeXt50_32x4d(include_top=True, weights=None, input_tensor=None, input_shape=None,
                      pooling=None, classes=1000, classifier_activation="softmax",
                      name="seresnext50_32x4d", drop_path_rate=0.0, output_stride=None):
    """SE-ResNeXt-50 32x4d (Hu et al. 2018) as timm's ``seresnext50_32x4d``.

    :func:`ResNeXt50_32x4d` with :func:`SEResNet50`'s squeeze-excitation.

    Returns:
        A Keras Model.
    """
    return _build(SEResNeXt50_32x4d, locals())


@register(**CARDS["senet154"])
def SENet154(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="senet154", dropout_rate=0.2,
             drop_path_rate=0.0, output_stride=None):
    """SENet-154 (Hu et al. 2018) as timm's ``legacy_senet154``.

    A stem of three 3x3 convs (64-64-128) and a ceil-mode max pool, 3-8-36-3 SE bottlenecks
    with 64 groups (first 1x1 at half the 3x3's width), 3x3 strided projection shortcuts and
    squeeze-excitation reduction 16.

    Args:
        dropout_rate: dropout before the classifier.

    Returns:
        A Keras Model.
    """
    return _build(SENet154, locals())
