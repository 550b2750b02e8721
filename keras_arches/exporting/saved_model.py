"""Writing a TensorFlow SavedModel and running it back with ``tf.saved_model.load``."""

import numpy as np
import tensorflow as tf


def write_saved_model(model, path, batch_size=None):
    """Writes ``model`` as a SavedModel whose ``serve`` takes float32 ``image`` batches.

    ``batch_size=None`` keeps the batch dynamic; 1 gives the static shapes the TFLite converter
    wants for mobile runtimes.
    """
    spec = tf.TensorSpec((batch_size, *model.inputs[0].shape[1:]), tf.float32, name="image")
    model.export(path, format="tf_saved_model", input_signature=[spec], verbose=False)


class SavedModelRunner:
    """Runs a SavedModel folder on the CPU, as the TFLite files are run."""

    runtime = "tf.saved_model"

    def __init__(self, path):
        self._model = tf.saved_model.load(path)
        self.ops = []
        spec = self._model.signatures["serving_default"].structured_input_signature[1]
        self.input_shape = tuple(next(iter(spec.values())).shape[1:])

    def __call__(self, x):
        with tf.device("/CPU:0"):
            return np.asarray(self._model.serve(x))
