"""Checking artefacts against the Keras model: the samples, the comparisons and the bounds.

The Keras reference runs on the CPU, where the mobile files run: a GPU may compute float32
matrix products in TensorFloat-32 (TensorFlow's default on Ampere and later GPUs), whose
rounding alone exceeds the float32 bound.
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_arches import data
from keras_arches.exporting.litert import TFLiteRunner
from keras_arches.exporting.onnx import OnnxRunner
from keras_arches.exporting.prepare import check_model
from keras_arches.exporting.saved_model import SavedModelRunner

# float32 artefacts must reproduce Keras to 1e-4, relative to the output scale when the
# outputs are larger than 1 (logits): float32 rounding grows with the magnitude.
FLOAT32_TOLERANCE = 1e-4
# float16 weights may flip near-ties but no more than 1% of the top-1 predictions.
FLOAT16_MIN_AGREEMENT = 0.99
# A quantized model evaluated on labelled data may lose at most one accuracy point.
MAX_ACCURACY_DROP = 0.01

_FLOAT32_FORMATS = ("saved_model", "tflite_float32", "onnx")


# -- samples --------------------------------------------------------------------------------


def collect_samples(data, input_shape, limit, what="data", labels=False):
    """Up to ``limit`` float32 samples of ``input_shape`` from any kind of dataset.

    Elements may be single samples ``input_shape``, batches ``(n, *input_shape)``, ``(x, y)``
    pairs (the labels are returned when ``labels=True``) or ``[x]`` lists (the TFLite
    representative-dataset convention). Returns ``x`` or ``(x, y)`` as numpy arrays.
    """
    input_shape = tuple(input_shape)
    xs, ys, count = [], [], 0
    for element in _iterate(data):
        if labels:
            if not (isinstance(element, (tuple, list)) and len(element) >= 2):
                raise ValueError(
                    f"{what} must yield (inputs, labels) pairs. Received an element of type "
                    f"{type(element).__name__}"
                )
            x, y = np.asarray(element[0]), np.asarray(element[1])
        else:
            x, y = np.asarray(_first_array(element)), None
        if x.shape == input_shape:
            x = x[None]
            y = None if y is None else y.reshape(1, *y.shape)
        elif x.shape[1:] != input_shape:
            raise ValueError(
                f"{what} yields arrays of shape {x.shape}, but the model takes samples of shape "
                f"{input_shape} (or batches of shape (n, {', '.join(map(str, input_shape))}))."
            )
        take = min(len(x), limit - count)
        xs.append(x[:take].astype("float32"))
        if y is not None:
            ys.append(y[:take])
        count += take
        if count >= limit:
            break
    if not count:
        raise ValueError(f"{what} yielded no samples.")
    x = np.concatenate(xs)
    if not labels:
        return x
    y = np.concatenate(ys)
    # One-hot or probability labels: the class is the argmax.
    y = y.argmax(-1) if y.ndim == 2 and y.shape[-1] > 1 else y.reshape(len(y))
    return x, y.astype("int64")


def folder_images(folder, model, limit):
    """Up to ``limit`` images under ``folder`` (found recursively, in sorted order), as
    :func:`keras_arches.data.load_images` sizes them for ``model``: float32 in [0, 255]."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise ValueError(
            f"No folder {folder!r} of calibration images (--calibration-data FOLDER, "
            "representative_data= in Python): give a folder of images, or in Python a "
            "tf.data.Dataset, an array or a generator of input batches."
        )
    paths = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.lower().endswith(data.IMAGE_EXTENSIONS)
    )[:limit]
    if not paths:
        raise ValueError(
            f"The folder {folder!r} holds no images (searched recursively for "
            f"{', '.join(data.IMAGE_EXTENSIONS)} files). Add images like those the app will see."
        )
    if getattr(model, "arch", None) is None:
        raise ValueError(
            f"Cannot size the images of {folder!r} for {model.name!r}: it was not built by a "
            "keras_arches builder, so no card says how its source resizes and crops images. "
            "Pass representative_data as an array of inputs of the model's shape."
        )
    return data.load_images(paths, model)


def synthetic_images(input_shape, count, seed=0):
    """Random images in [0, 255), the raw-pixel range keras.applications models take."""
    return np.random.default_rng(seed).uniform(0, 255, (count, *input_shape)).astype("float32")


def named_dataset(spec, labels=False):
    """A dataset named on the command line: ``embedded_mnist``, or a ``.npy``/``.npz`` file.

    ``embedded_mnist`` is the test split of :func:`keras_arches.data.embedded_mnist`. A ``.npy``
    file holds input samples; a ``.npz`` file holds ``x`` (and ``y`` for labelled data).
    """
    if spec == "embedded_mnist":
        dataset = data.embedded_mnist(split="test")
        return dataset if labels else dataset.map(_inputs)
    if spec.endswith((".npy", ".npz")):
        if not os.path.isfile(spec):
            raise ValueError(f"No dataset file {spec!r}.")
        arrays = np.load(spec)
        if spec.endswith(".npy"):
            if labels:
                raise ValueError(
                    f"Labelled data needs a .npz file with x and y. Received: {spec!r}"
                )
            return arrays
        missing = {"x", "y"} - set(arrays.files) if labels else {"x"} - set(arrays.files)
        if missing:
            raise ValueError(
                f"{spec!r} lacks the arrays {sorted(missing)}; it has {arrays.files}."
            )
        return (arrays["x"], arrays["y"]) if labels else arrays["x"]
    raise ValueError(
        f"Unknown dataset {spec!r}. Use 'embedded_mnist', a .npy file of inputs or a .npz file "
        "with arrays x (and y)."
    )


