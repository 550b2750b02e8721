"""The residual family against its references.

Counts are docs/reference_counts.md's (trainable and no-top columns; the full counts and MACs are
tests/test_analysis.py's); layouts are keras.applications', torchvision's and timm's as their
sources build them; WRN counts are Zagoruyko & Komodakis' Table 4; stochastic depth is Huang et
al.'s rule. Builds of the >60M-parameter nets are `slow`.
"""

import inspect

import keras
import numpy as np
import pytest
from conftest import parity_import, random_images

import keras_arches
from keras_arches.layers import CeilPooling2D, SqueezeExcite, StochasticDepth
from keras_arches.models import resnet, resnet_cifar
from keras_arches.registry import model_info

# registry name -> (trainable, no-top count_params()) from docs/reference_counts.md.
REFERENCE = {
    "resnet50": (25_583_592, 23_587_712),
    "resnet101": (44_601_832, 42_658_176),
    "resnet152": (60_268_520, 58_370_944),
    "resnet50v2": (25_568_360, 23_564_800),
    "resnet101v2": (44_577_896, 42_626_560),
    "resnet152v2": (60_236_904, 58_331_648),
    "resnet18": (11_689_512, 11_186_112),
    "resnet34": (21_797_672, 21_301_696),
    "resnext50_32x4d": (25_028_904, 23_048_128),
    "resnext101_32x8d": (88_791_336, 86_945_216),
    "resnext101_64x4d": (83_455_272, 81_609_152),
    "wide_resnet50_2": (68_883_240, 66_902_464),
    "wide_resnet101_2": (126_886_696, 124_975_552),
    "seresnet50": (28_088_024, 26_092_144),
    "seresnext50_32x4d": (27_559_896, 25_579_120),
    "senet154": (115_088_984, 113_287_536),
    "wide_resnet": (36_479_194, 36_490_736),
    "resnet110": (1_727_962, 1_735_408),
    "resnet20": (269_722, 270_448),
    "resnet32": (464_154, 465_776),
    "resnet44": (658_586, 661_104),
    "resnet56": (853_018, 856_432),
}
CIFAR = ("wide_resnet", "resnet110", "resnet20", "resnet32", "resnet44", "resnet56")


def trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _slow_if_big(names):
    return [pytest.param(n, marks=pytest.mark.slow) if model_info(n).slow else n for n in names]


def test_every_variant_is_registered_and_in_a_family():
    # VARIANTS rows: one per ImageNet builder, one per builder layout ("resnet50_torchvision");
    # the CIFAR rows are resnet_cifar's, each with its option-B variant.
    imagenet = [name for name in REFERENCE if name not in CIFAR]
    layouts = [f"{name}_{v}" for name in imagenet for v in model_info(name).variants]
    assert sorted(layouts) == [
        "resnet101_torchvision", "resnet152_torchvision", "resnet50_torchvision",
    ]
    assert sorted([*imagenet, *layouts]) == sorted(resnet.VARIANTS)
    assert [f"resnet{depth}" for depth in resnet_cifar.RESNETS] == [
        "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"]
    for name in CIFAR[1:]:
        assert list(model_info(name).variants) == ["projection"]
    families = {name: model_info(name).family for name in REFERENCE}
    assert {n for n, f in families.items() if f == "resnet"} == {
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet50v2",
        "resnet101v2", "resnet152v2", "resnet110", "resnet20", "resnet32", "resnet44",
        "resnet56",
    }
    assert {n for n, f in families.items() if f == "wide_resnet"} == {
        "wide_resnet50_2", "wide_resnet101_2", "wide_resnet",
    }
    assert set(keras_arches.list_models(family="senet")) == {
        "seresnet50", "seresnext50_32x4d", "senet154",
    }
    assert set(keras_arches.list_models(family="resnext")) == {
        "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
    }


@pytest.mark.parametrize("name", _slow_if_big(REFERENCE))
def test_trainable_and_no_top_counts(name):
    info = model_info(name)
    trainable, notop = REFERENCE[name]
    model = info.builder(weights=None, classes=info.params_classes)
    assert model.count_params() == info.params
    assert trainable_count(model) == trainable
    del model
    keras.backend.clear_session()
    assert info.builder(weights=None, include_top=False).count_params() == notop


def test_registered_variants_forward_to_the_generic_builder():
    """Each variant is its VARIANTS row: the generic builder with it gives the same weights."""
    for name in ("resnet50v2", "seresnext50_32x4d"):
        ours = model_info(name).builder(weights=None, include_top=False)
        generic = resnet.ResNet(include_top=False, **resnet.VARIANTS[name])
        assert [(w.path, w.shape) for w in ours.weights] == [
            (w.path, w.shape) for w in generic.weights
        ]
        keras.backend.clear_session()


