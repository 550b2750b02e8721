"""TFLite: converting a SavedModel, and running the file through the LiteRT interpreter."""

import re
import warnings

import numpy as np
import tensorflow as tf


class CannotRun(RuntimeError):
    """The artefact was written but no available runtime can execute it."""


def convert_tflite(saved_model_dir, format, samples=None, select_tf_ops=False, int8_io=False):
    """The bytes of a ``.tflite`` file in ``format`` converted from a (batch-1) SavedModel.

    ``samples`` calibrate the activation ranges of ``tflite_int8``. A ValueError names the
    TensorFlow ops that have no TFLite kernel.
    """
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
        raise _conversion_error(str(error), format, select_tf_ops) from error


def _conversion_error(text, format, select_tf_ops):
    missing = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)))
    if missing and not select_tf_ops:
        return ValueError(
            f"TFLite conversion to {format} failed: TFLite has no builtin kernel for the "
            f"TensorFlow ops {missing}. Replace them, or pass select_tf_ops=True to embed "
            "TensorFlow (Flex) ops, which needs the Flex delegate on the device."
        )
    if missing:
        return ValueError(
            f"TFLite conversion to {format} failed: the TensorFlow ops {missing} have neither a "
            "TFLite builtin nor a Flex (select TensorFlow ops) kernel; replace them."
        )
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("loc(")]
    return ValueError(f"TFLite conversion to {format} failed: {' '.join(lines)[:1000]}")


class TFLiteRunner:
    """Runs a .tflite file one sample at a time (the mobile batch), de/quantizing int8 I/O.

    The LiteRT interpreter (``ai_edge_litert``) runs it; TensorFlow's ``tf.lite.Interpreter``
    only where LiteRT is missing or the file needs the Flex delegate, which LiteRT lacks.
    """

    def __init__(self, path, num_threads=None):
        try:
            from ai_edge_litert.interpreter import Interpreter

            self.runtime = "ai_edge_litert"
        except ImportError:
            Interpreter, self.runtime = tf.lite.Interpreter, "tf.lite"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._interpreter = Interpreter(model_path=path, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (RuntimeError, ValueError):
            self._open_with_tensorflow(path, num_threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        # "DELEGATE" marks the XNNPACK partitions; the model's own ops are listed beside it.
        self.ops = sorted(set(self._op_names()) - {"DELEGATE"})
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])

    def _op_names(self):
        return [op["op_name"] for op in self._interpreter._get_ops_details()]

    def _open_with_tensorflow(self, path, num_threads):
        self.runtime = "tf.lite"
        with warnings.catch_warnings():  # its deprecation notice: LiteRT is tried first
            warnings.simplefilter("ignore")
            self._interpreter = tf.lite.Interpreter(model_path=path, num_threads=num_threads)
        try:
            self._interpreter.allocate_tensors()
        except RuntimeError as error:
            flex = sorted(name for name in self._op_names() if name.startswith("Flex"))
            raise CannotRun(
                f"cannot run here: {flex} need the Flex delegate, which neither LiteRT nor "
                "tf.lite.Interpreter links in this installation" if flex
                else f"cannot run: {error}"
            ) from None

    def _invoke(self, sample):
        details = self._input
        scale, zero_point = details["quantization"]
        if np.issubdtype(details["dtype"], np.integer) and scale:  # quantized, not uint8 pixels
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
