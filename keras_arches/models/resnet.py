"""The residual family: ResNet, ResNetV2, ResNeXt, Wide ResNet, SENet (the CIFAR rows:
:mod:`keras_arches.models.resnet_cifar`).

One builder, :func:`ResNet`, and one block, :func:`residual_block`, make every variant; each
registered builder is a short function that picks a row of :data:`VARIANTS`. The options that
separate the reference implementations are explicit: keras.applications' ResNet50 keeps conv
biases and strides the first 1x1 conv (``stride_in_1x1``, ``conv_bias=True``, BN epsilon
1.001e-5); its ResNetV2 is pre-activation with the stride in each stage's last block; torchvision
and timm have no conv bias and stride the 3x3 conv. Layer names follow keras.applications
(``conv2_block1_1_conv``), so keras' weight files load by name.
"""

import dataclasses
import math

from keras import layers

from keras_arches import loading
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

_HE2016 = "He et al. 2016, Deep Residual Learning for Image Recognition (arXiv:1512.03385)"
_HE2016_V2 = "He et al. 2016, Identity Mappings in Deep Residual Networks (arXiv:1603.05027)"
_XIE2017 = (
    "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks "
    "(arXiv:1611.05431)"
)
_WRN2016 = "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv:1605.07146)"
_HU2018 = "Hu et al. 2018, Squeeze-and-Excitation Networks (arXiv:1709.01507)"

KERAS_BN_EPSILON = 1.001e-5  # keras.applications' ResNet batch norms


