"""keras_arches.profile against docs/reference_counts.md (its worked figures and its counts)
and TF's profiler."""

import csv
import json
import re
from fractions import Fraction

import keras
import matplotlib
import pytest
from conftest import parity_import

import keras_arches
from keras_arches import analysis, cli, registry
from keras_arches.arch_model import strip_auxiliary
from keras_arches.layers import (
    AuxiliaryClassifier,
    FireModule,
    LocalResponseNormalization,
    SqueezeExcite,
)

L = keras.layers


def _model(shape, build):
    x = keras.Input(shape)
    return keras.Model(x, build(x))


# ------------------------------------------ worked figures (docs/reference_counts.md)


def _alexnet_stem(x):
    x = L.ZeroPadding2D(2, name="pad1")(x)
    x = L.Conv2D(64, 11, strides=4, activation="relu", name="conv1")(x)
    return L.MaxPooling2D(3, strides=2, name="pool1")(x)


def test_alexnet_conv1_and_pool1():
    p = keras_arches.profile(_model((227, 227, 3), _alexnet_stem))
    conv1, pool1 = p["conv1"], p["pool1"]
    assert conv1.output_shape == (56, 56, 64)
    assert conv1.memory_kb == 784
    assert conv1.params == 23_296
    assert conv1.flops == conv1.macs == 72_855_552
    assert pool1.output_shape == (27, 27, 64)
    assert pool1.memory_kb == 182.25
    assert pool1.params == 0
    assert pool1.flops == 419_904 and pool1.macs == 0


def test_alexnet_conv1_channels_first(channels_first):
    """The worked figure is for 3x227x227: the same figures with channels-first tensors."""
    p = keras_arches.profile(_model((3, 227, 227), _alexnet_stem))
    assert p["conv1"].output_shape == (64, 56, 56)
    assert (p["conv1"].memory_kb, p["conv1"].flops) == (784, 72_855_552)
    assert (p["pool1"].memory_kb, p["pool1"].flops) == (182.25, 419_904)


def test_alexnet_fc6():
    p = keras_arches.profile(_model((9216,), lambda x: L.Dense(4096, name="fc6")(x)))
    assert p["fc6"].flops == 37_748_736
    assert p["fc6"].params == 9216 * 4096 + 4096


def test_batch_size_scales_memory_and_operations_not_parameters():
    one = keras_arches.profile(_model((227, 227, 3), _alexnet_stem))
    four = keras_arches.profile(_model((227, 227, 3), _alexnet_stem), batch_size=4)
    assert four["conv1"].memory_kb == 4 * 784
    assert (four.flops, four.macs) == (4 * one.flops, 4 * one.macs)
    assert four.params == one.params == 23_296


def test_naive_inception_module():
    def naive(x):
        branches = [
            L.Conv2D(128, 1, padding="same", name="b1x1")(x),
            L.Conv2D(192, 3, padding="same", name="b3x3")(x),
            L.Conv2D(96, 5, padding="same", name="b5x5")(x),
            L.MaxPooling2D(3, strides=1, padding="same", name="pool")(x),
        ]
        return L.Concatenate(name="concat")(branches)

    p = keras_arches.profile(_model((28, 28, 256), naive))
    assert p["concat"].output_shape == (28, 28, 672)
    # The worked figure's 854M are the three convolutions; the pool adds 28x28x256 x 9.
    assert round(p.macs / 1e6) == 854
    assert p.flops - p.macs == 28 * 28 * 256 * 9


def test_bottleneck_saves_ten_times():
    direct = keras_arches.profile(
        _model((28, 28, 192), lambda x: L.Conv2D(32, 5, padding="same")(x))
    )
    assert direct.macs == 120_422_400

    def bottleneck(x):
        x = L.Conv2D(16, 1, name="reduce")(x)
        return L.Conv2D(32, 5, padding="same", name="conv5x5")(x)

    p = keras_arches.profile(_model((28, 28, 192), bottleneck))
    assert (p["reduce"].macs, p["conv5x5"].macs) == (2_408_448, 10_035_200)
    assert p.macs == 12_443_648


