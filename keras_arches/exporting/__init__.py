"""Export: SavedModel, TFLite and ONNX files, each checked against the Keras model.

``export(model, path, format=...)`` writes one artefact, ``export_all(model, directory)``
writes several; both take the keyword options of :class:`ExportOptions`. Before an artefact is
declared done it is loaded back (SavedModel with ``tf.saved_model.load``, TFLite with the
LiteRT interpreter, ONNX with ONNX Runtime), run on a batch and compared with the Keras model;
the comparison (max |delta|, top-1 agreement, file size, latency on this CPU) is returned as an
:class:`ExportReport`, printed as a table and saved as JSON. Export needs the TensorFlow
backend; under JAX or PyTorch :func:`check_backend` raises a ValueError that says what to do.

``export_all`` also writes what an app needs beside the files: ``labels.txt`` and
``preprocessing.json`` (:mod:`.app`); with ``include_preprocessing=True`` the files take uint8
pixels and apply the model's normalisation themselves.

Modules: :mod:`.prepare` (the model that is exported), :mod:`.saved_model`, :mod:`.litert`
and :mod:`.onnx` (writing and running the files), :mod:`.checks` (samples, comparisons, bounds),
:mod:`.app` (labels, preprocessing) and :mod:`.report`.
"""

import dataclasses
import importlib.util
import os
import shutil
import tempfile
import time
import warnings

import keras
import numpy as np

from keras_arches import data
from keras_arches.exporting.app import scaling_for, with_preprocessing, write_app_files
from keras_arches.exporting.checks import (
    FLOAT16_MIN_AGREEMENT,
    FLOAT32_TOLERANCE,
    MAX_ACCURACY_DROP,
    accuracy,
    collect_samples,
    compare,
    folder_images,
    keras_runner,
    latency_ms,
    named_dataset,
    runner,
    synthetic_images,
    top1_accuracy,
)
from keras_arches.exporting.litert import CannotRun, convert_tflite
from keras_arches.exporting.onnx import ONNX_OPSET, write_onnx
from keras_arches.exporting.prepare import float32_copy, prepare_for_export
from keras_arches.exporting.report import ExportReport, ExportResult
from keras_arches.exporting.saved_model import write_saved_model

__all__ = [
    "FLOAT16_MIN_AGREEMENT", "FLOAT32_TOLERANCE", "FORMATS", "MAX_ACCURACY_DROP", "ONNX_OPSET",
    "ExportCheckError", "ExportOptions", "ExportReport", "ExportResult", "accuracy",
    "check_backend", "collect_samples", "export", "export_all", "float32_copy", "named_dataset",
    "prepare_for_export", "synthetic_images",
]

FORMATS = {
    "saved_model": "TensorFlow SavedModel directory, float32, dynamic batch",
    "tflite_float32": "TFLite, float32 weights and compute",
    "tflite_float16": "TFLite, float16 weights (dequantized to float32 at load), float32 compute",
    "tflite_int8_dynamic": "TFLite, int8 weights, activations quantized on the fly (dynamic range)",
    "tflite_int8": "TFLite, int8 weights and activations calibrated on representative_data",
    "onnx": f"ONNX (opset {ONNX_OPSET}), float32, dynamic batch, checked with ONNX Runtime",
}
_SUFFIXES = {"saved_model": "", "onnx": ".onnx"}  # else ".tflite"
_ONNX_MODULES = ("onnx", "onnxruntime", "tf2onnx")
# Why export_all leaves a format out by default, and what brings it in (CLI flag, Python option).
_NEEDS_CALIBRATION = (
    "needs calibration images: pass --calibration-data FOLDER (representative_data= in Python)"
)
_NEEDS_ONNX = "needs the onnx extra: pip install 'keras-arches[onnx]'"