def resnext_bottleneck_width(C, groups):
    """The per-path width ``c`` of a ResNeXt block as costly as a ``C``-channel bottleneck.

    A bottleneck on ``4C`` channels costs ``17 HWC^2`` multiply-adds; a ResNeXt block with
    ``groups`` paths of width ``c`` costs ``HW (9Gc^2 + 8GCc)`` (Xie et al. 2017, Table 2). This
    returns the positive root of ``9Gc^2 + 8GCc - 17C^2 = 0``, rounded to the nearest integer
    (C=64: G=4 -> 24, G=32 -> 4).
    """
    for arg, value in (("C", C), ("groups", groups)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
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
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
    *,
    block="bottleneck",
    blocks_per_stage=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    strides=(1, 2, 2, 2),
    groups=1,
    base_width=64,
    reduce_first=1,
    preact=False,
    stem="7x7",
    stem_width=64,
    shortcut="projection",
    shortcut_kernel_size=1,
    stride_in_1x1=False,
    stride_block="first",
    conv_bias=False,
    bn_epsilon=TORCH_BN_EPSILON,
    se=False,
    se_reduction=16,
    dropout_rate=0.0,
    head_dropout_rate=0.0,
    drop_path_rate=0.0,
    output_stride=None,
    info=None,
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
    name="resnet", builder=ResNet, family="resnet", paper=_HE2016, default_size=224, min_size=32,
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


def _tv_checkpoints(name, v1, top1_v1, v2, top1_v2):
    """torchvision 0.29's IMAGENET1K_V1 (``tv_in1k``) and V2 (``tv2_in1k``) files of ``name``."""
    return (
        torchvision_checkpoint(
            "tv2_in1k", f"{name}-{v2}.pth", "torchvision.resnet", top1_v2, resize=232,
            variant="torchvision",
        ),
        torchvision_checkpoint(
            "tv_in1k", f"{name}-{v1}.pth", "torchvision.resnet", top1_v1, variant="torchvision",
        ),
    )


def _timm_checkpoints(name, rows):
    """timm 1.0's ``name.tag`` files: ``(tag, top1, licence, pretrained_cfg overrides)``."""
    return tuple(
        timm_checkpoint(f"{name}.{tag}", "timm.resnet", top1, licence, variant="torchvision",
                        **options)
        for tag, top1, licence, options in rows
    )


_RSB = dict(crop_pct=0.95, test=(288, 1.0))  # timm's "ResNet strikes back" (a1, a2, b1k, c1, ...)
_RSB_A3 = dict(input_size=160, crop_pct=0.95, test=(224, 0.95))  # its 160px a3 recipe
_RA = dict(test=(288, 0.95))  # timm's RandAugment recipes (ra, ram, bt, racm, ...)
_FB = dict(interpolation="bilinear")
_APACHE, _NC = "apache-2.0", "cc-by-nc-4.0"

# Every timm 1.0 / torchvision 0.29 ImageNet-1k checkpoint of resnet50/101/152 (timm's headless
# "resnet50.bamboo" aside), all in torchvision's layout: variant="torchvision".
_RESNET50_CHECKPOINTS = _timm_checkpoints("resnet50", (
    ("a1_in1k", 80.382, _APACHE, _RSB),
    ("a1h_in1k", 79.264, _APACHE, dict(input_size=176, crop_pct=0.9, test=(224, 1.0))),
    ("a2_in1k", 79.828, _APACHE, _RSB),
    ("a3_in1k", 75.994, _APACHE, _RSB_A3),
    ("am_in1k", 79.004, _APACHE, {}),
    ("b1k_in1k", 79.564, _APACHE, _RSB),
    ("b2k_in1k", 79.388, _APACHE, _RSB),
    ("bt_in1k", 78.444, _APACHE, _RA),
    ("c1_in1k", 79.766, _APACHE, _RSB),
    ("c2_in1k", 79.868, _APACHE, _RSB),
    ("d_in1k", 79.904, _APACHE, _RSB),
    ("fb_ssl_yfcc100m_ft_in1k", 79.252, _NC, _FB),
    ("fb_swsl_ig1b_ft_in1k", 81.146, _NC, _FB),
    ("gluon_in1k", 77.58, _APACHE, {}),
    ("ra_in1k", 78.82, _APACHE, _RA),
    ("ram_in1k", 79.034, _APACHE, _RA),
)) + _tv_checkpoints("resnet50", "0676ba61", 76.13, "11ad3fa6", 80.858)

_RESNET101_CHECKPOINTS = _timm_checkpoints("resnet101", (
    ("a1_in1k", 81.494, _APACHE, _RSB),
    ("a1h_in1k", 81.95, _APACHE, _RSB),
    ("a2_in1k", 81.344, _APACHE, _RSB),
    ("a3_in1k", 77.928, _APACHE, _RSB_A3),
    ("gluon_in1k", 79.306, _APACHE, {}),
)) + _tv_checkpoints("resnet101", "63fe2227", 77.374, "cd907fc2", 81.886)

_RESNET152_CHECKPOINTS = _timm_checkpoints("resnet152", (
    ("a1_in1k", 81.998, _APACHE, _RSB),
    ("a1h_in1k", 82.818, _APACHE, _RSB),
    ("a2_in1k", 81.764, _APACHE, _RSB),
    ("a3_in1k", 78.896, _APACHE, _RSB_A3),
    ("gluon_in1k", 79.712, _APACHE, {}),
)) + _tv_checkpoints("resnet152", "394f9c45", 78.312, "f82ba261", 82.284)


# keras.applications twins: weights="imagenet" loads keras' published files; variant=
# "torchvision" builds torchvision's layout, which the timm/torchvision checkpoints choose.


@register(**_imagenet_entry(
    "resnet", _HE2016, "keras.applications.ResNet50", 25_636_712,
    weights=keras_weights(
        "resnet/resnet50", "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"
    ),
    checkpoints=_RESNET50_CHECKPOINTS,
    variants={"torchvision": _torchvision_variant("resnet50", 25_610_152, 76.13)},
    preprocessing="caffe", published_top1=(74.9, "keras.applications"),
))
def ResNet50(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50",
    drop_path_rate=0.0,
    output_stride=None,
    variant=None,
):
    """ResNet-50 (He et al. 2016, Table 1), a twin of ``keras.applications.ResNet50``: bottleneck
    blocks 3-4-6-3 with conv biases and the stride on the first 1x1 conv. ``drop_path_rate``:
    stochastic depth of the last block (0 adds no layers). ``variant="torchvision"``:
    torchvision 0.29's (and timm 1.0's) ``resnet50``, no conv biases and the stride on the 3x3
    conv, the layout of every timm/torchvision checkpoint (``"tv_in1k"``, ``"a1_in1k"``, ...;
    ``"imagenet"`` then loads ``"tv_in1k"``). A checkpoint chooses its variant
    (``variant=None``); a contradicting ``variant`` is a ``ValueError``. Returns a Keras
    ``Model``."""
    info = loading.resolve_variant(ResNet50.info, weights, variant)
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet50" if info.variant is None else "resnet50_torchvision"],
    )


