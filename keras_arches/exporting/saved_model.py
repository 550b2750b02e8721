"""Writing a TensorFlow SavedModel and running it back with ``tf.saved_model.load``."""

import keras
import numpy as np
import tensorflow as tf


def write_saved_model(model, path, batch_size=None):
    """Writes ``model`` as an inference SavedModel whose ``serve`` takes ``image`` batches (of
    the model's input dtype: float32, or uint8 with the preprocessing included).

    ``batch_size=None`` keeps the batch dynamic; 1 gives the static shapes the TFLite converter
    wants for mobile runtimes. Each weight is stored once: ``model.export`` (Keras 3.15) tracks
    the model's ``keras.Variable`` wrappers and also the ``tf.Variable`` each wraps, which the
    endpoint captures; TensorFlow saves both objects, so the folder held every weight twice
    (keras-team/keras#23553). An archive that tracks only what the endpoint captures has them
    once, and nothing that inference does not use.
    """
    spec = tf.TensorSpec((batch_size, *model.inputs[0].shape[1:]), model.inputs[0].dtype,
                         name="image")
    archive = keras.export.ExportArchive()
    archive.add_endpoint("serve", lambda image: model(image, training=False),
                         input_signature=[spec])
    archive.write_out(path, verbose=False)


class SavedModelRunner:
    """Runs a SavedModel folder on the CPU, as the TFLite files are run."""

    runtime = "tf.saved_model"

    def __init__(self, path):
        self._model = tf.saved_model.load(path)
        self.ops = []
        spec = next(iter(
            self._model.signatures["serving_default"].structured_input_signature[1].values()))
        self.input_shape = tuple(spec.shape[1:])
        self._dtype = spec.dtype.as_numpy_dtype

    def __call__(self, x):
        with tf.device("/CPU:0"):
            return np.asarray(self._model.serve(np.asarray(x, self._dtype)))
