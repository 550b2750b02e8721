"""Inception v2/v3/v4, Inception-ResNet v2 and Xception beyond the contract and twin suites.

Outside truths: Table 1 of Szegedy et al. 2016 ("Rethinking") for v2's stage shapes, timm's
``inception_v4`` counts (docs/reference_counts.md), torchvision's documented 27,161,264
parameters of ``inception_v3`` with its auxiliary head, and keras.applications' InceptionV3 for
the weights.
"""

import keras
import numpy as np
import pytest
from conftest import random_images, write_legacy_h5

import keras_arches
from keras_arches.models.common import conv_bn
from keras_arches.models.inception import (
    inception_a,
    inception_b,
    inception_c,
    inception_resnet_block,
    reduction_a,
    reduction_b,
)
from keras_arches.models.xception import (
    strided_max_pool,
    xception_block,
    xception_middle_block,
)


def _hw_c(model, layer):
    return tuple(model.get_layer(layer).output.shape[1:])


def _bn_channels(model):
    """Channels normalized by batch norm, the auxiliary head's included: one moving mean each."""
    return sum(v.shape[0] for v in model.non_trainable_variables if v.name == "moving_mean")


# ------------------------------------------------------------------ Inception v2 (Table 1)


@pytest.mark.parametrize("factorized_stem", [False, True])
def test_inception_v2_stage_shapes_follow_table_1(factorized_stem):
    model = keras_arches.InceptionV2(include_top=False, factorized_stem=factorized_stem,
                                     input_shape=(299, 299, 3))
    first = (149, 149, 32) if factorized_stem else (147, 147, 64)
    assert _hw_c(model, "stem_conv1_act") == first
    stages = {
        "stem_pool": (73, 73, 64),
        "stem_conv4_act": (71, 71, 80),
        "stem_conv5_act": (35, 35, 192),
        "stem_conv6_act": (35, 35, 288),  # input of the 3 x Fig. 5 modules
        "mixed_35_2": (35, 35, 288),
        "reduction_17": (17, 17, 768),  # input of the 5 x Fig. 6 modules
        "mixed_17_4": (17, 17, 768),
        "reduction_8": (8, 8, 1280),  # input of the 2 x Fig. 7 modules
        "mixed_8_1": (8, 8, 2048),  # input of the 8x8 pool
    }
    for layer, shape in stages.items():
        assert _hw_c(model, layer) == shape, layer
    assert sum(n.startswith("mixed_17_") and n.count("_") == 2 for n in
               (layer.name for layer in model.layers)) == 5
    # The 35x35 modules are factorised: two 3x3 convs, no 5x5 anywhere.
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    kernels = {layer.kernel_size for layer in convs}
    assert (5, 5) not in kernels and {(1, 7), (7, 1), (1, 3), (3, 1)} <= kernels
    assert ((7, 7) in kernels) is not factorized_stem


def test_inception_v2_rejects_a_bad_stem_option():
    with pytest.raises(ValueError, match="factorized_stem"):
        keras_arches.InceptionV2(weights=None, factorized_stem="yes")


# ------------------------------------------------------------------ Inception v3 auxiliary head


def test_inception_v3_aux_head_on_mixed7_and_torchvision_count():
    model = keras_arches.InceptionV3(weights=None, aux_classifiers=True)
    assert model.output_names == ["predictions", "aux"]
    aux = model.get_layer("aux")
    assert aux.input is model.get_layer("mixed7").output
    assert tuple(aux.input.shape[1:]) == (17, 17, 768)
    assert aux.batch_norm and aux.conv2_filters == 768 and aux.hidden_units is None
    # torchvision counts BN gammas (keras' Inception v3 has none) but not moving statistics.
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable + _bn_channels(model) == 27_161_264
    inference = keras_arches.strip_auxiliary(model)
    assert inference.count_params() == keras_arches.model_info("inception_v3").params
    assert inference.get_layer("predictions") is model.get_layer("predictions")