@register(**_imagenet_entry(
    "resnet", _HE2016, "keras.applications.ResNet101", 44_707_176,
    weights=keras_weights(
        "resnet/resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"
    ),
    checkpoints=_RESNET101_CHECKPOINTS,
    variants={"torchvision": _torchvision_variant("resnet101", 44_654_504, 77.374)},
    preprocessing="caffe", published_top1=(76.4, "keras.applications"),
))
def ResNet101(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101",
    drop_path_rate=0.0,
    output_stride=None,
    variant=None,
):
    """ResNet-101: :func:`ResNet50` with 3-4-23-3 blocks (``keras.applications.ResNet101``;
    ``variant="torchvision"``: torchvision's ``resnet101``). Returns a Keras ``Model``."""
    info = loading.resolve_variant(ResNet101.info, weights, variant)
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet101" if info.variant is None else "resnet101_torchvision"],
    )


@register(**_imagenet_entry(
    "resnet", _HE2016, "keras.applications.ResNet152", 60_419_944,
    weights=keras_weights(
        "resnet/resnet152", "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"
    ),
    slow=True,
    checkpoints=_RESNET152_CHECKPOINTS,
    variants={"torchvision": _torchvision_variant("resnet152", 60_344_232, 78.312)},
    preprocessing="caffe", published_top1=(76.6, "keras.applications"),
))
def ResNet152(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152",
    drop_path_rate=0.0,
    output_stride=None,
    variant=None,
):
    """ResNet-152: :func:`ResNet50` with 3-8-36-3 blocks (``keras.applications.ResNet152``;
    ``variant="torchvision"``: torchvision's ``resnet152``). Returns a Keras ``Model``."""
    info = loading.resolve_variant(ResNet152.info, weights, variant)
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet152" if info.variant is None else "resnet152_torchvision"],
    )


@register(**_imagenet_entry(
    "resnet", _HE2016_V2, "keras.applications.ResNet50V2", 25_613_800,
    weights=keras_weights(
        "resnet/resnet50v2", "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"
    ),
    preprocessing="tf", published_top1=(76.0, "keras.applications"),
))
def ResNet50V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet50v2",
    drop_path_rate=0.0,
    output_stride=None,
):
    """Pre-activation ResNet-50 (He et al. 2016, "Identity Mappings"), a twin of
    ``keras.applications.ResNet50V2``: BN-ReLU before each conv, each stage's stride in its last
    block, a final BN-ReLU. ``drop_path_rate`` as in :func:`ResNet50`. Returns a Keras
    ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNet50V2.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet50v2"],
    )


@register(**_imagenet_entry(
    "resnet", _HE2016_V2, "keras.applications.ResNet101V2", 44_675_560,
    weights=keras_weights(
        "resnet/resnet101v2", "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"
    ),
    preprocessing="tf", published_top1=(77.2, "keras.applications"),
))
def ResNet101V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet101v2",
    drop_path_rate=0.0,
    output_stride=None,
):
    """:func:`ResNet50V2` with 3-4-23-3 blocks (``keras.applications.ResNet101V2``). Returns a
    Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNet101V2.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet101v2"],
    )


