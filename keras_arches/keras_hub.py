"""Every builder as a keras-hub image encoder, for keras-hub's detection and segmentation tasks.

keras-hub 0.32's tasks take an ``image_encoder`` (``DeepLabV3Backbone``, ``RetinaNetBackbone``)
or a ``backbone`` (``ImageClassifier``) that is a ``keras_hub.models.FeaturePyramidBackbone``: a
functional model whose output is the last feature map and whose ``pyramid_outputs`` maps
``"P<level>"`` to the map at stride ``2**level`` of the same graph. :class:`ClassicBackbone` is
that model for any registered builder: its graph is the builder's ``include_top=False`` model,
its pyramid is the builder's ``features_only=True`` levels (:mod:`keras_arches.backbone`), and
its weights come through this package's loader (a tag or a file, as for the builder).

- :func:`backbone`: ``backbone("resnet50.a1_in1k", image_shape=(224, 224, 3))``.
- :func:`deeplab_v3_backbone` and :func:`retinanet_backbone`: keras-hub's own task backbones on
  a classic encoder, after checking that the pyramid has the levels they read; keras-hub would
  fail with a ``KeyError`` or a shape mismatch deep inside its graph instead.
- :func:`image_classifier`: keras-hub's ``ImageClassifier`` carrying the builder's pretrained
  top, for the builders whose top is global average pooling, dropout and one ``Dense`` layer.

The inputs are preprocessed as the checkpoint expects
(``keras_arches.preprocess_input(images, "resnet50.a1_in1k")``), as for the builder itself.
keras-hub is an optional dependency: ``pip install keras_arches[hub]``.
"""

import keras

from keras_arches import backbone as pyramids
from keras_arches import registry

try:
    import keras_hub
except ImportError as error:  # pragma: no cover - the [hub] extra is in the test extra
    raise ImportError(
        "keras_arches.keras_hub needs keras-hub: pip install 'keras_arches[hub]'"
    ) from error

# Top layers keras-hub's ImageClassifier head (pooler, output_dropout, output_dense) repeats.
_CLASSIFIER_TOP = (keras.layers.GlobalAveragePooling2D, keras.layers.Dropout, keras.layers.Dense)


def _split_name(name, weights):
    arch, _, tag = str(name).partition(".")
    if tag and weights is not None and weights != tag:
        raise ValueError(
            f"{name} names the checkpoint {tag!r}; it contradicts weights={weights!r}. "
            "Pass one of them."
        )
    return arch, tag or weights


@keras.saving.register_keras_serializable(package="keras_arches")
class ClassicBackbone(keras_hub.models.FeaturePyramidBackbone):
    """A registered builder's feature extractor as a keras-hub ``FeaturePyramidBackbone``.

    The graph is ``get_model(arch, include_top=False, input_shape=image_shape, ...)``: its
    output is the deepest feature map (what ``ImageClassifier`` pools), and
    ``pyramid_outputs`` is ``{"P<level>": map}`` for every level of the builder's
    ``features_only=True`` pyramid (keras-hub's convention: ``P3`` is stride 8). The config
    holds the registry name, the input shape, the layout (``variant``) and the builder
    options, never the weights, so ``.keras`` files and keras-hub presets rebuild it without
    a download and then load their own weights.

    Args:
        arch: a registry name (``"resnet50"``; see ``keras_arches.list_models()``).
        image_shape: the input shape without the batch axis; ``None`` height and width where
            the builder allows them.
        weights: None (random initialisation), a checkpoint tag of ``arch`` (``"a1_in1k"``) or
            the path to a weights file, loaded by the package's loader as the builder does.
        variant: the builder's layout; None takes the checkpoint's (see ``ModelInfo.variant``).
        options: further keyword arguments of the builder (``{"output_stride": 16}``).
        dtype: the dtype policy, as for any keras-hub backbone.
        **kwargs: ``name``, ``trainable``, as for ``keras.Model``.
    """

    def __init__(self, arch, image_shape=(None, None, 3), weights=None, variant=None,
                 options=None, dtype=None, **kwargs):
        info = registry.model_info(arch)
        options = dict(options or {})
        if variant is not None:
            options[info.variant_argument] = variant
        encoder = info.builder(weights=weights, include_top=False,
                               input_shape=tuple(image_shape), **options)
        kwargs.setdefault("name", f"{info.name}_backbone")
        super().__init__(inputs=encoder.input, outputs=encoder.output, dtype=dtype, **kwargs)
        self.pyramid_outputs = {
            f"P{level}": tensor for level, (_, tensor) in pyramids.taps(encoder).items()
        }
        self.arch = info.name
        self.image_shape = tuple(image_shape)
        self.variant = encoder.variant
        self.checkpoint = encoder.checkpoint
        self.options = {k: v for k, v in options.items() if k != info.variant_argument}

    @property
    def levels(self):
        """The pyramid's levels, ascending (``P<level>`` is stride ``2**level``)."""
        return tuple(sorted(int(key[1:]) for key in self.pyramid_outputs))

    def require_levels(self, levels, task):
        """Raises a ``ValueError`` naming the missing levels if the pyramid lacks any of
        ``levels``, and why ``task`` needs them."""
        missing = [level for level in levels if level not in self.levels]
        if missing:
            raise ValueError(
                f"{task} reads the pyramid levels {_keys(levels)} of its image encoder, but "
                f"{self.arch}{_options_text(self.options)} gives {_keys(self.levels)}: "
                f"{_keys(missing)} missing. Choose the task's levels among {_keys(self.levels)}"
                + (" or build the encoder without `output_stride`"
                   if "output_stride" in self.options else "") + "."
            )

    def get_config(self):
        return {**super().get_config(), "arch": self.arch, "image_shape": self.image_shape,
                "variant": self.variant, "options": self.options}


