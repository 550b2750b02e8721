"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and ZFNet (Zeiler & Fergus 2013/2014)."""

from keras import layers

from keras_arches.contract import Contract, check_rate
from keras_arches.layers import CeilPooling2D, LocalResponseNormalization
from keras_arches.models.common import data_format_for
from keras_arches.registry import register

_ALEXNET_PAPER = (
    "Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep Convolutional "
    "Neural Networks (NeurIPS 2012)"
)
_ZFNET_PAPER = (
    "Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks "
    "(ECCV 2014, arXiv:1311.2901)"
)


def _lrn(data_format, name):
    # The paper's k=2, n=5, alpha=1e-4, beta=0.75 (TensorFlow's alpha is not divided by n).
    return LocalResponseNormalization(
        depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, data_format=data_format, name=name
    )


def _fc_top(c, x, dropout_rate):
    """flatten -> FC 4096 -> dropout -> FC 4096 -> dropout -> classifier (AlexNet and ZFNet)."""
    if c.include_top:
        x = layers.Flatten(name="flatten")(x)
        for i in (6, 7):
            x = layers.Dense(4096, activation="relu", name=f"fc{i}")(x)
            if dropout_rate:
                x = layers.Dropout(dropout_rate, name=f"drop{i}")(x)
    return c.model(c.head(x, global_pool=False))


@register(
    family="alexnet",
    paper=_ALEXNET_PAPER,
    default_size=227,
    min_size=67,  # conv1 11/4 -> 15, pool -> 7, pool -> 3, pool5 -> 1
    top_min_size=227,
    test_size=227,
    params=60_965_224,
    slow=True,
    preprocessing="torch",
    fixed_size_top=True,
)
def AlexNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="alexnet",
    groups=2,
    dropout_rate=0.5,
):
    """AlexNet as in Krizhevsky et al. (2012), at the 227x227 input its layer sizes imply.

    conv1 96@11x11/4 -> LRN -> max pool 3/2 -> conv2 256@5x5 -> LRN -> max pool -> conv3 384@3x3
    -> conv4 384@3x3 -> conv5 256@3x3 -> max pool -> FC 4096 -> dropout -> FC 4096 -> dropout ->
    ``classes``, ReLU after every conv/FC, LRN with k=2, n=5, alpha=1e-4, beta=0.75. ``groups=2``
    (default) is the paper's two GPU towers: conv2, conv4 and conv5 only see the half of their
    input on their own GPU (``Conv2D(groups=2)``), conv3 sees both; ``groups=1`` is the one-tower
    network (62,378,344 parameters). ``dropout_rate`` applies after fc6 and fc7.
    ``include_top=False`` gives the 6x6x256 pool5 maps. Returns a Keras ``Model``.
    """
    if groups not in (1, 2):
        raise ValueError(
            "`groups` must be 1 (one tower) or 2 (the paper's two towers). "
            f"Received: groups={groups!r}"
        )
    check_rate("dropout_rate", dropout_rate)
    c = Contract(
        AlexNet.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    data_format = data_format_for(c.channel_axis)
    x = layers.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(c.image)
    x = _lrn(data_format, "norm1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = layers.Conv2D(256, 5, padding="same", groups=groups, activation="relu", name="conv2")(x)
    x = _lrn(data_format, "norm2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.Conv2D(384, 3, padding="same", groups=groups, activation="relu", name="conv4")(x)
    x = layers.Conv2D(256, 3, padding="same", groups=groups, activation="relu", name="conv5")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    return _fc_top(c, x, dropout_rate)


@register(
    family="alexnet",
    paper=_ZFNET_PAPER,
    default_size=224,
    min_size=63,  # conv1 -> 30, pool1 -> 15, conv2 -> 6, pool2 -> 3, pool5 -> 1
    top_min_size=224,
    test_size=224,
    params=62_357_608,
    slow=True,
    preprocessing="torch",
    fixed_size_top=True,
)
def ZFNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="zfnet",
    conv3_5_filters=(384, 384, 256),
    dropout_rate=0.5,
):
    """ZFNet, the network of Zeiler & Fergus (2014), Fig. 3, on 224x224 inputs.

    conv1 96@7x7/2 (110x110) -> max pool 3/2 (55x55) -> LRN -> conv2 256@5x5/2 (26x26) -> max pool
    3/2 (13x13) -> LRN -> conv3/conv4/conv5 3x3 (13x13) -> max pool 3/2 (6x6) -> FC 4096 -> dropout
    -> FC 4096 -> dropout -> ``classes``, ReLU; one tower (dense connections). The paper's Fig. 3
    sizes need one pixel of padding before conv1 and pools 1 and 2 that round up; this model does
    both. ``conv3_5_filters`` are Fig. 3's (384, 384, 256) by default; (512, 1024, 512) is the
    paper's larger variant (Table 3). LRN uses AlexNet's constants. ``include_top=False`` gives
    the 6x6 pool5 maps. Returns a Keras ``Model``.
    """
    filters = tuple(conv3_5_filters) if isinstance(conv3_5_filters, (list, tuple)) else ()
    if len(filters) != 3 or not all(
        isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in filters
    ):
        raise ValueError(
            "`conv3_5_filters` must be three positive integers (conv3, conv4, conv5). "
            f"Received: conv3_5_filters={conv3_5_filters!r}"
        )
    check_rate("dropout_rate", dropout_rate)
    c = Contract(
        ZFNet.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    data_format = data_format_for(c.channel_axis)
    x = layers.ZeroPadding2D(1, name="conv1_pad")(c.image)
    x = layers.Conv2D(96, 7, strides=2, activation="relu", name="conv1")(x)
    # Fig. 3's 110 -> 55 and 26 -> 13 need pooling that rounds up (Caffe's).
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool1")(x)
    x = _lrn(data_format, "norm1")(x)
    x = layers.Conv2D(256, 5, strides=2, activation="relu", name="conv2")(x)
    x = CeilPooling2D(3, 2, data_format=data_format, name="pool2")(x)
    x = _lrn(data_format, "norm2")(x)
    for i, f in enumerate(filters, 3):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    return _fc_top(c, x, dropout_rate)
