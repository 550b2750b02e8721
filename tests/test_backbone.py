"""Backbones: ``features_only``, ``out_levels``, ``feature_info``, ``output_stride`` and the real
minimum input sizes, for every registered builder.

The map sizes are checked against the papers' figures where they print them (ResNet-50 as the
issue states it, AlexNet, ZFNet Fig. 3, GoogLeNet Table 1, VGG); timm's and torchvision's own
backbones are the reference in tests/test_backbone_parity.py.
"""

import inspect
import math

import keras
import numpy as np
import pytest
from conftest import random_images
from test_contract import _params

import keras_arches
from keras_arches.registry import model_info

MODELS = keras_arches.list_models()


def _level_shapes(model, size):
    """``{key: (height, width, channels)}`` of a features_only model at a ``size`` input."""
    channels = model.input.shape[-1]
    specs = model.compute_output_spec(keras.KerasTensor((1, size, size, channels)))
    return {key: tuple(spec.shape[1:]) for key, spec in specs.items()}


@pytest.mark.parametrize("name", _params(MODELS))
def test_pyramid_at_default_size_matches_feature_info(name):
    info = model_info(name)
    assert {"features_only", "out_levels"} <= set(inspect.signature(info.builder).parameters)
    model = info.builder(
        weights=None, input_shape=(None, None, info.channels), features_only=True
    )
    shapes = _level_shapes(model, info.default_size)
    levels = info.feature_info
    assert len(levels) >= 3
    assert list(shapes) == [f"P{entry['level']}" for entry in levels]
    assert [entry["stride"] for entry in levels] == [2 ** entry["level"] for entry in levels]
    assert [shape[2] for shape in shapes.values()] == [entry["channels"] for entry in levels]
    for entry in levels:
        assert model.get_layer(entry["layer"]).output is model.output[f"P{entry['level']}"]
    heights = [shape[0] for shape in shapes.values()]
    assert heights == sorted(set(heights), reverse=True), heights  # strictly decreasing
    size = info.default_size
    for entry, height in zip(levels, heights):
        # A level-l map is what stride 2**l gives, up to each net's rounding: padded layers
        # round up (ceil), valid ones round down, never as far as the next level.
        assert size / 2 ** (entry["level"] + 1) < height <= math.ceil(size / 2 ** entry["level"])


# Map sizes (height, channels) the papers print at their default inputs.
PAPER_MAPS = {
    "resnet50": {"P2": (56, 256), "P3": (28, 512), "P4": (14, 1024), "P5": (7, 2048)},
    "alexnet": {"P2": (55, 96), "P3": (27, 256), "P4": (13, 256), "P5": (6, 256)},
    "zfnet": {"P1": (110, 96), "P2": (55, 96), "P3": (26, 256), "P4": (13, 256), "P5": (6, 256)},
    "googlenet": {"P1": (112, 64), "P2": (56, 192), "P3": (28, 480), "P4": (14, 832),
                  "P5": (7, 1024)},
    "vgg16": {"P0": (224, 64), "P1": (112, 128), "P2": (56, 256), "P3": (28, 512),
              "P4": (14, 512), "P5": (7, 512)},
}


@pytest.mark.parametrize("name", list(PAPER_MAPS))
def test_pyramid_maps_are_the_papers(name):
    info = model_info(name)
    model = info.builder(
        weights=None, input_shape=(None, None, 3), features_only=True,
        out_levels=tuple(int(key[1:]) for key in PAPER_MAPS[name]),
    )
    shapes = _level_shapes(model, info.default_size)
    assert {key: (s[0], s[2]) for key, s in shapes.items()} == PAPER_MAPS[name]
    assert all(s[0] == s[1] for s in shapes.values())


def test_out_levels_and_misuse():
    model = keras_arches.get_model(
        "resnet18", input_shape=(64, 64, 3), features_only=True, out_levels=[5, 3]
    )
    assert list(model.output) == ["P3", "P5"]
    assert model_info(model).name == "resnet18"
    cases = [
        (dict(features_only=True, out_levels=(2, 6)), "out_levels"),
        (dict(features_only=True, out_levels=(3, 3)), "out_levels"),
        (dict(features_only=True, out_levels=3), "out_levels"),
        (dict(features_only=True, pooling="avg"), "pooling"),
        (dict(out_levels=(2, 3)), "only with `features_only=True`"),
        (dict(features_only="yes"), "features_only"),
        (dict(features_only=True, classes=10), "classes"),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            keras_arches.ResNet18(input_shape=(64, 64, 3), **arguments)
    with pytest.raises(ValueError, match="include_top"):  # aux heads are classifiers
        keras_arches.GoogLeNet(features_only=True, aux_classifiers=True)


# One per kind of graph: plain chain, residual, dense, fractal with its drop-path input,
# inception, pre-activation CIFAR, channels built by custom layers.
ROUND_TRIP = ["lenet5", "resnet18", "densenet_bc", "fractalnet", "inception_v3", "wide_resnet",
              "squeezenet1_1"]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_features_only_keras_round_trip(name, tmp_path):
    info = model_info(name)
    size = info.test_size or info.min_size
    model = info.builder(weights=None, input_shape=(size, size, info.channels), features_only=True)
    x = random_images((size, size, info.channels))
    expected = {k: np.asarray(v) for k, v in model(x, training=False).items()}
    model.save(tmp_path / "features.keras")
    loaded = keras.saving.load_model(tmp_path / "features.keras")  # safe_mode=True
    assert model_info(loaded).name == name
    got = loaded(x, training=False)
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(got[key]), expected[key])


