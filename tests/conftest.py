"""Shared fixtures: quiet TensorFlow, a clean Keras state around every test."""

import os
import sys

# TensorFlow and Triton (which torch._dynamo imports with torchvision or timm) each bundle LLVM:
# Triton loaded after TensorFlow crashes the process (a segfault at collection). The CPU tests
# need no Triton, so Python is told it is absent.
sys.modules.setdefault("triton", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# On a GPU the tests and the processes they start share its memory: each grows its own
# instead of reserving all of it (TensorFlow's default).
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
# Keras compiles train and predict steps with XLA on TensorFlow and JAX. The tests compare
# numbers, never speed, so XLA's LLVM back end is told not to optimise: compiling a
# DenseNet-121 train step on 2 CPU cores then takes 17 s instead of 26 s (JAX), 15 s instead
# of 25 s (TensorFlow); skipping LLVM's expensive passes too took DenseNet-121's JAX backend
# test from 57 s to 52 s and from 56 s to 45 s in two runs. Benchmarks do not go through this
# file.
# Under xdist each worker's thread pools get its share of the cores (TensorFlow's, XLA's and
# torch's default to all of them, so n workers oversubscribe the cores n times). Variables set
# by the caller win; subprocesses the tests start inherit the same settings.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_THREADS = max(1, (os.cpu_count() or 1) // _WORKERS)
_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if os.environ["KERAS_BACKEND"] == "jax":
    # XLA's newer CPU fusion emitters cost compile time the tests do not need: DenseNet-121's
    # train step compiled in 15 s instead of 28 s on one core (TensorFlow's XLA, which the
    # TensorFlow run does not use on CPU, is not given the flag).
    _XLA_FLAGS += " --xla_cpu_use_fusion_emitters=false"
if _WORKERS > 1:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_THREADS))
    os.environ.setdefault("OMP_NUM_THREADS", str(_THREADS))
    if _THREADS == 1:
        _XLA_FLAGS += " --xla_cpu_multi_thread_eigen=false"
os.environ.setdefault("XLA_FLAGS", _XLA_FLAGS)

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

# CI sets this: a parity or keras-hub test whose reference package fails to import is then an
# error, not a skip, so that those tests cannot vanish silently from a green run.
REQUIRE_REFERENCES = os.environ.get("KERAS_ARCHES_REQUIRE_REFERENCES") == "1"


# The prelude of a test subprocess where `import torch` (and the packages built on it) fails, as
# where torch is not installed.
BLOCK_TORCH = """
import sys


class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm", "pytorchcv"):
            raise ImportError(f"{name} is blocked")


sys.meta_path.insert(0, BlockTorch())
"""


def parity_import(name):
    """``import name`` for a test's reference package (torch, torchvision, timm, pytorchcv,
    keras-hub): a skip where the extra is not installed, an error under
    ``KERAS_ARCHES_REQUIRE_REFERENCES=1`` (CI)."""
    if REQUIRE_REFERENCES:
        import importlib

        return importlib.import_module(name)
    return pytest.importorskip(name, reason=f"needs {name} (the parity extra)")


@pytest.fixture(autouse=True)
def fresh_module_generator(request, monkeypatch):
    """A test module's ``RNG`` restarts at seed 0 for each test: a test draws the same numbers
    whichever tests ran before it on its xdist worker."""
    if hasattr(request.module, "RNG"):
        monkeypatch.setattr(request.module, "RNG", np.random.default_rng(0))


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


def keras_accuracy(model, dataset):
    """Top-1 accuracy of ``model`` on ``(x, y)`` batches (one-hot or integer labels) by Keras'
    own ``CategoricalAccuracy``: the outside figure a reported accuracy must equal."""
    metric = keras.metrics.CategoricalAccuracy()
    for x, y in dataset:
        outputs = keras.ops.convert_to_numpy(model(np.asarray(x), training=False))
        y = np.asarray(y)
        if y.ndim == 1:
            y = np.eye(outputs.shape[-1], dtype="float32")[y]
        metric.update_state(y, outputs)
    return float(metric.result())


def assert_same_weights(model, reference):
    """Every weight of ``model`` equals ``reference``'s at the same path, exactly."""
    ours = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    theirs = {w.path: keras.ops.convert_to_numpy(w) for w in reference.weights}
    assert sorted(ours) == sorted(theirs)
    for path, value in theirs.items():
        np.testing.assert_array_equal(ours[path], value, err_msg=path)


# The classes of photo_folder, in the order written; Keras orders classes by name.
FOLDERS = ("dog", "cat", "bird")


def photo_folder(root, per_class=8, size=(40, 48)):
    """An image folder in Keras' layout, ``root/<class>/<k>.jpg``: JPEGs of noise whose dominant
    colour is the class's (red dogs, green cats, blue birds: learnable)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for channel, name in enumerate(FOLDERS):
        os.makedirs(os.path.join(root, name))
        for k in range(per_class):
            image = rng.integers(0, 90, (*size, 3))
            image[..., channel] += 150
            Image.fromarray(image.astype("uint8")).save(os.path.join(root, name, f"{k}.jpg"))
    return str(root)


def random_images(shape, batch=2, seed=0):
    """A batch of images in [0, 255) in the current data format."""
    return np.random.default_rng(seed).uniform(0, 255, (batch, *shape)).astype("float32")


def write_legacy_h5(model, path):
    """Writes ``model``'s weights in the HDF5 layout of the files keras.applications publishes
    (Keras' legacy ``.h5`` weights format, the one its ``model.load_weights`` still reads).

    The root lists the layers in a ``layer_names`` attribute, with ``backend`` and
    ``keras_version`` attributes; each layer has a group whose ``weight_names`` attribute lists
    its datasets in the legacy order, trainable weights first, each stored at the variable's path.
    """
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [layer.name.encode("utf8") for layer in model.layers]
        handle.attrs["backend"] = keras.backend.backend().encode("utf8")
        handle.attrs["keras_version"] = keras.__version__.encode("utf8")
        for layer in sorted(model.layers, key=lambda layer: layer.name):
            group = handle.create_group(layer.name)
            weights = layer.trainable_weights + layer.non_trainable_weights
            names = [weight.path.encode("utf8") for weight in weights]
            group.attrs["weight_names"] = names
            for name, weight in zip(names, weights):
                group.create_dataset(name, data=keras.ops.convert_to_numpy(weight))
    return path