H, W, C = 8, 8, 64


def _basic_block(x):
    y = L.Conv2D(C, 3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    y = L.Conv2D(C, 3, padding="same", use_bias=False)(y)
    y = L.BatchNormalization()(y)
    return L.ReLU()(L.Add()([x, y]))


def _bottleneck_block(x, groups=1, width=C):
    y = L.Conv2D(width, 1, use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    y = L.Conv2D(width, 3, padding="same", groups=groups, use_bias=False)(y)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    y = L.Conv2D(4 * C, 1, use_bias=False)(y)
    y = L.BatchNormalization()(y)
    return L.ReLU()(L.Add()([x, y]))


def test_resnet_basic_block_18_hwc2_and_bottleneck_17_hwc2():
    basic = keras_arches.profile(_model((H, W, C), _basic_block))
    bottleneck = keras_arches.profile(_model((H, W, 4 * C), _bottleneck_block))
    assert basic.macs == 18 * H * W * C * C
    assert bottleneck.macs == 17 * H * W * C * C
    # Batch norm counts 0, the residual addition one FLOP per element.
    assert basic.flops - basic.macs == H * W * C


@pytest.mark.parametrize("groups, lecture_width", [(4, 24), (32, 4)])
def test_resnext_block_matches_bottleneck_cost(groups, lecture_width):
    p = keras_arches.profile(
        _model((H, W, 4 * C), lambda x: _bottleneck_block(x, groups, groups * lecture_width))
    )
    c = lecture_width
    assert p.macs == H * W * (9 * groups * c * c + 8 * groups * C * c)
    assert abs(p.macs / (17 * H * W * C * C) - 1) < 0.01


@pytest.mark.parametrize("groups, lecture_width", [(4, 24), (32, 4)])
def test_resnext_bottleneck_width_helper(groups, lecture_width):
    from keras_arches.models import resnet

    assert resnet.resnext_bottleneck_width(C, groups) == lecture_width


@pytest.mark.parametrize("kernel, filters", [(3, 64), (5, 32)])
def test_depthwise_separable_cost_ratio(kernel, filters):
    channels = 16
    standard = keras_arches.profile(
        _model((14, 14, channels), lambda x: L.Conv2D(filters, kernel, padding="same")(x))
    )
    separable = keras_arches.profile(
        _model((14, 14, channels), lambda x: L.SeparableConv2D(filters, kernel, padding="same")(x))
    )
    split = keras_arches.profile(
        _model(
            (14, 14, channels),
            lambda x: L.Conv2D(filters, 1)(
                L.DepthwiseConv2D(kernel, padding="same", use_bias=False)(x)
            ),
        )
    )
    ratio = Fraction(1, filters) + Fraction(1, kernel * kernel)
    assert Fraction(separable.macs, standard.macs) == ratio
    assert split.macs == separable.macs
    assert separable.params == split.params


# ---------------------------------------------------------------- layers, composites, rendering


def test_composite_layers_are_counted_through_their_sublayers():
    def build(x):
        x = FireModule(16, 64, 64, name="fire2")(x)
        x = SqueezeExcite(8, name="se")(x)
        x = LocalResponseNormalization(depth_radius=2, name="lrn")(x)
        return AuxiliaryClassifier(10, name="aux")(x)

    model = _model((29, 29, 96), build)
    p = keras_arches.profile(model)
    assert p.params == model.count_params()
    hw = 29 * 29
    assert p["fire2/squeeze"].macs == hw * 96 * 16
    assert p["fire2/expand3x3"].macs == hw * 16 * 64 * 9
    assert p["fire2/concat"].output_shape == (29, 29, 128)
    assert p["se/fc1"].macs == 128 * 8
    assert p["se"].flops == 2 * hw * 128  # the spatial mean and the gating product
    assert p["lrn"].flops == hw * 128 * 5
    assert p["aux/pool"].output_shape == (9, 9, 128)
    assert p["aux/fc"].macs == 9 * 9 * 128 * 1024
    assert p["aux/classifier"].macs == 1024 * 10


def test_nested_models_and_shared_layers():
    inner = _model((8, 8, 3), lambda x: L.Conv2D(4, 3, name="conv")(x))
    shared = L.Dense(5, name="shared")

    def build(x):
        y = L.Flatten(name="flat")(inner(x))
        return L.Add(name="add")([shared(y), shared(y)])

    model = _model((8, 8, 3), build)
    p = keras_arches.profile(model)
    assert p[f"{inner.name}/conv"].macs == 6 * 6 * 4 * 27
    assert p.params == model.count_params()  # the shared Dense counted once
    assert sum(r.macs for r in p.rows if r.name == "shared") == 2 * 144 * 5


def test_sequential_model():
    model = keras.Sequential([keras.Input((10,)), L.Dense(4, name="a"), L.Dense(2, name="b")])
    p = keras_arches.profile(model)
    assert (p.macs, p.params) == (10 * 4 + 4 * 2, model.count_params())


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        keras_arches.profile(_model((4,), L.Dense(2)), batch_size=0)
    with pytest.raises(ValueError, match="keras.Model"):
        keras_arches.profile(L.Dense(2))
    with pytest.raises(ValueError, match="fixed input_shape"):
        keras_arches.profile(_model((None, None, 3), lambda x: L.Conv2D(2, 3)(x)))


def test_renderings(tmp_path):
    p = keras_arches.profile(_model((227, 227, 3), _alexnet_stem), batch_size=2)
    rows = list(csv.DictReader(open(p.to_csv(tmp_path / "p.csv"))))
    assert [r["layer"] for r in rows] == ["input_layer", "pad1", "conv1", "pool1", "total"]
    assert int(rows[2]["flops"]) == 2 * 72_855_552 and float(rows[2]["memory_kb"]) == 2 * 784
    assert int(rows[-1]["params"]) == 23_296
    markdown = p.to_markdown()
    assert markdown.splitlines()[0].startswith("| layer | type | output shape")
    assert "| conv1 | Conv2D | 56x56x64 | 1,568.00 | 23,296 |" in markdown
    text = str(p)
    assert "conv1" in text and "145,711,104" in text and text.splitlines()[-1].startswith("total")


# ---------------------------------------------------------------- outside truths


def test_agrees_with_tensorflow_profiler():
    """TF's float_ops count a multiply-add as 2 FLOPs for the ops it has statistics for."""
    tf = pytest.importorskip("tensorflow")
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    def build(x):
        x = L.Conv2D(8, 3, use_bias=False, name="conv")(x)
        x = L.DepthwiseConv2D(3, use_bias=False, name="dw")(x)
        return L.Dense(10, use_bias=False, name="fc")(L.Flatten(name="flat")(x))

    model = _model((16, 16, 3), build)
    function = tf.function(lambda t: model(t)).get_concrete_function(tf.TensorSpec((1, 16, 16, 3)))
    graph = convert_variables_to_constants_v2(function).graph
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    report = tf.compat.v1.profiler.profile(graph, options=options, cmd="scope")

    per_layer = {}

    def walk(node):
        for child in node.children:
            match = re.search(r"/(conv|dw|fc)(_\d+)?/", child.name)
            if match and child.float_ops:
                per_layer[match.group(1)] = per_layer.get(match.group(1), 0) + child.float_ops
            walk(child)

    walk(report)
    p = keras_arches.profile(model)
    assert per_layer == {name: 2 * p[name].macs for name in ("conv", "dw", "fc")}
    assert report.total_float_ops == 2 * p.macs


@pytest.mark.parametrize(
    "builder, reference_macs",
    [("ResNet50", 3_857_973_248), ("Xception", 8_357_403_496), ("InceptionV3", 5_713_216_096)],
)
def test_keras_applications_macs_snapshot(builder, reference_macs):
    """A snapshot, not an outside figure: docs/reference_counts.md's MAC column for these keras
    twins was measured by `profile` on keras.applications itself (keras publishes no MACs).
    It holds the counts still, and `profile` on keras' own model gives ours."""
    model = getattr(keras.applications, builder)(weights=None)
    p = keras_arches.profile(model)
    assert p.macs == reference_macs
    assert p.params == model.count_params()


# docs/reference_counts.md rows -> (registry name, builder options, input shape, count_params(),
# MACs).
# MACs are measured on the inference model (auxiliary heads stripped).
REFERENCE_ROWS = {
    "VGG16": ("vgg16", {}, (224, 224, 3), 138_357_544, 15_470_264_320),
    "VGG19": ("vgg19", {}, (224, 224, 3), 143_667_240, 19_632_062_464),
    "VGG11 (configuration A)": ("vgg11", {}, (224, 224, 3), 132_863_336, 7_609_090_048),
    "VGG13 (configuration B)": ("vgg13", {}, (224, 224, 3), 133_047_848, 11_308_466_176),
    "ResNet50": ("resnet50", {}, (224, 224, 3), 25_636_712, 3_857_973_248),
    "ResNet101": ("resnet101", {}, (224, 224, 3), 44_707_176, 7_570_194_432),
    "ResNet152": ("resnet152", {}, (224, 224, 3), 60_419_944, 11_282_415_616),
    "ResNet50V2": ("resnet50v2", {}, (224, 224, 3), 25_613_800, 3_482_255_360),
    "ResNet101V2": ("resnet101v2", {}, (224, 224, 3), 44_675_560, 7_194_476_544),
    "ResNet152V2": ("resnet152v2", {}, (224, 224, 3), 60_380_648, 10_906_697_728),
    "InceptionV3": ("inception_v3", {}, (299, 299, 3), 23_851_784, 5_713_216_096),
    "InceptionResNetV2": ("inception_resnet_v2", {}, (299, 299, 3), 55_873_736, 13_155_794_016),
    "Xception": ("xception", {}, (299, 299, 3), 22_910_480, 8_357_403_496),
    "DenseNet121": ("densenet121", {}, (224, 224, 3), 8_062_504, 2_834_161_664),
    "DenseNet169": ("densenet169", {}, (224, 224, 3), 14_307_880, 3_359_843_328),
    "DenseNet201": ("densenet201", {}, (224, 224, 3), 20_242_984, 4_291_365_888),
    "ResNet18": ("resnet18", {}, (224, 224, 3), 11_699_112, 1_814_073_344),
    "ResNet34": ("resnet34", {}, (224, 224, 3), 21_814_696, 3_663_761_408),
    "ResNeXt50_32x4d": ("resnext50_32x4d", {}, (224, 224, 3), 25_097_128, 4_230_479_872),
    "ResNeXt101_32x8d": ("resnext101_32x8d", {}, (224, 224, 3), 88_994_216, 16_414_015_488),
    "ResNeXt101_64x4d": ("resnext101_64x4d", {}, (224, 224, 3), 83_658_152, 15_460_270_080),
    "WideResNet50_2": ("wide_resnet50_2", {}, (224, 224, 3), 68_951_464, 11_398_021_120),
    "WideResNet101_2": ("wide_resnet101_2", {}, (224, 224, 3), 127_024_552, 22_753_050_624),
    "DenseNet161": ("densenet161", {}, (224, 224, 3), 28_900_936, 7_727_907_072),
    "SqueezeNet1_0": ("squeezenet1_0", {}, (224, 224, 3), 1_248_424, 818_924_576),
    "SqueezeNet1_1": ("squeezenet1_1", {}, (224, 224, 3), 1_235_496, 349_151_936),
    "InceptionV4": ("inception_v4", {}, (299, 299, 3), 42_742_984, 12_253_974_624),
    "SEResNet50": ("seresnet50", {}, (224, 224, 3), 28_141_144, 4_091_699_200),
    "SEResNeXt50_32x4d": ("seresnext50_32x4d", {}, (224, 224, 3), 27_628_120, 4_232_994_816),
    "SENet154": ("senet154", {}, (224, 224, 3), 115_336_536, 20_688_363_520),
    "AlexNet (one tower, 96 filters, LRN)": (
        "alexnet", {"groups": 1}, (227, 227, 3), 62_378_344, 1_135_256_096),
    "AlexNet (paper, two-tower grouped)": ("alexnet", {}, (227, 227, 3), 60_965_224, 724_406_816),
    "LeNet-5 (1998, partial C3 connections)": (
        "lenet5", {"c3_table": True}, (32, 32, 1), 60_000, 325_680),
    "LeNet-5 (6-16-120-84, full C3)": ("lenet5", {}, (32, 32, 1), 61_706, 416_520),
    "LeNet (lecture variant 20-50-500, same padding)": (
        "lenet5", {"variant": "modern"}, (28, 28, 1), 1_256_080, 6_522_000),
    "ZFNet": ("zfnet", {}, (224, 224, 3), 62_357_608, 1_168_032_896),
    "GoogLeNet (paper, no aux heads)": (
        "googlenet", {"aux_classifiers": False}, (224, 224, 3), 6_998_552, 1_582_671_872),
    "GoogLeNet (paper, with both aux heads)": (
        "googlenet", {"aux_classifiers": True}, (224, 224, 3), 13_378_280, 1_582_671_872),
    "NiN (ImageNet)": ("nin", {}, (224, 224, 3), 7_595_176, 1_100_188_800),
    "FractalNet (CIFAR, 10 classes)": ("fractalnet", {}, (32, 32, 3), 33_745_226, 845_222_912),
    "WRN-28-10 (CIFAR, 10 classes)": ("wide_resnet", {}, (32, 32, 3), 36_497_146, 5_243_328_768),
    "ResNet-110 (CIFAR, option A shortcuts, 10 classes)": (
        "resnet110", {}, (32, 32, 3), 1_736_058, 252_887_680),
    "VGG-11 with LRN (A-LRN)": ("vgg11_lrn", {}, (224, 224, 3), 132_863_336, 7_609_090_048),
    "VGG-16 with 1x1 convs (C)": ("vgg16_c", {}, (224, 224, 3), 133_638_952, 11_770_888_192),
    "ResNet-20 (CIFAR, option A shortcuts, 10 classes)": (
        "resnet20", {}, (32, 32, 3), 271_098, 40_551_040),
    "ResNet-32 (CIFAR, option A shortcuts, 10 classes)": (
        "resnet32", {}, (32, 32, 3), 466_426, 68_862_592),
    "ResNet-44 (CIFAR, option A shortcuts, 10 classes)": (
        "resnet44", {}, (32, 32, 3), 661_754, 97_174_144),
    "ResNet-56 (CIFAR, option A shortcuts, 10 classes)": (
        "resnet56", {}, (32, 32, 3), 857_082, 125_485_696),
    "DenseNet-BC-100 k=12 (CIFAR, 10 classes)": (
        "densenet_bc", {}, (32, 32, 3), 793_150, 287_929_692),
}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, marks=pytest.mark.slow) if spec[3] > 40_000_000 else row
        for row, spec in REFERENCE_ROWS.items()
    ],
)
def test_reference_macs(row):
    name, options, shape, params, macs = REFERENCE_ROWS[row]
    if keras.config.image_data_format() == "channels_first":
        shape = (shape[2], shape[0], shape[1])
    model = registry.get_model(name, weights=None, input_shape=shape, **options)
    p = keras_arches.profile(strip_auxiliary(model))
    got_params, got_macs = model.count_params(), p.macs
    if row == "LeNet-5 (1998, partial C3 connections)":
        # The paper's count: its RBF output layer is fixed (not counted) and S2/S4 have a trainable
        # coefficient and bias per map (2 x (6 + 16)); here they are a Dense layer and plain pools.
        got_params += 2 * (6 + 16) - model.get_layer("predictions").count_params()
        got_macs -= p["predictions"].macs
    assert got_params == params, f"{row}: the mapping's options build another model"
    assert got_macs == macs
    card = registry.model_info(name)
    if not options and (card.layout or "").startswith("torchvision."):
        # An outside figure: torchvision 0.29 publishes each architecture's multiply-adds as
        # its weights' meta["_ops"] in GFLOPS, rounded to three decimals (VGG's A-LRN and C
        # share the key map, not a torchvision model).
        torchvision = parity_import("torchvision")
        if name in torchvision.models.list_models():
            published = torchvision.models.get_model_weights(name).IMAGENET1K_V1.meta["_ops"]
            assert abs(got_macs / 1e9 - published) <= 5e-4, (got_macs, published)


