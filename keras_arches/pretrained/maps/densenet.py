"""DenseNets: torchvision's ImageNet DenseNet-121/161/169/201, pytorchcv's CIFAR DenseNet-BC.

Our dense layers are ``conv{stage}_block{i}_{0_bn, 1_conv, 1_bn, 2_conv}`` (keras.applications'
names: stages from 2, layers from 1) and the transition before stage ``s + 1`` is ``pool{s}_bn``
/ ``pool{s}_conv``.
"""

import re

from keras_arches.pretrained.layout import Layout, rules

# torchvision 0.29 models/densenet.py: a dense layer's norm1, conv1, norm2, conv2.
_TORCHVISION_LAYER = {"0_bn": "norm1", "1_conv": "conv1", "1_bn": "norm2", "2_conv": "conv2"}
# pytorchcv 0.0.74 models/densenet_cifar.py: two pre-activation blocks (bn, then conv).
_PYTORCHCV_LAYER = {"0_bn": "conv1.bn", "1_conv": "conv1.conv", "1_bn": "conv2.bn",
                    "2_conv": "conv2.conv"}
_LAYER = r"conv(\d)_block(\d+)_(0_bn|1_conv|1_bn|2_conv)"

# Files written before torchvision 0.3 (its published densenet*.pth among them) spell
# `denselayer1.norm1` as `denselayer1.norm.1`; torchvision renames them on load, and so do we.
_LEGACY = re.compile(r"(denselayer\d+)\.(norm|relu|conv)\.([12])\.")


def _legacy_key(key):
    return _LEGACY.sub(r"\1.\2\3.", key)


TORCHVISION = Layout(
    name="torchvision.densenet",
    source="torchvision 0.29 models/densenet.py (densenet121, densenet161, densenet169, "
           "densenet201)",
    bn_epsilon=1e-5,
    prefix=rules(
        ("conv1_conv", "features.conv0"),
        ("conv1_bn", "features.norm0"),
        (_LAYER, lambda s, i, part: (
            f"features.denseblock{s - 1}.denselayer{i}.{_TORCHVISION_LAYER[part]}")),
        (r"pool(\d)_(bn|conv)", lambda s, kind: (
            f"features.transition{s - 1}.{'norm' if kind == 'bn' else 'conv'}")),
        ("bn", "features.norm5"),
        ("predictions", "classifier"),
    ),
    rename_key=_legacy_key,
)

PYTORCHCV_CIFAR = Layout(
    name="pytorchcv.densenet_cifar",
    source="pytorchcv 0.0.74 models/densenet_cifar.py (the -BC nets: densenet100_k12_bc_cifar10, "
           "... densenet250_k24_bc_cifar100)",
    bn_epsilon=1e-5,
    prefix=rules(
        ("conv1_conv", "features.init_block"),
        (_LAYER, lambda s, i, part: f"features.stage{s - 1}.unit{i}.{_PYTORCHCV_LAYER[part]}"),
        (r"pool(\d)_(bn|conv)", lambda s, kind: f"features.stage{s}.trans{s}.conv.{kind}"),
        ("bn", "features.post_activ.bn"),
        ("predictions", "output"),
    ),
)

LAYOUTS = (TORCHVISION, PYTORCHCV_CIFAR)
