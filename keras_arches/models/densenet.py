"""DenseNet (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017, arXiv:1608.06993).

``DenseNet121/169/201`` are twins of ``keras.applications`` (same layer names, so keras' published
ImageNet files load by name); ``DenseNet161`` is torchvision's ``densenet161``; ``DenseNetBC`` is
the paper's CIFAR DenseNet-BC. All four are built from the same dense block and transition.
"""

from keras import layers

from keras_arches.checks import check_positive_int
from keras_arches.contract import Contract
from keras_arches.layers import FusedBatchNormalization
from keras_arches.models.common import RESNET_NAMES, bn_act, conv_bn, keras_weights
from keras_arches.registry import (
    imgclsmob_checkpoint,
    register,
    timm_checkpoint,
    torchvision_checkpoint,
)

_PAPER = "Huang et al. 2017, Densely Connected Convolutional Networks (CVPR 2017, arXiv:1608.06993)"
KERAS_EPSILON = 1.001e-5  # keras.applications' batch-norm epsilon
TORCH_EPSILON = 1e-5  # torchvision's and the authors' Torch code's


def _bn_relu(x, epsilon, axis, name):
    return bn_act(x, name, axis=axis, epsilon=epsilon, scale=True, names=RESNET_NAMES)


def dense_layer(x, growth_rate, epsilon, axis, name):
    """BN-ReLU-conv 1x1 (``4 * growth_rate``) - BN-ReLU-conv 3x3 (``growth_rate``), concatenated
    to the input: the bottleneck layer "B" of the paper. Layers ``{name}_0_bn`` ... ``_concat``."""
    y = _bn_relu(x, epsilon, axis, f"{name}_0")
    y = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
    y = _bn_relu(y, epsilon, axis, f"{name}_1")
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=axis, name=f"{name}_concat")([x, y])


def dense_block(x, num_layers, growth_rate, epsilon, axis, name):
    """``num_layers`` dense layers named ``{name}_block1`` ... (each adds ``growth_rate`` maps)."""
    for i in range(1, num_layers + 1):
        x = dense_layer(x, growth_rate, epsilon, axis, f"{name}_block{i}")
    return x


