"""Class-activation maps: Grad-CAM against its definition worked by hand, CAM against Grad-CAM
(their identity on a global-average-pooling + Dense top), localisation of a bright square by a
network with hand-set weights, a builder nested in a transfer-learning model, the errors, the
picture and the ``explain`` command.

The tests marked ``backend`` run again under JAX and PyTorch; those that work the definition
with ``tf.GradientTape`` run under TensorFlow only.
"""

import os

import keras
import matplotlib
import numpy as np
import pytest
from PIL import Image

import keras_arches
from keras_arches import cli, explain

RNG = np.random.default_rng(0)
SIZE = 96  # ResNet-18: conv4 maps 6x6, conv5 3x3
PHOTO = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


def _relu_normalised(maps):
    maps = np.maximum(maps, 0)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1), 0)


def _assert_informative(maps):
    """Maps that a comparison can fail on: not all zero, and not constant over an image."""
    assert maps.max() == pytest.approx(1.0)
    assert any(m.max() > m.min() for m in maps)


@pytest.fixture(scope="module")
def resnets():
    """ResNet-18 nested in a transfer-learning model (builder -> GAP -> Dense(3)), and the
    builder's own model with the same weights (its top is the same GAP -> Dense)."""
    keras.utils.set_random_seed(1)
    inner = keras_arches.ResNet18(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    head = keras.layers.Dense(3, activation="softmax", name="head")
    inputs = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(inner(inputs))
    nested = keras.Model(inputs, head(pooled), name="transfer")
    # A head under which every class has evidence for and against it in these images' maps,
    # so that no compared map is all zero (with Keras' initialisation, some are).
    head.set_weights([np.random.default_rng(3).normal(size=(512, 3)).astype("float32"),
                      np.zeros(3, "float32")])
    flat = keras_arches.ResNet18(weights=None, classes=3, input_shape=(SIZE, SIZE, 3))
    for layer in inner.layers:
        if layer.weights:
            flat.get_layer(layer.name).set_weights(layer.get_weights())
    flat.get_layer("predictions").set_weights(head.get_weights())
    images = np.random.default_rng(1).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    return {"inner": inner, "head": head, "nested": nested, "flat": flat, "images": images}


def _small_classifier(top="dense_softmax"):
    """A network whose head after the feature map is not linear (conv, tanh, flatten, two
    Dense), so that Grad-CAM is not CAM. ``top``: where the softmax is, if anywhere."""
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(x)
    x = keras.layers.Conv2D(4, 3, activation="tanh", name="conv_c")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    activation = "softmax" if top == "dense_softmax" else None
    outputs = keras.layers.Dense(5, activation=activation, name="classifier")(x)
    if top == "activation":
        outputs = keras.layers.Activation("softmax", name="probabilities")(outputs)
    elif top == "softmax_layer":
        outputs = keras.layers.Softmax(name="probabilities")(outputs)
    return keras.Model(inputs, outputs, name="small")


def test_grad_cam_is_its_definition_worked_with_gradient_tape():
    """alpha_k = spatial mean of d y^c / d A_k with y^c the pre-softmax score, then
    ReLU(sum_k alpha_k A_k) over its maximum (Selvaraju et al. 2017, eq. 1-2)."""
    import tensorflow as tf

    model = _small_classifier()
    images = RNG.normal(size=(3, 12, 12, 3)).astype("float32")
    features = keras.Model(model.input, model.get_layer("features").output)(images)
    with tf.GradientTape() as tape:
        tape.watch(features)
        hidden = features
        for name in ("conv_c", "flatten", "hidden"):
            hidden = model.get_layer(name)(hidden)
        kernel, bias = model.get_layer("classifier").weights
        logits = tf.matmul(hidden, kernel) + bias  # y^c before the softmax
        classes = np.array([4, 0, 2])
        score = tf.reduce_sum(tf.gather(logits, classes, axis=1, batch_dims=1))
    alpha = tape.gradient(score, features).numpy().mean(axis=(1, 2))
    expected = _relu_normalised(np.einsum("bhwk,bk->bhw", features.numpy(), alpha))
    _assert_informative(expected)

    maps, explained = explain.grad_cam(model, images, class_index=classes.tolist(),
                                       layer="features")
    np.testing.assert_allclose(maps, expected, atol=1e-5)
    np.testing.assert_array_equal(explained, classes)
    assert maps.shape == (3, 8, 8) and maps.dtype == np.float32

    # By default each image's top class; the default layer is the last 4-D one.
    _, top = explain.grad_cam(model, images)
    np.testing.assert_array_equal(top, model.predict(images, verbose=0).argmax(axis=1))
    assert explain.feature_layer(model) == "conv_c"


def test_grad_cam_inside_a_residual_block_is_the_tape_gradient(resnets):
    """A layer that is no cut of the graph (the shortcut bypasses it): the gradient through it
    alone, as TensorFlow's tape gives it on the builder's own functional graph."""
    import tensorflow as tf

    model, images = resnets["flat"], resnets["images"]
    name = "conv4_block2_1_relu"
    taps = keras.Model(model.input, [model.get_layer(name).output,
                                     model.get_layer("predictions").input])
    kernel, bias = model.get_layer("predictions").weights
    with tf.GradientTape() as tape:
        features, pooled = taps(images, training=False)
        score = tf.reduce_sum((tf.matmul(pooled, kernel) + bias)[:, 2])
    alpha = tape.gradient(score, features).numpy().mean(axis=(1, 2))
    expected = _relu_normalised(np.einsum("bhwk,bk->bhw", features.numpy(), alpha))
    _assert_informative(expected)
    maps, _ = explain.grad_cam(model, images, class_index=2, layer=name)
    np.testing.assert_allclose(maps, expected, atol=1e-5)


@pytest.mark.backend
@pytest.mark.parametrize("class_index", [None, [2, 1]])
def test_cam_is_zhou_et_al_and_equals_grad_cam_on_a_gap_dense_top(resnets, class_index):
    """CAM: sum_k w_k^c A_k (Zhou et al. 2016); on GAP + Dense, Grad-CAM's alpha_k is
    w_k^c / (h * w), so the normalised maps agree (Grad-CAM paper, section 3.1)."""
    model, images = resnets["flat"], resnets["images"]
    features = keras.ops.convert_to_numpy(
        keras.Model(model.input, model.get_layer("conv5_block2_out").output)(images))
    kernel = keras.ops.convert_to_numpy(model.get_layer("predictions").kernel)
    top = keras.ops.convert_to_numpy(model(images)).argmax(axis=1)
    classes = top if class_index is None else np.array(class_index)
    expected = _relu_normalised(np.einsum("bhwk,kb->bhw", features, kernel[:, classes]))
    _assert_informative(expected)

    cam, cam_classes = explain.class_activation_map(model, images, class_index=class_index)
    np.testing.assert_allclose(cam, expected, atol=1e-5)
    grad, grad_classes = explain.grad_cam(model, images, class_index=class_index)
    np.testing.assert_allclose(grad, cam, atol=1e-5)
    np.testing.assert_array_equal(cam_classes, classes)
    np.testing.assert_array_equal(grad_classes, classes)
    assert cam.shape == (2, 3, 3)


@pytest.mark.backend
def test_the_score_is_taken_before_the_softmax_wherever_it_is():
    """The same weights with the softmax in the Dense layer, in an Activation or a Softmax
    layer, or absent (logits): y^c is the same logit, so the maps are the same."""
    images = RNG.normal(size=(3, 12, 12, 3)).astype("float32")
    reference = _small_classifier("logits")
    expected, classes = explain.grad_cam(reference, images, layer="features")
    _assert_informative(expected)
    for top in ("dense_softmax", "activation", "softmax_layer"):
        model = _small_classifier(top)
        model.set_weights(reference.get_weights())
        maps, explained = explain.grad_cam(model, images, layer="features")
        np.testing.assert_allclose(maps, expected, atol=1e-5, err_msg=top)
        np.testing.assert_array_equal(explained, classes)


def _square_detector():
    """A 3x3 box filter with bias -1/2 and ReLU fires where at least 5 of its 9 pixels are
    bright (a bright square's pixels but its corners); 2x2 max pooling; the class scores are
    +-mean of the map (class 0: 'there is a square', class 1: 'there is none')."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="detector")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="classifier")(x)
    model = keras.Model(inputs, outputs, name="square_detector")
    model.get_layer("detector").set_weights([np.full((3, 3, 1, 1), 1 / 9, "float32"),
                                             np.array([-0.5], "float32")])
    model.get_layer("classifier").set_weights([np.array([[1.0, -1.0]], "float32"),
                                               np.zeros(2, "float32")])
    return model


def _square_at(row, column):
    image = np.zeros((16, 16, 1), "float32")
    image[row:row + 4, column:column + 4] = 1.0
    return image


@pytest.mark.backend
def test_the_heat_map_lights_up_where_the_square_is_and_follows_it():
    model = _square_detector()
    images = np.stack([_square_at(4, 4), _square_at(10, 2)])
    maps, classes = explain.grad_cam(model, images)
    assert explain.feature_layer(model) == "pool"
    np.testing.assert_array_equal(classes, [0, 0])
    # The 4x4 square at (4, 4) covers the 8x8 map's cells (2..3, 2..3); at (10, 2): (5..6, 1..2).
    for heat_map, cells in zip(maps, [(slice(2, 4), slice(2, 4)), (slice(5, 7), slice(1, 3))]):
        expected = np.zeros((8, 8))
        expected[cells] = 1.0
        np.testing.assert_allclose(heat_map, expected, atol=1e-6)
    np.testing.assert_allclose(explain.class_activation_map(model, images)[0], maps, atol=1e-6)
    # Evidence against 'no square' is negative everywhere: ReLU leaves nothing.
    against, _ = explain.grad_cam(model, images, class_index=1)
    np.testing.assert_array_equal(against, 0.0)


def _variants(resnets):
    """The same network as a transfer-learning model in four forms."""
    inner, head = resnets["inner"], resnets["head"]
    shape = (SIZE, SIZE, 3)
    sequential = keras.Sequential(
        [keras.Input(shape), inner, keras.layers.GlobalAveragePooling2D(), head],
        name="sequential_transfer")
    inputs = keras.Input(shape)
    x = inner(keras.layers.Rescaling(1.0, name="identity_scaling")(inputs), training=False)
    x = keras.layers.Dropout(0.5)(keras.layers.GlobalAveragePooling2D()(x))
    preprocessed = keras.Model(inputs, head(x), name="preprocessed_transfer")
    inputs = keras.Input(shape)
    wrapped = keras.Model(inputs, resnets["flat"](keras.layers.Rescaling(1.0)(inputs)),
                          name="wrapped_classifier")  # softmax and GAP inside the nested model
    return {"functional": resnets["nested"], "sequential": sequential,
            "preprocessed": preprocessed, "wrapped": wrapped}


@pytest.mark.backend
@pytest.mark.parametrize("form", ["functional", "sequential", "preprocessed", "wrapped"])
def test_a_builder_nested_in_a_transfer_model_gives_the_flat_models_map(resnets, form):
    """keras-team/keras#16355, tensorflow/tensorflow#44462: the map inside a nested model."""
    model, flat, images = _variants(resnets)[form], resnets["flat"], resnets["images"]
    assert explain.feature_layer(model) == explain.feature_layer(flat) == "conv5_block2_out"
    for options in ({}, {"layer": "conv4_block2_out", "class_index": 1}):
        maps, classes = explain.grad_cam(model, images, **options)
        expected, expected_classes = explain.grad_cam(flat, images, **options)
        _assert_informative(expected)
        np.testing.assert_allclose(maps, expected, atol=1e-5)
        np.testing.assert_array_equal(classes, expected_classes)
    cam, _ = explain.class_activation_map(model, images)
    np.testing.assert_allclose(cam, explain.class_activation_map(flat, images)[0], atol=1e-5)
    if form != "wrapped":  # the nested model's own output is the deepest map
        np.testing.assert_allclose(explain.grad_cam(model, images, layer="resnet18")[0], cam,
                                   atol=1e-5)


def _gap_softmax_model():
    """NiN and SqueezeNet's top: class maps by a 1x1 conv, then GAP and softmax."""
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 1, activation="relu", name="class_maps")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Activation("softmax")(x), name="nin_like")


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(2, 3)
        self.pool = keras.layers.GlobalAveragePooling2D()

    def call(self, inputs):
        return self.pool(self.conv(inputs))


