"""Mobile export: SavedModel and TFLite files, each checked against the Keras model.

``export(model, path, format=...)`` writes one artefact, ``export_all(model, directory)``
writes several. Before an artefact is declared done it is loaded back (SavedModel with
``tf.saved_model.load``, TFLite with the LiteRT interpreter), run on a batch and compared with
the Keras model; the comparison (max |delta|, top-1 agreement, file size, latency on this CPU)
is returned as an :class:`ExportReport`, printed as a table and saved as JSON.
"""

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
import warnings

import numpy as np

FORMATS = {
    "saved_model": "TensorFlow SavedModel directory, float32, dynamic batch",
    "tflite_float32": "TFLite, float32 weights and compute",
    "tflite_float16": "TFLite, float16 weights (dequantized to float32 at load), float32 compute",
    "tflite_int8_dynamic": "TFLite, int8 weights, activations quantized on the fly (dynamic range)",
    "tflite_int8": "TFLite, int8 weights and activations calibrated on representative_data",
}

# float32 artefacts must reproduce Keras to 1e-4, relative to the output scale when the
# outputs are larger than 1 (logits): float32 rounding grows with the magnitude.
FLOAT32_TOLERANCE = 1e-4
# float16 weights may flip near-ties but no more than 1% of the top-1 predictions.
FLOAT16_MIN_AGREEMENT = 0.99
# A quantized model evaluated on labelled data may lose at most one accuracy point.
MAX_ACCURACY_DROP = 0.01

_FLOAT32_FORMATS = ("saved_model", "tflite_float32")
_MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16", "float16", "bfloat16")


class ExportCheckError(RuntimeError):
    """An exported artefact does not reproduce the Keras model within its bound."""


@dataclasses.dataclass
class ExportResult:
    """The check of one exported artefact.

    ``max_abs_diff`` and ``top1_agreement`` compare the artefact's outputs with the Keras
    model's on ``samples`` inputs; ``max_abs_reference`` is the largest Keras output (the
    scale of the float32 bound); ``latency_ms`` is the mean time of one batch-1 call on this
    CPU; ``accuracy`` is the top-1 accuracy on labelled data when some was given.
    """

    format: str
    path: str
    size_bytes: int
    samples: int = 0
    max_abs_diff: float = None
    max_abs_reference: float = None
    top1_agreement: float = None
    latency_ms: float = None
    accuracy: float = None
    runtime: str = None
    ops: list = dataclasses.field(default_factory=list)
    passed: bool = True
    problems: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ExportReport:
    """The checks of every artefact exported from one model, with the Keras reference."""

    model: str
    input_shape: tuple
    results: list
    keras_latency_ms: float = None
    keras_accuracy: float = None

    @property
    def passed(self):
        return all(result.passed for result in self.results)

    def __getitem__(self, format):
        for result in self.results:
            if result.format == format:
                return result
        raise KeyError(f"No {format!r} result in this report. Have: {[r.format for r in self.results]}")

    def to_dict(self):
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "keras_latency_ms": self.keras_latency_ms,
            "keras_accuracy": self.keras_accuracy,
            "passed": self.passed,
            "results": [dataclasses.asdict(result) for result in self.results],
        }

    def save(self, path):
        """Writes the report as JSON to ``path``."""
        with open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2)
        return path

    def table(self):
        """The report as a fixed-width text table."""

        def number(value, spec):
            width = int(spec.split(".")[0])
            return f"{'-':>{width}s}" if value is None else format(value, spec)

        header = (
            f"{'format':20s} {'size':>10s} {'max|delta|':>11s} {'top-1 agree':>11s} "
            f"{'accuracy':>8s} {'latency':>10s}  status"
        )
        lines = [f"{self.model} {tuple(self.input_shape)}", header, "-" * len(header)]
        lines.append(
            f"{'keras (reference)':20s} {'-':>10s} {'-':>11s} {'-':>11s} "
            f"{number(self.keras_accuracy, '8.2%')} {number(self.keras_latency_ms, '8.2f')}ms"
        )
        for r in self.results:
            status = "ok" if r.passed else "FAIL: " + "; ".join(r.problems)
            lines.append(
                f"{r.format:20s} {_human_size(r.size_bytes):>10s} {number(r.max_abs_diff, '11.2e')} "
                f"{number(r.top1_agreement, '11.2%')} {number(r.accuracy, '8.2%')} "
                f"{number(r.latency_ms, '8.2f')}ms  {status}"
            )
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _human_size(size):
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024


