"""Model ensembles: the average of several classifiers' probabilities."""

import keras

from keras_arches.arch_model import strip_auxiliary

_PROBABILITY_ACTIVATIONS = {"softmax", "sigmoid"}


def _output_layer(model):
    """The layer that makes ``model``'s first output, or None where it cannot be told."""
    if isinstance(model, keras.Sequential):
        return model.layers[-1] if model.layers else None
    target = model.outputs[0]
    for operation in reversed(model.operations):
        try:  # the tensors of the operation's first call
            outputs = keras.tree.flatten(operation.output)
        except (AttributeError, ValueError):
            continue
        if any(output is target for output in outputs):
            return operation
    return None


def _output_activation(model):
    """The final activation's name when the output layer says it, else None (unknown)."""
    layer = _output_layer(model)
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    return getattr(activation, "__name__", None)


def ensemble(models, name="ensemble"):
    """An ensemble that averages its members' class probabilities (the ILSVRC entries' model
    averaging, e.g. Krizhevsky et al. 2012 and Szegedy et al. 2014 averaged several CNNs).

    ``models``: two or more Keras models with one input of the same shape and the same number of
    classes; a member trained with auxiliary heads is reduced to its main output
    (:func:`keras_arches.strip_auxiliary`). Members must end in softmax/sigmoid probabilities
    (a linear output would average logits) and have distinct names (build them with ``name=``).
    Returns a functional ``keras.Model`` named ``name``: one ``keras.Input``, each member applied
    as a nested model (weights shared with the members, nothing copied), then
    ``keras.layers.Average``. It saves to ``.keras`` and loads under ``safe_mode=True``.
    """
    models = list(models) if isinstance(models, (list, tuple)) else models
    if not isinstance(models, list) or len(models) < 2:
        raise ValueError(f"ensemble() needs a list of at least two models. Received: {models!r}")
    members = []
    for i, model in enumerate(models):
        if not isinstance(model, keras.Model):
            raise ValueError(f"ensemble() member {i} is not a keras.Model: {type(model).__name__}")
        if len(model.inputs) != 1:
            raise ValueError(
                f"ensemble() members must have one input; {model.name!r} has {len(model.inputs)}."
            )
        members.append(strip_auxiliary(model))

    shapes = [tuple(m.inputs[0].shape[1:]) for m in members]
    if len(set(shapes)) != 1:
        raise ValueError(
            "ensemble() members must share the input shape. Received: "
            + ", ".join(f"{m.name}: {s}" for m, s in zip(members, shapes))
        )
    outputs = [tuple(m.outputs[0].shape[1:]) for m in members]
    if len(set(outputs)) != 1 or len(outputs[0]) != 1:
        raise ValueError(
            "ensemble() members must output the same number of classes, (batch, classes). "
            "Received: " + ", ".join(f"{m.name}: {s}" for m, s in zip(members, outputs))
        )
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise ValueError(
            f"ensemble() members must have distinct names (layer names of the ensemble); got "
            f"{names}. Build them with name=..., e.g. get_model('resnet50', name='resnet50_b')."
        )
    for m in members:
        activation = _output_activation(m)
        if activation is not None and activation not in _PROBABILITY_ACTIVATIONS:
            raise ValueError(
                f"ensemble() averages probabilities, but {m.name!r} ends in a {activation!r} "
                "activation (logits). Build it with classifier_activation='softmax'."
            )

    inputs = keras.Input(shape=shapes[0], dtype=members[0].inputs[0].dtype, name=f"{name}_input")
    probabilities = [member(inputs) for member in members]
    # Under mixed precision the members' heads are float32: average in float32 too.
    average = keras.layers.Average(name=f"{name}_average", dtype="float32")(probabilities)
    return keras.Model(inputs, average, name=name)
