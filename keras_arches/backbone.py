"""Feature pyramids from every builder: ``features_only``, ``out_levels`` and ``feature_info``.

The taps are found once, generically, on the built functional graph, not listed per
architecture. A tensor is a *cut* when, right after the layer that makes it, it is the only
tensor the rest of the network still needs (every later path runs through it: a stage output,
never a branch inside a block). Each cut's *level* is ``log2`` of its nominal stride, the
product of the ``strides`` of the layers before it (rounded, for odd strides), the pyramid level
of keras-hub's ``pyramid_outputs`` ("P3" is stride 8); the tap of a level is its last cut, so
the map just before the layer that strides into the next level. ``ZeroPadding2D`` outputs are
never taps (a padded map is no feature map). The levels do not depend on the input size.
"""

import math

import keras

from keras_arches.arch_model import with_outputs

_FEATURE_INFO: dict = {}


def _channels(shape):
    return shape[1] if keras.config.image_data_format() == "channels_first" else shape[-1]


def _cuts(model):
    """``(layer, tensor)`` of every cut of ``model``'s graph, in topological order."""
    operations = [op for op in model.operations if not isinstance(op, keras.layers.InputLayer)]
    last_use = {}
    for i, op in enumerate(operations):
        for tensor in keras.tree.flatten(op.input):
            last_use[id(tensor)] = i
    for tensor in keras.tree.flatten(model.outputs):
        last_use[id(tensor)] = len(operations)
    live, cuts = {id(t) for t in keras.tree.flatten(model.inputs)}, []
    for i, op in enumerate(operations):
        live -= {id(t) for t in keras.tree.flatten(op.input) if last_use[id(t)] == i}
        outputs = keras.tree.flatten(op.output)
        # Only maps count: a per-batch tensor such as FractalNet's drop-path choice is no branch.
        live |= {id(t) for t in outputs if last_use.get(id(t), -1) > i and len(t.shape) == 4}
        if (len(outputs) == 1 and live == {id(outputs[0])} and len(outputs[0].shape) == 4
                and not isinstance(op, keras.layers.ZeroPadding2D)):
            cuts.append((op, outputs[0]))
    return cuts


def _stride(op):
    """The stride a layer applies (Conv2D, pooling, CeilPooling2D: ``strides``; others 1)."""
    strides = getattr(op, "strides", 1)
    return strides[0] if isinstance(strides, (list, tuple)) else strides


def taps(model):
    """``{level: (layer name, tensor)}`` of a model without its top, levels ascending."""
    stride = {id(t): 1 for t in keras.tree.flatten(model.inputs)}
    for op in model.operations:
        if isinstance(op, keras.layers.InputLayer):
            continue
        inputs = [stride.get(id(t), 1) for t in keras.tree.flatten(op.input)]
        for tensor in keras.tree.flatten(op.output):
            stride[id(tensor)] = max(inputs, default=1) * _stride(op)
    found = {}
    for layer, tensor in _cuts(model):
        found[math.floor(math.log2(stride[id(tensor)]) + 0.5)] = (layer.name, tensor)
    return dict(sorted(found.items()))


def _check_out_levels(out_levels, available, name):
    if out_levels is None:
        return tuple(available)
    levels = tuple(out_levels) if isinstance(out_levels, (list, tuple)) else None
    if (not levels or len(set(levels)) != len(levels)
            or not all(isinstance(v, int) and v in available for v in levels)):
        raise ValueError(
            f"`out_levels` must be distinct levels of {name}'s pyramid, from "
            f"{tuple(available)}. Received: out_levels={out_levels!r}"
        )
    return tuple(sorted(levels))


def pyramid(model, info, out_levels=None):
    """The model on the same layers whose output is ``{"P<level>": map}`` (see the module)."""
    found = taps(model)
    levels = _check_out_levels(out_levels, found, info.name)
    return with_outputs(model, {f"P{level}": found[level][1] for level in levels})


def check_features_only(features_only, out_levels, pooling):
    """Validates the backbone arguments a builder was given."""
    if not isinstance(features_only, bool):
        raise ValueError(
            f"`features_only` must be True or False. Received: features_only={features_only!r}"
        )
    if not features_only and out_levels is not None:
        raise ValueError(
            "`out_levels` applies only with `features_only=True`. Received: "
            f"features_only=False, out_levels={out_levels!r}"
        )
    if features_only and pooling is not None:
        raise ValueError(
            "`pooling` does not apply with `features_only=True`: the model returns the "
            f"unpooled maps. Received: pooling={pooling!r}"
        )


def feature_info(info):
    """timm's ``feature_info`` for a card: per level, ``level``, nominal ``stride`` (2**level),
    ``channels`` and ``layer`` (the tapped layer's name), as ``features_only=True`` returns them
    with the builder's defaults (in the card's ``variant``). Computed once per card from a model
    without weights."""
    key = (info.name, info.variant)
    if key not in _FEATURE_INFO:
        options = {info.variant_argument: info.variant} if info.variant else {}
        model = info.builder(weights=None, include_top=False, **options)
        _FEATURE_INFO[key] = tuple(
            {"level": level, "stride": 2**level, "channels": _channels(tensor.shape),
             "layer": layer}
            for level, (layer, tensor) in taps(model).items()
        )
    return [dict(entry) for entry in _FEATURE_INFO[key]]