# -- preparing the model ------------------------------------------------------------------


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _check_model(model):
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`model` must be a keras.Model. Received: {type(model).__name__} ({model!r:.80})"
        )
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            f"Cannot export {model.name!r}: it has no defined inputs/outputs (a subclassed or "
            "unbuilt model). Export a functional or Sequential model built on a keras.Input."
        )
    lambdas = [layer.name for layer in _all_layers(model) if isinstance(layer, keras.layers.Lambda)]
    if lambdas:
        raise ValueError(
            f"Cannot export {model.name!r}: it contains Lambda layers {lambdas}. A Lambda wraps "
            "arbitrary Python that cannot be rebuilt from its config in safe mode (needed for the "
            "float32 export copy and for loading .keras files) and whose ops are not vetted for "
            "TFLite builtins. Replace it with a registered layer "
            "(keras.saving.register_keras_serializable)."
        )
    if len(inputs) != 1:
        raise ValueError(
            f"Cannot export {model.name!r}: export handles single-input image models, this one "
            f"has {len(inputs)} inputs ({[tuple(i.shape) for i in inputs]})."
        )
    shape = tuple(inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            f"Cannot export {model.name!r}: its input shape {tuple(inputs[0].shape)} has unknown "
            "dimensions; mobile runtimes need a static size. Rebuild it with a fixed "
            "`input_shape=`, e.g. input_shape=(224, 224, 3)."
        )
    return shape


def _is_mixed(model):
    return any(
        layer.dtype_policy.compute_dtype in ("float16", "bfloat16") for layer in _all_layers(model)
    )


def _float32_policies(config):
    """``config`` with every float16/mixed dtype policy or dtype replaced by float32."""
    if isinstance(config, dict):
        if config.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            name = config.get("config", {}).get("name")
            if name in _MIXED_POLICIES:
                return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    if isinstance(config, str) and config in _MIXED_POLICIES:
        return "float32"
    return config


def float32_copy(model):
    """A float32 twin of a (mixed-precision) model: same architecture and weights.

    Mixed-precision graphs convert to TFLite as Flex (TensorFlow) ops that the standard
    interpreter cannot run, so export rebuilds the model from its config with every float16
    policy replaced by float32 and copies the weights (float32 variables under mixed
    precision; float16 ones are cast). A float32 model is returned as is.
    """
    import keras

    if not _is_mixed(model):
        return model
    config = _float32_policies(keras.saving.serialize_keras_object(model))
    with _global_policy("float32"):
        copy = keras.saving.deserialize_keras_object(config, safe_mode=True)
    copy.set_weights(
        [w.astype("float32") if np.issubdtype(w.dtype, np.floating) else w for w in model.get_weights()]
    )
    return copy