def _keys(levels):
    return ", ".join(f"P{level}" for level in levels)


def _options_text(options):
    return f" ({', '.join(f'{k}={v!r}' for k, v in options.items())})" if options else ""


def backbone(name, *, weights=None, image_shape=(None, None, 3), variant=None, **options):
    """A keras-hub image encoder on a registered builder.

    Args:
        name: a registry name, or a timm-style ``"arch.tag"`` that names the checkpoint
            (``"resnet50.a1_in1k"``).
        weights: None, a tag or a weights file, as for the builder (not with a tag in ``name``).
        image_shape: the input shape without the batch axis.
        variant: the builder's layout (None: the checkpoint's).
        **options: further builder arguments, e.g. ``output_stride=16`` on residual families.

    Returns:
        A :class:`ClassicBackbone`.
    """
    arch, weights = _split_name(name, weights)
    return ClassicBackbone(arch, image_shape=image_shape, weights=weights, variant=variant,
                           options=options)


def deeplab_v3_backbone(encoder, *, spatial_pyramid_pooling_key="P5", low_level_feature_key="P2",
                        dilation_rates=(6, 12, 18), projection_filters=48, **kwargs):
    """keras-hub's ``DeepLabV3Backbone`` (Chen et al. 2017, 2018) on a classic encoder.

    The atrous spatial pyramid pooling reads ``spatial_pyramid_pooling_key``; with
    ``low_level_feature_key`` (DeepLabV3+; None for plain DeepLabV3) the decoder concatenates
    that level, so the encoder's output is upsampled by ``2**(spp - low)``, the
    ``upsampling_size`` keras-hub asks for.

    Args:
        encoder: a :class:`ClassicBackbone` (see :func:`backbone`).
        spatial_pyramid_pooling_key, low_level_feature_key, dilation_rates,
        projection_filters: as for ``keras_hub.models.DeepLabV3Backbone``.
        **kwargs: other ``DeepLabV3Backbone`` arguments (``upsampling_size`` where there is no
            low-level feature).

    Returns:
        A ``keras_hub.models.DeepLabV3Backbone`` for ``DeepLabV3ImageSegmenter``.

    Raises:
        ValueError: a key names a level the encoder's pyramid lacks.
    """
    keys = [k for k in (spatial_pyramid_pooling_key, low_level_feature_key) if k]
    encoder.require_levels([_level(key) for key in keys], "DeepLabV3Backbone")
    if low_level_feature_key:
        kwargs.setdefault("upsampling_size", 2 ** (_level(spatial_pyramid_pooling_key)
                                                  - _level(low_level_feature_key)))
        _check_decoder_sizes(encoder, spatial_pyramid_pooling_key, low_level_feature_key,
                             kwargs["upsampling_size"])
    return keras_hub.models.DeepLabV3Backbone(
        image_encoder=encoder, spatial_pyramid_pooling_key=spatial_pyramid_pooling_key,
        low_level_feature_key=low_level_feature_key, dilation_rates=list(dilation_rates),
        projection_filters=projection_filters, image_shape=encoder.image_shape, **kwargs,
    )


