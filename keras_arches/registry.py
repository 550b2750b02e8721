"""The model registry: one card per architecture, holding every fact about it.

Builders register themselves with :func:`register`; ``list_models`` and ``get_model`` are the
public face. :func:`model_info` gives a model's card (:class:`ModelInfo`) by registry name or from
a model a registered builder made, also after a ``.keras`` round trip: builders return an
:class:`ArchModel`, a functional ``keras.Model`` that remembers its architecture and checkpoint.
Nothing else in the package keeps a table keyed by model name.
"""

import dataclasses
import fnmatch
import functools
import inspect
from typing import Callable, Mapping, Optional, Tuple

import keras

from keras_arches import backbone

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


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = INCEPTION_STD = (0.5, 0.5, 0.5)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
_TORCHVISION = "https://download.pytorch.org/models/"
_HF = "https://huggingface.co/timm/{}/resolve/main/model.safetensors"
_IMGCLSMOB = "https://github.com/osmr/imgclsmob/releases/download/"
_AKAMASTER = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/"
#: The classes of each dataset a checkpoint may be trained on.
DATASET_CLASSES = {"imagenet-1k": 1000, "cifar-10": 10, "cifar-100": 100, "svhn": 10}


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One published checkpoint in a source's layout (a torch ``state_dict``), with its facts.

    The vocabulary is timm's ``pretrained_cfg``: ``tag`` as in ``resnet18.a1_in1k``, input
    size, ``crop_pct``, interpolation, mean and std. ``url`` is the Hugging Face
    ``model.safetensors`` of the source's ``hf_hub_id`` where it has one, else the source's own
    file; ``file_hash`` is the published hash (the SHA-256 prefix in a torchvision file name,
    imgclsmob's SHA-1), checked after download. ``layout`` names the converter map
    (:data:`keras_arches.pretrained.LAYOUTS`). ``top1`` is the source's own published top-1 on
    ``dataset``, never a figure measured here. ``variant`` is the builder's ``variant=`` whose
    layout the checkpoint is in (None: the card's default layout).

    The eval transform (:func:`keras_arches.data.load_images`) is the source's: the shorter side
    resized to ``resize_size`` (torchvision's ``resize_size``; None: timm's
    ``floor(input_size / crop_pct)``) with ``interpolation``, then the central ``input_size``
    crop. ``test_input_size`` and ``test_crop_pct`` are timm's larger test-time resolution.
    """

    tag: str
    url: str
    layout: str
    source: str
    licence: str
    top1: Optional[float]
    file_hash: Optional[str] = None
    dataset: str = "imagenet-1k"
    classes: int = 1000
    input_size: int = 224
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    mean: Tuple[float, ...] = IMAGENET_MEAN
    std: Tuple[float, ...] = IMAGENET_STD
    variant: Optional[str] = None
    resize_size: Optional[int] = None
    test_input_size: Optional[int] = None
    test_crop_pct: Optional[float] = None


def torchvision_checkpoint(tag, file_name, layout, top1, *, resize=256, crop=224, variant=None):
    """A torchvision 0.29 ``IMAGENET1K_V*`` weights file: resize ``resize``, centre crop
    ``crop``, bilinear, ImageNet mean/std, BSD-3-Clause; the file name ends in its SHA-256
    prefix."""
    digest = file_name.rsplit("-", 1)[1].split(".")[0]
    return Checkpoint(
        tag, _TORCHVISION + file_name, layout, "torchvision 0.29", "bsd-3-clause", top1,
        file_hash=f"sha256:{digest}", input_size=crop, crop_pct=round(crop / resize, 4),
        resize_size=resize, variant=variant,
    )


def timm_checkpoint(name, layout, top1, licence, *, url=None, input_size=224, crop_pct=0.875,
                    interpolation="bicubic", mean=IMAGENET_MEAN, std=IMAGENET_STD, variant=None,
                    test=None):
    """A timm 1.0 ``pretrained_cfg`` (``name`` is ``arch.tag``): by default the Hugging Face
    ``model.safetensors`` of ``timm/<name>``, which publishes no hash. ``test`` is its
    ``(test_input_size, test_crop_pct)`` where it has them."""
    test_input_size, test_crop_pct = test or (None, None)
    return Checkpoint(
        name.split(".", 1)[1], url or _HF.format(name), layout, f"timm 1.0 {name}", licence,
        top1, input_size=input_size, crop_pct=crop_pct, interpolation=interpolation,
        mean=mean, std=std, variant=variant, test_input_size=test_input_size,
        test_crop_pct=test_crop_pct,
    )


def imgclsmob_checkpoint(tag, release, file_stem, sha1, layout, error, *, variant=None,
                         dataset="cifar-10"):
    """A pytorchcv 0.0.74 (imgclsmob) ``.pth.zip`` of a 32 px net: ``error`` is its test error
    in %. imgclsmob normalises CIFAR-10, CIFAR-100 and SVHN alike, with CIFAR-10's mean and std
    (its ``CIFAR100MetaInfo`` and ``SVHNMetaInfo`` inherit them)."""
    return Checkpoint(
        tag, f"{_IMGCLSMOB}{release}/{file_stem}.pth.zip", layout, "pytorchcv 0.0.74", "mit",
        round(100 - error, 2), file_hash=f"sha1:{sha1}", dataset=dataset,
        classes=DATASET_CLASSES[dataset], input_size=32, crop_pct=1.0, mean=CIFAR10_MEAN,
        std=CIFAR10_STD, variant=variant,
    )


def akamaster_checkpoint(depth, digest, error):
    """A CIFAR-10 ResNet-``depth`` of akamaster/pytorch_resnet_cifar10 (option-A shortcuts;
    ``error``: the test error in % of its README). The file is ``torch.save`` of
    ``{"state_dict", "best_prec1"}`` with ``nn.DataParallel``'s ``module.`` keys; its name ends
    in its SHA-256 prefix (torch.hub's convention, adopted in the repository's issue 7). Its
    trainer normalises [0, 1] inputs with ImageNet's mean and std. BSD-2-Clause."""
    return Checkpoint(
        "akamaster_cifar10", f"{_AKAMASTER}resnet{depth}-{digest}.th", "akamaster.resnet_cifar",
        "akamaster/pytorch_resnet_cifar10", "bsd-2-clause", round(100 - error, 2),
        file_hash=f"sha256:{digest}", dataset="cifar-10", classes=10, input_size=32,
        crop_pct=1.0,
    )


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
    - ``checkpoints``: published checkpoints in a source layout (:class:`Checkpoint`), loaded by
      ``weights="<tag>"``; ``layout`` is the converter map of a state dict of the reference
      model, for ``weights=<path>``; ``default_checkpoint`` is the tag ``"imagenet"`` loads
      where keras publishes no file.
    - ``fixed_size_top``: the top flattens a feature map, so with it the input size is fixed.
    - ``top_min_size``: the smallest input with the top, where the top needs more than the
      convolutions' ``min_size`` (AlexNet, ZFNet: their FC layers were sized for the default).
    - ``classifier``: the layers a new head replaces (``classes`` other than the checkpoint's).
    - ``checkpoint``: on the card of a built model, the checkpoint it carries (None on the
      registry's own cards).
    - ``variants``: other layouts of the builder (its ``variant=`` argument, e.g. torchvision's
      ResNet-50), each the card fields it changes; ``variant`` is the layout a card describes
      (None: the default). :meth:`for_variant` gives a variant's card. ``variant_argument``
      is the builder argument whose value names the variant (ResNet110's ``shortcut``).
    - ``feature_info`` (a property): the levels ``features_only=True`` returns.
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
    checkpoints: Tuple[Checkpoint, ...] = ()
    layout: Optional[str] = None
    default_checkpoint: Optional[str] = None
    fixed_size_top: bool = False
    top_min_size: Optional[int] = None
    classifier: Tuple[str, ...] = ("predictions",)
    test_size: Optional[int] = None
    slow: bool = False
    checkpoint: Optional[str] = None
    variants: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)
    variant: Optional[str] = None
    variant_argument: str = "variant"

    @property
    def default_shape(self):
        return (self.default_size, self.default_size, self.channels)

    @property
    def tags(self):
        """Every ``weights=`` name this card's layout accepts besides None and a path."""
        named = list(self.weights) + [c.tag for c in self.checkpoints if c.variant == self.variant]
        if "imagenet" not in named and self._imagenet_default():
            named.insert(0, "imagenet")
        return named

    @property
    def all_tags(self):
        """The tags of every layout of the builder: :attr:`tags`, then the other variants'."""
        return self.tags + [c.tag for c in self.checkpoints if c.variant != self.variant]

    @property
    def datasets(self):
        """The datasets of the builder's published checkpoints, every layout's, in order."""
        found = ["imagenet-1k"] if self.weights else []
        found += [c.dataset for c in self.checkpoints]
        return list(dict.fromkeys(found))

    @property
    def feature_info(self):
        """Per pyramid level: ``level``, ``stride``, ``channels``, ``layer`` (timm's
        ``feature_info``), as the builder's ``features_only=True`` returns them."""
        return backbone.feature_info(self)

    def _imagenet_default(self):
        default = next((c for c in self.checkpoints if c.tag == self.default_checkpoint), None)
        return default if default is not None and default.dataset == "imagenet-1k" else None

    def checkpoint_for(self, tag):
        """The :class:`Checkpoint` of a tag (``"imagenet"``: the default ImageNet one) or None."""
        if tag == "imagenet" and "imagenet" not in self.weights:
            return self._imagenet_default()
        return next((c for c in self.checkpoints if c.tag == tag), None)

    def for_variant(self, variant):
        """The card of the builder's ``variant=`` layout (None: the default layout)."""
        if variant == self.variant:
            return self
        if variant is None:
            return _lookup(self.name)
        if variant not in self.variants:
            raise ValueError(
                f"`variant` must be one of {[None, *self.variants]} for {self.name}. "
                f"Received: variant={variant!r}"
            )
        return dataclasses.replace(self, **self.variants[variant], variant=variant)

    def for_tag(self, tag, variant=None):
        """The card of the layout a checkpoint tag is in (None or ``"imagenet"``: this card's
        layout, or ``variant``'s). An explicit ``variant`` must agree with the tag's
        checkpoint, else ``ValueError``. A local file's layout is found by
        :func:`keras_arches.loading.resolve_variant`."""
        tag_variant = None
        if isinstance(tag, str) and tag != "imagenet":
            checkpoint = self.checkpoint_for(tag)
            tag_variant = checkpoint.variant if checkpoint is not None else None
            if variant is not None and checkpoint is not None and tag_variant != variant:
                raise ValueError(
                    f"The checkpoint {tag!r} of {self.name} is in the "
                    f"{tag_variant or 'default'} layout, not variant={variant!r}. Pass "
                    f"variant={tag_variant!r} or leave `variant` unset."
                )
        return self.for_variant(variant if variant is not None else tag_variant)


def _with_features_only(builder):
    """``builder`` with the keyword-only backbone arguments every registered builder takes.

    ``features_only=True`` builds the model without its top and returns the feature pyramid
    ``{"P<level>": map}`` (:mod:`keras_arches.backbone`); ``out_levels`` picks levels. The
    signature stays visible to ``inspect.signature``, with the two arguments last.
    """
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def build(*args, features_only=False, out_levels=None, **kwargs):
        if features_only is False and out_levels is None:
            return builder(*args, **kwargs)
        arguments = signature.bind(*args, **kwargs).arguments
        backbone.check_features_only(features_only, out_levels, arguments.get("pooling"))
        arguments["include_top"] = False
        model = builder(**arguments)
        return backbone.pyramid(model, build.info, out_levels)

    build.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(),
        inspect.Parameter("features_only", inspect.Parameter.KEYWORD_ONLY, default=False),
        inspect.Parameter("out_levels", inspect.Parameter.KEYWORD_ONLY, default=None),
    ])
    return build


def register(*, family, recipe=None, preprocessing, **facts):
    """Decorator adding a builder's card to the registry under its default ``name``.

    ``recipe`` defaults to the family's recipe (every family has one of its own name). The card
    is also attached to the builder as ``builder.info`` for :class:`keras_arches.contract.Contract`.
    The registered builder also takes ``features_only`` and ``out_levels``
    (:func:`_with_features_only`).
    """

    def decorate(builder):
        builder = _with_features_only(builder)
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
    card = _REGISTRY.get(info.name)
    return card is not None and card.builder is info.builder  # variants may replace() a card


def cards():
    """Every registered card, in registration order."""
    return list(_REGISTRY.values())


def list_models(pattern=None, *, pretrained=None, dataset=None, family=None, weights=None):
    """Names of the registered models, in registration order, as timm's ``list_models``.

    Args:
        pattern: a shell pattern on the name (``"resnet*"``, ``"*cifar*"``; case-insensitive),
            or None for all.
        pretrained: True keeps the models with a published checkpoint in any layout, False those
            with none, None both.
        dataset: keeps the models with a checkpoint trained on that dataset (``"imagenet-1k"``,
            ``"cifar-10"``, ... :data:`DATASET_CLASSES`; keras.applications' ``"imagenet"``
            files count as ``"imagenet-1k"``).
        family: keeps one family (e.g. ``"resnet"``).
        weights: keeps the models whose default layout loads ``weights=`` that name (e.g.
            ``"imagenet"``).

    Returns:
        A list of registry names.
    """
    families = sorted({e.family for e in _REGISTRY.values()})
    if family is not None and family not in families:
        raise ValueError(f"Unknown family {family!r}. Known families: {families}.")
    if dataset is not None and dataset not in DATASET_CLASSES:
        raise ValueError(
            f"Unknown dataset {dataset!r}. Known datasets: {sorted(DATASET_CLASSES)}."
        )
    if pretrained not in (None, True, False):
        raise ValueError(f"`pretrained` must be None, True or False. Received: {pretrained!r}")
    return [
        e.name
        for e in _REGISTRY.values()
        if (pattern is None or fnmatch.fnmatch(e.name, str(pattern).lower()))
        and (pretrained is None or bool(e.all_tags) == pretrained)
        and (dataset is None or dataset in e.datasets)
        and (family is None or e.family == family)
        and (weights is None or weights in e.tags)
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
        card = _lookup(arch).for_variant(getattr(model, "variant", None))
        return dataclasses.replace(card, checkpoint=model.checkpoint)
    name, _, tag = str(model).partition(".")
    info = _lookup(name)
    if not tag:
        return info
    if tag not in info.all_tags:
        raise ValueError(
            f"Unknown checkpoint {tag!r} for {info.name}. "
            f"Known: {', '.join(info.all_tags) or 'none'}."
        )
    return dataclasses.replace(info.for_tag(tag), checkpoint=tag)


def get_model(name, **kwargs):
    """Builds a registered model: ``get_model("vgg16", weights=None)``.

    A timm-style ``"arch.tag"`` name (``"resnet18.tv_in1k"``) loads that checkpoint, as
    ``weights="tv_in1k"`` would, in the layout (``variant``) the checkpoint needs.
    ``features_only=True`` (and ``out_levels``) returns the feature pyramid, as on every builder.
    """
    name = str(name)
    if "." in name:
        name, tag = name.split(".", 1)
        if "weights" in kwargs and kwargs["weights"] != tag:
            raise ValueError(
                f"{name}.{tag} names the checkpoint {tag!r}; it contradicts "
                f"weights={kwargs['weights']!r}. Pass one of them."
            )
        kwargs["weights"] = tag
    return _lookup(name).builder(**kwargs)
