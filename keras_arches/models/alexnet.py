"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and ZFNet (Zeiler & Fergus 2013/2014)."""

from keras import layers

from keras_arches import loading
from keras_arches.contract import Contract, check_rate
from keras_arches.layers import CeilPooling2D, LocalResponseNormalization
from keras_arches.models.common import data_format_for
from keras_arches.registry import Checkpoint, register, torchvision_checkpoint

_ALEXNET_PAPER = (
    "Krizhevsky, Sutskever & Hinton 2012, ImageNet Classification with Deep Convolutional "
    "Neural Networks (NeurIPS 2012)"
)
_ZFNET_PAPER = (
    "Zeiler & Fergus 2014, Visualizing and Understanding Convolutional Networks "
    "(ECCV 2014, arXiv:1311.2901)"
)


def _lrn(data_format, name, alpha=1e-4):
    # The paper's k=2, n=5, alpha=1e-4, beta=0.75 (TensorFlow's alpha is not divided by n).
    return LocalResponseNormalization(
        depth_radius=2, bias=2.0, alpha=alpha, beta=0.75, data_format=data_format, name=name
    )


def _fc_top(c, x, dropout_rate, dropout_first=False):
    """flatten -> FC 4096 -> dropout -> FC 4096 -> dropout -> classifier (AlexNet and ZFNet);
    ``dropout_first``: dropout before each FC 4096 instead, as torchvision's AlexNet."""
    if c.include_top:
        x = layers.Flatten(name="flatten")(x)
        for i in (6, 7):
            if dropout_rate and dropout_first:
                x = layers.Dropout(dropout_rate, name=f"drop{i}")(x)
            x = layers.Dense(4096, activation="relu", name=f"fc{i}")(x)
            if dropout_rate and not dropout_first:
                x = layers.Dropout(dropout_rate, name=f"drop{i}")(x)
    return c.model(c.head(x, global_pool=False))


def _torchvision_alexnet(c, dropout_rate):
    """torchvision 0.29's AlexNet ("one weird trick", Krizhevsky 2014): one tower, 64-192-384-
    256-256 filters, conv1 padded by 2, no LRN."""
    x = layers.ZeroPadding2D(2, name="conv1_pad")(c.image)
    x = layers.Conv2D(64, 11, strides=4, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for i, filters in ((2, 192), (3, 384), (4, 256), (5, 256)):
        kernel = 5 if i == 2 else 3
        x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"conv{i}")(x)
        if i == 2:
            x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    return _fc_top(c, x, dropout_rate, dropout_first=True)


_ALEXNET_CHECKPOINTS = (
    torchvision_checkpoint(
        "tv_in1k", "alexnet-owt-7be5be79.pth", "torchvision.alexnet", 56.522,
        variant="torchvision",
    ),
)
# pytorchcv 0.0.74's ZFNet (model_metainfos.csv: v0.0.395, error 1727 is its ImageNet top-5 error
# in 1/100 %; pytorchcv publishes no top-1).
_ZFNET_CHECKPOINTS = (
    Checkpoint(
        "in1k", "https://github.com/osmr/imgclsmob/releases/download/v0.0.395/"
        "zfnet-1727-d010ddca.pth.zip", "pytorchcv.zfnet", "pytorchcv 0.0.74", "mit", None,
        file_hash="sha1:d010ddca1eb32a50a8cceb475c792f53e769b631", variant="pytorchcv",
    ),
)


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
    checkpoints=_ALEXNET_CHECKPOINTS,
    variants={
        "torchvision": dict(
            twin="torchvision alexnet", default_size=224, min_size=63, top_min_size=None,
            params=61_100_840,
            layout="torchvision.alexnet", default_checkpoint="tv_in1k",
            published_top1=(56.522, "torchvision"),
        ),
    },
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
    variant=None,
):
    """AlexNet as in Krizhevsky et al. (2012), at the 227x227 input its layer sizes imply.

    conv1 96@11x11/4 -> LRN -> max pool 3/2 -> conv2 256@5x5 -> LRN -> max pool -> conv3 384@3x3
    -> conv4 384@3x3 -> conv5 256@3x3 -> max pool -> FC 4096 -> dropout -> FC 4096 -> dropout ->
    ``classes``, ReLU after every conv/FC, LRN with k=2, n=5, alpha=1e-4, beta=0.75. ``groups=2``
    (default) is the paper's two GPU towers: conv2, conv4 and conv5 only see the half of their
    input on their own GPU (``Conv2D(groups=2)``), conv3 sees both; ``groups=1`` is the one-tower
    network (62,378,344 parameters). ``dropout_rate`` applies after fc6 and fc7.
    ``include_top=False`` gives the 6x6x256 pool5 maps.

    ``variant="torchvision"`` is torchvision 0.29's layout (the ``tv_in1k`` checkpoint chooses
    it): one tower of 64-192-384-256-256 filters (Krizhevsky 2014, "One weird trick"), conv1
    padded by 2, no LRN, dropout before fc6 and fc7; 224x224 input (minimum 63), 61,100,840
    parameters. torchvision's adaptive 6x6 average pool is the identity at 224, so the top
    flattens pool5 as here. ``groups`` applies to the paper's layout only. Returns a Keras
    ``Model``.
    """
    info = loading.resolve_variant(AlexNet.info, weights, variant)
    if groups not in (1, 2):
        raise ValueError(
            "`groups` must be 1 (one tower) or 2 (the paper's two towers). "
            f"Received: groups={groups!r}"
        )
    if groups != 2 and info.variant is not None:
        raise ValueError(
            f"`groups` applies to the paper's layout only; variant={info.variant!r} has one "
            f"tower. Received: groups={groups!r}"
        )
    check_rate("dropout_rate", dropout_rate)
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    if info.variant == "torchvision":
        return _torchvision_alexnet(c, dropout_rate)
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


