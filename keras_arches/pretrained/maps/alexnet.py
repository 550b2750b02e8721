"""AlexNet and ZFNet: torchvision's AlexNet and pytorchcv's ZFNet.

Our layers are ``conv1`` ... ``conv5``, then the top ``fc6`` (fed by the C,H,W ``flatten``),
``fc7`` and ``predictions``. torchvision 0.29 ``models/alexnet.py`` keeps the convs in one
``features`` Sequential (each followed by a ReLU, pools after conv1, conv2 and conv5) and the top
in ``classifier`` (dropout, Linear, ReLU, dropout, Linear, ReLU, Linear). pytorchcv 0.0.74
``models/alexnet.py`` (which ``zfnet.py`` builds) has ``features.stage{s}.unit{u}.conv`` (stages
of 1, 1 and 3 convs) and ``output.fc1.fc``, ``output.fc2.fc``, ``output.fc3``.
"""

from keras_arches.pretrained.layout import Layout, rules

_TOP = ("fc6", "fc7", "predictions")

TORCHVISION = Layout(
    name="torchvision.alexnet",
    source="torchvision 0.29 models/alexnet.py (alexnet)",
    bn_epsilon=1e-5,  # no batch norm
    prefix=rules(
        (r"conv([1-5])", lambda i: f"features.{(0, 3, 6, 8, 10)[i - 1]}"),
        ("fc6", "classifier.1"), ("fc7", "classifier.4"), ("predictions", "classifier.6"),
    ),
    optional=_TOP,
    flatten={"fc6": "flatten"},
)

PYTORCHCV_ZFNET = Layout(
    name="pytorchcv.zfnet",
    source="pytorchcv 0.0.74 models/zfnet.py (zfnet, zfnetb)",
    bn_epsilon=1e-5,  # no batch norm
    prefix=rules(
        ("conv1", "features.stage1.unit1.conv"),
        ("conv2", "features.stage2.unit1.conv"),
        (r"conv([3-5])", lambda i: f"features.stage3.unit{i - 2}.conv"),
        ("fc6", "output.fc1.fc"), ("fc7", "output.fc2.fc"), ("predictions", "output.fc3"),
    ),
    optional=_TOP,
    flatten={"fc6": "flatten"},
)

LAYOUTS = (TORCHVISION, PYTORCHCV_ZFNET)
