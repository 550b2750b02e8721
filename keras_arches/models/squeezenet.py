"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016, arXiv:1602.07360), torchvision's layout."""

from keras import layers

from keras_arches.contract import Contract, check_rate, check_width, scale_width
from keras_arches.layers import CeilPooling2D, FireModule
from keras_arches.models.common import data_format_for, gap_classifier
from keras_arches.registry import register, torchvision_checkpoint

_PAPER = (
    "Iandola et al. 2016, SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and "
    "<0.5MB model size (arXiv:1602.07360)"
)

# Fire modules fire2..fire9 as (squeeze, expand1x1, expand3x3).
_FIRES = (
    (16, 64, 64), (16, 64, 64), (32, 128, 128), (32, 128, 128),
    (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256),
)


def _squeezenet(c, stem_filters, stem_kernel, pool_after, dropout_rate, width_multiplier):
    """conv1 (stride 2, 'valid') -> pools and fire2..fire9 -> NiN-style conv10 classifier.

    ``pool_after`` names the fire modules followed by a 3x3/2 max pool (0 is conv1); pools
    round up like torchvision's ``ceil_mode=True`` (224 -> 109 -> 54 -> 27 -> 13 for 1.0).
    Every width but the classifier's is multiplied by ``width_multiplier``.
    """
    data_format = data_format_for(c.channel_axis)
    x = layers.Conv2D(
        scale_width(stem_filters, width_multiplier), stem_kernel, strides=2, activation="relu",
        name="conv1",
    )(c.image)
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool1")(x)
    for i, widths in enumerate(_FIRES, 2):
        widths = [scale_width(w, width_multiplier) for w in widths]
        x = FireModule(*widths, data_format=data_format, name=f"fire{i}")(x)
        if i in pool_after:
            x = CeilPooling2D(3, 2, data_format=data_format, name=f"pool{i}")(x)
    return c.model(gap_classifier(c, x, "conv10", dropout_rate=dropout_rate))



_SQUEEZENET1_0_CHECKPOINTS = (
    torchvision_checkpoint(
        "tv_in1k", "squeezenet1_0-b66bff10.pth", "torchvision.squeezenet", 58.092,
    ),
)


@register(
    family="squeezenet",
    paper=_PAPER,
    default_size=224,
    min_size=64,
    twin="torchvision squeezenet1_0",
    params=1_248_424,
    preprocessing="torch", published_top1=(58.092, "torchvision"),
    layout="torchvision.squeezenet", checkpoints=_SQUEEZENET1_0_CHECKPOINTS,
    default_checkpoint="tv_in1k",
)
def SqueezeNet1_0(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="squeezenet1_0",
    dropout_rate=0.5,
    width_multiplier=1.0,
):
    """SqueezeNet 1.0 of Iandola et al. (2016), layer for layer torchvision's ``squeezenet1_0``.

    conv1 96@7x7/2 -> max pool -> fire2-4 -> max pool -> fire5-8 -> max pool -> fire9 (13x13x512
    at 224) -> dropout ``dropout_rate`` -> conv10 1x1 to ``classes`` + ReLU -> global average
    pool -> ``classifier_activation``. The top is dropout + conv10 + pooling, so
    ``include_top=False`` gives fire9's maps. Pools are 3x3/2 rounding up (``ceil_mode``).
    ``width_multiplier`` scales conv1 and every fire module. Returns a Keras ``Model``.
    """
    check_rate("dropout_rate", dropout_rate)
    check_width(width_multiplier, weights)
    c = Contract(
        SqueezeNet1_0.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _squeezenet(c, 96, 7, (4, 8), dropout_rate, width_multiplier)


_SQUEEZENET1_1_CHECKPOINTS = (
    torchvision_checkpoint(
        "tv_in1k", "squeezenet1_1-b8a52dc0.pth", "torchvision.squeezenet", 58.178,
    ),
)


@register(
    family="squeezenet",
    paper=_PAPER,
    default_size=224,
    min_size=64,
    twin="torchvision squeezenet1_1",
    params=1_235_496,
    preprocessing="torch", published_top1=(58.178, "torchvision"),
    layout="torchvision.squeezenet", checkpoints=_SQUEEZENET1_1_CHECKPOINTS,
    default_checkpoint="tv_in1k",
)
def SqueezeNet1_1(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="squeezenet1_1",
    dropout_rate=0.5,
    width_multiplier=1.0,
):
    """SqueezeNet 1.1 (the SqueezeNet authors' 2.4x cheaper revision), as torchvision's
    ``squeezenet1_1``: conv1 64@3x3/2 and the pools moved earlier (after conv1, fire3, fire5:
    224 -> 111 -> 55 -> 27 -> 13), same fire modules and top as :func:`SqueezeNet1_0`.
    Returns a Keras ``Model``.
    """
    check_rate("dropout_rate", dropout_rate)
    check_width(width_multiplier, weights)
    c = Contract(
        SqueezeNet1_1.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _squeezenet(c, 64, 3, (3, 5), dropout_rate, width_multiplier)
