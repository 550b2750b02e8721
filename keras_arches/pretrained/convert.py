"""Copying a PyTorch state dict into a keras_arches model, exactly and strictly.

The tensors are matched by name through a registered :class:`Layout` (never by order) and
converted with numpy alone, so this runs on every Keras backend without torch:

- conv weights ``(out, in / groups, kh, kw)`` become Keras kernels ``(kh, kw, in / groups,
  out)``; a torch depthwise conv's ``(channels * multiplier, 1, kh, kw)`` becomes a
  ``DepthwiseConv2D`` kernel ``(kh, kw, channels, multiplier)``; a ``SeparableConv2D`` takes
  the two convs of the source's separable module (:attr:`Layout.separable`: depthwise, then
  pointwise);
- Linear weights ``(out, in)`` are transposed; where a Flatten feeds the Dense layer, the rows
  are reordered from torch's C,H,W flattening to Keras' H,W,C;
- batch norm weight, bias, running mean and running variance become gamma, beta, moving mean
  and moving variance. Where our layer's epsilon differs from the source's, the moving
  variance absorbs the difference (``var + eps_source - eps_keras``), so that ``variance +
  epsilon`` and hence the output are the source's exactly. Where our batch norm has no gamma
  (keras.applications' Inception twins), the source's gamma is folded into the conv before it
  (kernel and bias times gamma, moving mean times gamma), again exactly.

Every shape is checked and every source tensor accounted for before the first assignment, so a
state dict that does not fit leaves the model untouched.
"""

import dataclasses

import keras
import numpy as np

from keras_arches.layers import AuxiliaryClassifier, FireModule, SqueezeExcite
from keras_arches.pretrained.layout import Layout
from keras_arches.pretrained.maps import LAYOUTS

# Our composite layers' sublayers (attribute names); a sublayer's path is "{layer}/{its name}".
_COMPOSITES = (
    (SqueezeExcite, ("fc1", "fc2")),
    (FireModule, ("squeeze_conv", "expand1x1_conv", "expand3x3_conv")),
    (AuxiliaryClassifier, ("conv", "bn", "conv2", "bn2", "fc", "classifier")),
)
_COUNTERS = ".num_batches_tracked"  # torch's BN step counters: no weights
_SHOWN = 12  # keys listed per kind of problem in an error message


@dataclasses.dataclass(frozen=True)
class Conversion:
    """What :func:`load_state_dict` did: the source keys copied (``loaded``), those left out on
    purpose (``dropped``: the classifier under ``drop_classifier`` or the tensors of layers the
    model lacks, such as its top), the batch norms whose moving variance absorbed an epsilon
    difference (``epsilon_adjusted``) and those whose gamma was folded into their conv
    (``folded``)."""

    layout: str
    loaded: tuple
    dropped: tuple
    epsilon_adjusted: tuple
    folded: tuple


def get_layout(layout):
    """The :class:`Layout` named ``layout`` (a key of ``LAYOUTS``), or ``layout`` itself."""
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, str) and layout in LAYOUTS:
        return LAYOUTS[layout]
    raise ValueError(f"Unknown layout {layout!r}. Known layouts: {sorted(LAYOUTS)}.")


def load_state_dict(model, state_dict, layout, *, drop_classifier=False):
    """Copies the PyTorch ``state_dict`` (``{key: array}``, e.g. from :func:`read_state_dict`)
    into ``model``, a keras_arches model of the same architecture, under ``layout`` (a name in
    ``LAYOUTS`` such as ``"torchvision.resnet"``, or a :class:`Layout`).

    Strict: every model weight is filled and every source tensor used, except torch's
    ``num_batches_tracked`` counters, the classifier when ``drop_classifier=True`` (the model's
    own classifier keeps its initialisation: a new head) and the tensors of layers the model
    lacks (its top without ``include_top``; an auxiliary head). Otherwise a ``ValueError``
    names the missing, unused and misshapen keys and nothing is assigned. Returns a
    :class:`Conversion`.
    """
    layout = get_layout(layout)
    if not isinstance(drop_classifier, bool):
        raise ValueError(
            f"`drop_classifier` must be True or False. Received: drop_classifier="
            f"{drop_classifier!r}"
        )
    state = _normalise(state_dict, layout)
    plan = _Plan(model, state, layout, drop_classifier)
    plan.raise_if_unfit()
    for variable, value in plan.assignments:
        variable.assign(value)
    return Conversion(
        layout=layout.name,
        loaded=tuple(sorted(plan.used)),
        dropped=tuple(plan.dropped),
        epsilon_adjusted=tuple(plan.adjusted),
        folded=tuple(plan.folded),
    )