@tf.autograph.experimental.do_not_convert
def _inputs(x, y):
    return x


def _first_array(element):
    """The input part of a dataset element: x of (x, y), the single input of [x] or {k: x}."""
    if isinstance(element, dict):
        if len(element) != 1:
            raise ValueError(
                "Dataset elements that are dicts must hold exactly one input. Received keys: "
                f"{sorted(element)}"
            )
        return next(iter(element.values()))
    if isinstance(element, (tuple, list)) and element and not np.isscalar(element[0]):
        return element[0]
    return element


def _iterate(data):
    if isinstance(data, tf.data.Dataset):
        return data.as_numpy_iterator()
    if isinstance(data, (np.ndarray, tf.Tensor)):
        return iter([np.asarray(data)])
    if callable(data):
        return iter(data())
    try:
        return iter(data)
    except TypeError:
        raise ValueError(
            "Data must be a tf.data.Dataset, an array of samples, an iterable or generator of "
            f"input batches, or a callable returning one. Received: {type(data).__name__}"
        ) from None


# -- running and comparing ------------------------------------------------------------------


def runner(format, path, num_threads=None):
    """A callable running the artefact at ``path`` on numpy batches, with ``runtime``/``ops``."""
    if format == "saved_model":
        return SavedModelRunner(path)
    if format == "onnx":
        return OnnxRunner(path, num_threads=num_threads)
    return TFLiteRunner(path, num_threads=num_threads)


def keras_runner(model, batch_size=32):
    """A callable running ``model`` on numpy inputs on the CPU, ``batch_size`` at a time."""
    call = tf.function(lambda batch: model(batch, training=False))

    def run(x):
        with tf.device("/CPU:0"):
            return np.concatenate([
                np.asarray(call(x[i : i + batch_size])) for i in range(0, len(x), batch_size)
            ])

    return run


def latency_ms(run, sample, runs):
    """The mean time of ``run(sample)`` over ``runs`` calls, after one warm-up call."""
    run(sample)  # warm-up: allocation, delegate preparation, tracing
    start = time.perf_counter()
    for _ in range(runs):
        run(sample)
    return 1000.0 * (time.perf_counter() - start) / runs


def top1_accuracy(run, labelled):
    """The fraction of ``labelled = (x, y)`` whose top-1 prediction by ``run`` is ``y``."""
    x, y = labelled
    return float(np.mean(_top1(run(x)) == y))


def compare(result, format, reference, outputs, accuracy_reference):
    """Fills ``result``'s figures from ``outputs`` against the Keras ``reference``, and
    flags it when the format's bound (or the accuracy drop) is exceeded."""
    diff = np.abs(outputs.astype("float64") - reference.astype("float64"))
    result.max_abs_diff = float(diff.max())
    result.max_abs_reference = float(np.abs(reference).max())
    result.top1_agreement = float(np.mean(_top1(outputs) == _top1(reference)))
    if format in _FLOAT32_FORMATS:
        bound = FLOAT32_TOLERANCE * max(1.0, result.max_abs_reference)
        if not result.max_abs_diff <= bound:
            result.problems.append(f"max|delta| {result.max_abs_diff:.3g} > {bound:.3g}")
    if format == "tflite_float16" and result.top1_agreement < FLOAT16_MIN_AGREEMENT:
        result.problems.append(
            f"top-1 agreement {result.top1_agreement:.2%} < {FLOAT16_MIN_AGREEMENT:.0%}"
        )
    if result.accuracy is not None and accuracy_reference is not None:
        if accuracy_reference - result.accuracy > MAX_ACCURACY_DROP:
            result.problems.append(
                f"accuracy {result.accuracy:.2%} is more than {MAX_ACCURACY_DROP:.0%} below "
                f"float {accuracy_reference:.2%}"
            )
    result.passed = not result.problems


def _top1(outputs):
    return outputs.reshape(len(outputs), -1).argmax(-1)


def accuracy(model_or_path, labelled_data, max_samples=None, num_threads=None):
    """Top-1 accuracy of a Keras model, a SavedModel folder, a ``.tflite`` or ``.onnx`` file.

    ``labelled_data`` yields ``(inputs, labels)`` pairs (batches or single samples; integer or
    one-hot labels), e.g. a ``tf.data.Dataset`` of ``(x, y)`` batches. Use it to check that a
    quantized export of a trained model stays within a point of the float model's accuracy.
    """
    limit = np.inf if max_samples is None else max_samples
    if isinstance(model_or_path, keras.Model):
        shape = check_model(model_or_path)
        run = keras_runner(model_or_path)
    else:
        path = os.fspath(model_or_path)
        if not os.path.exists(path):
            raise ValueError(
                f"No model at {path!r}: give a keras.Model, a SavedModel folder, a .tflite or "
                "an .onnx file."
            )
        if os.path.isdir(path):
            format = "saved_model"
        else:
            format = "onnx" if path.endswith(".onnx") else "tflite"
        run = runner(format, path, num_threads)
        shape = run.input_shape
    labelled = collect_samples(labelled_data, shape, limit, "labelled_data", labels=True)
    return top1_accuracy(run, labelled)
