"""ONNX: Keras' own exporter (tf2onnx on TensorFlow), and running the file with ONNX Runtime.

Keras on TensorFlow compiles grouped convolutions with XLA (TensorFlow has no grouped CPU
kernel), and tf2onnx cannot look inside an XLA-compiled function: Keras' exporter would write a
file that ONNX Runtime refuses. A model with a grouped ``Conv2D`` (or whose file from Keras'
exporter has such leftovers) is therefore converted from its frozen graph with the XLA marks
removed, so that TensorFlow's graph optimizer inlines the convolutions and tf2onnx turns them
into ONNX grouped ``Conv`` nodes. Needs the ``onnx`` extra (onnx, onnxruntime, tf2onnx).
"""

import contextlib
import gc
import logging
import os
import re

import numpy as np
import tensorflow as tf

from keras_arches.exporting.prepare import all_layers

# Opset 17 (ONNX 1.12, 2022) runs on every ONNX Runtime since 1.13.
ONNX_OPSET = 17
_XLA_ATTRIBUTES = ("_XlaMustCompile", "_noinline")
_CATCH_ERRORS = "TF2ONNX_CATCH_ERRORS"
# ONNX Runtime's input types: float32, or uint8 pixels with the preprocessing included.
_NUMPY_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8"}


def onnx_modules():
    """``(onnx, onnxruntime)``; an ImportError says how to install the ``onnx`` extra."""
    try:
        import onnx
        import onnxruntime
        import tf2onnx  # noqa: F401  (Keras' exporter imports it on TensorFlow)
    except ImportError as error:
        raise ImportError(
            f"ONNX export needs onnx, onnxruntime and tf2onnx ({error}). Install them with "
            "`pip install 'keras-arches[onnx]'`."
        ) from None
    return onnx, onnxruntime


def write_onnx(model, path):
    """Writes ``model`` as an ONNX file whose float32 ``image`` input has a dynamic batch.

    A ValueError names the layers whose TensorFlow ops have no ONNX form.
    """
    onnx, _ = onnx_modules()
    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), model.inputs[0].dtype,
                         name="image")
    try:
        with _without_graph_copies():
            _convert(model, spec, path, onnx)
    except Exception:  # an optimizer pass failed without its undo copy: convert as by default
        _convert(model, spec, path, onnx)
    foreign = _foreign_nodes(onnx.load(path))
    if foreign:
        layers = sorted({_layer_of(node.name, model) for node in foreign})
        ops = sorted({node.op_type for node in foreign})
        raise ValueError(
            f"Cannot export {model.name!r} to ONNX: the layers {layers} use TensorFlow ops "
            f"{ops} that tf2onnx cannot convert to ONNX opset {ONNX_OPSET}. Replace those layers "
            "or export to SavedModel/TFLite."
        )


def _convert(model, spec, path, onnx):
    if any(getattr(layer, "groups", 1) > 1 for layer in all_layers(model)):
        _convert_inlined(model, spec, path)  # Keras' exporter would leave XLA functions
        return
    with _quiet_tf2onnx():  # it logs each op it cannot convert; write_onnx's error names them
        model.export(path, format="onnx", input_signature=[spec], opset_version=ONNX_OPSET,
                     verbose=False)
    if _foreign_nodes(onnx.load(path)):
        _convert_inlined(model, spec, path)


@contextlib.contextmanager
def _without_graph_copies():
    """tf2onnx 1.17 deep-copies the whole graph, weights included, before each optimizer pass,
    to undo a pass that fails ("catch_errors"). The copies are reference cycles that wait for
    Python's collector: ResNet-101 peaked at 14 GB at 32x32. Its ``TF2ONNX_CATCH_ERRORS``
    variable turns the copies off (1.17 reads any value as off)."""
    previous = os.environ.get(_CATCH_ERRORS)
    os.environ[_CATCH_ERRORS] = "FALSE"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_CATCH_ERRORS]
        else:
            os.environ[_CATCH_ERRORS] = previous
        gc.collect()


def _convert_inlined(model, spec, path):
    """tf2onnx on the frozen graph with XLA-compiled functions (grouped convolutions) inlined."""
    from tf2onnx import convert, tf_loader

    function = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    inputs = [t.name for t in function.inputs if t.dtype != tf.resource]
    outputs = [t.name for t in function.outputs]
    graph_def = tf_loader.from_function(function, inputs, outputs)
    nodes = list(graph_def.node)
    for library_function in graph_def.library.function:
        _drop(library_function.attr)
        nodes.extend(library_function.node_def)
    for node in nodes:
        _drop(node.attr)
    del function, nodes
    gc.collect()
    with _quiet_tf2onnx():  # from_graph_def's own grappler pass inlines the functions
        convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs,
                               opset=ONNX_OPSET, output_path=path)


def _drop(attributes):
    for name in _XLA_ATTRIBUTES:
        if name in attributes:
            del attributes[name]


@contextlib.contextmanager
def _quiet_tf2onnx():
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _foreign_nodes(model_proto):
    """The nodes of the standard ONNX domain that are no ONNX operator (TensorFlow leftovers)."""
    import onnx

    return [
        node for node in model_proto.graph.node
        if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type)
    ]


def _layer_of(node_name, model):
    """The Keras layer a graph node came from (``model_1/conv2_1/Op`` -> ``conv2``)."""
    names = {layer.name for layer in all_layers(model)}
    for part in node_name.split("/"):
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in names:
                return candidate
    return node_name


class OnnxRunner:
    """Runs an ONNX file with ONNX Runtime's CPU provider, the whole batch in one call."""

    runtime = "onnxruntime"

    def __init__(self, path, num_threads=None):
        onnx, onnxruntime = onnx_modules()
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        self._session = onnxruntime.InferenceSession(
            path, options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0]
        self._output = self._session.get_outputs()[0].name
        self.ops = sorted({node.op_type for node in onnx.load(path).graph.node})
        self.input_shape = tuple(self._input.shape[1:])

    def __call__(self, x):
        x = np.asarray(x, _NUMPY_TYPES.get(self._input.type, "float32"))
        return self._session.run([self._output], {self._input.name: x})[0]