# ---------------------------------------------------------------- chart, diagrams, CLI


def test_complexity_chart(tmp_path, monkeypatch):
    cache = tmp_path / "profiles.json"
    cached = {
        "params": 138_357_544, "macs": 15_470_264_320, "flops": 15_500_000_000, "memory_kb": 1.0
    }
    cache.write_text(json.dumps({"vgg16@224": {"name": "vgg16", "batch_size": 1, **cached}}))

    def no_build(*args, **kwargs):
        raise AssertionError("a cached model was built again")

    monkeypatch.setattr(registry, "get_model", no_build)
    small = keras_arches.profile(_model((227, 227, 3), _alexnet_stem))
    backend = matplotlib.get_backend()
    matplotlib.use("pdf")  # the caller's choice, which the chart must leave alone
    try:
        path = analysis.complexity_chart(tmp_path / "chart.png", models=["vgg16", small],
                                         cache=cache)
        assert matplotlib.get_backend() == "pdf"
    finally:
        matplotlib.use(backend)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert analysis.profile_registered(["vgg16"], cache=cache)["vgg16"]["macs"] == 15_470_264_320


def test_profile_registered_fills_the_cache(tmp_path, monkeypatch):
    real = registry.get_model

    def small(name, **kwargs):  # the default-size VGG is 138M parameters; its topless body will do
        return real(name, include_top=False, input_shape=(32, 32, 3), **kwargs)

    monkeypatch.setattr(registry, "get_model", small)
    cache = tmp_path / "profiles.json"
    first = analysis.profile_registered(["vgg16"], cache=cache)
    assert first["vgg16"]["params"] == 14_714_688  # docs/reference_counts.md no-top count
    assert json.loads(cache.read_text())["vgg16@224"] == first["vgg16"]


