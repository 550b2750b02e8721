"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998) and the lecture's modern LeNet."""

import dataclasses
import os

from keras import layers

from keras_arches.contract import Contract
from keras_arches.layers import ConnectionTableConv2D
from keras_arches.layers.connection_table import LENET5_C3_TABLE
from keras_arches.models.common import check_bool
from keras_arches.registry import register

_PAPER = (
    "LeCun, Bottou, Bengio & Haffner 1998, Gradient-Based Learning Applied to Document "
    "Recognition (Proc. IEEE 86(11))"
)
VARIANTS = ("1998", "modern")
# weights="mnist": the modern variant trained by the README's main job on the embedded MNIST
# subset (96.9 % on its 1,000 test images), written by benchmarks/make_lenet5_mnist.py.
MNIST_WEIGHTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "files", "lenet5_mnist.weights.h5"
)


def _lenet5_1998(c, c3_table):
    """C1 6@5x5 -> S2 -> C3 16@5x5 -> S4 [top: C5 120@5x5 -> F6 84 -> output], all tanh."""
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(c.image)
    x = layers.AveragePooling2D(2, name="s2")(x)
    if c3_table:
        x = ConnectionTableConv2D(LENET5_C3_TABLE, 5, activation="tanh", name="c3")(x)
    else:
        x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    if c.include_top:
        x = layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(84, activation="tanh", name="f6")(x)
    return c.model(c.head(x, global_pool=False))


def _lenet_modern(c):
    """conv 20@5x5 same -> pool -> conv 50@5x5 same -> pool [top: FC 500 -> FC classes], ReLU."""
    x = layers.Conv2D(20, 5, padding="same", activation="relu", name="conv1")(c.image)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(50, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    if c.include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(500, activation="relu", name="fc1")(x)
    return c.model(c.head(x, global_pool=False))


@register(
    family="lenet",
    paper=_PAPER,
    default_size=32,
    min_size=32,
    channels=1,
    params=61_706,
    params_classes=10,
    preprocessing="unit",
    fixed_size_top=True,
)
def LeNet5(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="lenet5",
    variant=None,
    c3_table=False,
):
    """LeNet-5 of LeCun et al. (1998) on 32x32x1 images, or the lecture's modern version.

    ``variant="1998"``: C1 6@5x5 'valid' -> S2 2x2 average pooling -> C3 16@5x5 -> S4 ->
    C5 120@5x5 -> F6 84 -> ``classes``, tanh throughout; the subsampling layers are parameter-free
    average pooling and the output is a Dense layer (the paper's S2/S4 have a trainable
    coefficient and bias per map, and its output is a fixed Euclidean RBF layer). C3 is fully
    connected unless ``c3_table=True``, which uses the paper's Table I connections (C3 then has the
    paper's 1,516 parameters). Needs 32x32 inputs (28x28 leaves C5 a 4x4 map; pad MNIST by 2).
    ``variant="modern"``: conv 20@5x5 'same' -> max pool 2 -> conv 50@5x5 'same' -> max pool 2 ->
    FC 500 -> ``classes``, ReLU, default and minimum input 28x28x1. ``include_top=False`` returns
    the feature maps before the fully connected layers (S4 for 1998; after C5 is the top).
    ``variant=None`` is "1998", except with ``weights="mnist"``: the package's weights of the
    modern variant, trained by the README's main job (``keras-arches train lenet5`` on the
    embedded MNIST subset, 10 classes, 28x28x1), which choose "modern". Returns a Keras ``Model``.
    """
    if isinstance(weights, str) and weights == "mnist":
        if variant not in (None, "modern"):
            raise ValueError(
                "`weights='mnist'` are the weights of variant='modern'. Received: "
                f"variant={variant!r}"
            )
        if include_top and classes != 10:
            raise ValueError(
                "`weights='mnist'` has a 10-class top; train a new head from `include_top=False` "
                f"for other classes. Received: classes={classes!r}"
            )
        variant, weights = "modern", MNIST_WEIGHTS
        model = LeNet5(include_top, weights, input_tensor, input_shape, pooling, classes,
                       classifier_activation, name, variant=variant)
        model.class_names = [str(digit) for digit in range(10)] if include_top else None
        return model
    variant = "1998" if variant is None else variant
    if variant not in VARIANTS:
        raise ValueError(f"`variant` must be one of {VARIANTS}. Received: variant={variant!r}")
    check_bool("c3_table", c3_table)
    if c3_table and variant != "1998":
        raise ValueError(
            "`c3_table=True` applies only to variant='1998'. Received: variant='modern'"
        )
    info = LeNet5.info
    if variant == "modern":
        info = dataclasses.replace(info, default_size=28, min_size=28)
    c = Contract(
        info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    if variant == "modern":
        return _lenet_modern(c)
    return _lenet5_1998(c, c3_table)