def test_features_only_shares_the_weights_of_the_model_without_top(tmp_path):
    """A weights file of the full model loads into the pyramid (everything but the head), and
    P5 is the map the model without its top ends on."""
    full = keras_arches.ResNet34(weights=None, input_shape=(64, 64, 3), classes=7)
    full.save_weights(tmp_path / "full.weights.h5")
    base = keras_arches.ResNet34(
        weights=str(tmp_path / "full.weights.h5"), include_top=False, input_shape=(64, 64, 3)
    )
    pyramid = keras_arches.ResNet34(
        weights=str(tmp_path / "full.weights.h5"), input_shape=(64, 64, 3), features_only=True
    )
    x = random_images((64, 64, 3))
    np.testing.assert_allclose(
        np.asarray(pyramid(x)["P5"]), np.asarray(base(x)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("output_stride, deepest", [(8, 16), (16, 8), (None, 4), (32, 4)])
def test_output_stride_resnet18_at_128(output_stride, deepest):
    model = keras_arches.ResNet18(
        include_top=False, input_shape=(128, 128, 3), output_stride=output_stride
    )
    assert model.output_shape == (None, deepest, deepest, 512)
    plain = keras_arches.ResNet18(include_top=False, input_shape=(128, 128, 3))
    assert model.count_params() == plain.count_params()  # dilation adds no weights


@pytest.mark.parametrize("name", ["resnet50", "resnet50v2", "resnext50_32x4d",
                                  "wide_resnet50_2", "seresnet50", "resnet34"])
@pytest.mark.parametrize("output_stride", [8, 16])
def test_output_stride_families(name, output_stride):
    """1/8 and 1/16 maps; with features_only the pyramid ends at that level."""
    model = keras_arches.get_model(
        name, weights=None, input_shape=(64, 64, 3), features_only=True,
        output_stride=output_stride,
    )
    level = int(math.log2(output_stride))
    assert list(model.output)[-1] == f"P{level}"
    assert model.output[f"P{level}"].shape[1:3] == (64 // output_stride,) * 2


def test_output_stride_misuse():
    with pytest.raises(ValueError, match="output_stride"):
        keras_arches.ResNet18(output_stride=4)


@pytest.mark.slow
def test_senet154_output_stride_keeps_its_weights():
    """SENet154's 3x3 projection shortcuts stay 3x3 where the stride becomes a dilation."""
    plain = keras_arches.SENet154(weights=None, include_top=False, input_shape=(64, 64, 3))
    dilated = keras_arches.SENet154(
        weights=None, include_top=False, input_shape=(64, 64, 3), output_stride=8
    )
    assert [w.shape for w in dilated.weights] == [w.shape for w in plain.weights]
    assert dilated.output_shape == (None, 8, 8, 2048)


@pytest.mark.parametrize("name", ["alexnet", "zfnet", "nin"])
def test_min_size_is_what_the_convolutions_take(name):
    """Without the top the nets take any input from min_size on (123 px as keras.applications'
    shape tests use); at min_size the deepest map is 1x1, so a pixel less leaves none."""
    info = model_info(name)
    assert info.min_size < 123
    at_min = info.builder(include_top=False, input_shape=(info.min_size, info.min_size, 3))
    assert at_min.output_shape[1:3] == (1, 1)
    model = info.builder(include_top=False, input_shape=(123, 123, 3))
    assert np.asarray(model(random_images((123, 123, 3)))).shape[0] == 2
    if info.top_min_size:
        with pytest.raises(ValueError, match=f"at least {info.top_min_size}x"):
            info.builder(input_shape=(123, 123, 3))
    else:  # NiN's top pools globally
        assert info.builder(input_shape=(123, 123, 3), classes=4).output_shape == (None, 4)