class ExportCheckError(RuntimeError):
    """An exported artefact does not reproduce the Keras model within its bound."""


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """The keyword options of :func:`export` and :func:`export_all`.

    - ``representative_data``: calibration inputs for ``tflite_int8``: a folder of images (found
      recursively: .jpg, .jpeg, .png, .bmp, .gif; sized by :func:`keras_arches.data.load_images`
      and scaled as the model's inputs are), or a ``tf.data.Dataset``, array, iterable/generator
      of input batches or ``(x, y)`` pairs, or a callable returning one; ``calibration_samples``
      of them are used.
    - ``include_preprocessing``: bake the model's normalisation (not the resize) into the files,
      which then take uint8 pixels (RGB, or grey) at the input size; the Keras reference is the
      same wrapper. Array data (representative, check, labelled) is then pixels in [0, 255].
    - ``preprocessing``: the scaling mode of the inputs (see :func:`keras_arches.data.
      preprocess`) where the model's card does not give it (a model no builder made).
    - ``select_tf_ops``: allow TensorFlow (Flex) ops in the ``.tflite`` files, with a warning;
      by default only TFLite builtins are.
    - ``check``: load each artefact back and compare it with Keras on ``check_samples`` inputs
      of ``check_data`` (default: the labelled, else the representative samples, else random
      images in [0, 255)).
    - ``labelled_data``: ``(x, y)`` pairs; each artefact's accuracy on up to
      ``accuracy_samples`` of them is reported, and a quantized one more than a point below
      Keras fails.
    - ``int8_io``: int8 input and output tensors for ``tflite_int8``.
    - ``strict``: a failed check raises :class:`ExportCheckError` (after the report is
      written); else the result is only flagged.
    - ``latency_runs``: batch-1 calls timed per artefact; ``num_threads``: interpreter threads.
    - ``report_path``: where the JSON report goes, ``"auto"`` (next to the files) or None.
    - ``verbose``: print each format as it is written, with its time, and the report table.
    """

    representative_data: object = None
    select_tf_ops: bool = False
    check: bool = True
    check_data: object = None
    check_samples: int = 32
    calibration_samples: int = 100
    labelled_data: object = None
    accuracy_samples: int = 1000
    int8_io: bool = False
    strict: bool = True
    latency_runs: int = 10
    num_threads: int = None
    report_path: str = "auto"
    verbose: bool = True
    include_preprocessing: bool = False
    preprocessing: object = None

    @classmethod
    def of(cls, function, options):
        """The options given as keywords to ``function``; a TypeError names unknown ones."""
        known = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise TypeError(
                f"{function}() got unexpected keyword arguments {unknown}. Its options: {known}"
            )
        return cls(**options)


