"""The early canon against the papers: LeNet-5, AlexNet, ZFNet, NiN, GoogLeNet, SqueezeNet.

Counts and multiply-adds are docs/reference_counts.md's; stage shapes are the papers' tables and
figures (torchvision's for SqueezeNet). Full-size builds of the 60M-parameter nets are `slow`.
"""

import keras
import numpy as np
import pytest
from conftest import random_images

import keras_arches
from keras_arches import data
from keras_arches.layers import CeilPooling2D, ConnectionTableConv2D, FireModule
from keras_arches.layers.connection_table import LENET5_C3_TABLE
from keras_arches.models.googlenet import inception_module


def macs(model):
    """Multiply-adds of the conv and dense layers, batch 1 (docs/reference_counts.md's MACs)."""
    total = 0

    def conv(layer, cin, out_shape):
        h, w, cout = (
            out_shape[1:]
            if layer.data_format == "channels_last"
            else (*out_shape[2:], out_shape[1])
        )
        k = np.prod(layer.kernel_size)
        return h * w * cout * k * cin // layer.groups

    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            total += conv(layer, layer.kernel.shape[2] * layer.groups, layer.output.shape)
        elif isinstance(layer, keras.layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, ConnectionTableConv2D):
            h, w = layer.output.shape[1:3]
            total += h * w * layer.kernel.shape[0] * layer.kernel.shape[1] * layer.kernel.shape[2]
        elif isinstance(layer, FireModule):
            h, w = layer.output.shape[1:3]
            cin = layer.squeeze_conv.kernel.shape[2]
            s = layer.squeeze
            total += h * w * (cin * s + s * layer.expand1x1 + 9 * s * layer.expand3x3)
    return int(total)


def shape_of(model, layer):
    return tuple(model.get_layer(layer).output.shape[1:])


# -- LeNet-5 -------------------------------------------------------------------------------


def test_lenet5_1998_counts_and_shapes():
    model = keras_arches.LeNet5()
    assert model.count_params() == 61_706
    assert keras_arches.LeNet5(include_top=False, input_shape=(32, 32, 1)).count_params() == 2_572
    assert macs(model) == 416_520
    # The paper's sec. II-B: C1 28x28x6, S2 14x14, C3 10x10x16, S4 5x5, C5 120, F6 84.
    expected = {"c1": (28, 28, 6), "s2": (14, 14, 6), "c3": (10, 10, 16), "s4": (5, 5, 16),
                "c5": (1, 1, 120), "f6": (84,), "predictions": (10,)}
    assert {name: shape_of(model, name) for name in expected} == expected
    assert model.get_layer("c1").activation is keras.activations.tanh


def test_lenet5_partial_c3_is_the_papers_table():
    model = keras_arches.LeNet5(c3_table=True)
    per_layer = {name: model.get_layer(name).count_params() for name in ("c1", "c3", "c5", "f6")}
    # "C1 ... 156 trainable parameters", "C3 has 1,516", "C5 ... 48,120", "F6 ... 10,164".
    assert per_layer == {"c1": 156, "c3": 1_516, "c5": 48_120, "f6": 10_164}
    # The 60,000 of docs/reference_counts.md is the paper's count: S2/S4 have a coefficient and a
    # bias per map (12 + 32) and the RBF output layer is fixed; here they are plain pooling and a
    # Dense layer.
    assert model.count_params() - model.get_layer("predictions").count_params() + 12 + 32 == 60_000
    kernel = np.asarray(model.get_layer("c3").dense_kernel())
    connected = np.abs(kernel).sum(axis=(0, 1)) > 0  # (S2 map, C3 map)
    table = [
        "X   XXX  XXXX XX",
        "XX   XXX  XXXX X",
        "XXX   XXX  X XXX",
        " XXX  XXXX  X XX",
        "  XXX  XXXX XX X",
        "   XXX  XXXX XXX",
    ]  # Table I of LeCun et al. 1998, rows S2 maps 0-5, columns C3 maps 0-15
    np.testing.assert_array_equal(connected, [[ch == "X" for ch in row] for row in table])


