"""Inception v4 and Inception-ResNet v2 as timm lays them out.

Our conv units are a conv ``{name}`` and a batch norm ``{name}_bn``; timm 1.0's (models/
inception_v4.py, models/inception_resnet_v2.py) are ``BasicConv2d`` modules with ``.conv`` and
``.bn`` children. Inside a block, our ``_b{j}`` is timm's ``branch{j}`` (a single conv),
``_b{j}_{k}`` the k-th conv of ``branch{j}`` and ``_b3_proj`` the 1x1 conv after the average
pool (``branch3.1``).
"""

from keras_arches.pretrained.layout import Layout, conv_bn_pairs, first_of, rules

TIMM_INCEPTION_BN_EPSILON = 1e-3  # timm's BasicConv2d: BatchNorm2d(eps=0.001)

_BRANCH = rules(
    (r"b(\d)", "branch{0}"),
    (r"b3_proj", "branch3.1"),
    (r"b(\d)_(\d)", "branch{0}.{1}"),
)
# Inception-C (timm's InceptionC): flat names, the two 1x3/3x1 splits as "a"/"b".
_BRANCH_C = rules(
    (r"b1_0", "branch1_0"),
    (r"b1_1x3", "branch1_1a"),
    (r"b1_3x1", "branch1_1b"),
    (r"b2_(\d)", "branch2_{0}"),
    (r"b2_1x3", "branch2_3a"),
    (r"b2_3x1", "branch2_3b"),
)
# Inception-ResNet blocks: the one-conv branch 0 is a bare BasicConv2d.
_BRANCH_RESIDUAL = rules((r"b0_0", "branch0"), (r"b(\d)_(\d)", "branch{0}.{1}"))


def _in_block(pattern, module, branch=_BRANCH):
    """Rule for ``{block}_{suffix}`` units: ``module(*groups)`` + '.' + ``branch(suffix)``."""

    def target(*groups):
        *block, suffix = groups
        inner = branch(str(suffix))
        return None if inner is None else f"{module(*block)}.{inner}"

    return (rf"{pattern}_(\w+)", target)


_V4_UNITS = rules(
    (r"stem_conv([123])", lambda i: f"features.{i - 1}"),
    ("mixed_3a_b1", "features.3.conv"),
    ("mixed_5a_b0", "features.5.conv"),
    _in_block("mixed_4a", lambda: "features.4"),
    _in_block(r"inception_a(\d)", lambda n: f"features.{5 + n}"),
    _in_block("reduction_a", lambda: "features.10"),
    _in_block(r"inception_b(\d)", lambda n: f"features.{10 + n}"),
    _in_block("reduction_b", lambda: "features.18"),
    _in_block(r"inception_c(\d)", lambda n: f"features.{18 + n}", first_of(_BRANCH_C, _BRANCH)),
)


_IRV2_STEM = ("conv2d_1a", "conv2d_2a", "conv2d_2b", "conv2d_3b", "conv2d_4a")


_IRV2_REPEATS = {35: "repeat", 17: "repeat_1", 8: "repeat_2"}


def _residual_block(kind, n):
    """timm's module of our ``block{kind}_{n}``: the last block8 (no ReLU) stands alone."""
    if kind == 8 and n == 10:
        return "block8"
    return f"{_IRV2_REPEATS[kind]}.{n - 1}"


_IRV2_UNITS = rules(
    (r"stem_conv([1-5])", lambda i: _IRV2_STEM[i - 1]),
    ("conv_7b", "conv2d_7b"),
    _in_block("(mixed_5b|mixed_6a|mixed_7a)", lambda block: block),
    _in_block(r"block(35|17|8)_(\d+)", _residual_block, _BRANCH_RESIDUAL),
)


TIMM_INCEPTION_V4 = Layout(
    name="timm.inception_v4",
    source="timm 1.0 models/inception_v4.py (inception_v4)",
    bn_epsilon=TIMM_INCEPTION_BN_EPSILON,
    prefix=first_of(rules(("predictions", "last_linear")), conv_bn_pairs(_V4_UNITS)),
)

TIMM_INCEPTION_RESNET_V2 = Layout(
    name="timm.inception_resnet_v2",
    source="timm 1.0 models/inception_resnet_v2.py (inception_resnet_v2)",
    bn_epsilon=TIMM_INCEPTION_BN_EPSILON,
    prefix=first_of(
        rules(
            ("predictions", "classif"),
            # The biased 1x1 conv closing each residual block, without batch norm.
            (r"block(35|17|8)_(\d+)_conv", lambda k, n: f"{_residual_block(k, n)}.conv2d"),
        ),
        conv_bn_pairs(_IRV2_UNITS),
    ),
    # Our keras.applications twin has batch norms without gamma; timm's have one: it is folded
    # into the conv before each batch norm.
    fold_bn_scale=lambda bn: bn[: -len("_bn")],
)

LAYOUTS = (TIMM_INCEPTION_V4, TIMM_INCEPTION_RESNET_V2)
