"""Network in Network (Lin, Chen & Yan, ICLR 2014, arXiv:1312.4400)."""

from keras import layers

from keras_arches import loading
from keras_arches.contract import Contract, check_rate
from keras_arches.layers import CeilPooling2D
from keras_arches.models.common import data_format_for, gap_classifier
from keras_arches.registry import imgclsmob_checkpoint, register

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
VARIANTS = {"imagenet": _IMAGENET, "cifar10": _CIFAR, "pytorchcv_cifar": _CIFAR}
_CIFAR_CARD = dict(default_size=32, min_size=32, params=966_986, params_classes=10,
                   classifier=("mlpconv3_cccp2",))
_CHECKPOINTS = (
    imgclsmob_checkpoint(
        "cifar10", "v0.0.175", "nin_cifar10-0743-795b0824",
        "795b082470b58c1aa94e2f861514b7914f6e2f58", "pytorchcv.nin_cifar", 7.43,
        variant="pytorchcv_cifar",
    ),
)


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


def _pool(x, mode, data_format, name, padded):
    if not padded:
        # Caffe's pooling rounds up: 54 -> 27 -> 13 -> 6 at 224, 32 -> 16 -> 8 on CIFAR.
        return CeilPooling2D(3, 2, mode=mode, data_format=data_format, name=name)(x)
    # pytorchcv's: one pixel of zeros, rounding down, zeros counted in the mean (PyTorch's
    # count_include_pad); after a ReLU the zeros never win a max.
    x = layers.ZeroPadding2D(1, data_format=data_format, name=f"{name}_pad")(x)
    pool = layers.MaxPooling2D if mode == "max" else layers.AveragePooling2D
    return pool(3, strides=2, data_format=data_format, name=name)(x)


def _nin(c, blocks, dropout_rate, padded_pools=False):
    data_format = data_format_for(c.channel_axis)
    x = c.image
    for i, (kernel, strides, filters, pool, dropout_before) in enumerate(blocks, 1):
        if dropout_before and dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"mlpconv{i}_dropout")(x)
        padding = "valid" if strides > 1 else "same"
        widths = [f for f in filters if f is not None]
        x = mlpconv(x, kernel, strides, widths, f"mlpconv{i}", padding)
        if pool:
            x = _pool(x, pool, data_format, f"mlpconv{i}_pool", padded_pools)
    return c.model(gap_classifier(c, x, f"mlpconv{len(blocks)}_cccp2"))


@register(
    family="nin",
    paper=_PAPER,
    default_size=224,
    min_size=39,  # conv 11/4 -> 8, ceil-mode pools -> 4 -> 2 -> 1
    params=7_595_176,
    preprocessing="torch",
    checkpoints=_CHECKPOINTS,
    variants={
        "cifar10": _CIFAR_CARD,
        "pytorchcv_cifar": dict(_CIFAR_CARD, twin="pytorchcv nin_cifar10",
                                layout="pytorchcv.nin_cifar", default_checkpoint="cifar10"),
    },
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
    variant=None,
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
    ``dropout_rate`` (0.5) applies at each dropout. Both pool as the authors' released nets do
    (their cuda-convnet and Caffe CIFAR-10 configurations: 3x3/2 windows from the first pixel, no
    padding, rounding up; a clipped average counts only real pixels).

    ``variant="pytorchcv_cifar"`` is pytorchcv 0.0.74's ``nin_cifar10`` (its ``cifar10``
    checkpoint chooses it): the CIFAR-10 net with PyTorch pools padded by one pixel and rounding
    down, the padding counted in the average, so its windows are shifted by one pixel from the
    authors'. With a CIFAR checkpoint and the top, the default ``classes`` is the checkpoint's
    10. ``variant=None`` is ``"imagenet"``. Returns a Keras ``Model``.
    """
    info = loading.resolve_variant(NiN.info, weights, None if variant == "imagenet" else variant)
    if variant == "imagenet" and info.variant is not None:
        raise ValueError(
            f"The checkpoint {weights!r} of nin is in the {info.variant} layout, not "
            "variant='imagenet'. Pass that variant or leave `variant` unset."
        )
    check_rate("dropout_rate", dropout_rate)
    checkpoint = info.checkpoint_for(weights) if isinstance(weights, str) else None
    if include_top and checkpoint is not None and classes == 1000:
        classes = checkpoint.classes
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _nin(c, VARIANTS[info.variant or "imagenet"], dropout_rate,
                padded_pools=info.variant == "pytorchcv_cifar")