def test_inception_v3_torchvision_variant_layout_and_aux_count():
    model = keras_arches.InceptionV3(weights=None, variant="torchvision", aux_classifiers=True)
    norms = [v for v in model.weights if v.name == "gamma"]
    assert len(norms) == len([v for v in model.weights if v.name == "moving_mean"])
    epsilons = {layer.epsilon for layer in model.layers if hasattr(layer, "epsilon")}
    assert epsilons == {1e-3} and model.get_layer("aux").bn_scale
    # torchvision's F.avg_pool2d(x, 3, 1, padding=1) counts the zeros: pad, then a 'valid' mean.
    for block in ("mixed0", "mixed4", "mixed9"):
        assert model.get_layer(f"{block}_b3_pad").padding == ((1, 1), (1, 1))
        assert model.get_layer(f"{block}_b3_pool").padding == "valid"
    # torchvision's documented 27,161,264 parameters of inception_v3, with its AuxLogits.
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 27_161_264
    assert keras_arches.model_info(model).variant == "torchvision"
    default = keras_arches.InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3))
    assert "mixed0_b3_pad" not in [layer.name for layer in default.layers]
    assert default.get_layer("mixed0_b3_pool").padding == "same"


def test_inception_v3_aux_misuse():
    with pytest.raises(ValueError, match="include_top"):
        keras_arches.InceptionV3(weights=None, aux_classifiers=True, include_top=False)
    with pytest.raises(ValueError, match="aux_classifiers"):
        keras_arches.InceptionV3(weights=None, aux_classifiers=1)
    with pytest.raises(ValueError, match="at least 17"):  # mixed7 is 3x3 at 75x75
        keras_arches.InceptionV3(weights=None, aux_classifiers=True, input_shape=(75, 75, 3))


@pytest.mark.slow
def test_inception_v3_aux_trains_with_paper_loss_weight_and_strips():
    model = keras_arches.InceptionV3(weights=None, aux_classifiers=True, classes=4)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=["sparse_categorical_crossentropy"] * 2,
        loss_weights=[1.0, 0.4],
        run_eagerly=True,
    )
    x, y = random_images((299, 299, 3), batch=2), np.array([0, 3])
    before = model.get_layer("aux").get_weights()[0].copy()
    model.fit(x, [y, y], epochs=1, verbose=0)
    assert not np.array_equal(before, model.get_layer("aux").get_weights()[0])
    both = model(x, training=False)
    np.testing.assert_array_equal(keras_arches.strip_auxiliary(model)(x), both[0])


@pytest.mark.slow
def test_inception_v3_imagenet_with_aux_loads_the_body(tmp_path, monkeypatch):
    keras_model = keras.applications.InceptionV3(weights=None)
    path = write_legacy_h5(keras_model, tmp_path / "top.h5")
    info = keras_arches.model_info("inception_v3")

    def fake_get_file(fname, origin, cache_subdir, file_hash):
        assert origin == info.weights["imagenet"].url
        assert file_hash == "9a0d58056eeedaa3f26cb7ebd46da564"
        return str(path)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    model = keras_arches.InceptionV3(aux_classifiers=True)
    x = random_images((299, 299, 3), batch=1)
    predictions, aux = model(x)
    np.testing.assert_allclose(predictions, keras_model(x), rtol=1e-5, atol=1e-6)
    assert aux.shape == (1, 1000)


# ------------------------------------------------------------------ Inception v4 (timm)


def test_inception_v4_counts_and_stage_shapes():
    model = keras_arches.InceptionV4(weights=None)
    assert model.count_params() == 42_742_984
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 42_679_816  # timm's count: no batch-norm moving statistics
    for layer, shape in {
        "mixed_5a": (35, 35, 384),
        "inception_a4": (35, 35, 384),
        "reduction_a": (17, 17, 1024),
        "inception_b7": (17, 17, 1024),
        "reduction_b": (8, 8, 1536),
        "inception_c3": (8, 8, 1536),
    }.items():
        assert _hw_c(model, layer) == shape, layer
    assert model.get_layer("head_dropout").rate == 0.2
    notop = keras_arches.InceptionV4(weights=None, include_top=False)
    assert notop.count_params() == 41_205_984
    with pytest.raises(ValueError, match="dropout_rate"):
        keras_arches.InceptionV4(weights=None, dropout_rate=1.0)


# ------------------------------------------------------------------ blocks


def _block_model(block, shape, **kwargs):
    inputs = keras.Input(shape)
    return keras.Model(inputs, block(inputs, name="blk", axis=-1, **kwargs))


def test_conv_bn_scale_option():
    plain = _block_model(lambda x, **k: conv_bn(x, 8, 3, **k), (9, 9, 4))
    scaled = _block_model(lambda x, **k: conv_bn(x, 8, 3, scale=True, **k), (9, 9, 4))
    assert plain.count_params() == 3 * 3 * 4 * 8 + 3 * 8  # no bias; beta, mean, variance
    assert scaled.count_params() == 3 * 3 * 4 * 8 + 4 * 8
    assert plain.get_layer("blk_bn").epsilon == 1e-3


