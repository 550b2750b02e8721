"""GoogLeNet: torchvision's ``googlenet``, with its auxiliary heads.

Our conv units are a conv ``{name}`` and a batch norm ``{name}_bn``; torchvision 0.29's
(``models/googlenet.py``) are ``BasicConv2d`` modules with ``.conv`` and ``.bn``. The stem is
``conv1_7x7`` (conv1), ``conv2_3x3_reduce`` (conv2), ``conv2_3x3`` (conv3); in module
``inception_{3a..5b}`` our ``_1x1``, ``_3x3_reduce``, ``_3x3``, ``_5x5_reduce``, ``_5x5`` and
``_pool_proj`` are ``branch1``, ``branch2.0``, ``branch2.1``, ``branch3.0``, ``branch3.1``
(a 3x3 conv in torchvision) and ``branch4.1``. Aux head ``aux{k}`` has ``aux{k}_conv`` (a
``BasicConv2d``), ``aux{k}_fc1`` (fed by the C,H,W ``aux{k}_flatten``) and ``aux{k}_fc2``.
"""

from keras_arches.pretrained.layout import Layout, conv_bn_pairs, first_of, rules

_BRANCH = {"1x1": "branch1", "3x3_reduce": "branch2.0", "3x3": "branch2.1",
           "5x5_reduce": "branch3.0", "5x5": "branch3.1", "pool_proj": "branch4.1"}
_UNITS = rules(
    ("conv1_7x7", "conv1"), ("conv2_3x3_reduce", "conv2"), ("conv2_3x3", "conv3"),
    (r"inception_(\d[a-e])_(1x1|3x3_reduce|3x3|5x5_reduce|5x5|pool_proj)",
     lambda module, branch: f"inception{module}.{_BRANCH[branch]}"),
    (r"aux([12])_conv", "aux{0}.conv"),
)
_AUX = tuple(f"aux{k}_{part}" for k in (1, 2) for part in ("conv", "conv_bn", "fc1", "fc2"))

TORCHVISION = Layout(
    name="torchvision.googlenet",
    source="torchvision 0.29 models/googlenet.py (googlenet)",
    bn_epsilon=1e-3,  # BasicConv2d: BatchNorm2d(eps=0.001)
    prefix=first_of(
        rules(("predictions", "fc"), (r"aux([12])_(fc[12])", "aux{0}.{1}")),
        conv_bn_pairs(_UNITS),
    ),
    optional=("predictions", *_AUX),
    classifier=("predictions", "aux1_fc2", "aux2_fc2"),
    flatten={"aux1_fc1": "aux1_flatten", "aux2_fc1": "aux2_flatten"},
)

LAYOUTS = (TORCHVISION,)
