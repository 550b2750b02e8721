"""keras-hub's own tasks on classic encoders (issue 28, item 1).

The truth is keras-hub 0.32's task code: ``DeepLabV3ImageSegmenter``,
``RetinaNetObjectDetector`` and ``ImageClassifier`` build on our backbone, train, save and
reload through keras-hub's own preset format; and the classifier computes what our builder
computes. SE-ResNeXt-50 is of a family keras-hub has no backbone for (squeeze-excitation).
"""

import math

import keras
import numpy as np
import pytest
from test_twins import _randomise_batch_norms

import keras_arches
from keras_arches import model_info

keras_hub = pytest.importorskip("keras_hub")
from keras_arches import keras_hub as hub  # noqa: E402  (after keras-hub's own check)

SIZE = 96  # GoogLeNet needs 79 pixels and Xception 71; P5 is then 3x3
SHAPE = (SIZE, SIZE, 3)
ENCODERS = ["resnet50", "xception", "densenet121", "vgg16", "googlenet", "seresnext50_32x4d"]
CLASSES = 3


def _images(n=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, SIZE, SIZE, 3)).astype("float32")


def _assert_same(a, b):
    for x, y in zip(keras.tree.flatten(a), keras.tree.flatten(b)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y),
                                   rtol=1e-5, atol=1e-5)


def _reloads(task, images, tmp_path):
    """The task's outputs after a ``.keras`` reload (safe mode) and a preset round trip."""
    expected = task(images, training=False)
    task.save(tmp_path / "task.keras")
    _assert_same(keras.saving.load_model(tmp_path / "task.keras", safe_mode=True)(
        images, training=False), expected)
    task.save_to_preset(tmp_path / "preset")
    _assert_same(type(task).from_preset(str(tmp_path / "preset"))(images, training=False),
                 expected)


def _fit_two_steps(task, x, y):
    # Eagerly: tracing the train step would cost 10 s of each test and show nothing of
    # keras-hub's contract; the graph paths of the builders are trained in test_backends.
    task.compile(optimizer=keras.optimizers.SGD(1e-3), run_eagerly=True)
    history = task.fit(x, y, batch_size=1, epochs=1, steps_per_epoch=2, verbose=0).history
    assert len(history["loss"]) == 1 and math.isfinite(history["loss"][0])


@pytest.fixture(scope="module")
def weights_files(tmp_path_factory):
    """Per encoder: a weights file of the full model with random weights and random batch-norm
    statistics, so the comparisons below use the package's loader on non-trivial weights."""
    folder, files = tmp_path_factory.mktemp("hub_weights"), {}

    def make(name):
        if name not in files:
            model = keras_arches.get_model(name, weights=None, input_shape=SHAPE)
            _randomise_batch_norms(model)
            files[name] = str(folder / f"{name}.weights.h5")
            model.save_weights(files[name])
        return files[name]

    return make


@pytest.mark.parametrize("name", ENCODERS)
def test_encoder_is_the_builders_pyramid(name, weights_files):
    encoder = hub.backbone(name, weights=weights_files(name), image_shape=SHAPE)
    assert isinstance(encoder, keras_hub.models.FeaturePyramidBackbone)
    features = keras_arches.get_model(name, weights=weights_files(name), input_shape=SHAPE,
                                      features_only=True)
    assert list(encoder.pyramid_outputs) == list(features.output)
    assert [f"P{e['level']}" for e in model_info(name).feature_info] == list(features.output)
    images = _images()
    _assert_same(keras.Model(encoder.input, encoder.pyramid_outputs)(images), features(images))
    # ImageClassifier pools the output: the deepest level's map
    deepest = list(features.output)[-1]
    _assert_same(encoder(images), features(images)[deepest])


@pytest.mark.parametrize("name", ENCODERS)
def test_deeplab_v3_plus_trains_saves_and_reloads(name, tmp_path):
    encoder = hub.backbone(name, image_shape=SHAPE)
    decoder = {}
    if name == "xception":  # its valid-padded stem: P2 is 23x23, P5 3x3
        with pytest.raises(ValueError, match=r"upsamples P5 by 8 .* gives P5 3x3 and P2 23x23"):
            hub.deeplab_v3_backbone(encoder)
        decoder = {"low_level_feature_key": None, "upsampling_size": 8}  # plain DeepLabV3
    segmenter = keras_hub.models.DeepLabV3ImageSegmenter(
        backbone=hub.deeplab_v3_backbone(encoder, **decoder), num_classes=CLASSES)
    images = _images()
    masks = keras.utils.to_categorical(
        np.random.default_rng(1).integers(0, CLASSES, (2, SIZE, SIZE)), CLASSES)
    assert segmenter(images).shape == (2, SIZE, SIZE, CLASSES)
    _fit_two_steps(segmenter, images, masks)
    _reloads(segmenter, images, tmp_path)


