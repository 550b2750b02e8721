"""The registry's public face."""

import pytest

import keras_arches


def test_list_and_get():
    names = keras_arches.list_models()
    assert {"vgg16", "vgg19"} <= set(names)
    assert len(names) == len(set(names))
    assert keras_arches.list_models(family="vgg") == ["vgg16", "vgg19"]
    assert "vgg16" in keras_arches.list_models(weights="imagenet")
    model = keras_arches.get_model(
        "VGG16", weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    assert model.name == "vgg16"
    info = keras_arches.model_info("vgg19")
    assert info.builder is keras_arches.VGG19 and info.twin == "keras.applications.VGG19"
    assert info.params == 143_667_240 and info.default_shape == (224, 224, 3)


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