def test_generic_builder_signature_and_default_is_torchvision_resnet50():
    params = inspect.signature(resnet.ResNet).parameters
    assert list(params)[:8] == [
        "include_top", "weights", "input_tensor", "input_shape", "pooling", "classes",
        "classifier_activation", "name",
    ]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(params.values())[8:])
    model = resnet.ResNet()
    assert trainable_count(model) == 25_557_032  # torchvision resnet50
    assert model.name == "resnet" and model.input_shape == (None, 224, 224, 3)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(block="residual"), "block"),
        (dict(block="basic", groups=32), "groups=1"),
        (dict(widths=(64, 128)), "widths"),
        (dict(blocks_per_stage=(3, 0, 6, 3)), "blocks_per_stage"),
        (dict(stem="5x5"), "stem"),
        (dict(shortcut="option_a"), "shortcut"),
        (dict(conv_bias="some"), "conv_bias"),
        (dict(drop_path_rate=1.0), "drop_path_rate"),
        (dict(stride_block="middle"), "stride_block"),
    ],
)
def test_generic_builder_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        resnet.ResNet(**options)


def test_resnext_width_helper_rejects_bad_arguments():
    for args, name in (((64, 0), "groups"), ((0, 4), "C"), ((64.0, 4), "C")):
        with pytest.raises(ValueError, match=f"`{name}` must be a positive integer. Received"):
            resnet.resnext_bottleneck_width(*args)


def test_resnext_width_helper_keeps_the_bottleneck_cost():
    # G=1 must give back the bottleneck itself: 9c^2 + 8Cc = 17C^2 has the root c = C.
    assert resnet.resnext_bottleneck_width(64, 1) == 64
    # Xie et al. Table 2 (C=64): cardinality 2 -> 40, 8 -> 14.
    assert [resnet.resnext_bottleneck_width(64, g) for g in (2, 8)] == [40, 14]


# ------------------------------------------------------------------------------- layouts


def _conv(model, name):
    return model.get_layer(name)


def test_keras_v1_strides_the_1x1_and_keeps_biases():
    model = keras_arches.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    assert _conv(model, "conv3_block1_1_conv").strides == (2, 2)
    assert _conv(model, "conv3_block1_2_conv").strides == (1, 1)
    assert all(
        layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
    )
    assert {
        layer.epsilon for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    } == {1.001e-5}


def test_keras_v2_strides_the_last_block_and_biases_only_unnormalized_convs():
    model = keras_arches.ResNet50V2(weights=None, include_top=False, input_shape=(64, 64, 3))
    assert _conv(model, "conv2_block3_2_conv").strides == (2, 2)
    assert _conv(model, "conv5_block3_2_conv").strides == (1, 1)
    assert isinstance(model.get_layer("conv2_block3_0_pool"), keras.layers.MaxPooling2D)
    biased = {layer.name for layer in model.layers if getattr(layer, "use_bias", False)}
    assert "conv1_conv" in biased and "conv2_block1_0_conv" in biased
    assert "conv2_block1_3_conv" in biased and "conv2_block1_1_conv" not in biased


@pytest.mark.parametrize("builder", ["ResNeXt50_32x4d", "ResNet50"])
def test_torchvision_layout_strides_the_3x3_without_biases(builder):
    options = dict(weights=None, variant="torchvision") if builder == "ResNet50" else {}
    model = getattr(keras_arches, builder)(include_top=False, input_shape=(64, 64, 3), **options)
    groups, width = (32, 256) if builder == "ResNeXt50_32x4d" else (1, 128)
    conv = _conv(model, "conv3_block1_2_conv")
    assert conv.strides == (2, 2) and conv.groups == groups and conv.filters == width
    assert _conv(model, "conv3_block1_1_conv").strides == (1, 1)
    assert not any(getattr(layer, "use_bias", False) for layer in model.layers)
    assert {
        layer.epsilon for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    } == {1e-5}
    # torchvision's padding=1 on both sides, not Keras' "same" (bottom/right only).
    assert model.get_layer("conv3_block1_2_pad").padding == ((1, 1), (1, 1))


@pytest.mark.slow
def test_senet154_stem_shortcuts_and_head():
    model = keras_arches.SENet154()
    assert isinstance(model.get_layer("pool1_pool"), CeilPooling2D)
    assert model.get_layer("pool1_pool").output.shape[1:] == (56, 56, 128)  # ceil_mode 112 -> 56
    assert _conv(model, "conv2_block1_0_conv").kernel_size == (1, 1)
    assert _conv(model, "conv3_block1_0_conv").kernel_size == (3, 3)
    assert _conv(model, "conv2_block1_1_conv").filters == 128  # planes * 2
    assert _conv(model, "conv2_block1_2_conv").filters == 256  # planes * 4, 64 groups
    assert model.get_layer("head_dropout").rate == 0.2
    se = model.get_layer("conv2_block1_se")
    assert isinstance(se, SqueezeExcite) and se.fc1.filters == 16  # 256 // 16