@pytest.mark.backend
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: explain.grad_cam(m, x, layer="conv9"),
         r"no layer 'conv9'\. Layers with a feature map \(4-D output\): conv_a, features, conv_c"),
        (lambda m, x: explain.grad_cam(m, x, layer="hidden"),
         r"'hidden' has no spatial output \(its output shape is \(None, 16\)\)"),
        (lambda m, x: explain.grad_cam(m, x, class_index=5), r"integer in \[0, 5\)"),
        (lambda m, x: explain.grad_cam(m, x, class_index=-1), r"class_index=-1"),
        (lambda m, x: explain.grad_cam(m, x, class_index=[0, 1, 2]), r"one such integer per "
         r"image \(2\)"),
        (lambda m, x: explain.grad_cam(m, x, class_index=True), r"class_index=True"),
        (lambda m, x: explain.grad_cam(m, x[0]), r"shape \(batch, 12, 12, 3\).*\(12, 12, 3\)"),
        (lambda m, x: explain.grad_cam(m, x[:, :10]), r"Received: shape \(2, 10, 12, 3\)"),
        (lambda m, x: explain.class_activation_map(m, x),
         r"'classifier' is not fed by GlobalAveragePooling2D\. Use grad_cam"),
        (lambda m, x: explain.class_activation_map(_gap_softmax_model(), x),
         r"comes from GlobalAveragePooling2D 'gap', not from a Dense classifier\. Use grad_cam"),
        (lambda m, x: explain.grad_cam(_Subclassed(), x), r"subclassed model: _Subclassed"),
    ],
)
def test_errors_say_what_is_wrong(call, message):
    images = RNG.normal(size=(2, 12, 12, 3)).astype("float32")
    with pytest.raises(ValueError, match=message):
        call(_small_classifier(), images)