def test_factorised_35x35_module_saves_the_5x5_cost():
    widths = (64, (48, 64), (64, 96, 96), 32)
    five = _block_model(lambda x, **k: inception_a(x, widths, **k), (35, 35, 192))
    three = _block_model(lambda x, **k: inception_a(x, widths, kernel=3, **k), (35, 35, 192))
    assert five.output_shape == three.output_shape == (None, 35, 35, 256)
    assert five.count_params() - three.count_params() == 48 * 64 * (25 - 9)


def test_module_and_reduction_shapes():
    def shape_of(block, widths, shape):
        return _block_model(lambda x, **k: block(x, widths, **k), shape).output_shape[1:]

    assert shape_of(reduction_a, (384, (64, 96, 96)), (35, 35, 288)) == (17, 17, 768)
    assert shape_of(inception_b, (192, (128, 128, 192), (128,) * 4 + (192,), 192),
                    (17, 17, 768)) == (17, 17, 768)
    assert shape_of(reduction_b, ((192, 320), (192, 192, 192, 192)), (17, 17, 768)) == (8, 8, 1280)
    v3_c = (320, (384, 384), ([(448, 1), (384, 3)], 384), 192)
    assert shape_of(inception_c, v3_c, (8, 8, 1280)) == (8, 8, 2048)


def test_inception_resnet_block_is_identity_plus_scaled_residual():
    model = _block_model(
        lambda x, **k: inception_resnet_block(x, "block17", 0.1, activation=None, **k),
        (5, 5, 1088),
    )
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 1088)).astype("float32")
    conv = model.get_layer("blk_conv")
    kernel, bias = conv.get_weights()
    mixed = keras.Model(model.input, model.get_layer("blk_mixed").output)(x)
    up = np.asarray(mixed) @ kernel[0, 0] + bias
    np.testing.assert_allclose(model(x), x + 0.1 * up, rtol=1e-4, atol=1e-4)
    conv.set_weights([np.zeros_like(kernel), np.zeros_like(bias)])
    np.testing.assert_allclose(model(x), x, atol=1e-6)


def test_xception_timm_variant_pads_its_pools_on_every_side():
    # -1s with a 0 at row 1, column 1 of a 4x4 map. PyTorch's 3x3/2 pool with padding=1 reads
    # rows (and columns) -1..1 and 1..3: the 0 reaches all four outputs. Keras' "same" reads
    # 0..2 and 2..4 (padding only the bottom/right): the 0 reaches one.
    image = -np.ones((1, 4, 4, 1), "float32")
    image[0, 1, 1, 0] = 0.0
    x = keras.Input((4, 4, 1))
    for symmetric, expected in ((True, [[0, 0], [0, 0]]), (False, [[0, -1], [-1, -1]])):
        pool = keras.Model(x, strided_max_pool(x, f"pool{symmetric}", symmetric))
        np.testing.assert_array_equal(np.asarray(pool(image))[0, :, :, 0], expected)
    timm = keras_arches.Xception(weights=None, variant="timm", include_top=False,
                                 input_shape=(75, 75, 3))
    assert {layer.epsilon for layer in timm.layers if hasattr(layer, "epsilon")} == {1e-5}
    assert isinstance(timm.get_layer("block3_pool_stride"), keras.layers.MaxPooling2D)
    assert keras_arches.model_info(timm).twin == "timm legacy_xception"


def test_xception_blocks():
    entry = _block_model(lambda x, **k: xception_block(x, 128, relu_first=False, **k), (9, 9, 64))
    assert entry.output_shape == (None, 5, 5, 128)
    # Depthwise-separable cost: 3x3 per input channel, then 1x1 across channels (no bias).
    assert entry.get_layer("blk_sepconv1").count_params() == 3 * 3 * 64 + 64 * 128
    middle = _block_model(xception_middle_block, (5, 5, 728))
    for i in (1, 2, 3):  # a zero last BN scale and shift leave only the identity shortcut
        assert middle.get_layer(f"blk_sepconv{i}").count_params() == 3 * 3 * 728 + 728 * 728
    bn = middle.get_layer("blk_sepconv3_bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, var])
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 728)).astype("float32")
    np.testing.assert_allclose(middle(x), x, atol=1e-6)
