"""Twins of keras.applications: same graph, same outputs, keras' weight files.

For every registered model whose twin is a keras.applications builder, the
keras model (weights=None) is the outside truth: its weights copied into ours
must give its outputs, and the HDF5 files keras publishes for it (written here
from the keras model, in the same legacy layout) must load through
``weights="imagenet"``'s real download path.
"""

import keras
import numpy as np
import pytest
from conftest import random_images, write_legacy_h5

import keras_arches
from keras_arches.registry import model_info

PREFIX = "keras.applications."
TWINS = [n for n in keras_arches.list_models() if model_info(n).twin.startswith(PREFIX)]


def keras_twin(info, **kwargs):
    return getattr(keras.applications, info.twin[len(PREFIX):])(weights=None, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", TWINS)
def test_twin_parity_after_weight_copy(name):
    info = model_info(name)
    theirs = keras_twin(info, classifier_activation=None)
    ours = info.builder(weights=None, classifier_activation=None)
    assert ours.count_params() == theirs.count_params()
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    _randomise_batch_norms(theirs)
    ours.set_weights(theirs.get_weights())
    x = random_images(info.default_shape, batch=2)
    expected = keras.ops.convert_to_numpy(theirs(x))
    error = np.abs(keras.ops.convert_to_numpy(ours(x)) - expected).max() / np.abs(expected).max()
    assert error <= 1e-5, error


def _randomise_batch_norms(model, seed=0):
    """Random gamma, beta and moving statistics in every batch norm (Keras initialises them to
    1, 0, 0 and 1, which would let a twin that mixes them up pass)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
            if layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
            if layer.beta is not None:
                layer.beta.assign(rng.uniform(-0.5, 0.5, n).astype("float32"))


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in TWINS if "imagenet" in model_info(n).weights])
def test_imagenet_files_load_through_download_path(name, tmp_path, monkeypatch):
    info = model_info(name)
    files = info.weights["imagenet"]
    # keras' own model writes each file (its reader reads this layout: tests/test_weights.py)
    # and is the truth that the file loaded through the download path must reproduce.
    twins = {True: keras_twin(info), False: keras_twin(info, include_top=False)}
    published = {
        files.url: (files.file_hash, write_legacy_h5(twins[True], tmp_path / "top.h5")),
        files.notop_url: (files.notop_hash, write_legacy_h5(twins[False], tmp_path / "notop.h5")),
    }
    requested = []

    def fake_get_file(fname, origin, cache_subdir, file_hash):
        requested.append(origin)
        assert fname == origin.rsplit("/", 1)[-1] and cache_subdir == "models"
        assert file_hash == published[origin][0]
        return str(published[origin][1])

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    x = random_images(info.default_shape, batch=1)
    for include_top in (True, False):
        ours = info.builder(weights="imagenet", include_top=include_top)
        np.testing.assert_allclose(ours(x), twins[include_top](x), rtol=1e-5, atol=1e-6)
    assert requested == [files.url, files.notop_url]
