"""The registry's public face."""

import pytest

import keras_arches


def test_list_and_get():
    names = keras_arches.list_models()
    assert {"vgg16", "vgg19"} <= set(names)
    assert len(names) == len(set(names))
    assert keras_arches.list_models(family="vgg") == [
        "vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19"]
    assert "vgg16" in keras_arches.list_models(weights="imagenet")
    model = keras_arches.get_model(
        "VGG16", weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    assert model.name == "vgg16"
    info = keras_arches.model_info("vgg19")
    assert info.builder is keras_arches.VGG19 and info.twin == "keras.applications.VGG19"
    assert info.params == 143_667_240 and info.default_shape == (224, 224, 3)


def test_list_models_filters_as_timm_s():
    names = keras_arches.list_models()
    assert keras_arches.list_models("resnet*") == [n for n in names if n.startswith("resnet")]
    assert keras_arches.list_models("RESNET1?") == ["resnet18"]
    # PRETRAINED.md: no public checkpoint is known for LeNet-5, Inception v2 or FractalNet; none
    # for VGG's A-LRN and C either (torchvision publishes A, B, D and E).
    unpublished = ["fractalnet", "inception_v2", "lenet5", "vgg11_lrn", "vgg16_c"]
    assert sorted(keras_arches.list_models(pretrained=False)) == unpublished
    assert set(keras_arches.list_models(pretrained=True)) == set(names) - set(unpublished)
    # He et al.'s Table 6 rows with akamaster's files, pytorchcv's WRN, NiN and DenseNet-BC.
    assert keras_arches.list_models(dataset="cifar-10") == [
        "densenet_bc", "nin", "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
        "wide_resnet"]
    assert keras_arches.list_models("*net*", dataset="cifar-10", family="densenet") == [
        "densenet_bc"]
    assert "vgg16" in keras_arches.list_models(dataset="imagenet-1k")
    with pytest.raises(ValueError, match="Known datasets: .*cifar-10"):
        keras_arches.list_models(dataset="cifar10")
    with pytest.raises(ValueError, match="`pretrained` must be None, True or False"):
        keras_arches.list_models(pretrained="yes")


def test_unknown_names_list_the_alternatives():
    with pytest.raises(ValueError, match="Known models: .*vgg16"):
        keras_arches.get_model("vgg17")
    with pytest.raises(ValueError, match="Known families"):
        keras_arches.list_models(family="transformers")


def test_every_builder_is_exported():
    for name in keras_arches.list_models():
        builder = keras_arches.model_info(name).builder
        assert getattr(keras_arches, builder.__name__) is builder
        assert builder.__name__ in keras_arches.__all__


def test_strip_auxiliary_shares_weights():
    import keras
    import numpy as np

    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    main = keras.layers.Dense(3, name="predictions")(hidden)
    aux = keras.layers.Dense(3, name="aux1")(hidden)
    trained = keras.Model(inputs, [main, aux])
    inference = keras_arches.strip_auxiliary(trained)
    assert len(inference.outputs) == 1
    assert inference.get_layer("hidden") is trained.get_layer("hidden")
    x = np.ones((2, 8), "float32")
    np.testing.assert_array_equal(inference(x), trained(x)[0])
    assert keras_arches.strip_auxiliary(inference) is inference


def test_the_readme_model_table_is_the_cards():
    """README.md's model table is written by tools/model_table.py from the cards: one row per
    registered model, and no hand edit survives."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "tools" / "model_table.py"
    spec = importlib.util.spec_from_file_location("model_table", path)
    model_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_table)
    text = model_table.README.read_text()
    assert model_table.with_table(text) == text, "run python tools/model_table.py"
    rows = model_table.model_table().splitlines()[2:]
    assert [row.split("`")[3] for row in rows] == keras_arches.list_models()
    assert "| `ResNet20` | `resnet20` | resnet | 32 / 32 | 271,098 (10 classes) |" in text
