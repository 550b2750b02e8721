"""VGG: torchvision's ``vgg11`` ... ``vgg19`` and their ``_bn`` variants (configurations A, B, D
and E of Simonyan & Zisserman 2015, Table 1; the key map also fits C).

torchvision 0.29 ``models/vgg.py`` keeps the convs in one ``features`` Sequential in which each
conv is followed by a ReLU (``_bn``: by a BatchNorm2d and a ReLU) and each block by a max pool, so
``block{b}_conv{i}`` is ``features.{index}`` with the index counted from the convs per block,
which the model's own layer names give, and ``block{b}_conv{i}_bn`` the next index. The top is
``classifier.0`` (fc1, fed by the C,H,W flatten), ``classifier.3`` (fc2) and ``classifier.6``.
"""

import re

from keras_arches.pretrained.layout import Layout, rules

_TOP = rules(("fc1", "classifier.0"), ("fc2", "classifier.3"), ("predictions", "classifier.6"))
_CONV = re.compile(r"block(\d)_conv(\d)(_bn)?")


def _prefix(path, names=frozenset()):
    match = _CONV.fullmatch(path)
    if not match:
        return _TOP(path, names)
    block, conv, bn = int(match[1]), int(match[2]), bool(match[3])
    convs = [sum(f"block{b}_conv{i}" in names for i in range(1, 10)) for b in range(1, 6)]
    if not 1 <= block <= 5 or not 1 <= conv <= convs[block - 1]:
        return None
    per_conv = 3 if "block1_conv1_bn" in names else 2  # conv[, batch norm], ReLU
    before = sum(per_conv * n + 1 for n in convs[: block - 1])  # + each block's pool
    return f"features.{before + per_conv * (conv - 1) + bn}"


TORCHVISION = Layout(
    name="torchvision.vgg",
    source="torchvision 0.29 models/vgg.py (vgg11 ... vgg19, vgg11_bn ... vgg19_bn)",
    bn_epsilon=1e-5,  # torch.nn.BatchNorm2d's default
    prefix=_prefix,
    optional=("fc1", "fc2", "predictions"),
    flatten={"fc1": "flatten"},
)

LAYOUTS = (TORCHVISION,)
