"""The sources' own eval transforms on real photos.

``load_images`` + ``preprocess_input`` must give what each checkpoint's source feeds its model:
torchvision 0.29's ``weights.transforms()``, timm 1.0's ``create_transform(**resolve_data_config
(...))`` (also at its test-time size), imgclsmob/pytorchcv's ImageNet and CIFAR recipes, and
``keras.utils.load_img`` for the keras.applications twins. The photos are real JPEGs shipped by
installed packages (matplotlib's Grace Hopper, scikit-learn's two sample photos), plus a portrait
crop, a small crop and a greyscale copy of them, so that several sizes and aspect ratios, both
rounding directions of the centre crop and the grey-to-RGB path are covered.
"""

import math
import os
import re

import keras
import matplotlib
import numpy as np
import pytest
from conftest import parity_import
from PIL import Image

import keras_arches
from keras_arches import data, registry

torch = parity_import("torch")
torchvision = parity_import("torchvision")
timm = parity_import("timm")
transforms = torchvision.transforms

pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    import sklearn.datasets

    folder = tmp_path_factory.mktemp("photos")
    hopper = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    samples = os.path.join(os.path.dirname(sklearn.datasets.__file__), "images")
    paths = [hopper, os.path.join(samples, "china.jpg"), os.path.join(samples, "flower.jpg")]
    with Image.open(hopper) as image:
        image.crop((101, 0, 354, 511)).save(folder / "portrait.png")  # 253 x 511, odd margins
        image.crop((200, 100, 333, 190)).save(folder / "small.png")  # 133 x 90: upscaled
        image.convert("L").save(folder / "grey.jpg", quality=90)
    paths += [str(folder / name) for name in ("portrait.png", "small.png", "grey.jpg")]
    sizes = {Image.open(path).size for path in paths}
    assert len(sizes) == 4 and any(w < h for w, h in sizes)  # shapes and orientations differ
    return paths


def _shell(name, tag, size):
    """A model that carries ``name.tag`` at ``size`` (nothing but an input), for load_images."""
    card = keras_arches.model_info(f"{name}.{tag}" if tag else name)
    inputs = keras.Input((size, size, card.channels))
    outputs = keras.layers.Identity()(inputs)
    return keras_arches.ArchModel(inputs, outputs, arch=card.name, checkpoint=tag,
                              variant=card.variant)


def _assert_transform(model, reference, photos):
    ours = data.preprocess_input(data.load_images(photos, model), model)
    for path, image in zip(photos, ours):
        with Image.open(path) as opened:
            expected = reference(opened.convert("RGB")).numpy().transpose(1, 2, 0)
        assert image.shape == expected.shape, path
        np.testing.assert_allclose(image, expected, atol=1e-5, rtol=0, err_msg=path)


def _checkpoints(source):
    seen = set()
    for card in registry.cards():
        for checkpoint in card.checkpoints:
            key = (checkpoint.input_size, checkpoint.crop_pct, checkpoint.resize_size,
                   checkpoint.interpolation, checkpoint.mean, checkpoint.std,
                   checkpoint.test_input_size, checkpoint.test_crop_pct)
            if checkpoint.source.startswith(source) and key not in seen:
                seen.add(key)
                yield card, checkpoint


def test_torchvision_checkpoints_follow_weights_transforms(photos):
    published = {value.url: value
                 for name in torchvision.models.list_models(module=torchvision.models)
                 for value in torchvision.models.get_model_weights(name)}
    tested = 0
    for card, checkpoint in _checkpoints("torchvision"):
        model = _shell(card.name, checkpoint.tag, checkpoint.input_size)
        reference = published[checkpoint.url].transforms()
        if tuple(reference.mean) != checkpoint.mean:
            # GoogLeNet: torchvision builds it with transform_input=True for these weights, so
            # the model's first step maps the normalised input to (x - 0.5) / 0.5.
            assert card.name == "googlenet"
            remap = torchvision.models.googlenet(transform_input=True, init_weights=False)
            reference = transforms.Compose([
                reference, lambda x: remap._transform_input(x[None])[0]])
        _assert_transform(model, reference, photos)
        tested += 1
    assert tested >= 3  # resize 256 and 232, GoogLeNet's transform_input