def _check_decoder_sizes(encoder, spp_key, low_key, upsampling_size):
    """DeepLabV3+ concatenates the pooled map, upsampled by ``upsampling_size``, with the
    low-level map: their sizes must agree. Strides that pad ``valid`` (Xception's stem) break
    the powers of two at some input sizes; keras-hub's own error would name neither level."""
    spatial = slice(2, 4) if keras.config.image_data_format() == "channels_first" else slice(1, 3)
    spp = encoder.pyramid_outputs[spp_key].shape[spatial]
    low = encoder.pyramid_outputs[low_key].shape[spatial]
    if None in spp or None in low:
        return
    if tuple(n * upsampling_size for n in spp) != tuple(low):
        raise ValueError(
            f"DeepLabV3+ upsamples {spp_key} by {upsampling_size} to concatenate it with "
            f"{low_key}, but {encoder.arch} at image_shape={encoder.image_shape} gives "
            f"{spp_key} {spp[0]}x{spp[1]} and {low_key} {low[0]}x{low[1]}. Choose an input "
            f"size at which {low_key} is {upsampling_size} times {spp_key}, or "
            "low_level_feature_key=None (DeepLabV3 without the decoder)."
        )


def retinanet_backbone(encoder, *, min_level=3, max_level=7, use_p5=False, **kwargs):
    """keras-hub's ``RetinaNetBackbone`` (Lin et al. 2017) on a classic encoder.

    keras-hub's feature pyramid reads the encoder's levels ``min_level`` to
    ``min(max_level, 5)`` and makes the coarser ones itself.

    Args:
        encoder: a :class:`ClassicBackbone` (see :func:`backbone`).
        min_level, max_level, use_p5: as for ``keras_hub.models.RetinaNetBackbone``.
        **kwargs: other ``RetinaNetBackbone`` arguments.

    Returns:
        A ``keras_hub.models.RetinaNetBackbone`` for ``RetinaNetObjectDetector``.

    Raises:
        ValueError: the encoder's pyramid lacks one of those levels.
    """
    encoder.require_levels(range(min_level, min(max_level, 5) + 1), "RetinaNetBackbone")
    return keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=min_level, max_level=max_level, use_p5=use_p5,
        image_shape=encoder.image_shape, **kwargs,
    )


def _level(key):
    if not (isinstance(key, str) and key[:1] == "P" and key[1:].isdigit()):
        raise ValueError(f"A pyramid key is 'P<level>', e.g. 'P5'. Received: {key!r}")
    return int(key[1:])


def _classifier_top(model, encoder):
    """The ``(Dropout rate, Dense layer)`` of ``model``'s top, which must be global average
    pooling, at most one Dropout and one Dense layer after the encoder's last layer."""
    names = [op.name for op in model.operations]
    top = model.operations[names.index(encoder.operations[-1].name) + 1:]
    kinds = tuple(type(op) for op in top)
    if kinds not in (_CLASSIFIER_TOP, _CLASSIFIER_TOP[::2]):
        raise ValueError(
            f"{encoder.arch}'s top is {' -> '.join(type(op).__name__ for op in top)}; keras-hub's "
            "ImageClassifier head is GlobalAveragePooling2D -> Dropout -> Dense, so it cannot "
            "carry this top. Build keras_hub.models.ImageClassifier(backbone=backbone(...), "
            "num_classes=...) with a new head and train it."
        )
    rate = top[1].rate if len(top) == 3 else 0.0
    return rate, top[-1]


def image_classifier(name, *, weights=None, image_shape=None, variant=None,
                     classifier_activation="softmax", **options):
    """keras-hub's ``ImageClassifier`` with a builder's encoder and its own top.

    The result computes what ``get_model(name, ...)`` computes (same weights, same logits),
    for the builders whose top is global average pooling, optional dropout and one ``Dense``
    layer; keras-hub's ``ImageClassifier`` head is exactly that.

    Args:
        name, weights, variant, **options: as for :func:`backbone` (``classes`` included).
        image_shape: the input shape; None: the builder's default size.
        classifier_activation: the top's activation, as for the builder.

    Returns:
        A ``keras_hub.models.ImageClassifier`` whose ``backbone`` is a :class:`ClassicBackbone`.

    Raises:
        ValueError: the builder's top is not pooling, dropout and one ``Dense`` layer (VGG,
            AlexNet, ZFNet, LeNet-5, NiN, SqueezeNet).
    """
    arch, weights = _split_name(name, weights)
    info = registry.model_info(arch)
    shape = tuple(image_shape) if image_shape is not None else info.default_shape
    layout = {info.variant_argument: variant} if variant is not None else {}
    full = info.builder(weights=weights, input_shape=shape,
                        classifier_activation=classifier_activation, **layout, **options)
    options.pop("classes", None)  # the top's; the encoder has none
    encoder = ClassicBackbone(info.name, image_shape=shape, variant=full.variant, options=options)
    rate, dense = _classifier_top(full, encoder)
    for layer in encoder.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    encoder.checkpoint = full.checkpoint
    classifier = keras_hub.models.ImageClassifier(
        backbone=encoder, num_classes=dense.units, pooling="avg", dropout=rate,
        activation=keras.activations.serialize(dense.activation),
    )
    classifier.output_dense.set_weights(dense.get_weights())
    return classifier