def test_connection_table_conv_equals_masked_dense_conv(tmp_path):
    layer = ConnectionTableConv2D(LENET5_C3_TABLE, 5, activation="tanh", name="c3")
    inputs = keras.Input((14, 14, 6))
    model = keras.Model(inputs, layer(inputs))
    layer.bias.assign(np.linspace(-1, 1, 16).astype("float32"))
    reference = keras.layers.Conv2D(16, 5, activation="tanh")
    reference.build((None, 14, 14, 6))
    reference.set_weights([np.asarray(layer.dense_kernel()), np.asarray(layer.bias)])
    x = np.random.default_rng(1).standard_normal((2, 14, 14, 6)).astype("float32")
    np.testing.assert_allclose(model(x), reference(x), rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "c3.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "c3.keras")(x), model(x))
    with pytest.raises(ValueError, match="distinct"):
        ConnectionTableConv2D([[0, 0]])
    with pytest.raises(ValueError, match="channels"):
        ConnectionTableConv2D([[0, 7]])(keras.Input((8, 8, 3)))


def test_lenet5_modern_and_input_sizes():
    model = keras_arches.LeNet5(variant="modern")
    assert model.input_shape == (None, 28, 28, 1)
    assert model.count_params() == 1_256_080
    assert macs(model) == 6_522_000
    features = keras_arches.LeNet5(variant="modern", include_top=False, input_shape=(28, 28, 1))
    assert features.count_params() == 25_570
    assert shape_of(model, "pool2") == (7, 7, 50) and shape_of(model, "fc1") == (500,)
    with pytest.raises(ValueError, match="at least 32x32"):
        keras_arches.LeNet5(input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="at least 28x28"):
        keras_arches.LeNet5(variant="modern", input_shape=(27, 27, 1))
    with pytest.raises(ValueError, match="variant"):
        keras_arches.LeNet5(variant="2012")
    with pytest.raises(ValueError, match="c3_table"):
        keras_arches.LeNet5(variant="modern", c3_table=True)


def test_lenet5_mnist_weights_reach_the_readme_s_accuracy():
    # The shipped file of benchmarks/make_lenet5_mnist.py, the README's main job: 96.9 % on the
    # 1,000 embedded test images, with the card's "unit" preprocessing (x / 255).
    x, y = data._embedded_arrays()
    test = data.embedded_split("test")
    model = keras_arches.LeNet5(weights="mnist")
    assert model.input_shape == (None, 28, 28, 1) and model.count_params() == 1_256_080
    assert keras_arches.model_info(model).preprocessing == "unit"
    images = data.preprocess(x[test].astype("float32"), "unit")
    predictions = model.predict(images, batch_size=250, verbose=0).argmax(-1)
    assert round(float(np.mean(predictions == y[test])), 3) == 0.969
    # The same file without the top gives the trained features.
    features = keras_arches.LeNet5(weights="mnist", include_top=False)
    body = keras.Model(model.input, model.get_layer("pool2").output)
    np.testing.assert_allclose(features(images[:4]), body(images[:4]), rtol=1e-6)
    with pytest.raises(ValueError, match="variant='modern'"):
        keras_arches.LeNet5(weights="mnist", variant="1998")
    with pytest.raises(ValueError, match="10-class"):
        keras_arches.LeNet5(weights="mnist", classes=5)


def test_lenet5_c3_table_round_trips(tmp_path):
    model = keras_arches.LeNet5(c3_table=True, classifier_activation=None)
    x = random_images((32, 32, 1))
    model.save(tmp_path / "lenet.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "lenet.keras")(x), model(x))


# -- AlexNet and ZFNet ---------------------------------------------------------------------


def test_alexnet_stages_and_towers():
    model = keras_arches.AlexNet(include_top=False, input_shape=(227, 227, 3))
    assert model.count_params() == 2_334_080
    # Sec. 3.5 / Fig. 2: 55x55x96, 27x27x256, 13x13x384, 13x13x384, 13x13x256, pooled to 6x6.
    expected = {"conv1": (55, 55, 96), "pool1": (27, 27, 96), "conv2": (27, 27, 256),
                "pool2": (13, 13, 256), "conv3": (13, 13, 384), "conv4": (13, 13, 384),
                "conv5": (13, 13, 256), "pool5": (6, 6, 256)}
    assert {name: shape_of(model, name) for name in expected} == expected
    # "kernels of size 11x11x3 ... 5x5x48 ... 3x3x256 ... 3x3x192 ... 3x3x192" (two towers).
    kernels = {
        name: tuple(model.get_layer(name).kernel.shape) for name in expected if "conv" in name
    }
    assert kernels == {
        "conv1": (11, 11, 3, 96),
        "conv2": (5, 5, 48, 256),
        "conv3": (3, 3, 256, 384),
        "conv4": (3, 3, 192, 384),
        "conv5": (3, 3, 192, 256),
    }
    lrn = model.get_layer("norm1")
    assert (lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta) == (2, 2.0, 1e-4, 0.75)
    one_tower = keras_arches.AlexNet(include_top=False, input_shape=(227, 227, 3), groups=1)
    assert one_tower.count_params() == 3_747_200
    with pytest.raises(ValueError, match="groups"):
        keras_arches.AlexNet(groups=4)


@pytest.mark.slow
def test_alexnet_full_counts():
    model = keras_arches.AlexNet()
    assert model.count_params() == 60_965_224
    assert macs(model) == 724_406_816
    assert model.get_layer("drop6").rate == 0.5
    keras.backend.clear_session()
    # docs/reference_counts.md's one-tower row; the count holds at 227 (pool5 is 6x6 either way).
    assert keras_arches.AlexNet(groups=1).count_params() == 62_378_344


def test_zfnet_figure3_stages():
    model = keras_arches.ZFNet(include_top=False, input_shape=(224, 224, 3))
    assert model.count_params() == 3_726_464
    # Fig. 3: 110x110x96 -> 55x55 -> 26x26x256 -> 13x13 -> 13x13x384, 384, 256 -> 6x6x256.
    expected = {"conv1": (110, 110, 96), "pool1": (55, 55, 96), "conv2": (26, 26, 256),
                "pool2": (13, 13, 256), "conv3": (13, 13, 384), "conv4": (13, 13, 384),
                "conv5": (13, 13, 256), "pool5": (6, 6, 256)}
    assert {name: shape_of(model, name) for name in expected} == expected
    assert model.get_layer("conv1").strides == (2, 2)
    wide = keras_arches.ZFNet(
        include_top=False, input_shape=(224, 224, 3), conv3_5_filters=(512, 1024, 512)
    )
    assert [shape_of(wide, f"conv{i}")[-1] for i in (3, 4, 5)] == [512, 1024, 512]
    with pytest.raises(ValueError, match="conv3_5_filters"):
        keras_arches.ZFNet(conv3_5_filters=(512, 1024))


@pytest.mark.slow
def test_zfnet_full_counts():
    model = keras_arches.ZFNet()
    assert model.count_params() == 62_357_608
    assert macs(model) == 1_168_032_896


# -- Network in Network --------------------------------------------------------------------


def test_nin_imagenet():
    model = keras_arches.NiN()
    assert model.count_params() == 7_595_176
    assert macs(model) == 1_100_188_800  # needs the rounding-up pools: 54 -> 27 -> 13 -> 6
    features = keras_arches.NiN(include_top=False, input_shape=(224, 224, 3))
    assert features.count_params() == 6_570_176
    assert features.output_shape == (None, 6, 6, 1024)
    expected = {"mlpconv1_conv": (54, 54, 96), "mlpconv1_pool": (27, 27, 96),
                "mlpconv2_pool": (13, 13, 256), "mlpconv3_pool": (6, 6, 384),
                "mlpconv4_cccp2": (6, 6, 1000), "predictions": (1000,)}
    assert {name: shape_of(model, name) for name in expected} == expected


def test_nin_cifar10_and_classifier():
    model = keras_arches.NiN(variant="cifar10", classes=10)
    assert model.input_shape == (None, 32, 32, 3)
    assert model.count_params() == 966_986
    assert macs(model) == 222_486_528
    features = keras_arches.NiN(variant="cifar10", include_top=False)
    assert features.count_params() == 965_056
    assert shape_of(model, "mlpconv1_pool") == (16, 16, 96)
    assert shape_of(model, "mlpconv2_pool") == (8, 8, 192)
    # The class score is the spatial mean of its map; classifier_activation comes after.
    logits = keras_arches.NiN(variant="cifar10", classes=10, classifier_activation=None)
    maps = keras.Model(logits.input, logits.get_layer("mlpconv3_cccp2").output)
    x = random_images((32, 32, 3))
    np.testing.assert_allclose(logits(x), np.mean(maps(x), axis=(1, 2)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="at least 32x32"):
        keras_arches.NiN(variant="cifar10", include_top=False, input_shape=(31, 31, 3))
    with pytest.raises(ValueError, match="variant"):
        keras_arches.NiN(variant="mnist")


# -- GoogLeNet -----------------------------------------------------------------------------


def test_inception_module_alone():
    x = keras.Input((28, 28, 192))
    y = inception_module(x, 64, 96, 128, 16, 32, 32, name="inception_3a")
    assert tuple(y.shape) == (None, 28, 28, 256)
    module = keras.Model(x, y)
    assert tuple(module.get_layer("inception_3a_5x5").kernel.shape) == (5, 5, 16, 32)
    first = keras.Input((192, 28, 28))
    z = inception_module(first, 64, 96, 128, 16, 32, 32, name="m", axis=1)
    assert tuple(z.shape) == (None, 256, 28, 28)


def test_googlenet_table1():
    model = keras_arches.GoogLeNet()
    assert model.count_params() == 6_998_552
    assert macs(model) == 1_582_671_872
    assert (
        keras_arches.GoogLeNet(include_top=False, input_shape=(224, 224, 3)).count_params()
        == 5_973_552
    )
    table1 = {
        "conv1_7x7": (112, 112, 64), "pool1": (56, 56, 64), "conv2_3x3": (56, 56, 192),
        "pool2": (28, 28, 192), "inception_3a_concat": (28, 28, 256),
        "inception_3b_concat": (28, 28, 480), "pool3": (14, 14, 480),
        "inception_4a_concat": (14, 14, 512), "inception_4b_concat": (14, 14, 512),
        "inception_4c_concat": (14, 14, 512), "inception_4d_concat": (14, 14, 528),
        "inception_4e_concat": (14, 14, 832), "pool4": (7, 7, 832),
        "inception_5a_concat": (7, 7, 832), "inception_5b_concat": (7, 7, 1024),
        "avg_pool": (1024,), "predictions": (1000,),
    }
    assert {name: shape_of(model, name) for name in table1} == table1
    assert model.get_layer("head_dropout").rate == 0.4
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


def test_googlenet_aux_heads_count_and_placement():
    model = keras_arches.GoogLeNet(aux_classifiers=True)
    assert model.count_params() == 13_378_280
    assert model.output_names == ["predictions", "aux1", "aux2"]
    assert model.get_layer("aux1").input is model.get_layer("inception_4a_concat").output
    assert model.get_layer("aux2").input is model.get_layer("inception_4d_concat").output
    with pytest.raises(ValueError, match="include_top"):
        keras_arches.GoogLeNet(aux_classifiers=True, include_top=False)


def test_googlenet_aux_training_and_strip():
    size = keras_arches.model_info("googlenet").min_size  # the aux heads build at the minimum
    model = keras_arches.GoogLeNet(aux_classifiers=True, input_shape=(size, size, 3), classes=5)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=["sparse_categorical_crossentropy"] * 3,
        loss_weights=[1.0, 0.3, 0.3],
    )
    x = random_images((size, size, 3), batch=4) / 255.0
    y = np.array([0, 1, 2, 3])
    before = model.get_layer("aux1").get_weights()[0].copy()
    history = model.fit(x, [y, y, y], batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.array_equal(before, model.get_layer("aux1").get_weights()[0])
    inference = keras_arches.strip_auxiliary(model)
    assert len(inference.outputs) == 1
    np.testing.assert_array_equal(inference(x, training=False), model(x, training=False)[0])
    assert inference.count_params() == model.count_params() - sum(
        model.get_layer(name).count_params() for name in ("aux1", "aux2")
    )


# -- SqueezeNet ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "builder, params, notop, reference_macs, sizes",
    [
        (keras_arches.SqueezeNet1_0, 1_248_424, 735_424, 818_924_576,
         {"conv1": 109, "pool1": 54, "pool4": 27, "pool8": 13, "fire9": 13}),
        (keras_arches.SqueezeNet1_1, 1_235_496, 722_496, 349_151_936,
         {"conv1": 111, "pool1": 55, "pool3": 27, "pool5": 13, "fire9": 13}),
    ],
)
def test_squeezenet_torchvision_twins(builder, params, notop, reference_macs, sizes):
    model = builder()
    assert model.count_params() == params
    assert macs(model) == reference_macs
    assert {name: shape_of(model, name)[0] for name in sizes} == sizes
    assert shape_of(model, "fire9") == (13, 13, 512)
    assert builder(include_top=False, input_shape=(224, 224, 3)).count_params() == notop
    assert builder(include_top=False, input_shape=(64, 64, 3)).output_shape == (None, 3, 3, 512)


# -- CeilPooling2D -------------------------------------------------------------------------


def _caffe_pool(x, k, s, mode):
    """Caffe's pooling, pad 0, rounding up: the last window is clipped to the input."""
    n, h, w, c = x.shape
    out = lambda size: -(-(size - k) // s) + 1  # noqa: E731
    result = np.zeros((n, out(h), out(w), c), "float32")
    for i in range(out(h)):
        for j in range(out(w)):
            window = x[:, i * s: i * s + k, j * s: j * s + k, :]
            result[:, i, j] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return result


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("size", [7, 8, 109])
def test_ceil_pooling_matches_caffe(mode, size, tmp_path):
    x = np.random.default_rng(size).standard_normal((2, size, size, 3)).astype("float32") - 2.0
    layer = CeilPooling2D(3, 2, mode=mode, name="pool")
    expected = _caffe_pool(x, 3, 2, mode)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-6, atol=1e-6)
    assert layer.compute_output_shape(x.shape) == expected.shape
    first = CeilPooling2D(3, 2, mode=mode, data_format="channels_first")
    np.testing.assert_allclose(
        first(np.transpose(x, (0, 3, 1, 2))),
        np.transpose(expected, (0, 3, 1, 2)),
        rtol=1e-6,
        atol=1e-6,
    )
    inputs = keras.Input((size, size, 3))
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "pool.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "pool.keras")(x), model(x))
    with pytest.raises(ValueError, match="mode"):
        CeilPooling2D(mode="min")


# -- the reference layouts (`variant=`) ----------------------------------------------------


@pytest.mark.parametrize(
    "builder, variant, size, options",
    [
        ("AlexNet", "torchvision", 63, {"include_top": False, "pooling": "avg"}),
        ("GoogLeNet", "torchvision", 64, {"aux_classifiers": True, "classes": 5}),
        ("ZFNet", "pytorchcv", 224, {"include_top": False, "pooling": "avg"}),
        ("NiN", "pytorchcv_cifar", 32, {"classes": 10}),
    ],
    ids=["AlexNet", "GoogLeNet", "ZFNet", "NiN"],
)
def test_reference_layouts_in_both_data_formats_and_after_a_keras_round_trip(
        builder, variant, size, options, tmp_path):
    def outputs(model, x):
        out = model(x, training=False)
        return np.stack([np.asarray(o) for o in (out if isinstance(out, list) else [out])])

    build = getattr(keras_arches, builder)
    last = build(weights=None, input_shape=(size, size, 3), variant=variant, **options)
    x = random_images((size, size, 3))
    expected = outputs(last, x)
    last.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert keras_arches.model_info(reloaded).variant == variant
    np.testing.assert_allclose(outputs(reloaded, x), expected, rtol=1e-6)
    keras.config.set_image_data_format("channels_first")
    first = build(weights=None, input_shape=(3, size, size), variant=variant, **options)
    first.set_weights(last.get_weights())
    got = outputs(first, np.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_reference_layouts_refuse_what_they_do_not_have():
    with pytest.raises(ValueError, match="one tower"):
        keras_arches.AlexNet(variant="torchvision", groups=1)
    with pytest.raises(ValueError, match="paper's layout only"):
        keras_arches.GoogLeNet(variant="torchvision", width_multiplier=0.5)
    with pytest.raises(ValueError, match=r"`variant` must be one of \[None, 'pytorchcv'\]"):
        keras_arches.ZFNet(variant="caffe")