def check_backend():
    """Raises a ValueError unless Keras runs on TensorFlow, which writes and checks the files.

    The SavedModel, TFLite and ONNX files are written from TensorFlow graphs of the model
    (converted by TensorFlow's TFLite converter, or by tf2onnx); under JAX or PyTorch the
    model's ops are not TensorFlow ops. A ``.keras`` file loads on every backend, so a model
    trained there is exported from a TensorFlow process.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"Export to SavedModel/TFLite/ONNX needs the TensorFlow backend; Keras runs on "
            f"{backend!r} here. Save the model (`model.save('model.keras')`, a file every "
            "backend loads) and export it in a TensorFlow process: `KERAS_BACKEND=tensorflow "
            "keras-arches export model.keras --output DIR`."
        )


def export_all(model, directory, formats=None, **options):
    """Exports ``model`` in several formats into ``directory`` and checks each one.

    Files are named ``{model.name}_{format}.tflite`` (``{model.name}_saved_model/`` for the
    SavedModel, ``{model.name}_onnx.onnx``). ``formats`` (a list or a comma-separated string)
    defaults to every format of :data:`FORMATS`, ``tflite_int8`` only when
    ``representative_data`` is given and ``onnx`` only when the ``onnx`` extra is installed;
    the report lists a format left out as skipped, with what brings it in. Beside the files go
    ``labels.txt`` (the model's class names, one a line in output order, where
    :func:`keras_arches.data.class_names` knows them) and ``preprocessing.json`` (input size,
    resize and centre crop, interpolation, channel order, mean and std in pixel units, the input's
    value range and whether the files include the normalisation); ``formats=[]`` writes only
    these two. ``options`` are those of :class:`ExportOptions`; see :func:`export` for what is
    checked. The report is printed (``verbose``), saved to ``directory/export_report.json``
    (``report_path="auto"``) and returned.
    """
    check_backend()
    options = ExportOptions.of("export_all", options)
    formats, skipped = _formats(formats, options)
    directory = os.path.abspath(os.fspath(directory))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"Cannot export into {directory!r}: it is a file, not a folder.")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"Cannot create the output folder {directory!r}: {error.strerror}."
        ) from None
    report = _export_checked(model, directory, formats, options, app_files=True)
    report.skipped = skipped
    return _finish(report, os.path.join(directory, "export_report.json"), options)


def export(model, path, format="tflite_float32", **options):
    """Exports ``model`` to ``path`` as a SavedModel folder, a TFLite or an ONNX file, and
    checks it.

    ``format`` is one of :data:`FORMATS`: ``"saved_model"``, ``"tflite_float32"``,
    ``"tflite_float16"`` (float16 weights), ``"tflite_int8_dynamic"`` (int8 weights,
    dynamic-range activations), ``"tflite_int8"`` (full integer, calibrated on
    ``representative_data``) or ``"onnx"`` (float32, dynamic batch; needs the ``onnx``
    extra). ``options`` are those of :class:`ExportOptions`. Auxiliary heads are stripped and
    a mixed-precision model is exported from a float32 copy. With ``check`` the artefact is
    loaded back (LiteRT interpreter, else ``tf.lite.Interpreter``; ``tf.saved_model.load``;
    ONNX Runtime) and run beside the Keras model on the CPU: float32 formats must
    match Keras to 1e-4 (relative to the output scale above 1) and float16 must agree on >= 99%
    of top-1 predictions, else :class:`ExportCheckError` (or a flagged result with
    ``strict=False``). Returns the :class:`ExportReport`, also printed and saved as
    ``{path}.report.json`` by default. With ``include_preprocessing`` the file takes uint8 pixels
    and normalises them itself; :func:`export_all` also writes ``preprocessing.json``.
    """
    check_backend()
    options = ExportOptions.of("export", options)
    formats, _ = _formats([format], options)
    path = _check_writable(path, format)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path), prefix=".export_") as scratch:
        report = _export_checked(model, scratch, formats, options)
        result = report.results[0]
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        os.replace(result.path, path)
        result.path = path
    return _finish(report, path.rstrip(os.sep) + ".report.json", options)


def _formats(formats, options):
    """The formats to write, and ``{format: why it is left out}`` for those skipped by default."""
    skipped = {}
    if formats is None:
        if options.representative_data is None:
            skipped["tflite_int8"] = _NEEDS_CALIBRATION
        if not all(importlib.util.find_spec(m) for m in _ONNX_MODULES):
            skipped["onnx"] = _NEEDS_ONNX
        formats = [f for f in FORMATS if f not in skipped]
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    for format in formats:
        if format not in FORMATS:
            raise ValueError(
                f"Unknown export format {format!r}. Supported formats: {', '.join(FORMATS)}."
            )
    if "tflite_int8" in formats and options.representative_data is None:
        raise ValueError(
            "Format 'tflite_int8' calibrates activation ranges on sample inputs, and none were "
            "given: pass --calibration-data FOLDER (a folder of images like the app's) to "
            "keras-arches export, or representative_data= in Python (an image folder, a "
            "tf.data.Dataset, an array or a generator of input batches)."
        )
    if "tflite_int8" in formats and options.int8_io and options.include_preprocessing:
        raise ValueError(
            "int8_io and include_preprocessing both set the input type of tflite_int8: with "
            "the preprocessing included it takes uint8 pixels. Drop one of them (--int8-io or "
            "--include-preprocessing)."
        )
    return list(formats), skipped


def _check_writable(path, format):
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if format != "saved_model" and os.path.isdir(path):
        raise ValueError(
            f"Cannot write {format} to {path!r}: it is a directory; give a file path."
        )
    if not os.path.isdir(parent):
        raise ValueError(
            f"Cannot write {format} to {path!r}: the folder {parent!r} does not exist."
        )
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"Cannot write {format} to {path!r}: permission denied.")
    return path


def _finish(report, default_report_path, options):
    """Saves and prints the report; raises if a check failed under ``strict``."""
    report_path = default_report_path if options.report_path == "auto" else options.report_path
    if report_path is not None:
        report.save(report_path)
    if options.verbose:
        print(report.table())
    if options.strict and not report.passed:
        raise ExportCheckError(
            f"Export of {report.model!r} failed its checks: {' | '.join(report.failures())}"
        )
    return report


@dataclasses.dataclass
class _Reference:
    """What every artefact is compared with: the Keras model's outputs on the check inputs."""

    x: object
    outputs: object
    labelled: object = None
    accuracy: float = None


