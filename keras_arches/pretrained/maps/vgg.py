"""VGG: torchvision's vgg16 and vgg19 (configurations D and E, no batch norm).

torchvision 0.29 ``models/vgg.py`` keeps the convs in one ``features`` Sequential in which each
conv is followed by a ReLU and each block by a max pool, so ``block{b}_conv{i}`` is
``features.{index}`` with the index counted from the configuration; the top is ``classifier.0``
(fc1, fed by the C,H,W flatten), ``classifier.3`` (fc2) and ``classifier.6``.
"""

import re

from keras_arches.pretrained.layout import Layout, rules

# Convs per block of configurations D (VGG16) and E (VGG19), Simonyan & Zisserman 2015 Table 1.
_CONVS_PER_BLOCK = {"D": (2, 2, 3, 3, 3), "E": (2, 2, 4, 4, 4)}
_TOP = rules(("fc1", "classifier.0"), ("fc2", "classifier.3"), ("predictions", "classifier.6"))


def _features_index(convs_per_block, block, conv):
    before = sum(2 * convs + 1 for convs in convs_per_block[: block - 1])
    return before + 2 * (conv - 1)


def _prefix(path, names=frozenset()):
    match = re.fullmatch(r"block(\d)_conv(\d)", path)
    if not match:
        return _TOP(path, names)
    block, conv = int(match[1]), int(match[2])
    convs = _CONVS_PER_BLOCK["E" if "block3_conv4" in names else "D"]
    if 1 <= block <= len(convs) and 1 <= conv <= convs[block - 1]:
        return f"features.{_features_index(convs, block, conv)}"
    return None


TORCHVISION = Layout(
    name="torchvision.vgg",
    source="torchvision 0.29 models/vgg.py (vgg16, vgg19)",
    bn_epsilon=1e-5,  # no batch norm in these configurations
    prefix=_prefix,
    optional=("fc1", "fc2", "predictions"),
    flatten={"fc1": "flatten"},
)

LAYOUTS = (TORCHVISION,)
