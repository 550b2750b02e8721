"""What the converter needs to know about one source model family: a :class:`Layout`."""

import dataclasses
import re
from typing import Callable, Mapping, Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Layout:
    """How one family of PyTorch models names its tensors, relative to keras_arches' layers.

    ``prefix(path, names)`` maps a weighted Keras layer of the model (``path`` is its name, or
    ``"{layer}/{sublayer}"`` inside a SqueezeExcite or FireModule; ``names`` are the names of
    all the model's layers) to the source module that holds its tensors (``"layer1.0.conv1"``:
    ``.weight``, ``.bias``, ``.running_mean``, ... are appended by layer type), or None when
    the layout has no such layer. ``bn_epsilon`` is the source's batch-norm epsilon.
    ``optional``: Keras layers a model may lack (the top without ``include_top``, an auxiliary
    head), whose source tensors are then left out; ``classifier``: the layers that
    ``drop_classifier=True`` leaves to their fresh initialisation. ``flatten`` maps a Dense layer
    fed by a Flatten to that Flatten's name (torch flattens C,H,W, Keras H,W,C).
    ``fold_bn_scale`` names, for a batch norm without gamma (``scale=False``), the conv right
    before it, into which the source's gamma is folded. ``rename_key`` normalises older key
    spellings of the same source before matching. ``separable`` names the depthwise and
    pointwise children of the source module a Keras ``SeparableConv2D`` maps to (timm 1.0's
    ``SeparableConv2d``: ``conv1``, ``pointwise``).
    """

    name: str
    source: str
    bn_epsilon: float
    prefix: Callable[[str, frozenset], Optional[str]]
    optional: Tuple[str, ...] = ("predictions",)
    classifier: Tuple[str, ...] = ("predictions",)
    flatten: Mapping[str, str] = dataclasses.field(default_factory=dict)
    fold_bn_scale: Optional[Callable[[str], str]] = None
    rename_key: Optional[Callable[[str], str]] = None
    separable: Tuple[str, str] = ("conv1", "pointwise")


def rules(*table):
    """A ``prefix`` function from ``(regex, target)`` pairs, tried in order.

    A regex must match the whole Keras path; its groups (digit groups as ints) go to
    ``target``: a callable, or a ``str.format`` template.
    """
    compiled = [(re.compile(pattern), target) for pattern, target in table]

    def prefix(path, names=frozenset()):
        for pattern, target in compiled:
            match = pattern.fullmatch(path)
            if match:
                groups = [int(g) if g.isdigit() else g for g in match.groups()]
                return target(*groups) if callable(target) else target.format(*groups)
        return None

    return prefix


def conv_bn_pairs(base_prefix):
    """A ``prefix`` for blocks of Keras ``{name}`` conv + ``{name}_bn`` layers whose source is a
    module with ``.conv`` and ``.bn`` children (timm's and pytorchcv's ``BasicConv2d``/
    ``PreConvBlock``); ``base_prefix(name, names)`` maps the block name to that module."""

    def prefix(path, names=frozenset()):
        base, child = (path[:-3], "bn") if path.endswith("_bn") else (path, "conv")
        module = base_prefix(base, names)
        return None if module is None else f"{module}.{child}"

    return prefix


def first_of(*prefixes):
    """A ``prefix`` trying each of ``prefixes`` in turn, the first non-None answer winning."""

    def prefix(path, names=frozenset()):
        for candidate in prefixes:
            found = candidate(path, names)
            if found is not None:
                return found
        return None

    return prefix