def test_se_sits_after_the_last_batch_norm_of_the_branch():
    model = keras_arches.SEResNet50(include_top=False, input_shape=(32, 32, 3))
    se = model.get_layer("conv4_block2_se")
    assert se.input is model.get_layer("conv4_block2_3_bn").output
    assert se.output is model.get_layer("conv4_block2_add").input[1]
    assert se.fc1.filters == 64 and se.fc1.use_bias and se.fc2.use_bias  # timm: 1024 / 16


# -------------------------------------------------------------------- CIFAR networks


@pytest.mark.parametrize(
    "depth, millions", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)]
)
def test_cifar_resnet_counts_of_the_paper(depth, millions):
    """He et al. 2016, Table 6 (CIFAR-10, parameters in millions): 6n + 2 layers, option A."""
    model = getattr(keras_arches, f"ResNet{depth}")(drop_path_rate=0.0)
    assert round(trainable_count(model) / 1e6, 2 if millions < 1 else 1) == millions
    assert resnet_cifar.RESNETS[depth].paper_params == millions
    assert len([layer for layer in model.layers if layer.name.endswith("_out")]) == (depth - 2) // 2
    assert not any(layer.name.endswith("_0_conv") for layer in model.layers)  # no projection


@pytest.mark.parametrize("depth, width, millions", [(40, 4, 8.9), (16, 8, 11.0), (28, 10, 36.5)])
def test_wide_resnet_counts_of_the_paper(depth, width, millions):
    """Zagoruyko & Komodakis 2016, Table 4 (CIFAR-10, parameters in millions)."""
    model = keras_arches.WideResNet(depth=depth, width=width)
    assert round(trainable_count(model) / 1e6, 1) == millions
    assert len([layer for layer in model.layers if layer.name.endswith("_out")]) == (depth - 4) // 2


def test_wide_resnet_dropout_between_the_convs_and_bad_depth():
    model = keras_arches.WideResNet(depth=10, width=1, dropout_rate=0.3)
    dropout = model.get_layer("conv3_block1_dropout")
    assert dropout.rate == 0.3 and dropout.input is model.get_layer("conv3_block1_1_relu").output
    for depth in (27, 4, 28.0):
        with pytest.raises(ValueError, match="depth"):
            keras_arches.WideResNet(depth=depth)
    with pytest.raises(ValueError, match="width"):
        keras_arches.WideResNet(width=0)


def test_resnet110_option_a_shortcut_subsamples_and_pads_with_zeros():
    model = keras_arches.ResNet110(drop_path_rate=0.0)
    assert not any(layer.name.startswith("conv3_block1_0_conv") for layer in model.layers)
    block_input = model.get_layer("conv2_block18_out").output
    shortcut = keras.Model(model.input, [block_input, model.get_layer("conv3_block1_add").input[0]])
    x, got = (np.asarray(t) for t in shortcut(random_images((32, 32, 3))))
    expected = np.pad(x[:, ::2, ::2, :], ((0, 0), (0, 0), (0, 0), (8, 8)))
    np.testing.assert_array_equal(got, expected)
    assert len([layer for layer in model.layers if layer.name.endswith("_out")]) == 54


def test_resnet110_projection_shortcuts_only_at_the_two_transitions():
    model = keras_arches.ResNet110(shortcut="projection", drop_path_rate=0.0)
    projections = [layer for layer in model.layers if layer.name.endswith("_0_conv")]
    assert [(p.name, p.strides, p.kernel_size, p.filters) for p in projections] == [
        ("conv3_block1_0_conv", (2, 2), (1, 1), 32), ("conv4_block1_0_conv", (2, 2), (1, 1), 64),
    ]
    # Option B adds the two 1x1 convs and their batch norms to option A's count.
    assert model.count_params() - model_info("resnet110").params == (16 * 32 + 4 * 32) + (
        32 * 64 + 4 * 64
    )
    assert model_info(model).variant == "projection"


