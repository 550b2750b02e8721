"""Network in Network: pytorchcv's CIFAR NiN.

Our mlpconv layers are ``mlpconv{i}_conv``, ``mlpconv{i}_cccp1``, ``mlpconv{i}_cccp2``; the last
1x1 conv (``mlpconv3_cccp2``) is the classifier. pytorchcv 0.0.74 ``models/nin_cifar.py``
(``nin_cifar10``, ``nin_cifar100``, ``nin_svhn``) has ``features.stage{i}.unit{j}.conv`` and the
classifier ``output.final_conv.conv``.
"""

from keras_arches.pretrained.layout import Layout, rules

_UNIT = {"conv": 1, "cccp1": 2, "cccp2": 3}

PYTORCHCV_CIFAR = Layout(
    name="pytorchcv.nin_cifar",
    source="pytorchcv 0.0.74 models/nin_cifar.py (nin_cifar10, nin_cifar100, nin_svhn)",
    bn_epsilon=1e-5,  # no batch norm
    prefix=rules(
        ("mlpconv3_cccp2", "output.final_conv.conv"),
        (r"mlpconv([1-3])_(conv|cccp1|cccp2)",
         lambda i, part: f"features.stage{i}.unit{_UNIT[part]}.conv"),
    ),
    optional=("mlpconv3_cccp2",),
    classifier=("mlpconv3_cccp2",),
)

LAYOUTS = (PYTORCHCV_CIFAR,)
