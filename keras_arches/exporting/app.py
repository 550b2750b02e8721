"""What an app needs beside the model file: ``labels.txt``, ``preprocessing.json`` and, on
request, the model's normalisation baked into the exported graph.

An app sizes an image as the checkpoint's source evaluates it (:func:`keras_arches.data.
eval_transform`: resize, centre crop, interpolation) and scales its [0, 255] pixels as
:func:`keras_arches.data.preprocessing_for` says. Every scaling mode is one affine map per
channel, ``(pixel - mean) / std`` (taken in BGR order for "caffe"): :class:`Scaling` reads it off
:func:`keras_arches.data.preprocess` itself, ``preprocessing.json`` records it and
:func:`with_preprocessing` applies it with Keras layers in front of the model.
"""

import dataclasses
import json
import os

import keras
import numpy as np

from keras_arches import data

LABELS_FILE = "labels.txt"
PREPROCESSING_FILE = "preprocessing.json"
# A pixel whose channels differ: a channel flip moves its values.
_PROBE = np.array([[0.0, 0.0, 0.0], [255.0, 255.0, 255.0], [10.0, 100.0, 200.0]])


@dataclasses.dataclass(frozen=True)
class Scaling:
    """A preprocessing ``mode`` as the affine map it is: ``(pixel - mean) / std`` per channel,
    pixels in [0, 255] taken in ``channel_order`` ("RGB", "BGR" or "L" for one channel)."""

    mode: object
    channel_order: str
    mean: tuple
    std: tuple

    @classmethod
    def of(cls, mode, channels):
        """The scaling of ``mode`` (see :func:`keras_arches.data.preprocess`, which raises a
        ValueError for an unknown mode) on ``channels``-channel pixels."""
        probe = _PROBE[:, :channels]
        out = np.asarray(data.preprocess(probe, mode), "float64")
        std = 255.0 / (out[1] - out[0])
        mean = -out[0] * std
        order = "L" if channels == 1 else "RGB"
        if channels == 3 and not np.allclose(out[2], (probe[2] - mean) / std):
            order = "BGR"  # "caffe": the map acts on the reversed pixel
            if not np.allclose(out[2], (probe[2, ::-1] - mean) / std):
                raise ValueError(f"Preprocessing {mode!r} is not a per-channel affine map.")
        return cls(mode, order, _rounded(mean), _rounded(std))

    @property
    def input_range(self):
        """The [low, high] of what the model takes: the map of pixels 0 and 255, all channels."""
        low = min((0.0 - m) / s for m, s in zip(self.mean, self.std))
        high = max((255.0 - m) / s for m, s in zip(self.mean, self.std))
        return list(_rounded([low, high]))

    def rgb(self):
        """The same map on RGB pixels: mean and std per RGB channel, and whether the model then
        takes the channels reversed (BGR)."""
        if self.channel_order == "BGR":
            return self.mean[::-1], self.std[::-1], True
        return self.mean, self.std, False


def _rounded(values):
    """Floats to 4 decimals: :func:`~keras_arches.data.preprocess` holds its means and stds as
    float32 (0.485 is 0.48500001), whose last digits are rounding, not the source's value."""
    return tuple(round(float(v), 4) + 0.0 for v in values)  # + 0.0: no -0.0


def scaling_for(model, preprocessing=None):
    """The :class:`Scaling` of ``model``'s input: ``preprocessing`` when given, else its
    card's (:func:`keras_arches.data.preprocessing_for`); None for a model no builder made."""
    channels = model.inputs[0].shape[-1]
    if preprocessing is None:
        if getattr(model, "arch", None) is None:
            return None
        preprocessing = data.preprocessing_for(model)
    return Scaling.of(preprocessing, channels)


