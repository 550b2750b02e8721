"""VGG16 and VGG19 (Simonyan & Zisserman, ICLR 2015, arXiv:1409.1556).

Twins of ``keras.applications.VGG16``/``VGG19``: same layers, names and
weights, so keras' published ImageNet files load by name.
"""

from keras import layers

from keras_arches.contract import Contract, check_width, scale_width
from keras_arches.models.common import keras_weights
from keras_arches.registry import (
    register,
    torchvision_checkpoint,
)

_PAPER = "Simonyan & Zisserman 2015, Very Deep Convolutional Networks (arXiv:1409.1556)"


def _vgg(c, convs_per_block, width_multiplier):
    """The five conv blocks (64-128-256-512-512 filters) and the FC top, all times the width."""
    x = c.image
    for block, (convs, filters) in enumerate(zip(convs_per_block, (64, 128, 256, 512, 512)), 1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(
                scale_width(filters, width_multiplier), 3, padding="same", activation="relu",
                name=f"block{block}_conv{i}",
            )(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if c.include_top:
        hidden = scale_width(4096, width_multiplier)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(hidden, activation="relu", name="fc1")(x)
        x = layers.Dense(hidden, activation="relu", name="fc2")(x)
    return c.model(c.head(x, global_pool=False))


_VGG16_CHECKPOINTS = (
    torchvision_checkpoint("tv_in1k", "vgg16-397923af.pth", "torchvision.vgg", 71.592),
)


@register(
    family="vgg",
    paper=_PAPER,
    default_size=224,
    min_size=32,
    twin="keras.applications.VGG16",
    params=138_357_544,
    weights=keras_weights(
        "vgg16/vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"
    ),
    preprocessing="caffe",
    fixed_size_top=True, published_top1=(71.3, "keras.applications"),
    layout="torchvision.vgg", checkpoints=_VGG16_CHECKPOINTS,
)
def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
    width_multiplier=1.0,
):
    """VGG16, configuration D of Simonyan & Zisserman (2015).

    Thirteen 3x3 conv layers in five blocks and three FC layers (4096-4096-
    classes); the standard ``keras.applications`` arguments, ``"imagenet"``
    loads keras' published weights. ``width_multiplier`` scales every conv and
    hidden FC width (1.0 is the paper's network). Returns a Keras ``Model``.
    """
    check_width(width_multiplier, weights)
    c = Contract(
        VGG16.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _vgg(c, (2, 2, 3, 3, 3), width_multiplier)


_VGG19_CHECKPOINTS = (
    torchvision_checkpoint("tv_in1k", "vgg19-dcbb9e9d.pth", "torchvision.vgg", 72.376),
)


@register(
    family="vgg",
    paper=_PAPER,
    default_size=224,
    min_size=32,
    twin="keras.applications.VGG19",
    params=143_667_240,
    weights=keras_weights(
        "vgg19/vgg19", "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"
    ),
    preprocessing="caffe",
    fixed_size_top=True, published_top1=(71.3, "keras.applications"),
    layout="torchvision.vgg", checkpoints=_VGG19_CHECKPOINTS,
)
def VGG19(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg19",
    width_multiplier=1.0,
):
    """VGG19, configuration E of Simonyan & Zisserman (2015).

    Sixteen 3x3 conv layers in five blocks and three FC layers; otherwise as
    :func:`VGG16`. Returns a Keras ``Model``.
    """
    check_width(width_multiplier, weights)
    c = Contract(
        VGG19.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _vgg(c, (2, 2, 4, 4, 4), width_multiplier)
