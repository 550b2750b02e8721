"""Network in Network (Lin, Chen & Yan, ICLR 2014, arXiv:1312.4400)."""

import dataclasses

from keras import layers

from keras_arches.contract import Contract, check_rate
from keras_arches.layers import CeilPooling2D
from keras_arches.models.common import data_format_for, gap_classifier
from keras_arches.registry import register

_PAPER = "Lin, Chen & Yan 2014, Network In Network (ICLR 2014, arXiv:1312.4400)"

# Per mlpconv layer: (kernel, stride, filters of the kxk conv and its 1x1 convs, pooling
# after it, dropout before it). The last 1x1 conv of the last layer (None) is the classifier.
# ImageNet: the authors' Caffe model-zoo net; CIFAR-10: the paper's net as the authors released it.
_IMAGENET = (
    (11, 4, (96, 96, 96), "max", False),
    (5, 1, (256, 256, 256), "max", False),
    (3, 1, (384, 384, 384), "max", False),
    (3, 1, (1024, 1024, None), None, True),
)
_CIFAR = (
    (5, 1, (192, 160, 96), "max", False),
    (5, 1, (192, 192, 192), "average", True),
    (3, 1, (192, 192, None), None, True),
)
VARIANTS = {"imagenet": _IMAGENET, "cifar10": _CIFAR}


def mlpconv(x, kernel_size, strides, filters, name, padding="same"):
    """One mlpconv layer: a kxk conv then 1x1 convs ("cccp"), each followed by ReLU.

    ``filters`` lists the kxk conv's filters then the 1x1 convs'. Layers: ``{name}_conv``,
    ``{name}_cccp1``, ``{name}_cccp2``, ...
    """
    x = layers.Conv2D(
        filters[0], kernel_size, strides=strides, padding=padding, activation="relu",
        name=f"{name}_conv",
    )(x)
    for i, f in enumerate(filters[1:], 1):
        x = layers.Conv2D(f, 1, activation="relu", name=f"{name}_cccp{i}")(x)
    return x


def _nin(c, blocks, dropout_rate):
    data_format = data_format_for(c.channel_axis)
    x = c.image
    for i, (kernel, strides, filters, pool, dropout_before) in enumerate(blocks, 1):
        if dropout_before and dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"mlpconv{i}_dropout")(x)
        padding = "valid" if strides > 1 else "same"
        widths = [f for f in filters if f is not None]
        x = mlpconv(x, kernel, strides, widths, f"mlpconv{i}", padding)
        if pool:
            # Caffe's pooling rounds up: 54 -> 27 -> 13 -> 6 at 224, 32 -> 16 -> 8 on CIFAR.
            x = CeilPooling2D(3, 2, mode=pool, data_format=data_format, name=f"mlpconv{i}_pool")(x)
    return c.model(gap_classifier(c, x, f"mlpconv{len(blocks)}_cccp2"))


@register(
    family="nin",
    paper=_PAPER,
    default_size=224,
    min_size=39,  # conv 11/4 -> 8, ceil-mode pools -> 4 -> 2 -> 1
    params=7_595_176,
    preprocessing="torch",
)
def NiN(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="nin",
    variant="imagenet",
    dropout_rate=0.5,
):
    """Network in Network of Lin et al. (2014): mlpconv layers and a global-average-pooling head.

    Each mlpconv layer is a kxk conv followed by two 1x1 convs ("cascaded cross-channel
    pooling"), ReLU after each. ``variant="imagenet"`` (default, 224x224): the authors' released
    ImageNet net, mlpconv 11x11/4 96-96-96, 5x5 256-256-256, 3x3 384-384-384, 3x3 1024-1024-
    ``classes``, with 3x3/2 max pooling (rounding up, 54-27-13-6) after the first three and
    dropout before the last. ``variant="cifar10"`` (32x32; pass ``classes=10``): 5x5 192-160-96,
    max pool, dropout, 5x5 192-192-192, average pool, dropout, 3x3 192-192-``classes``. The
    classifier is NiN's: the last 1x1 conv maps to ``classes`` (+ ReLU, as released) and is
    averaged over space, then ``classifier_activation``. That conv is the top: with
    ``include_top=False`` the model ends at the 1x1 conv before it (6x6x1024 / 8x8x192 maps).
    ``dropout_rate`` (0.5) applies at each dropout. Returns a Keras ``Model``.
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"`variant` must be one of {sorted(VARIANTS)}. Received: variant={variant!r}"
        )
    check_rate("dropout_rate", dropout_rate)
    info = NiN.info
    if variant == "cifar10":
        info = dataclasses.replace(info, default_size=32, min_size=32)
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _nin(c, VARIANTS[variant], dropout_rate)