def test_timm_checkpoints_follow_create_transform(photos):
    tested = 0
    for card, checkpoint in _checkpoints("timm"):
        cfg = timm.models.get_pretrained_cfg(checkpoint.source.split()[-1]).to_dict()
        for test_size in (False, True):
            if test_size and not checkpoint.test_input_size:
                continue
            config = timm.data.resolve_data_config(pretrained_cfg=cfg, use_test_size=test_size)
            size = checkpoint.test_input_size if test_size else checkpoint.input_size
            model = _shell(card.name, checkpoint.tag, size)
            _assert_transform(model, timm.data.create_transform(**config), photos)
            tested += 1
    assert tested >= 10  # every crop fraction, both interpolations, the test sizes


def test_pytorchcv_checkpoints_follow_imgclsmob_s_recipes(photos):
    """imgclsmob's ImageNet evaluation (``imagenet1k_cls_dataset.py``: Resize(ceil(size /
    0.875)), CenterCrop(size), bilinear, ImageNet mean/std) and its CIFAR one (ToTensor,
    Normalize on 32x32 images, so a larger photo is first brought to 32 as Resize(32),
    CenterCrop(32) would)."""
    tested = 0
    for card, checkpoint in _checkpoints("pytorchcv"):
        size = checkpoint.input_size
        resize = math.ceil(size / 0.875) if checkpoint.dataset == "imagenet-1k" else size
        reference = transforms.Compose([
            transforms.Resize(resize), transforms.CenterCrop(size), transforms.ToTensor(),
            transforms.Normalize(checkpoint.mean, checkpoint.std),
        ])
        _assert_transform(_shell(card.name, checkpoint.tag, size), reference, photos)
        tested += 1
    assert tested >= 2  # ImageNet (ZFNet) and CIFAR-10


def test_keras_twins_follow_load_img(photos):
    """keras.applications' own usage: ``load_img(path, target_size=...)`` (bilinear here), then
    the twin's ``preprocess_input``."""
    for name in ("resnet50", "inception_v3"):
        info = keras_arches.model_info(name)
        model = _shell(name, None, info.default_size)
        ours = data.load_images(photos, model)
        for path, image in zip(photos, ours):
            loaded = keras.utils.load_img(path, target_size=(info.default_size,) * 2,
                                          interpolation="bilinear")
            np.testing.assert_array_equal(image, keras.utils.img_to_array(loaded))


def test_an_image_at_the_input_size_keeps_its_pixels(tmp_path, capsys):
    """A 28-px MNIST digit through `predict lenet5 --weights mnist` is not zoomed and cropped:
    load_images returns its pixels, and the digits are read right."""
    from keras_arches import cli

    images, labels = data._embedded_arrays()
    test = data.embedded_split("test")[:10]
    x, y = images[test].reshape(10, 28, 28, 1), labels[test]
    paths = []
    for i in range(10):
        path = tmp_path / f"digit{i}.png"
        Image.fromarray(x[i, ..., 0].astype("uint8")).save(path)
        paths.append(str(path))
    model = keras_arches.LeNet5(weights="mnist")
    np.testing.assert_array_equal(data.load_images(paths, model), x[:10].astype("float32"))
    assert cli.main(["predict", "lenet5", *paths, "--weights", "mnist", "--top", "1"]) == 0
    printed = capsys.readouterr().out
    read = [int(label) for label in re.findall(r"1\. (\d) ", printed)]  # the digits' names
    assert len(read) == 10 and sum(a == b for a, b in zip(read, y[:10])) >= 9
