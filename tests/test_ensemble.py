"""keras_arches.ensemble: probability averaging over a shared input."""

import keras
import numpy as np
import pytest
from conftest import random_images

import keras_arches
from keras_arches.layers import AuxiliaryClassifier

L = keras.layers
SHAPE = (32, 32, 3)


def _vgg(name, **kwargs):
    return keras_arches.VGG16(weights=None, input_shape=SHAPE, classes=7, name=name, **kwargs)


def _with_aux_head(name, classes=7):
    x = keras.Input(SHAPE)
    y = L.Conv2D(8, 3, padding="same", activation="relu", name="conv")(x)
    pooled = L.GlobalAveragePooling2D(name="gap")(y)
    main = L.Dense(classes, activation="softmax", name="predictions")(pooled)
    aux = AuxiliaryClassifier(classes, pool_size=5, pool_strides=3, name="aux")(y)
    return keras.Model(x, [main, aux], name=name)


def test_average_of_the_members_probabilities(tmp_path):
    members = [_vgg("vgg_a"), _vgg("vgg_b"), _with_aux_head("small")]
    model = keras_arches.ensemble(members, name="trio")
    assert model.name == "trio" and len(model.outputs) == 1
    images = random_images(SHAPE, batch=3)
    expected = np.mean(
        [members[0].predict(images, verbose=0), members[1].predict(images, verbose=0),
         members[2].predict(images, verbose=0)[0]],
        axis=0,
    )
    outputs = model.predict(images, verbose=0)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, rtol=1e-5)
    assert [layer.name for layer in model.layers[1:]] == ["vgg_a", "vgg_b", "small", "trio_average"]
    # Weights are the members' own: nothing copied.
    assert model.get_layer("vgg_a").get_layer("fc1").kernel is members[0].get_layer("fc1").kernel

    path = tmp_path / "ensemble.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)  # safe_mode=True
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), outputs, rtol=1e-6, atol=1e-6)


def test_exports_as_a_saved_model(tmp_path):
    tf = pytest.importorskip("tensorflow")
    model = keras_arches.ensemble([_with_aux_head("a"), _with_aux_head("b")])
    images = random_images(SHAPE, batch=2)
    model.export(str(tmp_path / "exported"), format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "exported"))
    np.testing.assert_allclose(
        served.serve(images).numpy(), model.predict(images, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_profile_of_an_ensemble_is_the_sum_of_its_members():
    members = [_with_aux_head("a"), _with_aux_head("b")]
    model = keras_arches.ensemble(members)
    total = keras_arches.profile(model)
    singles = [keras_arches.profile(keras_arches.strip_auxiliary(m)) for m in members]
    assert total.macs == sum(p.macs for p in singles)
    assert total.params == model.count_params() == sum(p.params for p in singles)


@pytest.mark.parametrize(
    "members, message",
    [
        (lambda: [_with_aux_head("a")], "at least two models"),
        (lambda: "vgg16", "at least two models"),
        (lambda: [_with_aux_head("a"), "b"], "member 1 is not a keras.Model"),
        (
            lambda: [_with_aux_head("a"), keras_arches.VGG16(weights=None, input_shape=(48, 48, 3),
                                                            classes=7, name="b")],
            r"share the input shape.*a: \(32, 32, 3\), b: \(48, 48, 3\)",
        ),
        (lambda: [_with_aux_head("a", classes=7), _with_aux_head("b", classes=5)],
         r"same number of classes.*a: \(7,\), b: \(5,\)"),
        (lambda: [_with_aux_head("a"), _with_aux_head("a")], "distinct names"),
        (lambda: [_vgg("a"), _vgg("b", classifier_activation=None)], "'linear' activation"),
    ],
)
def test_bad_members(members, message):
    with pytest.raises(ValueError, match=message):
        keras_arches.ensemble(members())
