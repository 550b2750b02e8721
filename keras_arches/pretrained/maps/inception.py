"""Inception v3 as torchvision lays it out; Inception v4 and Inception-ResNet v2 as timm does.

Our conv units are a conv ``{name}`` and a batch norm ``{name}_bn``; timm 1.0's (models/
inception_v4.py, models/inception_resnet_v2.py) are ``BasicConv2d`` modules with ``.conv`` and
``.bn`` children. Inside a block, our ``_b{j}`` is timm's ``branch{j}`` (a single conv),
``_b{j}_{k}`` the k-th conv of ``branch{j}`` and ``_b3_proj`` the 1x1 conv after the average
pool (``branch3.1``). torchvision 0.29's ``Inception3`` (models/inception.py; timm 1.0's
``inception_v3`` keeps its names) calls the modules ``Mixed_5b`` ... ``Mixed_7c`` and their convs
by kernel (``branch5x5_1``, ``branch3x3dbl_2``, ...); :data:`_V3_BRANCHES` lists them per block.
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

# Inception v3: our block -> (torchvision's module, {our branch suffix: its conv}).
_V3_A = {"b0": "branch1x1", "b1_0": "branch5x5_1", "b1_1": "branch5x5_2",
         **{f"b2_{k}": f"branch3x3dbl_{k + 1}" for k in range(3)}, "b3_proj": "branch_pool"}
_V3_B = {"b0": "branch3x3", **{f"b1_{k}": f"branch3x3dbl_{k + 1}" for k in range(3)}}
_V3_C = {"b0": "branch1x1", **{f"b1_{k}": f"branch7x7_{k + 1}" for k in range(3)},
         **{f"b2_{k}": f"branch7x7dbl_{k + 1}" for k in range(5)}, "b3_proj": "branch_pool"}
_V3_D = {**{f"b0_{k}": f"branch3x3_{k + 1}" for k in range(2)},
         **{f"b1_{k}": f"branch7x7x3_{k + 1}" for k in range(4)}}
_V3_E = {"b0": "branch1x1", "b1_0": "branch3x3_1", "b1_1x3": "branch3x3_2a",
         "b1_3x1": "branch3x3_2b", "b2_0": "branch3x3dbl_1", "b2_1": "branch3x3dbl_2",
         "b2_1x3": "branch3x3dbl_3a", "b2_3x1": "branch3x3dbl_3b", "b3_proj": "branch_pool"}
_V3_BRANCHES = {
    "mixed0": ("Mixed_5b", _V3_A), "mixed1": ("Mixed_5c", _V3_A), "mixed2": ("Mixed_5d", _V3_A),
    "mixed3": ("Mixed_6a", _V3_B), "mixed4": ("Mixed_6b", _V3_C), "mixed5": ("Mixed_6c", _V3_C),
    "mixed6": ("Mixed_6d", _V3_C), "mixed7": ("Mixed_6e", _V3_C), "mixed8": ("Mixed_7a", _V3_D),
    "mixed9": ("Mixed_7b", _V3_E), "mixed10": ("Mixed_7c", _V3_E),
}
_V3_STEM = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3")


def _v3_branch(block, suffix):
    module, branches = _V3_BRANCHES.get(block, (None, {}))
    return f"{module}.{branches[suffix]}" if suffix in branches else None


TORCHVISION_INCEPTION_V3 = Layout(
    name="torchvision.inception_v3",
    source="torchvision 0.29 models/inception.py (inception_v3; timm 1.0's inception_v3 alike)",
    bn_epsilon=TIMM_INCEPTION_BN_EPSILON,  # BasicConv2d: BatchNorm2d(eps=0.001)
    prefix=first_of(
        rules(
            ("predictions", "fc"),
            (r"aux/(conv|bn)", "AuxLogits.conv0.{0}"),
            (r"aux/(conv|bn)2", "AuxLogits.conv1.{0}"),
            ("aux/classifier", "AuxLogits.fc"),
            ("aux", "AuxLogits"),  # the whole head, dropped from a model built without it
        ),
        conv_bn_pairs(rules(
            (r"stem_conv([1-5])", lambda i: _V3_STEM[i - 1]),
            (r"(mixed\d+)_(\w+)", _v3_branch),
        )),
    ),
    optional=("predictions", "aux"),
)

LAYOUTS = (TIMM_INCEPTION_V4, TIMM_INCEPTION_RESNET_V2, TORCHVISION_INCEPTION_V3)