@register(**_imagenet_entry(
    "resnet", _HE2016_V2, "keras.applications.ResNet152V2", 60_380_648,
    weights=keras_weights(
        "resnet/resnet152v2", "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"
    ),
    slow=True,
    preprocessing="tf", published_top1=(78.0, "keras.applications"),
))
def ResNet152V2(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet152v2",
    drop_path_rate=0.0,
    output_stride=None,
):
    """:func:`ResNet50V2` with 3-8-36-3 blocks (``keras.applications.ResNet152V2``). Returns a
    Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNet152V2.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet152v2"],
    )


# torchvision twins: no conv bias, BN epsilon 1e-5, the stride on the 3x3 conv.


_RESNET18_CHECKPOINTS = (
    timm_checkpoint("resnet18.a1_in1k", "timm.resnet", 71.504, "apache-2.0", **_RSB),
    timm_checkpoint("resnet18.a2_in1k", "timm.resnet", 70.634, "apache-2.0", **_RSB),
    timm_checkpoint(
        "resnet18.a3_in1k", "timm.resnet", 65.67, "apache-2.0", **_RSB_A3,
    ),
    timm_checkpoint(
        "resnet18.fb_ssl_yfcc100m_ft_in1k", "timm.resnet", 72.636, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    timm_checkpoint(
        "resnet18.fb_swsl_ig1b_ft_in1k", "timm.resnet", 73.286, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    timm_checkpoint("resnet18.gluon_in1k", "timm.resnet", 70.844, "apache-2.0"),
    torchvision_checkpoint("tv_in1k", "resnet18-f37072fd.pth", "torchvision.resnet", 69.758),
)


@register(**_imagenet_entry(
    "resnet", _HE2016, "torchvision resnet18", 11_699_112,
    preprocessing="torch", published_top1=(69.758, "torchvision"),
    layout="torchvision.resnet", checkpoints=_RESNET18_CHECKPOINTS, default_checkpoint="tv_in1k",
))
def ResNet18(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet18",
    drop_path_rate=0.0,
    output_stride=None,
):
    """ResNet-18 (He et al. 2016, Table 1) in torchvision's layout: basic blocks 2-2-2-2, 1x1
    projection shortcuts where the shape changes. ``drop_path_rate``: stochastic depth of the last
    block (0 adds no layers). Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNet18.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet18"],
    )


_RESNET34_CHECKPOINTS = (
    timm_checkpoint("resnet34.a1_in1k", "timm.resnet", 76.42, "apache-2.0", **_RSB),
    timm_checkpoint("resnet34.a2_in1k", "timm.resnet", 75.52, "apache-2.0", **_RSB),
    timm_checkpoint(
        "resnet34.a3_in1k", "timm.resnet", 70.58, "apache-2.0", **_RSB_A3,
    ),
    timm_checkpoint("resnet34.bt_in1k", "timm.resnet", 75.176, "apache-2.0", **_RA),
    timm_checkpoint("resnet34.gluon_in1k", "timm.resnet", 74.574, "apache-2.0"),
    timm_checkpoint(
        "resnet34.ra4_e3600_r224_in1k", "timm.resnet", 77.492, "apache-2.0", crop_pct=0.9,
        mean=INCEPTION_MEAN, std=INCEPTION_STD, test=(288, 1.0),
    ),
    torchvision_checkpoint("tv_in1k", "resnet34-b627a593.pth", "torchvision.resnet", 73.314),
)


