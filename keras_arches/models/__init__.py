"""The architectures, one module per family; importing registers them."""

from keras_arches.models.alexnet import AlexNet, ZFNet
from keras_arches.models.densenet import (
    DenseNet121,
    DenseNet161,
    DenseNet169,
    DenseNet201,
    DenseNetBC,
)
from keras_arches.models.fractalnet import FractalNet
from keras_arches.models.googlenet import GoogLeNet
from keras_arches.models.inception import InceptionResNetV2, InceptionV2, InceptionV3, InceptionV4
from keras_arches.models.lenet import LeNet5
from keras_arches.models.nin import NiN
from keras_arches.models.resnet import (
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet50V2,
    ResNet101,
    ResNet101V2,
    ResNet152,
    ResNet152V2,
    ResNeXt50_32x4d,
    ResNeXt101_32x8d,
    ResNeXt101_64x4d,
    SENet154,
    SEResNet50,
    SEResNeXt50_32x4d,
    WideResNet50_2,
    WideResNet101_2,
)
from keras_arches.models.resnet_cifar import (
    ResNet20,
    ResNet32,
    ResNet44,
    ResNet56,
    ResNet110,
    WideResNet,
)
from keras_arches.models.squeezenet import SqueezeNet1_0, SqueezeNet1_1
from keras_arches.models.vgg import VGG11, VGG11LRN, VGG13, VGG16, VGG16C, VGG19
from keras_arches.models.xception import Xception

__all__ = [
    "LeNet5", "AlexNet", "ZFNet", "VGG11", "VGG11LRN", "VGG13", "VGG16C", "VGG16", "VGG19", "NiN",
    "GoogLeNet",
    "SqueezeNet1_0", "SqueezeNet1_1",
    "InceptionV2", "InceptionV3", "InceptionV4", "InceptionResNetV2", "Xception",
    "DenseNet121", "DenseNet169", "DenseNet201", "DenseNet161", "DenseNetBC",
    "FractalNet",
    "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2",
    "ResNet18", "ResNet34", "ResNeXt50_32x4d", "ResNeXt101_32x8d", "ResNeXt101_64x4d",
    "WideResNet50_2", "WideResNet101_2", "SEResNet50", "SEResNeXt50_32x4d", "SENet154",
    "WideResNet", "ResNet110", "ResNet20", "ResNet32", "ResNet44", "ResNet56",
]