def _norm_and_pool(x, variant, data_format, i):
    """Fig. 3's max pool 3/2 then LRN; pytorchcv's LRN (alpha/n) then the pool."""
    pool = CeilPooling2D(3, 2, data_format=data_format, name=f"pool{i}")
    if variant == "pytorchcv":
        return pool(_lrn(data_format, f"norm{i}", alpha=1e-4 / 5)(x))
    return _lrn(data_format, f"norm{i}")(pool(x))


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
    checkpoints=_ZFNET_CHECKPOINTS,
    variants={
        "pytorchcv": dict(twin="pytorchcv zfnet", layout="pytorchcv.zfnet",
                          default_checkpoint="in1k"),
    },
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
    variant=None,
):
    """ZFNet, the network of Zeiler & Fergus (2014), Fig. 3, on 224x224 inputs.

    conv1 96@7x7/2 (110x110) -> max pool 3/2 (55x55) -> LRN -> conv2 256@5x5/2 (26x26) -> max pool
    3/2 (13x13) -> LRN -> conv3/conv4/conv5 3x3 (13x13) -> max pool 3/2 (6x6) -> FC 4096 -> dropout
    -> FC 4096 -> dropout -> ``classes``, ReLU; one tower (dense connections). The paper's Fig. 3
    sizes need one pixel of padding before conv1 and pools 1 and 2 that round up; this model does
    both. ``conv3_5_filters`` are Fig. 3's (384, 384, 256) by default; (512, 1024, 512) is the
    paper's larger variant (Table 3). LRN uses AlexNet's constants and formula (sec. 3.3 of
    Krizhevsky et al.: alpha=1e-4 not divided by n, TensorFlow's convention), after the pool as
    in Fig. 3. ``include_top=False`` gives the 6x6 pool5 maps.

    ``variant="pytorchcv"`` is pytorchcv 0.0.74's ``zfnet`` (its ``in1k`` checkpoint chooses
    it), the same layers and parameters with LRN before each pool and Caffe's/PyTorch's LRN
    formula (alpha/n: 2e-5 per element), which move its outputs 1.6e-3 relative from the
    default's on unit-variance random inputs (0.17 on inputs 10 times larger). With
    ``conv3_5_filters=(512, 1024, 512)`` it is pytorchcv's ``zfnetb``. Returns a Keras ``Model``.
    """
    info = loading.resolve_variant(ZFNet.info, weights, variant)
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
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    data_format = data_format_for(c.channel_axis)
    x = layers.ZeroPadding2D(1, name="conv1_pad")(c.image)
    x = layers.Conv2D(96, 7, strides=2, activation="relu", name="conv1")(x)
    # Fig. 3's 110 -> 55 and 26 -> 13 need pooling that rounds up (Caffe's).
    x = _norm_and_pool(x, info.variant, data_format, 1)
    x = layers.Conv2D(256, 5, strides=2, activation="relu", name="conv2")(x)
    x = _norm_and_pool(x, info.variant, data_format, 2)
    for i, f in enumerate(filters, 3):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    return _fc_top(c, x, dropout_rate)