@register(**_imagenet_entry(
    "resnet", _HE2016, "torchvision resnet34", 21_814_696,
    preprocessing="torch", published_top1=(73.314, "torchvision"),
    layout="torchvision.resnet", checkpoints=_RESNET34_CHECKPOINTS, default_checkpoint="tv_in1k",
))
def ResNet34(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet34",
    drop_path_rate=0.0,
    output_stride=None,
):
    """ResNet-34: :func:`ResNet18` with 3-4-6-3 basic blocks (torchvision ``resnet34``). Returns
    a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNet34.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnet34"],
    )


_RESNEXT50_32X4D_CHECKPOINTS = (
    timm_checkpoint("resnext50_32x4d.a1_in1k", "timm.resnet", 80.526, "apache-2.0", **_RSB),
    timm_checkpoint("resnext50_32x4d.a1h_in1k", "timm.resnet", 81.14, "apache-2.0", **_RSB),
    timm_checkpoint("resnext50_32x4d.a2_in1k", "timm.resnet", 80.444, "apache-2.0", **_RSB),
    timm_checkpoint(
        "resnext50_32x4d.a3_in1k", "timm.resnet", 77.732, "apache-2.0", **_RSB_A3,
    ),
    timm_checkpoint(
        "resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k", "timm.resnet", 80.316, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    timm_checkpoint(
        "resnext50_32x4d.fb_swsl_ig1b_ft_in1k", "timm.resnet", 82.162, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    timm_checkpoint("resnext50_32x4d.gluon_in1k", "timm.resnet", 79.354, "apache-2.0"),
    timm_checkpoint("resnext50_32x4d.ra_in1k", "timm.resnet", 79.8, "apache-2.0", **_RA),
    torchvision_checkpoint(
        "tv2_in1k", "resnext50_32x4d-1a0047aa.pth", "torchvision.resnet", 81.198, resize=232,
    ),
    torchvision_checkpoint("tv_in1k", "resnext50_32x4d-7cdf4587.pth", "torchvision.resnet", 77.618),
)


@register(**_imagenet_entry(
    "resnext", _XIE2017, "torchvision resnext50_32x4d", 25_097_128,
    preprocessing="torch", published_top1=(77.618, "torchvision"),
    layout="torchvision.resnet", checkpoints=_RESNEXT50_32X4D_CHECKPOINTS,
    default_checkpoint="tv_in1k",
))
def ResNeXt50_32x4d(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnext50_32x4d",
    drop_path_rate=0.0,
    output_stride=None,
):
    """ResNeXt-50 32x4d (Xie et al. 2017, Table 1), torchvision's layout: bottlenecks 3-4-6-3
    whose 3x3 conv is ``Conv2D(groups=32)`` with 4 channels per group at the first stage.
    ``drop_path_rate`` as in :func:`ResNet18`. Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNeXt50_32x4d.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnext50_32x4d"],
    )


