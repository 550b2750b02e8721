"""Residual networks: torchvision's ResNet/ResNeXt/Wide ResNet, timm's (SE-)ResNets and legacy
SENet, pytorchcv's CIFAR ResNets and Wide ResNets, akamaster's CIFAR ResNets.

Our residual blocks are named ``conv{stage}_block{i}_{j}_{conv|bn}`` (keras.applications'
scheme, stages from 2, blocks from 1; ``_0_`` is the projection shortcut); torchvision 0.29
``models/resnet.py`` names them ``layer{stage - 1}.{i - 1}.{conv|bn}{j}`` and the projection
``downsample.0`` (conv) / ``downsample.1`` (bn).
"""

from keras_arches.pretrained.layout import Layout, first_of, rules

TORCH_BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d's default, used by all four sources


def _block(stage, block):
    return f"layer{stage - 1}.{block - 1}"


_BLOCKS = rules(
    (r"conv(\d)_block(\d+)_([123])_(conv|bn)", lambda s, b, j, kind: f"{_block(s, b)}.{kind}{j}"),
    (r"conv(\d)_block(\d+)_0_conv", lambda s, b: f"{_block(s, b)}.downsample.0"),
    (r"conv(\d)_block(\d+)_0_bn", lambda s, b: f"{_block(s, b)}.downsample.1"),
)
_STEM = rules(("conv1_conv", "conv1"), ("conv1_bn", "bn1"))


def _se(module):
    return rules((r"conv(\d)_block(\d+)_se/(fc[12])",
                  lambda s, b, fc: f"{_block(s, b)}.{module}.{fc}"))


TORCHVISION = Layout(
    name="torchvision.resnet",
    source="torchvision 0.29 models/resnet.py (resnet18 ... wide_resnet101_2)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=first_of(_STEM, _BLOCKS, rules(("predictions", "fc"))),
)

TIMM = Layout(
    name="timm.resnet",
    source="timm 1.0 models/resnet.py (resnet*, resnext*, seresnet*, seresnext*)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=first_of(_STEM, _BLOCKS, _se("se"), rules(("predictions", "fc"))),
)

TIMM_LEGACY_SENET = Layout(
    name="timm.legacy_senet",
    source="timm 1.0 models/senet.py (legacy_senet154, Cadene's pretrainedmodels layout)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=first_of(
        rules((r"conv1_([123])_(conv|bn)", lambda j, kind: f"layer0.{kind}{j}")),
        _BLOCKS, _se("se_module"), rules(("predictions", "last_linear")),
    ),
)


def _unit(stage, block):
    return f"features.stage{stage - 1}.unit{block}"


PYTORCHCV_WRN_CIFAR = Layout(
    name="pytorchcv.wrn_cifar",
    source="pytorchcv 0.0.74 models/wrn_cifar.py (wrn16_10 ... wrn40_8 _cifar10/100, _svhn)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=rules(
        ("conv1_conv", "features.init_block"),
        (r"conv(\d)_block(\d+)_preact_bn", lambda s, b: f"{_unit(s, b)}.body.conv1.bn"),
        (r"conv(\d)_block(\d+)_1_conv", lambda s, b: f"{_unit(s, b)}.body.conv1.conv"),
        (r"conv(\d)_block(\d+)_1_bn", lambda s, b: f"{_unit(s, b)}.body.conv2.bn"),
        (r"conv(\d)_block(\d+)_2_conv", lambda s, b: f"{_unit(s, b)}.body.conv2.conv"),
        (r"conv(\d)_block(\d+)_0_conv", lambda s, b: f"{_unit(s, b)}.identity_conv"),
        ("post_bn", "features.post_activ.bn"),
        ("predictions", "output"),
    ),
)

PYTORCHCV_RESNET_CIFAR = Layout(
    name="pytorchcv.resnet_cifar",
    source="pytorchcv 0.0.74 models/resnet_cifar.py (resnet20 ... resnet1202 _cifar10/100, "
           "_svhn: projection shortcuts)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=rules(
        (r"conv1_(conv|bn)", "features.init_block.{0}"),
        (r"conv(\d)_block(\d+)_([12])_(conv|bn)",
         lambda s, b, j, kind: f"{_unit(s, b)}.body.conv{j}.{kind}"),
        (r"conv(\d)_block(\d+)_0_(conv|bn)",
         lambda s, b, kind: f"{_unit(s, b)}.identity_conv.{kind}"),
        ("predictions", "output"),
    ),
)



def _akamaster_key(key):
    """One revision of akamaster's resnet.py named the stem conv, the blocks' convs and the
    classifier ``compressible_conv1``, ``compressible_conv2``, ``compressible_linear``."""
    return key.replace("compressible_", "")


AKAMASTER_RESNET_CIFAR = Layout(
    name="akamaster.resnet_cifar",
    source="akamaster/pytorch_resnet_cifar10 resnet.py (resnet20 ... resnet1202: option-A "
           "shortcuts, no parameters in them)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=first_of(_STEM, _BLOCKS, rules(("predictions", "linear"))),
    rename_key=_akamaster_key,
)

LAYOUTS = (TORCHVISION, TIMM, TIMM_LEGACY_SENET, PYTORCHCV_WRN_CIFAR, PYTORCHCV_RESNET_CIFAR,
           AKAMASTER_RESNET_CIFAR)
