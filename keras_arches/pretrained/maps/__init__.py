"""The registered source layouts, one module per model family."""

from keras_arches.pretrained.maps import (
    alexnet,
    densenet,
    googlenet,
    inception,
    nin,
    resnet,
    squeezenet,
    vgg,
    xception,
)

#: Layout name ("torchvision.resnet", "timm.inception_v4", ...) -> :class:`Layout`.
LAYOUTS = {
    layout.name: layout
    for family in (resnet, densenet, vgg, squeezenet, inception, alexnet, googlenet, nin,
                   xception)
    for layout in family.LAYOUTS
}