class _global_policy:
    """Context manager setting Keras' global dtype policy."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        import keras

        self.previous = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(self.name)

    def __exit__(self, *exc):
        import keras

        keras.mixed_precision.set_global_policy(self.previous)


def prepare_for_export(model):
    """The model that is exported: auxiliary heads stripped, float32. Returns (model, shape)."""
    from keras_arches.contract import strip_auxiliary

    shape = _check_model(model)
    return float32_copy(strip_auxiliary(model)), shape


# -- data ---------------------------------------------------------------------------------


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
    import tensorflow as tf

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


def synthetic_images(input_shape, count, seed=0):
    """Random images in [0, 255), the raw-pixel range keras.applications models take."""
    return np.random.default_rng(seed).uniform(0, 255, (count, *input_shape)).astype("float32")


# -- converting ---------------------------------------------------------------------------


def _check_format(format):
    if format not in FORMATS:
        raise ValueError(
            f"Unknown export format {format!r}. Supported formats: {', '.join(FORMATS)}."
        )


def _check_writable(path, format):
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    if format != "saved_model" and os.path.isdir(path):
        raise ValueError(f"Cannot write {format} to {path!r}: it is a directory; give a file path.")
    if not os.path.isdir(parent):
        raise ValueError(f"Cannot write {format} to {path!r}: the folder {parent!r} does not exist.")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"Cannot write {format} to {path!r}: permission denied.")
    return path


def _write_saved_model(model, path, batch_size=None):
    import tensorflow as tf

    spec = tf.TensorSpec((batch_size, *model.inputs[0].shape[1:]), tf.float32, name="image")
    model.export(path, format="tf_saved_model", input_signature=[spec], verbose=False)


def _convert_tflite(saved_model_dir, format, samples, select_tf_ops, int8_io):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if format != "tflite_float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if format == "tflite_float16":
        converter.target_spec.supported_types = [tf.float16]
    if format == "tflite_int8":
        converter.representative_dataset = lambda: ([sample[None]] for sample in samples)
        # int8 kernels first; ops without one (e.g. LRN) stay float builtins.
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    if select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError/RuntimeError/ValueError
        text = str(error)
        missing = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)))
        if missing and not select_tf_ops:
            raise ValueError(
                f"TFLite conversion to {format} failed: TFLite has no builtin kernel for the "
                f"TensorFlow ops {missing}. Replace them, or pass select_tf_ops=True to embed "
                "TensorFlow (Flex) ops, which needs the Flex delegate on the device."
            ) from error
        if missing:
            raise ValueError(
                f"TFLite conversion to {format} failed: the TensorFlow ops {missing} have neither a "
                "TFLite builtin nor a Flex (select TensorFlow ops) kernel; replace them."
            ) from error
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("loc(")]
        raise ValueError(f"TFLite conversion to {format} failed: {' '.join(lines)[:1000]}") from error


# -- running exported artefacts -----------------------------------------------------------


class _CannotRun(RuntimeError):
    """The artefact was written but no available runtime can execute it."""


class _SavedModelRunner:
    runtime = "tf.saved_model"

    def __init__(self, path):
        import tensorflow as tf

        self._model = tf.saved_model.load(path)
        self.ops = []
        spec = self._model.signatures["serving_default"].structured_input_signature[1]
        self.input_shape = tuple(next(iter(spec.values())).shape[1:])

    def __call__(self, x):
        return np.asarray(self._model.serve(x))


class _TFLiteRunner:
    """Runs a .tflite file one sample at a time (the mobile batch), de/quantizing int8 I/O."""

    def __init__(self, path, num_threads=None):
        try:
            from ai_edge_litert.interpreter import Interpreter

            self.runtime = "ai_edge_litert"
        except ImportError:
            import tensorflow as tf

            Interpreter, self.runtime = tf.lite.Interpreter, "tf.lite"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._interpreter = Interpreter(model_path=path, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError):
            # LiteRT has no Flex delegate; TensorFlow's interpreter links it.
            import tensorflow as tf

            with warnings.catch_warnings():  # its deprecation notice: LiteRT is tried first
                warnings.simplefilter("ignore")
                self._interpreter = tf.lite.Interpreter(model_path=path, num_threads=num_threads)
            self.runtime = "tf.lite"
            try:
                self._interpreter.allocate_tensors()
            except RuntimeError as error:
                flex = sorted(
                    op["op_name"] for op in self._interpreter._get_ops_details()
                    if op["op_name"].startswith("Flex")
                )
                raise _CannotRun(
                    f"cannot run here: {flex} need the Flex delegate, which neither LiteRT nor "
                    "tf.lite.Interpreter links in this installation" if flex else f"cannot run: {error}"
                ) from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        # "DELEGATE" marks the XNNPACK partitions; the model's own ops are listed beside it.
        self.ops = sorted({op["op_name"] for op in self._interpreter._get_ops_details()} - {"DELEGATE"})
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])

    def _invoke(self, sample):
        details = self._input
        if np.issubdtype(details["dtype"], np.integer):
            scale, zero_point = details["quantization"]
            info = np.iinfo(details["dtype"])
            sample = np.clip(np.round(sample / scale + zero_point), info.min, info.max)
        self._interpreter.set_tensor(details["index"], sample.astype(details["dtype"]))
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output["index"])
        if np.issubdtype(output.dtype, np.integer):
            scale, zero_point = self._output["quantization"]
            output = (output.astype("float32") - zero_point) * scale
        return output

    def __call__(self, x):
        return np.concatenate([self._invoke(sample[None]) for sample in x])


def _runner(format, path, num_threads=None):
    if format == "saved_model":
        return _SavedModelRunner(path)
    return _TFLiteRunner(path, num_threads=num_threads)


def _latency_ms(run, sample, runs):
    run(sample)  # warm-up: allocation, delegate preparation, tracing
    start = time.perf_counter()
    for _ in range(runs):
        run(sample)
    return 1000.0 * (time.perf_counter() - start) / runs


def _predict_keras(model, x, batch_size=32):
    import tensorflow as tf

    call = tf.function(lambda batch: model(batch, training=False))
    return (
        np.concatenate([np.asarray(call(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]),
        lambda batch: np.asarray(call(batch)),
    )


def _top1(outputs):
    return outputs.reshape(len(outputs), -1).argmax(-1)


def _size(path):
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(path)
            for name in names
        )
    return os.path.getsize(path)


def _check_result(result, format, reference, outputs, accuracy_reference):
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


def accuracy(model_or_path, labelled_data, max_samples=None, num_threads=None):
    """Top-1 accuracy of a Keras model, a SavedModel folder or a ``.tflite`` file.

    ``labelled_data`` yields ``(inputs, labels)`` pairs (batches or single samples; integer or
    one-hot labels), e.g. a ``tf.data.Dataset`` of ``(x, y)`` batches. Use it to check that a
    quantized export of a trained model stays within a point of the float model's accuracy.
    """
    import keras

    limit = np.inf if max_samples is None else max_samples
    if isinstance(model_or_path, keras.Model):
        shape = _check_model(model_or_path)
        run = lambda x: _predict_keras(model_or_path, x)[0]  # noqa: E731
    else:
        path = os.fspath(model_or_path)
        if not os.path.exists(path):
            raise ValueError(f"No model at {path!r}: give a keras.Model, a SavedModel folder or a .tflite file.")
        run = _runner("saved_model" if os.path.isdir(path) else "tflite", path, num_threads)
        shape = run.input_shape
    x, y = collect_samples(labelled_data, shape, limit, "labelled_data", labels=True)
    return float(np.mean(_top1(run(x)) == y))


# -- the public API -----------------------------------------------------------------------


def _export_prepared(
    model, keras_outputs, x_check, path, format, *, samples, select_tf_ops, int8_io,
    saved_model_dir, check, labelled, accuracy_reference, latency_runs, num_threads,
):
    if format == "saved_model":
        if os.path.isdir(path):
            shutil.rmtree(path)
        _write_saved_model(model, path)
    else:
        content = _convert_tflite(saved_model_dir, format, samples, select_tf_ops, int8_io)
        try:
            with open(path, "wb") as handle:
                handle.write(content)
        except OSError as error:
            raise ValueError(f"Cannot write {format} to {path!r}: {error.strerror}.") from None
    result = ExportResult(format=format, path=path, size_bytes=_size(path))
    if not check:
        return result
    try:
        run = _runner(format, path, num_threads)
    except _CannotRun as error:
        result.problems.append(f"unchecked, {error} (pass check=False to accept it unchecked)")
        result.passed = False
        return result
    result.runtime, result.ops = run.runtime, run.ops
    outputs = run(x_check)
    result.samples = len(x_check)
    result.latency_ms = _latency_ms(run, x_check[:1], latency_runs)
    if labelled is not None:
        result.accuracy = float(np.mean(_top1(run(labelled[0])) == labelled[1]))
    _check_result(result, format, keras_outputs, outputs, accuracy_reference)
    return result


def export_all(
    model,
    directory,
    formats=None,
    *,
    representative_data=None,
    select_tf_ops=False,
    check=True,
    check_data=None,
    check_samples=32,
    calibration_samples=100,
    labelled_data=None,
    accuracy_samples=1000,
    int8_io=False,
    strict=True,
    latency_runs=10,
    num_threads=None,
    report_path="auto",
    verbose=True,
):
    """Exports ``model`` in several formats into ``directory`` and checks each one.

    Files are named ``{model.name}_{format}.tflite`` (``{model.name}_saved_model/`` for the
    SavedModel). ``formats`` defaults to every format, ``tflite_int8`` only when
    ``representative_data`` is given. See :func:`export` for the other arguments;
    ``labelled_data`` (``(x, y)`` pairs) adds each artefact's accuracy on up to
    ``accuracy_samples`` samples, and a quantized artefact more than one point below the Keras
    model fails. The report is printed (``verbose``), saved to ``directory/export_report.json``
    (``report_path="auto"``; None to skip) and returned; with ``strict`` a failed check raises
    :class:`ExportCheckError` after the report is written.
    """

    if formats is None:
        formats = [f for f in FORMATS if f != "tflite_int8" or representative_data is not None]
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    for format in formats:
        _check_format(format)
    if "tflite_int8" in formats and representative_data is None:
        raise ValueError(
            "Format 'tflite_int8' calibrates activation ranges: pass representative_data "
            "(a tf.data.Dataset, array or generator of input batches)."
        )
    directory = os.path.abspath(os.fspath(directory))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"Cannot export into {directory!r}: it is a file, not a folder.")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise ValueError(f"Cannot create the output folder {directory!r}: {error.strerror}.") from None

    exported, input_shape = prepare_for_export(model)
    if select_tf_ops:
        warnings.warn(
            "select_tf_ops=True: the .tflite files may contain TensorFlow (Flex) ops, which the "
            "standard TFLite runtime cannot run; the app must link the Flex delegate (several MB).",
            stacklevel=2,
        )
    samples = None
    if representative_data is not None:
        samples = collect_samples(representative_data, input_shape, calibration_samples, "representative_data")
    labelled = None
    if labelled_data is not None:
        labelled = collect_samples(labelled_data, input_shape, accuracy_samples, "labelled_data", labels=True)
    if check_data is not None:
        x_check = collect_samples(check_data, input_shape, check_samples, "check_data")
    elif labelled is not None:
        x_check = labelled[0][:check_samples]
    elif samples is not None:
        x_check = samples[:check_samples]
    else:
        x_check = synthetic_images(input_shape, check_samples)

    report = ExportReport(model=exported.name, input_shape=input_shape, results=[])
    keras_outputs, keras_run = _predict_keras(exported, x_check)
    if check:
        report.keras_latency_ms = _latency_ms(keras_run, x_check[:1], latency_runs)
        if labelled is not None:
            report.keras_accuracy = float(np.mean(_top1(_predict_keras(exported, labelled[0])[0]) == labelled[1]))
    with tempfile.TemporaryDirectory(prefix="keras_arches_export_") as scratch:
        saved_model_dir = None
        if any(f.startswith("tflite") for f in formats):
            # Mobile runtimes run one image at a time: a static batch of 1 gives static shapes.
            saved_model_dir = os.path.join(scratch, "batch1")
            _write_saved_model(exported, saved_model_dir, batch_size=1)
        for format in formats:
            suffix = "" if format == "saved_model" else ".tflite"
            path = os.path.join(directory, f"{exported.name}_{format}{suffix}")
            report.results.append(
                _export_prepared(
                    exported, keras_outputs, x_check, path, format,
                    samples=samples, select_tf_ops=select_tf_ops, int8_io=int8_io,
                    saved_model_dir=saved_model_dir, check=check, labelled=labelled,
                    accuracy_reference=report.keras_accuracy, latency_runs=latency_runs,
                    num_threads=num_threads,
                )
            )
    if report_path == "auto":
        report_path = os.path.join(directory, "export_report.json")
    if report_path is not None:
        report.save(report_path)
    if verbose:
        print(report.table())
    if strict and not report.passed:
        failed = [f"{r.format}: {'; '.join(r.problems)}" for r in report.results if not r.passed]
        raise ExportCheckError(f"Export of {exported.name!r} failed its checks: {' | '.join(failed)}")
    return report


def export(
    model,
    path,
    format="tflite_float32",
    *,
    representative_data=None,
    select_tf_ops=False,
    check=True,
    check_data=None,
    check_samples=32,
    calibration_samples=100,
    labelled_data=None,
    accuracy_samples=1000,
    int8_io=False,
    strict=True,
    latency_runs=10,
    num_threads=None,
    report_path="auto",
    verbose=True,
):
    """Exports ``model`` to ``path`` as a SavedModel folder or a TFLite file, and checks it.

    ``format`` is one of :data:`FORMATS`: ``"saved_model"``, ``"tflite_float32"``,
    ``"tflite_float16"`` (float16 weights), ``"tflite_int8_dynamic"`` (int8 weights, dynamic-range
    activations) or ``"tflite_int8"`` (full integer, calibrated on ``representative_data``: a
    ``tf.data.Dataset``, array, iterable/generator of input batches or ``(x, y)`` pairs, or a
    callable returning one; ``int8_io=True`` also makes the file's input and output int8).
    Auxiliary heads are stripped and a mixed-precision model is exported from a float32 copy;
    only TFLite builtin ops are allowed unless ``select_tf_ops=True`` (with a warning). With
    ``check`` the artefact is loaded back (LiteRT interpreter, else ``tf.lite.Interpreter``;
    ``tf.saved_model.load``) and run on ``check_data`` (default: the representative samples, or
    random images in [0, 255)); float32 formats must match Keras to 1e-4 (relative to the output
    scale above 1) and float16 must agree on >= 99% of top-1 predictions, else
    :class:`ExportCheckError` (or a flagged result with ``strict=False``). Returns the
    :class:`ExportReport`, also printed and saved as ``{path}.report.json`` by default.
    """
    _check_format(format)
    path = _check_writable(path, format)
    directory, name = os.path.split(path)
    if report_path == "auto":
        report_path = path.rstrip(os.sep) + ".report.json"
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export_") as scratch:
        report = export_all(
            model, scratch, [format], representative_data=representative_data,
            select_tf_ops=select_tf_ops, check=check, check_data=check_data,
            check_samples=check_samples, calibration_samples=calibration_samples,
            labelled_data=labelled_data, accuracy_samples=accuracy_samples, int8_io=int8_io,
            strict=False, latency_runs=latency_runs, num_threads=num_threads, report_path=None,
            verbose=False,
        )
        result = report.results[0]
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        os.replace(result.path, path)
        result.path = path
    if report_path is not None:
        report.save(report_path)
    if verbose:
        print(report.table())
    if strict and not report.passed:
        raise ExportCheckError(f"Export of {report.model!r} to {format} failed its checks: {'; '.join(result.problems)}")
    return report


# -- command line -------------------------------------------------------------------------


def _embedded_mnist(labels):
    """The MNIST pipeline of keras_arches.data, as (x, y) batches or x batches."""
    try:
        from keras_arches import data
    except ImportError:
        raise ValueError(
            "Dataset 'embedded_mnist' needs keras_arches.data, which is not installed here."
        ) from None
    # The one line to align with keras_arches.data's API: a tf.data.Dataset of (x, y) batches.
    if not hasattr(data, "embedded_mnist"):
        raise ValueError("keras_arches.data has no embedded_mnist(split=...) dataset function.")
    dataset = data.embedded_mnist(split="test")
    return dataset if labels else dataset.map(lambda x, y: x)


def named_dataset(spec, labels=False):
    """A dataset from the command line: ``embedded_mnist``, or a ``.npy``/``.npz`` file.

    A ``.npy`` file holds input samples; a ``.npz`` file holds ``x`` (and ``y`` for labelled
    data).
    """
    if spec == "embedded_mnist":
        return _embedded_mnist(labels)
    if spec.endswith((".npy", ".npz")):
        if not os.path.isfile(spec):
            raise ValueError(f"No dataset file {spec!r}.")
        arrays = np.load(spec)
        if spec.endswith(".npy"):
            if labels:
                raise ValueError(f"Labelled data needs a .npz file with x and y. Received: {spec!r}")
            return arrays
        missing = {"x", "y"} - set(arrays.files) if labels else {"x"} - set(arrays.files)
        if missing:
            raise ValueError(f"{spec!r} lacks the arrays {sorted(missing)}; it has {arrays.files}.")
        return (arrays["x"], arrays["y"]) if labels else arrays["x"]
    raise ValueError(
        f"Unknown dataset {spec!r}. Use 'embedded_mnist', a .npy file of inputs or a .npz file "
        "with arrays x (and y)."
    )


def add_cli_arguments(parser):
    parser.add_argument("model_path", help="a saved model, MODEL.keras")
    parser.add_argument(
        "--format",
        default="saved_model,tflite_float32,tflite_float16,tflite_int8_dynamic",
        help=f"comma-separated formats among: {', '.join(FORMATS)}",
    )
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument(
        "--representative-dataset",
        default=None,
        help="calibration inputs for tflite_int8 (and the check): embedded_mnist, FILE.npy or FILE.npz",
    )
    parser.add_argument(
        "--labelled-dataset",
        default=None,
        help="(x, y) data to report each format's accuracy: embedded_mnist or FILE.npz with x, y",
    )
    parser.add_argument("--samples", type=int, default=32, help="check samples (default 32)")
    parser.add_argument("--select-tf-ops", action="store_true", help="allow TensorFlow (Flex) ops")
    parser.add_argument("--int8-io", action="store_true", help="int8 input/output for tflite_int8")


def run_cli(args):
    """Export a saved .keras model to SavedModel/TFLite, check it and print the report."""
    import keras

    path = args.model_path
    if not os.path.isfile(path):
        raise ValueError(f"No model file {path!r}.")
    if not path.endswith(".keras"):
        raise ValueError(f"Expected a Keras 3 model file ending in .keras. Received: {path!r}")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # zip, JSON and deserialization errors all mean: unusable file
        raise ValueError(f"Cannot load {path!r} as a Keras model: {error}") from None
    report = export_all(
        model,
        args.output,
        args.format,
        representative_data=args.representative_dataset and named_dataset(args.representative_dataset),
        labelled_data=args.labelled_dataset and named_dataset(args.labelled_dataset, labels=True),
        check_samples=args.samples,
        select_tf_ops=args.select_tf_ops,
        int8_io=args.int8_io,
        strict=False,
    )
    print(f"report: {os.path.join(os.path.abspath(args.output), 'export_report.json')}")
    if not report.passed:
        failed = [f"{r.format} ({'; '.join(r.problems)})" for r in report.results if not r.passed]
        raise ValueError(f"exported files failed their checks: {', '.join(failed)}")
