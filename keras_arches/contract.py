"""The builder contract every architecture follows.

Each public builder takes the arguments of ``keras.applications`` (``include_top,
weights, input_tensor, input_shape, pooling, classes, classifier_activation,
name``) with their meaning, and hands them to :class:`Contract`, which validates
them, makes the input, builds the head and loads weights. The checks are
stricter than Keras': a bad ``pooling``, a stray ``classes`` or an
``input_shape`` that contradicts ``input_tensor`` is an error, not ignored.
"""

import inspect
import os

import keras
from keras import layers

from keras_arches import loading, registry
from keras_arches.arch_model import ArchModel
from keras_arches.checks import check_rate  # noqa: F401  (builders use it)

POOLING_MODES = (None, "avg", "max")


def channel_axis():
    """The channel axis of image tensors under the current data format."""
    return -1 if keras.config.image_data_format() == "channels_last" else 1


def head_dtype():
    """Dtype for classifier layers: float32 under a mixed-precision policy.

    Softmax in float16 underflows and users then get zero probabilities, so
    the classifier computes in float32 while the body may run in float16.
    """
    policy = keras.mixed_precision.global_policy().name
    return "float32" if policy.startswith("mixed") else None


def check_width(width_multiplier, weights=None):
    """Validates a channel multiplier; published checkpoints exist only for 1.0."""
    if (
        isinstance(width_multiplier, bool)
        or not isinstance(width_multiplier, (int, float))
        or not 0 < width_multiplier <= 8
    ):
        raise ValueError(
            "`width_multiplier` must be a number in (0, 8]. Received: "
            f"width_multiplier={width_multiplier!r}"
        )
    if width_multiplier != 1 and isinstance(weights, str) and weights == "imagenet":
        raise ValueError(
            "`weights='imagenet'` fits only `width_multiplier=1.0`. Received: "
            f"width_multiplier={width_multiplier}"
        )


def scale_width(filters, width_multiplier):
    """``filters`` times the channel multiplier, rounded, at least 1."""
    return max(1, int(round(filters * width_multiplier)))


def _spatial_and_channels(shape):
    if keras.config.image_data_format() == "channels_first":
        return shape[1:], shape[0]
    return shape[:2], shape[2]


def _to_data_format(height_width_channels):
    h, w, c = height_width_channels
    if keras.config.image_data_format() == "channels_first":
        return (c, h, w)
    return (h, w, c)