_RESNEXT101_32X8D_CHECKPOINTS = (
    timm_checkpoint(
        "resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k", "timm.resnet", 81.62, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    timm_checkpoint(
        "resnext101_32x8d.fb_swsl_ig1b_ft_in1k", "timm.resnet", 84.276, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    timm_checkpoint(
        "resnext101_32x8d.fb_wsl_ig1b_ft_in1k", "timm.resnet", 82.72, "cc-by-nc-4.0",
        interpolation="bilinear",
    ),
    torchvision_checkpoint(
        "tv2_in1k", "resnext101_32x8d-110c445d.pth", "torchvision.resnet", 82.834, resize=232,
    ),
    torchvision_checkpoint(
        "tv_in1k", "resnext101_32x8d-8ba56ff5.pth", "torchvision.resnet", 79.312,
    ),
)


@register(**_imagenet_entry(
    "resnext", _XIE2017, "torchvision resnext101_32x8d", 88_994_216, slow=True,
    preprocessing="torch", published_top1=(79.312, "torchvision"),
    layout="torchvision.resnet", checkpoints=_RESNEXT101_32X8D_CHECKPOINTS,
    default_checkpoint="tv_in1k",
))
def ResNeXt101_32x8d(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnext101_32x8d",
    drop_path_rate=0.0,
    output_stride=None,
):
    """ResNeXt-101 32x8d: 3-4-23-3 bottlenecks, 32 groups of 8 channels at the first stage
    (torchvision ``resnext101_32x8d``). Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNeXt101_32x8d.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnext101_32x8d"],
    )


_RESNEXT101_64X4D_CHECKPOINTS = (
    timm_checkpoint("resnext101_64x4d.c1_in1k", "timm.resnet", 82.446, "apache-2.0", **_RSB),
    timm_checkpoint("resnext101_64x4d.gluon_in1k", "timm.resnet", 80.64, "apache-2.0"),
    torchvision_checkpoint(
        "tv_in1k", "resnext101_64x4d-173b62eb.pth", "torchvision.resnet", 83.246, resize=232,
    ),
)


@register(**_imagenet_entry(
    "resnext", _XIE2017, "torchvision resnext101_64x4d", 83_658_152, slow=True,
    preprocessing="torch",
    layout="torchvision.resnet", checkpoints=_RESNEXT101_64X4D_CHECKPOINTS,
    default_checkpoint="tv_in1k",
))
def ResNeXt101_64x4d(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnext101_64x4d",
    drop_path_rate=0.0,
    output_stride=None,
):
    """ResNeXt-101 64x4d: 3-4-23-3 bottlenecks, 64 groups of 4 channels at the first stage
    (torchvision ``resnext101_64x4d``). Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=ResNeXt101_64x4d.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["resnext101_64x4d"],
    )


_WIDE_RESNET50_2_CHECKPOINTS = (
    timm_checkpoint("wide_resnet50_2.racm_in1k", "timm.resnet", 81.466, "apache-2.0", **_RA),
    torchvision_checkpoint(
        "tv2_in1k", "wide_resnet50_2-9ba9bcbe.pth", "torchvision.resnet", 81.602, resize=232,
    ),
    torchvision_checkpoint("tv_in1k", "wide_resnet50_2-95faca4d.pth", "torchvision.resnet", 78.468),
)


@register(**_imagenet_entry(
    "wide_resnet", _WRN2016, "torchvision wide_resnet50_2", 68_951_464, slow=True,
    preprocessing="torch", published_top1=(78.468, "torchvision"),
    layout="torchvision.resnet", checkpoints=_WIDE_RESNET50_2_CHECKPOINTS,
    default_checkpoint="tv_in1k",
))
def WideResNet50_2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="wide_resnet50_2",
    drop_path_rate=0.0,
    output_stride=None,
):
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016) as torchvision builds it: ResNet-50 with
    the inner 1x1 and 3x3 convs of every bottleneck twice as wide. Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=WideResNet50_2.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["wide_resnet50_2"],
    )


_WIDE_RESNET101_2_CHECKPOINTS = (
    torchvision_checkpoint(
        "tv2_in1k", "wide_resnet101_2-d733dc28.pth", "torchvision.resnet", 82.51, resize=232,
    ),
    torchvision_checkpoint(
        "tv_in1k", "wide_resnet101_2-32ee1156.pth", "torchvision.resnet", 78.848,
    ),
)


