"""DenseNet: keras' layer names, torchvision's DenseNet-161 and the paper's CIFAR DenseNet-BC."""

import keras
import numpy as np
import pytest

from keras_arches import DenseNet121, DenseNet161, DenseNetBC


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def weighted_names(model):
    return [layer.name for layer in model.layers if layer.weights]


def test_densenet121_layer_names_are_keras_applications():
    """keras' published files load by name: every weighted layer is named as keras names it."""
    ours = DenseNet121(weights=None, include_top=False, input_shape=(32, 32, 3))
    theirs = keras.applications.DenseNet121(
        weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    assert weighted_names(ours) == weighted_names(theirs)
    assert weighted_names(ours)[:3] == ["conv1_conv", "conv1_bn", "conv2_block1_0_bn"]
    assert ours.get_layer("conv2_block1_0_bn").epsilon == 1.001e-5


def test_densenet161_is_torchvisions():
    """torchvision densenet161: 2208 features, 28,681,000 trainable / 26,691,936 no-top count."""
    model = DenseNet161(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert model.output_shape == (None, 1, 1, 2208)
    assert model.count_params() == 26_691_936
    assert trainable_count(model) + 2208 * 1000 + 1000 == 28_681_000
    assert model.get_layer("conv1_conv").filters == 96
    assert model.get_layer("conv3_block1_2_conv").filters == 48
    assert model.get_layer("conv3_block1_1_conv").filters == 4 * 48
    assert {layer.epsilon for layer in model.layers if hasattr(layer, "epsilon")} == {1e-5}


def test_densenet_bc_100_12_is_the_papers():
    """Huang et al. 2017 DenseNet-BC (L=100, k=12): 0.8M parameters, 342 features at 8x8."""
    model = DenseNetBC(weights=None)
    assert model.count_params() == 793_150  # docs/reference_counts.md
    assert trainable_count(model) == 769_162
    body = DenseNetBC(weights=None, include_top=False, input_shape=(32, 32, 3))
    assert body.count_params() == 789_720
    # 2k = 24 initial maps, 16 layers of k per block, transitions halve: 24+192=216 -> 108 ...
    assert body.get_layer("conv2_block16_concat").output.shape[1:] == (32, 32, 216)
    assert body.get_layer("pool2_conv").filters == 108
    assert body.get_layer("pool3_conv").filters == 150
    assert body.output_shape == (None, 8, 8, 342)


def test_densenet_bc_options():
    small = DenseNetBC(weights=None, depth=40, growth_rate=12, compression=1.0, include_top=False)
    assert small.get_layer("pool2_conv").filters == 24 + 6 * 12  # no compression
    assert small.output_shape[-1] == 24 + 3 * 6 * 12
    for bad in (dict(depth=99), dict(depth=4), dict(growth_rate=0), dict(compression=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            DenseNetBC(weights=None, **bad)
