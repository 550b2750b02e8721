"""The model registry: one entry per builder, with the facts a user looks up.

Builders register themselves with :func:`register`; ``list_models`` and
``get_model`` are the public face, ``model_info`` gives the metadata.
"""

import dataclasses
import inspect
from typing import Callable, Mapping, Optional

_REGISTRY: dict = {}


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """A published checkpoint: the full model file and the no-top file."""

    url: str
    file_hash: str
    notop_url: str
    notop_hash: str


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one architecture.

    ``params`` is ``model.count_params()`` of the builder's default model
    (``include_top=True``, ``params_classes`` classes, default input size);
    ``test_size`` is the smallest input the test suite builds it at.
    ``weights`` maps a ``weights=`` name (e.g. ``"imagenet"``) to its files.
    """

    name: str
    builder: Callable
    family: str
    paper: str
    default_size: int
    min_size: int
    channels: int = 3
    twin: str = "paper"
    params: Optional[int] = None
    params_classes: int = 1000
    weights: Mapping[str, WeightsFile] = dataclasses.field(default_factory=dict)
    test_size: Optional[int] = None
    slow: bool = False

    @property
    def default_shape(self):
        return (self.default_size, self.default_size, self.channels)


def register(**metadata):
    """Decorator adding a builder to the registry under its default ``name``.

    The entry is also attached to the builder as ``builder.info`` so that the
    builder can hand it to :class:`keras_arches.contract.Contract`.
    """

    def decorate(builder):
        name = inspect.signature(builder).parameters["name"].default
        if name in _REGISTRY:
            raise ValueError(f"Model {name!r} is registered twice.")
        info = ModelInfo(name=name, builder=builder, **metadata)
        _REGISTRY[name] = info
        builder.info = info
        return builder

    return decorate


def _lookup(name):
    key = str(name).lower()
    for entry in _REGISTRY.values():
        if key in (entry.name, entry.builder.__name__.lower()):
            return entry
    raise ValueError(
        f"Unknown model {name!r}. Known models: {', '.join(list_models())}."
    )


def list_models(family=None, weights=None):
    """Names of the registered models.

    ``family`` keeps one family (e.g. ``"resnet"``); ``weights`` keeps the
    models with that published checkpoint (e.g. ``"imagenet"``).
    """
    if family is not None and family not in {e.family for e in _REGISTRY.values()}:
        families = sorted({e.family for e in _REGISTRY.values()})
        raise ValueError(f"Unknown family {family!r}. Known families: {families}.")
    return [
        e.name
        for e in _REGISTRY.values()
        if (family is None or e.family == family)
        and (weights is None or weights in e.weights)
    ]


def model_info(name):
    """The :class:`ModelInfo` of a model, by registry name or builder name."""
    return _lookup(name)


def get_model(name, **kwargs):
    """Builds a registered model: ``get_model("vgg16", weights=None)``."""
    return _lookup(name).builder(**kwargs)
