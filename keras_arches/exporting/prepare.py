"""The model that is exported: a checked single-input model, auxiliary heads off, float32."""

import keras
import numpy as np

from keras_arches.arch_model import strip_auxiliary
from keras_arches.precision import dtype_policy

_MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16", "float16", "bfloat16")


def prepare_for_export(model):
    """The model that is exported: auxiliary heads stripped, float32. Returns (model, shape)."""
    shape = check_model(model)
    return float32_copy(strip_auxiliary(model)), shape


def check_model(model):
    """The input shape (without batch) of an exportable model; a ValueError says why not."""
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
    lambdas = [layer.name for layer in all_layers(model)
               if isinstance(layer, keras.layers.Lambda)]
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


def float32_copy(model):
    """A float32 twin of a (mixed-precision) model: same architecture and weights.

    Mixed-precision graphs convert to TFLite as Flex (TensorFlow) ops that the standard
    interpreter cannot run, so export rebuilds the model from its config with every float16
    policy replaced by float32 and copies the weights (float32 variables under mixed
    precision; float16 ones are cast). A float32 model is returned as is.
    """
    if not _is_mixed(model):
        return model
    config = _float32_policies(keras.saving.serialize_keras_object(model))
    with dtype_policy("float32"):
        copy = keras.saving.deserialize_keras_object(config, safe_mode=True)
    copy.set_weights([
        w.astype("float32") if np.issubdtype(w.dtype, np.floating) else w
        for w in model.get_weights()
    ])
    return copy


def all_layers(model):
    """Every layer of ``model``, those of nested models included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def _is_mixed(model):
    return any(
        layer.dtype_policy.compute_dtype in ("float16", "bfloat16") for layer in all_layers(model)
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