@register(**_imagenet_entry(
    "wide_resnet", _WRN2016, "torchvision wide_resnet101_2", 127_024_552, slow=True,
    preprocessing="torch", published_top1=(78.848, "torchvision"),
    layout="torchvision.resnet", checkpoints=_WIDE_RESNET101_2_CHECKPOINTS,
    default_checkpoint="tv_in1k",
))
def WideResNet101_2(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="wide_resnet101_2",
    drop_path_rate=0.0,
    output_stride=None,
):
    """Wide ResNet-101-2: :func:`WideResNet50_2` with 3-4-23-3 blocks (torchvision
    ``wide_resnet101_2``). Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=WideResNet101_2.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["wide_resnet101_2"],
    )


# timm twins: torchvision's bottleneck with a squeeze-excitation (reduction 16) on each branch.


_SERESNET50_CHECKPOINTS = (
    timm_checkpoint("seresnet50.a1_in1k", "timm.resnet", 80.012, "apache-2.0", **_RSB),
    timm_checkpoint("seresnet50.a2_in1k", "timm.resnet", 80.102, "apache-2.0", **_RSB),
    timm_checkpoint(
        "seresnet50.a3_in1k", "timm.resnet", 75.104, "apache-2.0", **_RSB_A3,
    ),
    timm_checkpoint("seresnet50.ra2_in1k", "timm.resnet", 80.26, "apache-2.0", **_RA),
)


@register(**_imagenet_entry(
    "senet", _HU2018, "timm seresnet50", 28_141_144,
    preprocessing="torch",
    layout="timm.resnet", checkpoints=_SERESNET50_CHECKPOINTS, default_checkpoint="a1_in1k",
))
def SEResNet50(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="seresnet50",
    drop_path_rate=0.0,
    output_stride=None,
):
    """SE-ResNet-50 (Hu et al. 2018) as timm's ``seresnet50``: torchvision's ResNet-50 with a
    squeeze-excitation (reduction 16, biased 1x1 convs) after each branch's last batch norm.
    ``drop_path_rate`` as in :func:`ResNet18`. Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=SEResNet50.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["seresnet50"],
    )


_SERESNEXT50_32X4D_CHECKPOINTS = (
    timm_checkpoint("seresnext50_32x4d.gluon_in1k", "timm.resnet", 79.916, "apache-2.0"),
    timm_checkpoint("seresnext50_32x4d.racm_in1k", "timm.resnet", 81.268, "apache-2.0", **_RA),
)


@register(**_imagenet_entry(
    "senet", _HU2018, "timm seresnext50_32x4d", 27_628_120,
    preprocessing="torch",
    layout="timm.resnet", checkpoints=_SERESNEXT50_32X4D_CHECKPOINTS,
    default_checkpoint="racm_in1k",
))
def SEResNeXt50_32x4d(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="seresnext50_32x4d",
    drop_path_rate=0.0,
    output_stride=None,
):
    """SE-ResNeXt-50 32x4d (Hu et al. 2018) as timm's ``seresnext50_32x4d``:
    :func:`ResNeXt50_32x4d` with :func:`SEResNet50`'s squeeze-excitation. Returns a Keras
    ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=SEResNeXt50_32x4d.info,
        drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["seresnext50_32x4d"],
    )


_SENET154_CHECKPOINTS = (
    timm_checkpoint(
        "legacy_senet154.in1k", "timm.legacy_senet", 81.32, "apache-2.0",
        interpolation="bilinear",
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
        "legacy_senet154-e9eb9fe6.pth",
    ),
)


@register(**_imagenet_entry(
    "senet", _HU2018, "timm legacy_senet154", 115_336_536, slow=True,
    preprocessing="torch",
    layout="timm.legacy_senet", checkpoints=_SENET154_CHECKPOINTS, default_checkpoint="in1k",
))
def SENet154(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="senet154",
    dropout_rate=0.2,
    drop_path_rate=0.0,
    output_stride=None,
):
    """SENet-154 (Hu et al. 2018) as timm's ``legacy_senet154``: a stem of three 3x3 convs
    (64-64-128) and a ceil-mode max pool, 3-8-36-3 SE bottlenecks with 64 groups (first 1x1 at
    half the 3x3's width), 3x3 strided projection shortcuts, squeeze-excitation reduction 16,
    and ``dropout_rate`` before the classifier. Returns a Keras ``Model``."""
    return ResNet(
        include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, pooling=pooling, classes=classes,
        classifier_activation=classifier_activation, name=name, info=SENet154.info,
        head_dropout_rate=dropout_rate, drop_path_rate=drop_path_rate, output_stride=output_stride,
        **VARIANTS["senet154"],
    )
