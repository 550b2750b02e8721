"""Predicting and converting from the command line, the ImageNet class index and the catalog,
against torchvision, timm and tensorflow-datasets."""

import os
import re
import sys

import numpy as np
import pytest
import tensorflow as tf

sys.modules.setdefault("triton", None)  # see test_pretrained_parity
from conftest import parity_import  # noqa: E402

torch = parity_import("torch")
torchvision = parity_import("torchvision")
parity_import("timm")

from test_pretrained_parity import (  # noqa: E402
    _images,
    _keras,
    _randomise,
    _reference,
    _relative_error,
    _save,
)

import keras_arches  # noqa: E402
from keras_arches import cli, data, registry  # noqa: E402

pytestmark = pytest.mark.parity
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_class_index_is_tfds_order_with_wordnet_names():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import make_imagenet_classes
    finally:
        sys.path.pop(0)
    # The shipped file is what the documented command makes from tfds and timm today.
    rebuilt = make_imagenet_classes.class_index()
    assert data.imagenet_classes() == [tuple(rebuilt[str(i)]) for i in range(1000)]
    assert [wnid for wnid, _ in data.imagenet_classes()] == make_imagenet_classes.wordnet_ids()
    # torchvision's own names: the same words, except where it disambiguates a duplicate
    # ("crane bird" for the second "crane").
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    for (_, name), category in zip(data.imagenet_classes(), categories):
        assert category.lower().startswith(name.replace("_", " ").lower()), (name, category)


def test_decode_predictions_ranks_as_argsort():
    preds = np.random.default_rng(0).dirichlet(np.ones(1000), size=3)
    decoded = keras_arches.decode_predictions(preds, top=4)
    for row, best in zip(preds, decoded):
        order = np.argsort(-row)[:4]
        assert [entry[0] for entry in best] == [data.imagenet_classes()[i][0] for i in order]
        np.testing.assert_allclose([entry[2] for entry in best], row[order])
    with pytest.raises(ValueError, match=r"\(batch, 1000\)"):
        keras_arches.decode_predictions(preds[:, :10])
    with pytest.raises(ValueError, match="top"):
        keras_arches.decode_predictions(preds, top=0)


def _torchvision_weights():
    """Every torchvision ImageNet weights enum value of the architectures on our cards."""
    for name in torchvision.models.list_models(module=torchvision.models):
        for value in torchvision.models.get_model_weights(name):
            yield value


def test_torchvision_checkpoints_match_torchvision_s_own_catalog():
    published = {value.url: value for value in _torchvision_weights()}
    seen = 0
    for card in registry.cards():
        for checkpoint in card.checkpoints:
            if not checkpoint.source.startswith("torchvision"):
                continue
            value = published[checkpoint.url]  # the URL is torchvision's own
            assert checkpoint.top1 == value.meta["_metrics"]["ImageNet-1K"]["acc@1"]
            crop, resize = (value.transforms.keywords.get(k, d)
                            for k, d in (("crop_size", 224), ("resize_size", 256)))
            assert (checkpoint.input_size, checkpoint.resize_size) == (crop, resize)
            assert checkpoint.interpolation == "bilinear"
            seen += 1
    assert seen >= 19  # every torchvision checkpoint on the cards (19 before the variants)


def _write_images(tmp_path, count=2):
    rng = np.random.default_rng(3)
    paths = []
    for i in range(count):
        # Smooth colour blobs, larger than the input and not square, so resize and crop act.
        small = rng.uniform(0, 255, size=(6, 9, 3)).astype("float32")
        image = tf.image.resize(small, (90, 135), method="bicubic")
        path = tmp_path / f"image{i}.png"
        tf.io.write_file(str(path), tf.io.encode_png(tf.cast(tf.clip_by_value(image, 0, 255),
                                                             "uint8")))
        paths.append(str(path))
    return paths


def test_predict_prints_torchvision_s_top_classes(tmp_path, capsys):
    torch.manual_seed(0)
    source = _randomise(torchvision.models.resnet18(weights=None), (64, 64))
    weights = str(_save(source, tmp_path)[0])
    images = _write_images(tmp_path)
    assert cli.main(["predict", "resnet18", *images, "--weights", weights, "--top", "3"]) == 0
    printed = capsys.readouterr().out
    # The source model on the same preprocessed pixels (resize, centre crop, mean/std).
    model = keras_arches.ResNet18(weights=None)
    x = data.preprocess_input(data.load_images(images, model), "resnet18.tv_in1k")
    assert x.shape == (2, 224, 224, 3)
    with torch.no_grad():
        expected = torch.softmax(source(torch.from_numpy(x.transpose(0, 3, 1, 2))), -1).numpy()
    blocks = printed.split(images[1])
    for block, row in zip(blocks, expected):
        found = re.findall(r"\d\. (\S+)\s+([\d.]+)%\s+\((n\d+)\)", block)
        best = np.argsort(-row)[:3]
        assert [wnid for _, _, wnid in found] == [data.imagenet_classes()[i][0] for i in best]
        np.testing.assert_allclose([float(p) / 100 for _, p, _ in found], row[best], atol=6e-5)