@pytest.mark.parametrize("name", ENCODERS)
def test_retinanet_trains_saves_and_reloads(name, tmp_path):
    detector = keras_hub.models.RetinaNetObjectDetector(
        backbone=hub.retinanet_backbone(hub.backbone(name, image_shape=SHAPE)),
        num_classes=CLASSES, bounding_box_format="yxyx")
    images = _images()
    rng = np.random.default_rng(2)
    corner = rng.uniform(0, SIZE / 2, (2, 2, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(16, SIZE / 2, (2, 2, 2))], -1)
    labels = rng.integers(0, CLASSES, (2, 2)).astype("float32")
    _fit_two_steps(detector, images, {"boxes": boxes.astype("float32"), "labels": labels})
    _reloads(detector, images, tmp_path)


@pytest.mark.parametrize("name", ENCODERS)
def test_image_classifier_computes_the_builders_logits(name, weights_files, tmp_path):
    ours = keras_arches.get_model(name, weights=weights_files(name), input_shape=SHAPE,
                                  classifier_activation=None)
    top = [type(op).__name__ for op in ours.operations]
    if "Flatten" in top:  # VGG: fc6 and fc7 sit between the map and the classifier
        with pytest.raises(ValueError, match=r"top is Flatten -> Dense -> Dense -> Dense.*"
                                             r"ImageClassifier\(backbone=backbone"):
            hub.image_classifier(name, weights=weights_files(name), image_shape=SHAPE)
        return
    classifier = hub.image_classifier(name, weights=weights_files(name), image_shape=SHAPE,
                                      classifier_activation=None)
    assert isinstance(classifier.backbone, hub.ClassicBackbone)
    images = _images()
    _assert_same(classifier(images), ours(images))
    classifier.save(tmp_path / "classifier.keras")
    _assert_same(keras.saving.load_model(tmp_path / "classifier.keras")(images), ours(images))


def test_levels_a_task_needs_are_checked_by_name():
    strided = hub.backbone("resnet18", image_shape=(64, 64, 3), output_stride=16)
    assert strided.levels == (1, 2, 3, 4)
    with pytest.raises(ValueError, match=r"RetinaNetBackbone reads the pyramid levels P3, P4, P5"
                                         r".*P5 missing.*without `output_stride`"):
        hub.retinanet_backbone(strided)
    deeplab = hub.deeplab_v3_backbone(strided, spatial_pyramid_pooling_key="P4")
    assert deeplab.output.shape == (None, 64, 64, 256)  # upsampled by 2**(4-2), then 2**4 // 4
    with pytest.raises(ValueError, match=r"'P<level>'"):
        hub.deeplab_v3_backbone(strided, spatial_pyramid_pooling_key="conv5")
    with pytest.raises(ValueError, match="contradicts weights='imagenet'"):
        hub.backbone("resnet18.tv_in1k", weights="imagenet")
    with pytest.raises(ValueError, match="Unknown model 'resnet51'"):
        hub.backbone("resnet51")
    with pytest.raises(ValueError, match=r"squeezenet1_1's top is Dropout -> Conv2D"):
        hub.image_classifier("squeezenet1_1", image_shape=(64, 64, 3))


@pytest.mark.parity
def test_readme_block_runs_with_a_served_checkpoint(tmp_path, monkeypatch):
    """The README's "With keras-hub" block, as written, on torchvision's ResNet-18 layout served
    from a local file (random weights and batch-norm statistics); an encoder of that tag
    computes torchvision's own ``layer4`` output."""
    from conftest import parity_import
    from test_loading import randomise, relative_error
    from test_readme_commands import README, _publish

    torch = parity_import("torch")
    torchvision = parity_import("torchvision")
    import re

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    reference = randomise(torchvision.models.resnet18())
    _publish(monkeypatch, tmp_path, reference, "resnet18", "tv_in1k", "resnet18.pth")

    with open(README) as handle:
        section = handle.read().split("## With keras-hub", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    rng = np.random.default_rng(3)
    namespace = {
        "images": rng.uniform(0, 255, (2, 128, 128, 3)).astype("float32"),
        "masks": keras.utils.to_categorical(rng.integers(0, 3, (2, 128, 128)), 3),
    }
    exec(compile(block, "README.md", "exec"), namespace)
    assert isinstance(namespace["segmenter"], keras_hub.models.DeepLabV3ImageSegmenter)
    assert namespace["segmenter"](namespace["images"]).shape == (2, 128, 128, 3)

    encoder = hub.backbone("resnet18.tv_in1k", image_shape=(128, 128, 3))  # the README's trained
    x = keras_arches.preprocess_input(namespace["images"], "resnet18.tv_in1k")
    body = torch.nn.Sequential(*list(reference.children())[:-2])
    with torch.no_grad():
        expected = body(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    assert relative_error(keras.ops.convert_to_numpy(encoder(x)), expected) <= 1e-4

