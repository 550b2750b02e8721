"""Loading what this package wrote: a model saved as ``.keras`` (a trained or fine-tuned model
with its class names and checkpoint), with every custom layer known.

``keras.saving.load_model`` loads such a file too, but only after ``import keras_arches``: Keras
finds a custom class (``ArchModel``, the layers of :mod:`keras_arches.layers`) in the
registry that importing the package fills, and imports no package by itself for a class it
does not know (it then fails with "Could not locate class 'ArchModel'").
"""

import os

import keras

from keras_arches.pretrained import readers


def load_model(path, *, compile=True):
    """Loads a model file this package wrote, under ``safe_mode=True``.

    Args:
        path: a ``.keras`` file: a trained (``keras-arches train``) or fine-tuned
            (:func:`keras_arches.finetune`) model, or any builder's model saved with
            ``model.save``.
        compile: as in ``keras.saving.load_model``.

    Returns:
        The model; an :class:`~keras_arches.ArchModel` keeps its ``arch``, ``checkpoint``
        and ``class_names``.

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: a file that holds no model (a weights file: build the model with
            ``keras_arches.get_model(name, weights=path)``; an export: run it with its own
            runtime).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError(
            f"{path!r} is a folder (a SavedModel export?). load_model reads a .keras file; run an "
            "export with its own runtime (tf.saved_model.load, keras.layers.TFSMLayer)."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    kind = readers.file_kind(path)
    if kind is not readers.KERAS_ARCHIVE:
        raise ValueError(
            f"{path!r} is {kind.description}, which holds weights but no model. Build the "
            "model and load it: keras_arches.get_model(NAME, weights=path, ...)."
        )
    return keras.saving.load_model(path, compile=compile, safe_mode=True)
