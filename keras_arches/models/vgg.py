"""VGG: configurations A to E of Simonyan & Zisserman (ICLR 2015, arXiv:1409.1556), Table 1.

VGG16 and VGG19 (D and E) are twins of ``keras.applications.VGG16``/``VGG19``: same layers, names
and weights, so keras' published ImageNet files load by name. Every configuration takes
``variant="batch_norm"``, torchvision 0.29's ``vgg*_bn`` layout: a batch norm (epsilon 1e-5)
between each conv and its ReLU.
"""

from keras import layers

from keras_arches import loading
from keras_arches.contract import Contract, check_width, scale_width
from keras_arches.layers import LocalResponseNormalization
from keras_arches.models.common import (
    TORCH_BN_EPSILON,
    conv_bn,
    data_format_for,
    keras_weights,
)
from keras_arches.registry import register, torchvision_checkpoint

_PAPER = "Simonyan & Zisserman 2015, Very Deep Convolutional Networks (arXiv:1409.1556)"
_FILTERS = (64, 128, 256, 512, 512)

#: Table 1: per configuration, the kernel sizes of each block's convs (filters: ``_FILTERS``).
CONFIGURATIONS = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}


def _lrn(c):
    # A-LRN's normalisation is AlexNet's (section 2.2): k=2, n=5, alpha=1e-4, beta=0.75.
    return LocalResponseNormalization(
        depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75,
        data_format=data_format_for(c.channel_axis), name="block1_lrn",
    )


