"""Weights files: by-name loading, and clear errors that leave the model intact."""

import h5py
import keras
import numpy as np
import pytest
from conftest import random_images, write_legacy_h5

import keras_arches
from keras_arches.weights import load_weights

SHAPE = (32, 32, 3)


@pytest.fixture
def vgg():
    return keras_arches.VGG16(weights=None, input_shape=SHAPE, classes=5)


def test_no_top_model_takes_a_full_file_by_name(vgg, tmp_path):
    vgg.save_weights(tmp_path / "full.weights.h5")
    write_legacy_h5(vgg, tmp_path / "full.h5")
    for path in ("full.weights.h5", "full.h5"):
        body = keras_arches.VGG16(
            weights=str(tmp_path / path), include_top=False, input_shape=SHAPE, pooling="avg"
        )
        for layer in body.layers:
            if layer.weights:
                for a, b in zip(layer.get_weights(), vgg.get_layer(layer.name).get_weights()):
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("family", ["VGG16", "ResNet50"])
def test_keras_reads_our_legacy_writer(family, tmp_path):
    """The test helper writes the layout keras' own legacy loader reads: for VGG, and for a
    model with batch norms (non-trainable moving statistics after the trainable weights, which
    a writer could misorder), the statistics randomised so that a swap shows."""
    ours = getattr(keras_arches, family)(weights=None, input_shape=SHAPE, classes=5)
    rng = np.random.default_rng(0)
    for variable in ours.non_trainable_weights:
        variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype("float32"))
    assert family == "VGG16" or ours.non_trainable_weights
    write_legacy_h5(ours, tmp_path / "w.h5")
    theirs = getattr(keras.applications, family)(weights=None, input_shape=SHAPE, classes=5)
    theirs.load_weights(tmp_path / "w.h5")
    x = random_images(SHAPE)
    np.testing.assert_array_equal(theirs(x), ours(x))
    for a, b in zip(theirs.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
def test_shape_mismatch_names_the_layer_and_loads_nothing(vgg, tmp_path, suffix):
    path = tmp_path / f"w{suffix}"
    vgg.save_weights(path) if suffix == ".weights.h5" else write_legacy_h5(vgg, path)
    other = keras_arches.VGG16(weights=None, input_shape=SHAPE, classes=6)
    before = [w.copy() for w in other.get_weights()]
    with pytest.raises(ValueError, match="'predictions'.*expects"):
        load_weights(other, path)
    for a, b in zip(other.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_wrong_model_file_is_refused(tmp_path):
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    write_legacy_h5(small, tmp_path / "small.h5")
    with pytest.raises(ValueError, match="no layer named block1_conv1"):
        keras_arches.VGG16(weights=str(tmp_path / "small.h5"), input_shape=SHAPE, classes=5)


@pytest.mark.parametrize(
    "content",
    [b"not a weights file", b"\x89HDF\r\n\x1a\n" + b"\0" * 64],
    ids=["garbage", "truncated"],
)
def test_corrupt_file_is_a_value_error(tmp_path, content):
    path = tmp_path / "corrupt.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a (readable weights file|weights file of a known "
                                         "kind)"):
        keras_arches.VGG16(weights=str(path), input_shape=SHAPE, classes=5)


def test_hdf5_without_keras_weights(tmp_path):
    with h5py.File(tmp_path / "empty.h5", "w") as handle:
        handle.create_dataset("x", data=[1, 2])
    with pytest.raises(ValueError, match="holds no Keras weights"):
        keras_arches.VGG16(weights=str(tmp_path / "empty.h5"), input_shape=SHAPE, classes=5)


def test_weights_of_wrong_type():
    with pytest.raises(ValueError, match="`weights` must be None"):
        keras_arches.VGG16(weights=3)