def _export_checked(model, directory, formats, options, app_files=False):
    """Writes ``formats`` of ``model`` into ``directory`` and checks each: the report. With
    ``app_files``, ``labels.txt`` and ``preprocessing.json`` go beside them."""
    exported, input_shape = prepare_for_export(model)
    scaling = scaling_for(model, options.preprocessing)
    if options.include_preprocessing:
        exported = with_preprocessing(exported, scaling)
    if options.select_tf_ops:
        warnings.warn(
            "select_tf_ops=True: the .tflite files may contain TensorFlow (Flex) ops, which the "
            "standard TFLite runtime cannot run; the app must link the Flex delegate "
            "(several MB).",
            stacklevel=3,
        )
    samples, x, labelled = _samples(model, input_shape, scaling, options)
    report = ExportReport(model=exported.name, input_shape=input_shape, results=[])
    reference = None
    if options.check:
        keras_run = keras_runner(exported)
        reference = _Reference(x=x, outputs=keras_run(x), labelled=labelled)
        report.keras_latency_ms = latency_ms(keras_run, x[:1], options.latency_runs)
        if labelled is not None:
            reference.accuracy = report.keras_accuracy = top1_accuracy(keras_run, labelled)
    with tempfile.TemporaryDirectory(prefix="keras_arches_export_") as scratch:
        batch1 = os.path.join(scratch, "batch1")
        for step, format in enumerate(formats, 1):
            suffix = _SUFFIXES.get(format, ".tflite")
            path = os.path.join(directory, f"{exported.name}_{format}{suffix}")
            _progress(options, step, formats,
                      "writing and checking" if options.check else "writing")
            start = time.perf_counter()
            if format.startswith("tflite") and not os.path.isdir(batch1):
                # Mobile runtimes run one image at a time: a static batch of 1 gives static shapes.
                write_saved_model(exported, batch1, batch_size=1)
            _write(exported, format, path, batch1, samples, options)
            result = _check(format, path, reference, options)
            report.results.append(result)
            status = "ok" if result.passed else "FAILED its check"
            _progress(options, step, formats, f"{status}, {time.perf_counter() - start:.1f} s")
    if app_files:
        report.app_files = write_app_files(model, directory, scaling,
                                           options.include_preprocessing)
    return report


def _progress(options, step, formats, what):
    if options.verbose:
        print(f"[{step}/{len(formats)}] {formats[step - 1]}: {what}", flush=True)


def _samples(model, input_shape, scaling, options):
    """The calibration samples, the check inputs and the labelled ``(x, y)`` (or None), as the
    exported model takes them: scaled float32, or uint8 pixels with the preprocessing included."""
    samples = labelled = None
    representative = options.representative_data
    if isinstance(representative, (str, os.PathLike)):
        samples = folder_images(representative, model, options.calibration_samples)
        if not options.include_preprocessing:
            samples = data.preprocess(samples, scaling.mode)
    elif representative is not None:
        samples = collect_samples(representative, input_shape, options.calibration_samples,
                                  "representative_data")
    if options.labelled_data is not None:
        labelled = collect_samples(
            options.labelled_data, input_shape, options.accuracy_samples, "labelled_data",
            labels=True,
        )
    if options.check_data is not None:
        x = collect_samples(options.check_data, input_shape, options.check_samples, "check_data")
    elif labelled is not None:
        x = labelled[0][: options.check_samples]
    elif samples is not None:
        x = samples[: options.check_samples]
    else:
        x = synthetic_images(input_shape, options.check_samples)
    if options.include_preprocessing:
        samples = None if samples is None else _pixels(samples, "representative_data")
        labelled = None if labelled is None else (_pixels(labelled[0], "labelled_data"),
                                                  labelled[1])
        x = _pixels(x, "the check data")
    return samples, x, labelled


def _pixels(x, what):
    """``x`` as the uint8 pixels a model with its preprocessing included takes."""
    low, high = float(np.min(x)), float(np.max(x))
    if low < 0 or high > 255:
        raise ValueError(
            f"With include_preprocessing the model takes uint8 pixels in [0, 255], but {what} "
            f"holds values in [{low:.4g}, {high:.4g}]: pass the images before preprocessing."
        )
    return np.round(x).astype("uint8")


def _write(model, format, path, saved_model_dir, samples, options):
    if format == "saved_model":
        if os.path.isdir(path):
            shutil.rmtree(path)
        write_saved_model(model, path)
        return
    if format == "onnx":
        write_onnx(model, path)
        return
    content = convert_tflite(saved_model_dir, format, samples, options.select_tf_ops,
                             options.int8_io)
    try:
        with open(path, "wb") as handle:
            handle.write(content)
    except OSError as error:
        raise ValueError(f"Cannot write {format} to {path!r}: {error.strerror}.") from None


def _check(format, path, reference, options):
    result = ExportResult(format=format, path=path, size_bytes=_size(path))
    if reference is None:  # check=False
        return result
    try:
        run = runner(format, path, options.num_threads)
    except CannotRun as error:
        result.problems.append(f"unchecked, {error} (pass check=False to accept it unchecked)")
        result.passed = False
        return result
    result.runtime, result.ops = run.runtime, run.ops
    outputs = run(reference.x)
    result.samples = len(reference.x)
    result.latency_ms = latency_ms(run, reference.x[:1], options.latency_runs)
    if reference.labelled is not None:
        result.accuracy = top1_accuracy(run, reference.labelled)
    compare(result, format, reference.outputs, outputs, reference.accuracy)
    return result


def _size(path):
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(path)
            for name in names
        )
    return os.path.getsize(path)