class Contract:
    """Validated standard arguments of one build, plus the input and head.

    Usage inside a builder::

        c = Contract(VGG16.info, include_top, weights, input_tensor,
                     input_shape, pooling, classes, classifier_activation, name)
        x = c.image          # the image tensor to build on
        ...
        return c.model(c.head(x))
    """

    def __init__(
        self,
        info,
        include_top,
        weights,
        input_tensor,
        input_shape,
        pooling,
        classes,
        classifier_activation,
        name,
    ):
        self.info = info
        self.include_top = include_top
        self.weights = weights
        self.pooling = pooling
        self.classes = classes
        self.classifier_activation = classifier_activation
        self.name = name
        self.channel_axis = channel_axis()
        self._check_head_arguments()
        self._check_weights()
        self.input_shape = self._resolve_input_shape(input_shape, input_tensor)
        if input_tensor is None:
            self.image = layers.Input(shape=self.input_shape, name="input_layer")
            self.inputs = self.image
        else:
            self.image = input_tensor
            self.inputs = keras.utils.get_source_inputs(input_tensor)

    # -- validation -------------------------------------------------------

    def _check_head_arguments(self):
        if not isinstance(self.include_top, bool):
            raise ValueError(
                f"`include_top` must be True or False. Received: "
                f"include_top={self.include_top!r}"
            )
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string. Received: {self.name!r}")
        if self.pooling not in POOLING_MODES:
            raise ValueError(
                "`pooling` must be one of None, 'avg' or 'max'. "
                f"Received: pooling={self.pooling!r}"
            )
        if self.include_top and self.pooling is not None:
            raise ValueError(
                "`pooling` applies only when `include_top=False` (the top "
                "already pools before its classifier). Received: "
                f"include_top=True, pooling={self.pooling!r}"
            )
        if isinstance(self.classes, bool) or not isinstance(self.classes, int) or self.classes < 1:
            raise ValueError(
                f"`classes` must be a positive integer. Received: classes={self.classes!r}"
            )
        default_classes = inspect.signature(self.info.builder).parameters["classes"].default
        if not self.include_top and self.classes != default_classes:
            raise ValueError(
                "`classes` applies only when `include_top=True`: a model "
                "without its top has no classifier. Received: "
                f"include_top=False, classes={self.classes}"
            )
        if self.include_top and self.classifier_activation is not None:
            try:
                keras.activations.get(self.classifier_activation)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    "`classifier_activation` must be None, the name of a Keras "
                    "activation or a callable. Received: "
                    f"classifier_activation={self.classifier_activation!r}"
                ) from error

    def _check_weights(self):
        weights, info = self.weights, self.info
        self.checkpoint = None  # a published checkpoint: keras' file (tag) or a Checkpoint
        if weights is None:
            return
        if not isinstance(weights, (str, os.PathLike)):
            raise ValueError(
                "`weights` must be None, a checkpoint name or a path to a weights "
                f"file. Received: weights={weights!r}"
            )
        if weights in info.tags:
            self.checkpoint = weights
            classes = info.checkpoint_for(weights).classes if weights not in info.weights else 1000
            # Another class count is transfer learning: everything loads but the classifier.
            new_head = self.include_top and self.classes != classes
            if (self.include_top and not new_head
                    and self.classifier_activation not in (None, "softmax")):
                raise ValueError(
                    f"With `weights={weights!r}` and `include_top=True`, "
                    "`classifier_activation` must be None or 'softmax'. Received: "
                    f"classifier_activation={self.classifier_activation!r}"
                )
            return
        if os.path.exists(weights):
            return
        if weights == "imagenet":
            layouts = [info.for_variant(v) for v in info.variants]
            layout = next((card for card in layouts if "imagenet" in card.tags), None)
            if layout is not None:
                tags = [tag for tag in layout.tags if tag != "imagenet"]
                raise ValueError(
                    f"{info.name}'s ImageNet checkpoints are in another layout than its default: "
                    f"pass {info.variant_argument}={layout.variant!r} with `weights='imagenet'`, "
                    f"or a tag of that layout ({', '.join(tags)})."
                )
            available = registry.list_models(weights="imagenet")
            raise ValueError(
                f"No ImageNet checkpoint is published for {info.name!r} in a "
                "layout keras_arches can load. Use `weights=None` (random "
                "initialization) or the path to a weights file. Models with "
                f"ImageNet weights: {', '.join(available) or 'none'}."
            )
        named = info.all_tags
        raise ValueError(
            "`weights` must be None (random initialization)"
            + (f", one of {named}" if named else "")
            + " or the path to an existing weights file. Received: "
            f"weights={weights!r} (no such file, and not a checkpoint name)"
        )

    @staticmethod
    def _shape_of_tensor(input_shape, input_tensor):
        """``input_tensor``'s shape (without the batch axis), which ``input_shape`` must match."""
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                "`input_tensor` must be a Keras tensor (the output of "
                f"`keras.Input` or of a layer). Received: {type(input_tensor).__name__}"
            )
        tensor_shape = tuple(input_tensor.shape[1:])
        if input_shape is not None and tuple(input_shape) != tensor_shape:
            raise ValueError(
                "`input_shape` contradicts `input_tensor`: received "
                f"input_shape={tuple(input_shape)} but input_tensor has shape "
                f"{tuple(input_tensor.shape)}. Pass one of them, or matching values."
            )
        return tensor_shape

    def _resolve_input_shape(self, input_shape, input_tensor):
        info = self.info
        default_shape = _to_data_format(info.default_shape)
        if input_tensor is not None:
            input_shape = self._shape_of_tensor(input_shape, input_tensor)
        if input_shape is None:
            if self.include_top:
                return default_shape
            return _to_data_format((None, None, info.channels))
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or not all(
            d is None or (isinstance(d, int) and d > 0) for d in input_shape
        ):
            raise ValueError(
                "`input_shape` must be a tuple of three positive integers (height, "
                "width, channels; channels first under 'channels_first'), with None "
                f"allowed for the spatial sizes. Received: input_shape={input_shape}"
            )
        spatial, channels = _spatial_and_channels(input_shape)
        if channels is None:
            raise ValueError(
                f"The channel dimension must be known. Received: input_shape={input_shape}"
            )
        if self.checkpoint is not None:
            # Other channel counts adapt the first convolution (weights.adapt_input_kernel).
            fixed = info.fixed_size_top or self.checkpoint in info.weights
            if self.include_top and fixed and spatial != _spatial_and_channels(default_shape)[0]:
                raise ValueError(
                    f"When setting `include_top=True` and loading `{self.weights}` "
                    f"weights, `input_shape` should be {default_shape}. Received: "
                    f"input_shape={input_shape}"
                )
        self._check_sizes(input_shape, spatial)
        return input_shape

    def _check_sizes(self, input_shape, spatial):
        """The spatial sizes against the card's minimum sizes and the top's needs."""
        info = self.info
        if self.include_top and info.top_min_size and any(
            d is not None and d < info.top_min_size for d in spatial
        ):
            raise ValueError(
                f"With `include_top=True`, {info.name}'s top (Flatten into Dense) needs an "
                f"input of at least {info.top_min_size}x{info.top_min_size}; without the top "
                f"it takes {info.min_size}x{info.min_size} and up. Received: "
                f"input_shape={input_shape}"
            )
        if any(d is not None and d < info.min_size for d in spatial):
            raise ValueError(
                f"Input size must be at least {info.min_size}x{info.min_size} for "
                f"{info.name} (default {info.default_size}x{info.default_size}). "
                f"Received: input_shape={input_shape}"
            )
        if self.include_top and None in spatial:
            raise ValueError(
                "If `include_top` is True, you should specify a static "
                f"`input_shape`. Received: input_shape={input_shape}"
            )

    # -- building ---------------------------------------------------------

    def head(self, x, *, global_pool=True, dropout_rate=0.0):
        """The top: pooling, optional dropout and classifier; or pooling only.

        With ``include_top=False`` this applies ``pooling`` (None, avg, max).
        Architectures whose top flattens (VGG, AlexNet) build their hidden
        layers themselves and call this with ``global_pool=False``.
        """
        if not self.include_top:
            if self.pooling == "avg":
                return layers.GlobalAveragePooling2D(name="avg_pool")(x)
            if self.pooling == "max":
                return layers.GlobalMaxPooling2D(name="max_pool")(x)
            return x
        if global_pool:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name="head_dropout")(x)
        return self.classifier(x)

    def classifier(self, x, name="predictions"):
        """The final Dense layer, computed in float32 under mixed precision."""
        return layers.Dense(
            self.classes,
            activation=self.classifier_activation,
            dtype=head_dtype(),
            name=name,
        )(x)

    def model(self, outputs):
        """The functional model, with the requested weights loaded (:mod:`keras_arches.loading`:
        one loader for a tag and a file)."""
        model = ArchModel(
            self.inputs, outputs, name=self.name,
            arch=self.info.name if registry.is_registered(self.info) else None,
            checkpoint=self.checkpoint, variant=self.info.variant,
        )
        if self.weights is not None:
            loading.load(model, self.info, self.weights, include_top=self.include_top)
        return model