def test_complexity_chart_needs_a_model(tmp_path):
    with pytest.raises(ValueError, match="at least one model"):
        analysis.complexity_chart(tmp_path / "c.png", models=[])


def test_diagram_is_skipped_with_a_message_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(analysis, "_graphviz_missing", lambda: "pydot is not installed")
    with pytest.warns(UserWarning, match="diagram .* skipped: pydot is not installed"):
        assert analysis.plot_diagram(_model((4,), L.Dense(2)), tmp_path / "d.png") is None
    assert not (tmp_path / "d.png").exists()


def test_diagram_in_this_environment(tmp_path):
    model = _model((4,), L.Dense(2))
    missing = analysis._graphviz_missing()
    if missing is None:
        assert analysis.plot_diagram(model, tmp_path / "d.png") == tmp_path / "d.png"
        assert (tmp_path / "d.png").stat().st_size > 0
    else:
        assert "pydot" in missing or "graphviz" in missing
        with pytest.warns(UserWarning, match="skipped: " + re.escape(missing)):
            assert analysis.plot_diagram(model, tmp_path / "d.png") is None


def test_cli_profile(tmp_path, capsys):
    path = tmp_path / "vgg.csv"
    argv = ["profile", "vgg16", "--input-size", "32", "--batch-size", "2", "--csv", str(path)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "block5_pool" in out and f"wrote {path}" in out
    rows = list(csv.DictReader(open(path)))
    # At 32x32 every VGG16 conv sees 1/49 of its 224x224 positions; the dense layers' MACs at
    # 224 are 25088x4096 + 4096x4096 + 4096x1000, at 32 they are 512x4096 + 4096x4096 + 4096x1000.
    conv_macs_224 = 15_470_264_320 - (25088 * 4096 + 4096 * 4096 + 4096 * 1000)
    dense_macs_32 = 512 * 4096 + 4096 * 4096 + 4096 * 1000
    assert int(rows[-1]["macs"]) == 2 * (conv_macs_224 // 49 + dense_macs_32)
    assert cli.main(["profile", "vgg16", "--input-size", "32", "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("| layer | type |")


def test_cli_profile_bad_model(capsys):
    assert cli.main(["profile", "vgg17"]) == 2
    assert "Unknown model 'vgg17'" in capsys.readouterr().err


@keras.saving.register_keras_serializable(package="keras_arches_tests")
class _WeightedSum(L.Layer):
    """A composite merge layer: a 1x1 conv on each of two inputs, then their sum."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.left = L.Conv2D(filters, 1, name="left")
        self.right = L.Conv2D(filters, 1, name="right")

    def call(self, inputs):
        return self.left(inputs[0]) + self.right(inputs[1])


def test_composite_layer_with_several_inputs():
    a, b = keras.Input((6, 6, 3)), keras.Input((6, 6, 5))
    model = keras.Model([a, b], _WeightedSum(4, name="ws")([a, b]))
    p = keras_arches.profile(model)
    assert (p["ws/left"].macs, p["ws/right"].macs) == (36 * 4 * 3, 36 * 4 * 5)
    # The sum is the layer's own tensor: its memory is counted on the layer's row.
    assert p["ws"].memory_kb == 36 * 4 * 4 / 1024
    assert p.params == model.count_params()


def test_nested_model_of_free_size_is_costed_at_the_size_it_is_called_with():
    inner = _model((None, None, 3), lambda x: L.Conv2D(4, 3, name="conv")(x))
    model = _model((8, 8, 3), lambda x: L.GlobalAveragePooling2D(name="gap")(inner(x)))
    p = keras_arches.profile(model)
    assert p[f"{inner.name}/conv"].output_shape == (6, 6, 4)
    assert p[f"{inner.name}/conv"].macs == 6 * 6 * 4 * 27
    assert p["gap"].flops == 6 * 6 * 4
    assert p.params == model.count_params()


def test_profiling_twice_gives_the_same_table():
    """Tracing a composite layer records calls on its sub-layers; a second profile is the same."""
    model = _model((9, 9, 8), lambda x: SqueezeExcite(2, name="se")(FireModule(4, 8, 8)(x)))
    first = keras_arches.profile(model)
    assert keras_arches.profile(model).rows == first.rows
    assert first["se/fc2"].macs == 2 * 16


@keras.saving.register_keras_serializable(package="keras_arches_tests")
class _Opaque(L.Layer):
    """A composite layer whose call() needs concrete values: it cannot be traced symbolically."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = L.Dense(units, name="dense")

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        return self.dense(keras.ops.convert_to_tensor(keras.ops.convert_to_numpy(inputs)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


def test_untraceable_composite_is_counted_whole_with_a_warning():
    model = _model((6,), lambda x: _Opaque(3, name="opaque")(x))
    with pytest.warns(UserWarning, match="could not trace 'opaque'"):
        p = keras_arches.profile(model)
    assert (p["opaque"].params, p["opaque"].macs, p["opaque"].output_shape) == (21, 0, (3,))
    assert [r.name for r in p.rows] == ["input_layer", "opaque"]