def transition(x, compression, epsilon, axis, name):
    """BN-ReLU-conv 1x1 to ``compression`` of the channels - 2x2 average pool (paper's "C")."""
    x = _bn_relu(x, epsilon, axis, name)
    x = layers.Conv2D(int(x.shape[axis] * compression), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _dense_stages(c, x, blocks, growth_rate, epsilon, compression=0.5):
    """Dense blocks ``conv2``, ``conv3``, ... with transitions ``pool2``, ... between them, the
    final BN-ReLU (``bn``, ``relu``) and the head."""
    axis = c.channel_axis
    for stage, num_layers in enumerate(blocks, 2):
        if stage > 2:
            x = transition(x, compression, epsilon, axis, f"pool{stage - 1}")
        x = dense_block(x, num_layers, growth_rate, epsilon, axis, f"conv{stage}")
    x = FusedBatchNormalization(axis=axis, epsilon=epsilon, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    return c.model(c.head(x))


def _imagenet_densenet(c, blocks, growth_rate=32, init_features=64, epsilon=KERAS_EPSILON):
    """ImageNet DenseNet: conv 7x7/2 - BN-ReLU - max pool 3x3/2, then four dense blocks."""
    x = conv_bn(
        c.image, init_features, 7, "conv1", axis=c.channel_axis, strides=2, padding=3,
        epsilon=epsilon, scale=True, names=RESNET_NAMES,
    )
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    return _dense_stages(c, x, blocks, growth_rate, epsilon)


# keras.applications' file hashes (top, no top) and count_params() with the top.
_KERAS_TWINS = {
    121: ("9d60b8095a5708f2dcce2bca79d332c7", "30ee3e1110167f948a6b9946edeeb738", 8_062_504),
    169: ("d699b8f76981ab1b30698df4c175e90b", "b8c4d4c20dd625c148057b9ff1c1176b", 14_307_880),
    201: ("1ceb130c1ea1b78c3bf6114dbdfd8807", "c13680b51ded0fb44dff2d8f86ac8bb1", 20_242_984),
}
# The keras.applications table's top-1 (%) of those files.
_KERAS_TOP1 = {121: 75.0, 169: 76.2, 201: 77.3}


def _keras_twin(depth, *checkpoints):
    """Registry entry of the ``keras.applications.DenseNet{depth}`` twin."""
    top_hash, notop_hash, params = _KERAS_TWINS[depth]
    published_top1 = (_KERAS_TOP1[depth], "keras.applications")
    return register(
        family="densenet", paper=_PAPER, default_size=224, min_size=32, test_size=32,
        twin=f"keras.applications.DenseNet{depth}", params=params,
        weights=keras_weights(f"densenet/densenet{depth}", top_hash, notop_hash),
        preprocessing="torch", published_top1=published_top1, layout="torchvision.densenet",
        checkpoints=checkpoints,
    )


@_keras_twin(
    121,
    timm_checkpoint(
        "densenet121.ra_in1k", "torchvision.densenet", 75.574, "apache-2.0", test=(288, 0.95),
    ),
    torchvision_checkpoint("tv_in1k", "densenet121-a639ec97.pth", "torchvision.densenet", 74.434),
)
def DenseNet121(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet121",
):
    """DenseNet-121 (Huang et al. 2017): dense blocks of 6-12-24-16 layers.

    The ``keras.applications.DenseNet121`` twin: growth rate 32, 64 initial features,
    compression 0.5, the standard ``keras.applications`` arguments; ``weights="imagenet"`` loads
    keras' published files (preprocess inputs with ``keras.applications.densenet.
    preprocess_input``). Returns a Keras ``Model``.
    """
    c = Contract(
        DenseNet121.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _imagenet_densenet(c, (6, 12, 24, 16))


@_keras_twin(
    169,
    torchvision_checkpoint("tv_in1k", "densenet169-b2777c0a.pth", "torchvision.densenet", 75.6),
)
def DenseNet169(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet169",
):
    """DenseNet-169 (Huang et al. 2017): dense blocks of 6-12-32-32 layers.

    The ``keras.applications.DenseNet169`` twin; otherwise as :func:`DenseNet121`.
    Returns a Keras ``Model``.
    """
    c = Contract(
        DenseNet169.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _imagenet_densenet(c, (6, 12, 32, 32))


@_keras_twin(
    201,
    torchvision_checkpoint("tv_in1k", "densenet201-c1103571.pth", "torchvision.densenet", 76.896),
)
def DenseNet201(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet201",
):
    """DenseNet-201 (Huang et al. 2017): dense blocks of 6-12-48-32 layers.

    The ``keras.applications.DenseNet201`` twin; otherwise as :func:`DenseNet121`.
    Returns a Keras ``Model``.
    """
    c = Contract(
        DenseNet201.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _imagenet_densenet(c, (6, 12, 48, 32))


_DENSENET161_CHECKPOINTS = (
    torchvision_checkpoint("tv_in1k", "densenet161-8d451a50.pth", "torchvision.densenet", 77.138),
)


@register(
    family="densenet", paper=_PAPER, default_size=224, min_size=32, test_size=32,
    twin="torchvision.models.densenet161", params=28_900_936,
    preprocessing="torch", published_top1=(77.138, "torchvision"),
    layout="torchvision.densenet", checkpoints=_DENSENET161_CHECKPOINTS,
    default_checkpoint="tv_in1k",
)
def DenseNet161(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet161",
):
    """DenseNet-161 (Huang et al. 2017) as torchvision's ``densenet161``.

    Growth rate 48, 96 initial features, dense blocks of 6-12-36-24 layers, batch-norm epsilon
    1e-5; layer names as the keras DenseNets. No ImageNet file is published in a Keras layout,
    so ``weights`` is None or a path. Returns a Keras ``Model``.
    """
    c = Contract(
        DenseNet161.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    return _imagenet_densenet(c, (6, 12, 36, 24), 48, 96, TORCH_EPSILON)


def _check_bc_options(depth, growth_rate, compression):
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(
            "`depth` must be an integer 6n + 4 with n >= 1 (three dense blocks of n bottleneck "
            f"layers, two convs each, plus 4), e.g. 100 or 250. Received: depth={depth!r}"
        )
    check_positive_int("growth_rate", growth_rate)
    if isinstance(compression, bool) or not isinstance(compression, (int, float)) or not (
        0 < compression <= 1
    ):
        raise ValueError(
            f"`compression` must be a number in (0, 1]. Received: compression={compression!r}"
        )


_DENSENET_BC_CHECKPOINTS = (
    imgclsmob_checkpoint(
        "cifar10", "v0.0.189", "densenet100_k12_bc_cifar10-0416-b9232829",
        "b9232829b13c3f3f2ea15f4be97f500b7912c3c2", "pytorchcv.densenet_cifar", 4.16,
    ),
)


@register(
    family="densenet", paper=_PAPER, default_size=32, min_size=32, test_size=32,
    params=793_150, params_classes=10,
    preprocessing="torch",
    layout="pytorchcv.densenet_cifar", checkpoints=_DENSENET_BC_CHECKPOINTS,
    default_checkpoint="cifar10",
)
def DenseNetBC(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="densenet_bc",
    depth=100,
    growth_rate=12,
    compression=0.5,
):
    """DenseNet-BC for CIFAR (Huang et al. 2017, Section 3 and Table 2).

    conv 3x3 with ``2 * growth_rate`` maps, then three dense blocks of ``(depth - 4) / 6``
    bottleneck layers (1x1 conv to ``4 * growth_rate``, 3x3 conv to ``growth_rate``) separated by
    transitions that keep ``compression`` of the channels, BN-ReLU, global average pooling and
    the classifier; batch-norm epsilon 1e-5 as the authors' Torch code. ``depth=100,
    growth_rate=12`` is the paper's 0.8M model. Returns a Keras ``Model``.
    """
    _check_bc_options(depth, growth_rate, compression)
    c = Contract(
        DenseNetBC.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    x = layers.Conv2D(
        2 * growth_rate, 3, padding="same", use_bias=False, name="conv1_conv"
    )(c.image)
    blocks = ((depth - 4) // 6,) * 3
    return _dense_stages(c, x, blocks, growth_rate, TORCH_EPSILON, compression)