def test_a_checkpoint_chooses_its_layout():
    # The rule: weights=<tag> builds the tag's layout; an explicit contradiction is an error.
    info = model_info("resnet50")
    assert info.for_tag("a1_in1k").variant == "torchvision"
    assert info.for_tag("imagenet").variant is None  # keras' own file
    assert info.for_tag("imagenet", "torchvision").default_checkpoint == "tv_in1k"
    assert model_info("resnet110").for_tag("cifar10").variant == "projection"
    with pytest.raises(ValueError, match="projection shortcuts .* shortcut='zero_pad'"):
        keras_arches.ResNet110(weights="cifar10", shortcut="zero_pad")
    with pytest.raises(ValueError, match="`shortcut` must be one of"):
        keras_arches.ResNet110(shortcut="option_b")
    with pytest.raises(ValueError, match=r"`variant` must be one of \[None, 'torchvision'\]"):
        keras_arches.ResNet50(weights=None, variant="timm")
    # The default layouts keep their cards: keras' twin, weights="imagenet" keras' file.
    assert (info.variant, info.twin, info.params) == (
        None, "keras.applications.ResNet50", 25_636_712
    )
    assert "a1_in1k" not in info.tags and "a1_in1k" in info.all_tags


def test_a_state_dict_path_builds_the_layout_its_keys_fit(tmp_path, monkeypatch):
    """pytorchcv's resnet110_cifar10 keys fit option B (shortcut="projection"), so a file of
    them builds that layout without the argument; an empty file is an error naming the kinds."""
    torch = parity_import("torch")
    pytorchcv = parity_import("pytorchcv.model_provider")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    path = tmp_path / "resnet110_cifar10.pth"
    torch.save(pytorchcv.get_model("resnet110_cifar10", pretrained=False).state_dict(), path)
    model = keras_arches.ResNet110(weights=str(path))
    card = keras_arches.model_info(model)
    assert card.variant == "projection" and model.count_params() == card.params
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"is not a weights file of a known kind"):
        keras_arches.ResNet110(weights=str(path))


# -------------------------------------------------------------------- stochastic depth


def _drop_path_layers(model):
    return [layer for layer in model.layers if isinstance(layer, StochasticDepth)]


def test_no_drop_path_layers_by_default():
    for builder in (keras_arches.ResNet50, keras_arches.ResNet18, keras_arches.SEResNet50):
        assert _drop_path_layers(builder(weights=None, include_top=False)) == []
        keras.backend.clear_session()


def test_drop_path_rates_decay_linearly_and_leave_counts_alone():
    model = keras_arches.ResNet18(drop_path_rate=0.2)
    layers = _drop_path_layers(model)
    assert [layer.name for layer in layers[:2]] == [
        "conv2_block1_drop_path", "conv2_block2_drop_path",
    ]
    assert [layer.rate for layer in layers] == pytest.approx([0.2 * i / 8 for i in range(1, 9)])
    assert model.count_params() == 11_699_112  # the SeedGenerator state is not a weight
    assert layers[-1].output is model.get_layer("conv5_block2_add").input[1]

    rates = [layer.rate for layer in _drop_path_layers(keras_arches.ResNet110())]
    assert len(rates) == 54 and rates[-1] == 0.5 and rates[0] == pytest.approx(0.5 / 54)


def test_whole_branches_are_dropped_per_sample_in_training():
    """One block at p = 0.5: each sample's branch is all zeros or doubled, at the rate p."""
    model = resnet.ResNet(
        include_top=False, input_shape=(32, 32, 3), block="basic", blocks_per_stage=(1,),
        widths=(4,), strides=(1,), stem="3x3", stem_width=4, drop_path_rate=0.5,
    )
    layer = model.get_layer("conv2_block1_drop_path")
    probe = keras.Model(model.input, [layer.input, layer.output])
    x = random_images((32, 32, 3), batch=4000)
    branch, dropped_or_scaled = (np.asarray(t).reshape(4000, -1) for t in probe(x, training=True))
    dropped = np.all(dropped_or_scaled == 0.0, axis=1)
    kept = np.all(np.isclose(dropped_or_scaled, 2.0 * branch, rtol=1e-6, atol=1e-6), axis=1)
    assert np.all(dropped | kept) and not np.any(np.all(branch == 0.0, axis=1))
    assert abs(dropped.mean() - 0.5) < 0.03  # 4000 samples: 6.7 standard deviations
    np.testing.assert_array_equal(*(np.asarray(t) for t in probe(x[:64], training=False)))


def test_resnet110_is_stochastic_in_training_and_deterministic_at_inference():
    model = keras_arches.ResNet110(classifier_activation=None)
    x = random_images((32, 32, 3), batch=8)
    first, second = (np.asarray(model(x, training=False)) for _ in range(2))
    np.testing.assert_array_equal(first, second)
    trained = [np.asarray(model(x, training=True)) for _ in range(2)]
    assert not np.allclose(trained[0], trained[1])
