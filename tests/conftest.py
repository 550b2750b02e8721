"""Shared fixtures: quiet TensorFlow, a clean Keras state around every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# On a GPU the tests and the processes they start share its memory: each grows its own
# instead of reserving all of it (TensorFlow's default).
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def clean_keras_state():
    """Each test starts in float32, channels_last, with a fresh graph."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_image_data_format("channels_last")
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format("channels_last")


def random_images(shape, batch=2, seed=0):
    """A batch of images in [0, 255) in the current data format."""
    return np.random.default_rng(seed).uniform(0, 255, (batch, *shape)).astype("float32")


def write_legacy_h5(model, path):
    """Writes ``model``'s weights in the HDF5 layout keras.applications publishes."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path