@pytest.mark.backend
def test_overlay_colours_the_map_over_the_image():
    image = np.full((40, 60, 3), 100.0, "float32")
    heat_map = np.zeros((4, 6), "float32")
    heat_map[0, 0] = 1.0
    np.testing.assert_array_equal(explain.overlay(image, heat_map, alpha=0.0), image)
    coloured = explain.overlay(image, heat_map, alpha=1.0).astype(int)
    jet = matplotlib.colormaps["jet"]
    np.testing.assert_allclose(coloured[0, 0], np.round(np.array(jet(1.0)[:3]) * 255), atol=1)
    np.testing.assert_allclose(coloured[-1, -1], np.round(np.array(jet(0.0)[:3]) * 255), atol=1)
    assert explain.overlay(image[..., :1], heat_map).shape == (40, 60, 3)


@pytest.mark.backend
def test_explain_command_writes_a_picture_per_image(tmp_path, capsys):
    saved = str(tmp_path / "squeezenet.keras")
    keras_arches.SqueezeNet1_1(weights=None, input_shape=(64, 64, 3)).save(saved)
    backend = matplotlib.get_backend()
    output = tmp_path / "maps"
    assert cli.main(["explain", saved, PHOTO, "-o", str(output), "--top", "2"]) == 0
    picture = output / "grace_hopper_grad_cam.png"
    with Image.open(picture) as png:
        assert png.format == "PNG" and png.size == (400, 400)
        assert np.asarray(png.convert("RGB")).std() > 10  # a picture, not a blank page
    line, = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"{PHOTO}: grad_cam of ") and str(picture) in line
    assert matplotlib.get_backend() == backend  # the library left the caller's backend alone

    assert cli.main(["explain", saved, PHOTO, "-o", str(output), "--layer", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-arches explain: error: Model 'squeezenet1_1' has no layer "
                          "'nope'") and "fire9" in err and err.count("\n") == 1


def _explained_size(info):
    """The smallest input whose deepest map is more than one pixel across where the card
    allows it (64 px for the ImageNet nets: P5 2x2; the CIFAR nets' own 32: 8x8)."""
    if info.fixed_size_top:
        return info.default_size
    return max(info.min_size, info.top_min_size or 0, min(info.default_size, 64))


@pytest.mark.parametrize("name", keras_arches.list_models())
def test_every_builder_is_explained_on_its_deepest_map(name):
    """On every builder: the default layer is the deepest level of the card's
    ``feature_info``, the map has that level's size, and on a global-average-pooling + Dense
    top Grad-CAM (autodiff) equals CAM (the classifier's kernel), their identity in the
    Grad-CAM paper, section 3.1. The other tops (flattening or convolutional) are refused by
    CAM with the error naming them."""
    info = keras_arches.model_info(name)
    size = _explained_size(info)
    model = keras_arches.get_model(name, weights=None, input_shape=(size, size, info.channels))
    deepest = info.feature_info[-1]["layer"]
    assert explain.feature_layer(model) == deepest
    images = np.random.default_rng(1).uniform(-1, 1, (1, size, size, info.channels))
    maps, classes = explain.grad_cam(model, images.astype("float32"))
    assert maps.shape == (1, *model.get_layer(deepest).output.shape[1:3])
    assert np.all(np.isfinite(maps)) and maps.min() >= 0 and maps.max() <= 1
    top = [type(op).__name__ for op in model.operations[-3:]]
    if top[-2:] == ["GlobalAveragePooling2D", "Dense"] or top == [
            "GlobalAveragePooling2D", "Dropout", "Dense"]:
        cams, cam_classes = explain.class_activation_map(model, images.astype("float32"))
        np.testing.assert_array_equal(cam_classes, classes)
        np.testing.assert_allclose(cams, maps, atol=1e-4)
        if maps.shape[1] > 1:
            _assert_informative(maps)
    else:
        with pytest.raises(ValueError):
            explain.class_activation_map(model, images.astype("float32"))
