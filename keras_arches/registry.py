"""The model registry: one card per architecture, holding every fact about it.

Builders register themselves with :func:`register`; ``list_models`` and ``get_model`` are the
public face. :func:`model_info` gives a model's card (:class:`ModelInfo`) by registry name or from
a model a registered builder made, also after a ``.keras`` round trip: builders return an
:class:`ArchModel`, a functional ``keras.Model`` that remembers its architecture and checkpoint.
Nothing else in the package keeps a table keyed by model name.
"""

import dataclasses
import inspect
from typing import Callable, Mapping, Optional, Tuple

import keras

_REGISTRY: dict = {}

# How an image in [0, 255] is scaled for a model (keras.applications' modes, plus "unit" = x/255
# and "raw" = unchanged); the card says which its reference weights expect.
PREPROCESSING = ("unit", "raw", "tf", "torch", "caffe")


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """A published Keras checkpoint: the full model file and the no-top file."""

    url: str
    file_hash: str
    notop_url: str
    notop_hash: str


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """The model card: what the package knows about one architecture.

    - ``family``, ``paper``, ``twin`` (the keras.applications model or reference implementation
      it matches, or "paper").
    - ``default_size``/``min_size``/``channels``: input sizes; ``test_size`` is the smallest the
      test suite builds, ``slow`` marks models whose tests are slow.
    - ``params``: ``count_params()`` of the default model (top included, ``params_classes``
      classes, default size).
    - ``preprocessing``: the mode (:data:`PREPROCESSING`) its reference weights expect; training
      and the data pipelines use it.
    - ``recipe``: the name of its paper's training recipe (:data:`keras_arches.recipes.RECIPES`).
    - ``published_top1``: ``(top-1 %, source)`` of the published ImageNet weights of this
      architecture (keras.applications' or torchvision's), always the source's own figure.
    - ``weights``: keras-format checkpoints by ``weights=`` name (e.g. ``"imagenet"``).
    - ``checkpoint``: on the card of a built model, the checkpoint it carries (None on the
      registry's own cards).
    """

    name: str
    builder: Callable
    family: str
    paper: str
    default_size: int
    min_size: int
    preprocessing: str
    recipe: str
    channels: int = 3
    twin: str = "paper"
    params: Optional[int] = None
    params_classes: int = 1000
    published_top1: Optional[Tuple[float, str]] = None
    weights: Mapping[str, WeightsFile] = dataclasses.field(default_factory=dict)
    test_size: Optional[int] = None
    slow: bool = False
    checkpoint: Optional[str] = None

    @property
    def default_shape(self):
        return (self.default_size, self.default_size, self.channels)


@keras.saving.register_keras_serializable(package="keras_arches")
class ArchModel(keras.Model):
    """A functional ``keras.Model`` that knows which registered builder made it.

    ``arch`` is the registry name and ``checkpoint`` the weights it was built with (None for
    random initialisation); both are part of the config, so they survive ``.keras`` saving and
    a ``safe_mode=True`` reload. Everything else is a plain functional model.
    """

    def __init__(self, *args, arch=None, checkpoint=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.arch = arch
        self.checkpoint = checkpoint

    def get_config(self):
        return {**super().get_config(), "arch": self.arch, "checkpoint": self.checkpoint}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        arch, checkpoint = config.pop("arch", None), config.pop("checkpoint", None)
        model = super().from_config(config, custom_objects)
        model.arch, model.checkpoint = arch, checkpoint
        return model


def register(*, family, recipe=None, preprocessing, **facts):
    """Decorator adding a builder's card to the registry under its default ``name``.

    ``recipe`` defaults to the family's recipe (every family has one of its own name). The card
    is also attached to the builder as ``builder.info`` for :class:`keras_arches.contract.Contract`.
    """

    def decorate(builder):
        name = inspect.signature(builder).parameters["name"].default
        if name in _REGISTRY:
            raise ValueError(f"Model {name!r} is registered twice.")
        if preprocessing not in PREPROCESSING:
            raise ValueError(
                f"{name}: preprocessing must be one of {PREPROCESSING}. Received: {preprocessing!r}"
            )
        info = ModelInfo(
            name=name, builder=builder, family=family, recipe=recipe or family,
            preprocessing=preprocessing, **facts,
        )
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


def is_registered(info):
    """Whether ``info`` is a registry card (the generic builders' own entries are not)."""
    return _REGISTRY.get(info.name) is info


def cards():
    """Every registered card, in registration order."""
    return list(_REGISTRY.values())


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


def model_info(model):
    """The card (:class:`ModelInfo`) of a model.

    ``model`` is a registry or builder name (``"resnet50"``, ``"ResNet50"``), or a model that a
    registered builder made, also after a ``.keras`` save and reload; its card then records the
    checkpoint it carries. A Keras model that no builder made has no card: ``ValueError``.
    """
    if isinstance(model, keras.Model):
        arch = getattr(model, "arch", None)
        if arch is None:
            raise ValueError(
                f"Model {model.name!r} was not built by a keras_arches builder, so it has no model "
                "card. Build it with a builder or `get_model(name)`, or pass the facts you need "
                "(e.g. `preprocessing=`, `recipe=`) explicitly."
            )
        return dataclasses.replace(_lookup(arch), checkpoint=model.checkpoint)
    return _lookup(model)


def get_model(name, **kwargs):
    """Builds a registered model: ``get_model("vgg16", weights=None)``."""
    return _lookup(name).builder(**kwargs)