def _assert_computes_the_source(model, weights_file, source, size):
    model.load_weights(weights_file)
    images = _images(size)
    assert _relative_error(_keras(model, images), _reference(source, images)) <= 1e-4


def test_convert_writes_a_keras_weights_file(tmp_path, capsys):
    torch.manual_seed(0)
    source = _randomise(torchvision.models.squeezenet1_1(weights=None), (64, 64))
    state_dict = str(_save(source, tmp_path)[1])  # the .pth
    output = str(tmp_path / "squeezenet.weights.h5")
    assert cli.main(["convert", "squeezenet1_1", state_dict, "-o", output]) == 0
    assert "1,235,496 parameters" in capsys.readouterr().out
    model = keras_arches.SqueezeNet1_1(weights=None, input_shape=(64, 64, 3),
                                       classifier_activation=None)
    _assert_computes_the_source(model, output, source, (64, 64))


def test_convert_builds_the_layout_a_tag_names(tmp_path, capsys):
    """resnet110.cifar10 is in pytorchcv's layout, chosen by ResNet110's `shortcut` argument."""
    pytorchcv = parity_import("pytorchcv.model_provider")
    torch.manual_seed(0)
    source = _randomise(pytorchcv.get_model("resnet110_cifar10", pretrained=False), (32, 32))
    output = str(tmp_path / "resnet110.weights.h5")
    assert cli.main(["convert", "resnet110.cifar10", str(_save(source, tmp_path)[0]),
                     "-o", output]) == 0
    card = keras_arches.model_info("resnet110.cifar10")
    assert f"{card.params:,d} parameters" in capsys.readouterr().out
    model = keras_arches.ResNet110(weights=None, shortcut=card.variant,
                                   classifier_activation=None)
    _assert_computes_the_source(model, output, source, (32, 32))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["convert", "squeezenet1_1", "missing.pth", "-o", "x.weights.h5"], "No state dict"),
        (["convert", "squeezenet1_1", __file__, "-o", "x.h5"], "must end in .weights.h5"),
        (["predict", "resnet18.tv_in1k", "x.png", "--weights", "a1_in1k"], "Pass one of them"),
        (["predict", "resnet18", "missing.png", "--weights", "nope"], "nope"),
    ],
)
def test_bad_arguments_are_clear_errors(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_list_shows_each_checkpoint_with_the_source_top1(capsys):
    assert cli.main(["list", "--family", "squeezenet", "--checkpoints"]) == 0
    out = capsys.readouterr().out
    for card in registry.cards():
        if card.family == "squeezenet":
            for checkpoint in card.checkpoints:
                assert f"{checkpoint.top1:6.2f} %" in out and checkpoint.licence in out
    # A CIFAR checkpoint is no ImageNet default; a variant's default ImageNet checkpoint is.
    assert cli.main(["list", "--family", "wide_resnet", "--checkpoints"]) == 0
    assert "cifar10 = imagenet" not in capsys.readouterr().out
    assert cli.main(["list", "--family", "alexnet", "--checkpoints"]) == 0
    assert re.search(r"tv_in1k = imagenet .*variant=torchvision", capsys.readouterr().out)


def test_timm_checkpoints_match_timm_s_pretrained_cfgs():
    import timm

    seen = 0
    for card in registry.cards():
        for checkpoint in card.checkpoints:
            if not checkpoint.source.startswith("timm"):
                continue
            name = checkpoint.source.split()[-1]
            cfg = timm.models.get_pretrained_cfg(name).to_dict()
            hub_id = cfg.get("hf_hub_id")  # our URL: its model.safetensors, else timm's file
            assert checkpoint.url == (
                f"https://huggingface.co/{hub_id}/resolve/main/model.safetensors" if hub_id
                else cfg["url"]), name
            assert (checkpoint.input_size, checkpoint.crop_pct, checkpoint.interpolation) == (
                cfg["input_size"][-1], cfg["crop_pct"], cfg["interpolation"]), name
            test_size = cfg.get("test_input_size")
            assert (checkpoint.test_input_size, checkpoint.test_crop_pct) == (
                test_size and test_size[-1], test_size and cfg.get("test_crop_pct")), name
            assert checkpoint.resize_size is None, name  # timm: floor(input_size / crop_pct)
            np.testing.assert_allclose(checkpoint.mean + checkpoint.std,
                                       tuple(cfg["mean"]) + tuple(cfg["std"]), err_msg=name)
            assert checkpoint.classes == cfg["num_classes"], name
            seen += 1
    assert seen >= 37  # every timm checkpoint on the cards (37 before the variants)