def _normalise(state_dict, layout):
    if not hasattr(state_dict, "items"):
        raise ValueError(
            "`state_dict` must be a mapping of tensor names to arrays (see "
            f"`read_state_dict`). Received: {type(state_dict).__name__}"
        )
    state = {}
    for key, value in state_dict.items():
        name = layout.rename_key(key) if layout.rename_key else key
        if name in state:
            raise ValueError(f"The state dict holds {name!r} twice (once as {key!r}).")
        state[name] = np.asarray(value)
    return state


def _leaves(layer):
    """(path, layer) of the layers holding ``layer``'s weights."""
    for composite, attributes in _COMPOSITES:
        if isinstance(layer, composite):
            for attribute in attributes:
                sublayer = getattr(layer, attribute)
                if sublayer is not None:  # an option the layer was built without
                    yield f"{layer.name}/{sublayer.name}", sublayer
            return
    yield layer.name, layer


def _listing(title, items):
    shown = ", ".join(items[:_SHOWN])
    more = f" ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"\n  {title} ({len(items)}): {shown}{more}"


class _Plan:
    """Every assignment, computed and checked before any is made."""

    def __init__(self, model, state, layout, drop_classifier):
        self.model, self.state, self.layout = model, state, layout
        self.names = frozenset(layer.name for layer in model.layers)
        self.assignments, self.used, self.accounted = [], set(), set()
        self.missing, self.mismatched, self.unknown = [], [], []
        self.adjusted, self.folded = [], []
        skipped = set(layout.classifier) if drop_classifier else set()
        self.leaves = [
            (path, leaf)
            for layer in model.layers
            if layer.weights and layer.name not in skipped
            for path, leaf in _leaves(layer)
        ]
        self.prefixes = {path: layout.prefix(path, self.names) for path, _ in self.leaves}
        self.scales = self._fold_scales()
        for path, leaf in self.leaves:
            self._plan(path, leaf)
        self.dropped = self._droppable(drop_classifier)
        skipped_ids = {
            id(w) for layer in model.layers if layer.name in skipped for w in layer.weights
        }
        self.unfilled = [
            w.path for w in model.weights if id(w) not in self.accounted | skipped_ids
        ]
        self.unused = sorted(
            key for key in state
            if key not in self.used and key not in self.dropped and not key.endswith(_COUNTERS)
        )

    # -- checks ----------------------------------------------------------------------------

    def raise_if_unfit(self):
        problems = ""
        if self.unknown:
            problems += _listing("model layers the layout has no tensors for", self.unknown)
        if self.missing:
            problems += _listing("missing from the state dict", self.missing)
        if self.unused:
            problems += _listing("unused tensors of the state dict", self.unused)
        if self.mismatched:
            problems += _listing("shape mismatches", self.mismatched)
        if self.unfilled and not (self.unknown or self.missing):
            problems += _listing("model weights left unfilled", self.unfilled)
        if problems:
            raise ValueError(
                f"The state dict does not fit model {self.model.name!r} under layout "
                f"{self.layout.name!r} ({self.layout.source}); nothing was loaded:{problems}"
            )

    # -- planning --------------------------------------------------------------------------

    def _take(self, variable, key, source_shape, convert=None):
        self.accounted.add(id(variable))
        if key not in self.state:
            self.missing.append(f"{key} (for {variable.path})")
            return
        self.used.add(key)
        value = self.state[key]
        if tuple(value.shape) != tuple(source_shape):
            self.mismatched.append(
                f"{key} is {tuple(value.shape)}, {variable.path} {tuple(variable.shape)} needs "
                f"{tuple(source_shape)}"
            )
            return
        if convert is not None:
            value = convert(value)
        self.assignments.append((variable, np.asarray(value, dtype=variable.dtype)))

    def _fold_scales(self):
        """conv path -> the gamma of the batch norm without gamma that follows it."""
        scales = {}
        fold = self.layout.fold_bn_scale
        leaves = dict(self.leaves)
        for path, leaf in self.leaves:
            if not isinstance(leaf, keras.layers.BatchNormalization) or leaf.gamma is not None:
                continue
            prefix = self.prefixes[path]
            if fold is None or prefix is None or f"{prefix}.weight" not in self.state:
                continue  # the source gamma, if any, is then reported unused
            conv = fold(path)
            if not isinstance(leaves.get(conv), keras.layers.Conv2D):
                self.unknown.append(f"{path} (no Conv2D {conv!r} to fold its gamma into)")
                continue
            key = f"{prefix}.weight"
            gamma = self.state[key].astype("float64")
            if gamma.shape != tuple(leaf.moving_mean.shape):
                self.mismatched.append(f"{key} is {gamma.shape}, {path} needs "
                                       f"{tuple(leaf.moving_mean.shape)}")
                continue
            self.used.add(key)
            scales[conv] = scales[path] = gamma
            self.folded.append(path)
        return scales

    def _plan(self, path, leaf):
        prefix = self.prefixes[path]
        if prefix is None:
            self.unknown.append(f"{path} ({type(leaf).__name__})")
            return
        if isinstance(leaf, keras.layers.BatchNormalization):
            self._batch_norm(path, leaf, prefix)
        elif isinstance(leaf, keras.layers.DepthwiseConv2D):
            self._depthwise(leaf.kernel, leaf.bias, prefix)
        elif isinstance(leaf, keras.layers.SeparableConv2D):
            self._separable(leaf, prefix)
        elif isinstance(leaf, keras.layers.Conv2D):
            self._conv(path, leaf, prefix)
        elif isinstance(leaf, keras.layers.Dense):
            self._dense(path, leaf, prefix)
        else:
            self.unknown.append(f"{path} ({type(leaf).__name__}: no conversion rule)")

    def _conv(self, path, leaf, prefix):
        kh, kw, fan_in, out = leaf.kernel.shape
        scale = self.scales.get(path, 1.0)
        self._take(
            leaf.kernel, f"{prefix}.weight", (out, fan_in, kh, kw),
            lambda w: w.transpose(2, 3, 1, 0) * scale,
        )
        if leaf.bias is not None:
            self._take(leaf.bias, f"{prefix}.bias", (out,), lambda b: b * scale)

    def _depthwise(self, kernel, bias, prefix):
        kh, kw, channels, multiplier = kernel.shape
        self._take(
            kernel, f"{prefix}.weight", (channels * multiplier, 1, kh, kw),
            lambda w: w.reshape(channels, multiplier, kh, kw).transpose(2, 3, 0, 1),
        )
        if bias is not None:
            self._take(bias, f"{prefix}.bias", (channels * multiplier,))

    def _separable(self, leaf, prefix):
        depthwise, pointwise = (f"{prefix}.{child}" for child in self.layout.separable)
        self._depthwise(leaf.depthwise_kernel, None, depthwise)
        _, _, fan_in, out = leaf.pointwise_kernel.shape
        self._take(
            leaf.pointwise_kernel, f"{pointwise}.weight", (out, fan_in, 1, 1),
            lambda w: w.transpose(2, 3, 1, 0),
        )
        if leaf.bias is not None:
            self._take(leaf.bias, f"{pointwise}.bias", (out,))

    def _dense(self, path, leaf, prefix):
        fan_in, out = leaf.kernel.shape
        convert = np.transpose
        if path in self.layout.flatten:
            flatten = self.model.get_layer(self.layout.flatten[path])
            dims = tuple(flatten.input.shape[1:])
            if flatten.data_format == "channels_first":
                channels, height, width = dims
            else:
                height, width, channels = dims

            def convert(w):
                # torch flattened C,H,W; Keras' Flatten gives H,W,C (in either data format).
                w = w.reshape(out, channels, height, width).transpose(2, 3, 1, 0)
                return w.reshape(height * width * channels, out)

        self._take(leaf.kernel, f"{prefix}.weight", (out, fan_in), convert)
        if leaf.bias is not None:
            self._take(leaf.bias, f"{prefix}.bias", (out,))

    def _batch_norm(self, path, leaf, prefix):
        shape = tuple(leaf.moving_mean.shape)
        scale = self.scales.get(path, 1.0)
        if leaf.gamma is not None:
            self._take(leaf.gamma, f"{prefix}.weight", shape)
        if leaf.beta is not None:
            self._take(leaf.beta, f"{prefix}.bias", shape)
        self._take(leaf.moving_mean, f"{prefix}.running_mean", shape, lambda m: m * scale)
        shift = self.layout.bn_epsilon - leaf.epsilon
        if shift:
            self.adjusted.append(path)
        self._take(
            leaf.moving_variance, f"{prefix}.running_var", shape,
            lambda v: v.astype("float64") + shift,
        )

    def _droppable(self, drop_classifier):
        """Source keys of the classifier (if dropped) and of optional layers the model lacks."""
        absent = [name for name in self.layout.optional if name not in self.names]
        if drop_classifier:
            absent += list(self.layout.classifier)
        prefixes = {self.layout.prefix(name, self.names) for name in absent} - {None}
        return sorted(
            key for key in self.state
            if key not in self.used and any(key.startswith(f"{p}.") for p in prefixes)
        )