def with_preprocessing(model, scaling):
    """``model`` behind its normalisation: a functional model of the same name that takes
    ``uint8`` pixels (RGB, or grey for one channel) at the model's input size.

    The pixels are cast to float32 and scaled by a ``Rescaling`` layer (``pixel / std - mean /
    std`` per channel); for "caffe" a fixed 1x1 convolution then reverses the channels to BGR.
    Both are built-in Keras layers, so the wrapper saves, reloads and converts like the model.
    """
    if scaling is None:
        raise ValueError(
            f"Cannot include the preprocessing of {model.name!r}: it was not built by a "
            "keras_arches builder, so nothing records how its inputs are scaled. Pass "
            "preprocessing= (one of 'unit', 'raw', 'tf', 'torch', 'caffe' or a (mean, std) pair "
            "of RGB triples in [0, 1] units), or export without include_preprocessing."
        )
    mean, std, reverse = scaling.rgb()
    scale = [1.0 / s for s in std]
    offset = [-m / s for m, s in zip(mean, std)]
    if len(set(scale)) == 1 and len(set(offset)) == 1:
        scale, offset = scale[0], offset[0]
    inputs = keras.Input(model.inputs[0].shape[1:], dtype="uint8", name="image")
    x = keras.layers.Rescaling(scale, offset, dtype="float32", name="normalize")(inputs)
    if reverse:
        flip = keras.layers.Conv2D(3, 1, use_bias=False, trainable=False, dtype="float32",
                                   name="rgb_to_bgr")
        x = flip(x)
        flip.set_weights([np.eye(3, dtype="float32")[::-1].reshape(1, 1, 3, 3)])
    return keras.Model(inputs, model(x), name=model.name)


def preprocessing_record(model, scaling, included):
    """The content of ``preprocessing.json`` for ``model`` (the model as the user gave it)."""
    height, width, channels = model.inputs[0].shape[1:]
    transform = data.eval_transform(model) if getattr(model, "arch", None) else None
    resize = None if transform is None else transform.resize
    record = {
        "model": model.name,
        "checkpoint": getattr(model, "checkpoint", None),
        "input_size": [height, width, channels],
        "input_dtype": "uint8" if included else "float32",
        "resize": list(resize) if isinstance(resize, tuple) else resize,
        "center_crop": None if resize is None else [height, width],
        "interpolation": None if transform is None else transform.interpolation,
        "preprocessing_included": included,
    }
    if scaling is None:
        return {**record, "channel_order": None, "mean": None, "std": None, "input_range": None,
                "note": "The model was not built by a keras_arches builder: its preprocessing "
                        "is not recorded. Export it with preprocessing= to record it."}
    if included:
        mean, std, _ = scaling.rgb()
        order = "L" if channels == 1 else "RGB"
        steps = "feed the pixels as uint8; the model computes (pixel - mean) / std itself"
        value_range = [0, 255]
    else:
        mean, std, order = scaling.mean, scaling.std, scaling.channel_order
        steps = f"input = (pixel - mean) / std per channel, pixels in [0, 255] in {order} order"
        value_range = scaling.input_range
    sizing = ("resize the image straight to the input size" if resize is None else
              f"resize (shorter side {resize}) then take the centre crop")
    return {
        **record,
        "channel_order": order,
        "mean": list(mean),
        "std": list(std),
        "input_range": value_range,
        "mode": scaling.mode if isinstance(scaling.mode, str) else "mean_std",
        "how": f"{sizing}; {steps}",
    }


def write_app_files(model, directory, scaling, included):
    """Writes ``labels.txt`` (when ``model`` records class names; a stale one is removed) and
    ``preprocessing.json`` into ``directory``. Returns ``{file: what it holds}``."""
    written = {}
    labels_path = os.path.join(directory, LABELS_FILE)
    names = data.class_names(model)
    if names is None:
        if os.path.exists(labels_path):
            os.remove(labels_path)
        written[LABELS_FILE] = (
            "not written: the model records no class names (set model.class_names to its "
            "class names, in output order)"
        )
    else:
        bad = [name for name in names if "\n" in name or "\r" in name]
        if bad:
            raise ValueError(f"Class names must fit on one line of labels.txt. Received: {bad}")
        with open(labels_path, "w", encoding="utf-8") as handle:
            handle.write("".join(f"{name}\n" for name in names))
        written[LABELS_FILE] = f"{len(names)} class names, one a line, in output order"
    record = preprocessing_record(model, scaling, included)
    with open(os.path.join(directory, PREPROCESSING_FILE), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    if scaling is None:
        what = "input size only: no card records the scaling (pass preprocessing=)"
    elif included:
        what = f"uint8 {record['channel_order']} input, normalisation included"
    else:
        what = f"float32 {record['channel_order']} input, mean {record['mean']} std {record['std']}"
    written[PREPROCESSING_FILE] = what
    return written