def _vgg(c, configuration, width_multiplier, lrn=False):
    """The five conv blocks of ``configuration`` and the FC top (4096-4096-classes), all times
    the width; ``lrn`` normalises the first conv's output (A-LRN). The card's variant
    ``"batch_norm"`` puts a batch norm between each conv and its ReLU."""
    batch_norm = c.info.variant == "batch_norm"
    x = c.image
    for block, (kernels, filters) in enumerate(zip(CONFIGURATIONS[configuration], _FILTERS), 1):
        for i, kernel in enumerate(kernels, 1):
            name = f"block{block}_conv{i}"
            width = scale_width(filters, width_multiplier)
            if batch_norm:
                x = conv_bn(
                    x, width, kernel, name, axis=c.channel_axis, use_bias=True,
                    epsilon=TORCH_BN_EPSILON, scale=True,
                )
            else:
                x = layers.Conv2D(width, kernel, padding="same", activation="relu", name=name)(x)
            if lrn and block == 1 and i == 1:
                x = _lrn(c)(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if c.include_top:
        hidden = scale_width(4096, width_multiplier)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(hidden, activation="relu", name="fc1")(x)
        x = layers.Dense(hidden, activation="relu", name="fc2")(x)
    return c.model(c.head(x, global_pool=False))


def _build(builder, arguments, configuration, lrn=False):
    """A VGG builder's ``locals()`` -> its model: the card of the variant the weights need."""
    info = loading.resolve_variant(builder.info, arguments["weights"], arguments["variant"])
    check_width(arguments["width_multiplier"], arguments["weights"])
    c = Contract(
        info, *(arguments[key] for key in (
            "include_top", "weights", "input_tensor", "input_shape", "pooling", "classes",
            "classifier_activation", "name")),
    )
    return _vgg(c, configuration, arguments["width_multiplier"], lrn)


def _from_torchvision(checkpoint):
    """The card facts a torchvision checkpoint gives the layout it is in: the torchvision model
    (named by its file) as the twin, its top-1, and ``weights="imagenet"`` loading it."""
    if checkpoint is None:
        return {}
    model = checkpoint.url.rsplit("/", 1)[-1].split("-")[0]
    return dict(twin=f"torchvision {model}", published_top1=(checkpoint.top1, "torchvision"),
                default_checkpoint=checkpoint.tag)


def _card(params, bn_params, checkpoints=(), preprocessing="torch", **facts):
    """The facts every VGG card shares, and its variant ``"batch_norm"`` (torchvision's
    ``vgg*_bn`` layout, ``bn_params`` its ``count_params()``). The twin, top-1 and default
    checkpoint of a layout come from its torchvision checkpoint, where it has one; ``facts``
    (keras.applications' twins) take precedence for the default layout."""
    by_variant = {checkpoint.variant: checkpoint for checkpoint in checkpoints}
    batch_norm = {
        "params": bn_params, "twin": "paper", "weights": {}, "preprocessing": "torch",
        "published_top1": None, "default_checkpoint": None,
        **_from_torchvision(by_variant.get("batch_norm")),
    }
    return dict(
        family="vgg", paper=_PAPER, default_size=224, min_size=32, preprocessing=preprocessing,
        fixed_size_top=True, params=params, layout="torchvision.vgg", checkpoints=checkpoints,
        variants={"batch_norm": batch_norm},
        **{**_from_torchvision(by_variant.get(None)), **facts},
    )


def _torchvision(plain, plain_top1, bn, bn_top1):
    """torchvision 0.29's two ImageNet files of a configuration: ``tv_in1k`` and, for
    ``variant="batch_norm"``, ``tv_bn_in1k``."""
    return (
        torchvision_checkpoint("tv_in1k", plain, "torchvision.vgg", plain_top1),
        torchvision_checkpoint(
            "tv_bn_in1k", bn, "torchvision.vgg", bn_top1, variant="batch_norm"
        ),
    )


@register(**_card(
    132_863_336, 132_874_344, _torchvision(
        "vgg11-8a719046.pth", 69.02, "vgg11_bn-6002323d.pth", 70.37),
))
def VGG11(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg11", width_multiplier=1.0,
          variant=None):
    """VGG-11, configuration A of Simonyan & Zisserman (2015), Table 1.

    Eight 3x3 convs (1-1-2-2-2 per block) and three FC layers (4096-4096-classes).

    Args:
        width_multiplier: scales every conv and hidden FC width (1.0 is the paper's network).
        variant: None, or ``"batch_norm"`` for torchvision's ``vgg11_bn`` (a batch norm after
            each conv). A checkpoint chooses its own.

    Returns:
        A Keras ``Model``.
    """
    return _build(VGG11, locals(), "A")


@register(**_card(132_863_336, 132_874_344))
def VGG11LRN(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="vgg11_lrn",
             width_multiplier=1.0, variant=None):
    """VGG-11 with local response normalisation, configuration A-LRN of Simonyan & Zisserman
    (2015), Table 1: configuration A with AlexNet's LRN after the first conv. No checkpoint is
    published (the paper found LRN does not help).

    Args:
        width_multiplier: scales every conv and hidden FC width (1.0 is the paper's network).
        variant: None, or ``"batch_norm"`` (a batch norm after each conv).

    Returns:
        A Keras ``Model``.
    """
    return _build(VGG11LRN, locals(), "A", lrn=True)


@register(**_card(
    133_047_848, 133_059_624, _torchvision(
        "vgg13-19584684.pth", 69.928, "vgg13_bn-abd245e5.pth", 71.586),
))
def VGG13(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg13", width_multiplier=1.0,
          variant=None):
    """VGG-13, configuration B of Simonyan & Zisserman (2015), Table 1.

    Ten 3x3 convs (two per block) and three FC layers.

    Args:
        width_multiplier: scales every conv and hidden FC width (1.0 is the paper's network).
        variant: None, or ``"batch_norm"`` for torchvision's ``vgg13_bn``. A checkpoint chooses
            its own.

    Returns:
        A Keras ``Model``.
    """
    return _build(VGG13, locals(), "B")


@register(**_card(133_638_952, 133_655_848))
def VGG16C(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
           classes=1000, classifier_activation="softmax", name="vgg16_c", width_multiplier=1.0,
           variant=None):
    """VGG-16 with 1x1 convs, configuration C of Simonyan & Zisserman (2015), Table 1:
    configuration D with the third conv of blocks 3 to 5 a 1x1 conv. No checkpoint is published.

    Args:
        width_multiplier: scales every conv and hidden FC width (1.0 is the paper's network).
        variant: None, or ``"batch_norm"`` (a batch norm after each conv).

    Returns:
        A Keras ``Model``.
    """
    return _build(VGG16C, locals(), "C")


@register(**_card(
    138_357_544, 138_374_440, _torchvision(
        "vgg16-397923af.pth", 71.592, "vgg16_bn-6c64b313.pth", 73.36),
    twin="keras.applications.VGG16", preprocessing="caffe", default_checkpoint=None,
    weights=keras_weights(
        "vgg16/vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"
    ),
    published_top1=(71.3, "keras.applications"),
))
def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16",
          width_multiplier=1.0, variant=None):
    """VGG-16, configuration D of Simonyan & Zisserman (2015), Table 1.

    Thirteen 3x3 convs (2-2-3-3-3 per block) and three FC layers; ``"imagenet"`` loads keras'
    published weights.

    Args:
        width_multiplier: scales every conv and hidden FC width (1.0 is the paper's network).
        variant: None, or ``"batch_norm"`` for torchvision's ``vgg16_bn``. A checkpoint chooses
            its own.

    Returns:
        A Keras ``Model``.
    """
    return _build(VGG16, locals(), "D")


@register(**_card(
    143_667_240, 143_689_256, _torchvision(
        "vgg19-dcbb9e9d.pth", 72.376, "vgg19_bn-c79401a0.pth", 74.218),
    twin="keras.applications.VGG19", preprocessing="caffe", default_checkpoint=None,
    weights=keras_weights(
        "vgg19/vgg19", "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"
    ),
    published_top1=(71.3, "keras.applications"),
))
def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19",
          width_multiplier=1.0, variant=None):
    """VGG-19, configuration E of Simonyan & Zisserman (2015), Table 1.

    Sixteen 3x3 convs (2-2-4-4-4 per block) and three FC layers; otherwise as :func:`VGG16`.

    Args:
        width_multiplier: scales every conv and hidden FC width (1.0 is the paper's network).
        variant: None, or ``"batch_norm"`` for torchvision's ``vgg19_bn``. A checkpoint chooses
            its own.

    Returns:
        A Keras ``Model``.
    """
    return _build(VGG19, locals(), "E")
