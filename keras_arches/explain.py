"""What the network looks at: class-activation maps, on the three Keras backends.

- :func:`grad_cam`: Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks
  via Gradient-based Localization" (ICCV). For a class ``c`` and a feature map ``A`` (``K``
  channels), ``alpha_k = mean_ij d y_c / d A_k(i, j)`` and the map is
  ``ReLU(sum_k alpha_k A_k)``, at ``A``'s spatial size. Any classifier, any 4-D layer.
- :func:`class_activation_map`: Zhou et al. 2016, "Learning Deep Features for Discriminative
  Localization" (CVPR). For a top that is global average pooling then one Dense classifier,
  the map is ``sum_k w_k^c A_k``, with ``w`` the classifier's kernel. On such a network it is
  Grad-CAM's map up to a positive factor (Grad-CAM paper, section 3.1), and the two functions
  return the same normalised map.
- :func:`overlay` and :func:`save_overlay`: the map blended over the image, as an array or
  a PNG (matplotlib's Agg canvas on a ``Figure``: the caller's backend is left alone).

Both maps are normalised alike: the positive part divided by its maximum, so in [0, 1] (an
all-zero map stays zero). Zhou et al.'s code min-max scales its maps instead.

The model is rebuilt on its own layers with ``keras.models.clone_model(clone_function=`` the
identity ``, call_function=...)``, which records every layer call in a graph that starts at
the model's inputs. A Functional or Sequential model nested inside it (a builder inside a
transfer-learning model) is rebuilt the same way, and what the explanation needs from inside
it (the feature map, the classifier's input) becomes an output of its rebuilt copy. So the
feature map is a tensor of a graph that starts at the model's input, also where it lies inside
a nested model: ``model.get_layer(...).output`` of a nested layer belongs to another graph,
the failure in keras-team/keras#16355 and tensorflow/tensorflow#44462. The gradient is taken
at a zero offset that the rebuilt model adds to the feature map, the input of a function, so
each backend's own autodiff applies (``tf.GradientTape``, ``jax.grad``, ``torch.autograd``).
"""

import dataclasses
import os
import weakref

import keras
import numpy as np

from keras_arches import registry

_LISTED_LAYERS = 8

# model -> {feature path: _Probe}: a model is rebuilt once per layer explained, not per call.
_PROBES = weakref.WeakKeyDictionary()


class _Seam(keras.layers.Layer):
    """Passes its input on, plus ``offset`` while one is set: the point where :func:`grad_cam`
    differentiates the class score with respect to the feature map."""

    def __init__(self, **kwargs):
        super().__init__(autocast=False, **kwargs)
        self.offset = None

    def call(self, inputs):
        if self.offset is None:
            return inputs
        return inputs + keras.ops.cast(self.offset, inputs.dtype)


@dataclasses.dataclass(frozen=True)
class _Call:
    """One layer call recorded while rebuilding a model; ``child`` is the :class:`_Probe` of
    a nested model and ``exposed`` its call's outputs by name."""

    layer: object
    args: tuple
    child: object = None
    exposed: object = None


@dataclasses.dataclass(frozen=True)
class _Probe:
    """A model rebuilt on its own layers whose output is a dict: ``output_<i>`` (the model's
    outputs, flattened), ``feature`` (the explained map, when a layer was asked for),
    ``score_input`` (what the class scores are computed from), ``cam_feature`` (the map under
    a global-average-pooling + Dense top) and ``pooled`` (the map the model's output
    averages, when it ends in global average pooling)."""

    model: object
    structure: object
    seam: object
    score_dense: object
    cam_dense: object
    cam_problem: str


def _has_graph(layer):
    return isinstance(layer, keras.Sequential) or (
        isinstance(layer, keras.Model) and hasattr(layer, "operations"))


def _graph(model):
    """``model`` as a Functional model on the same layers (a Sequential one is wrapped)."""
    if isinstance(model, keras.Sequential):
        try:
            return keras.Model(model.inputs[0], model.outputs[0], name=model.name)
        except (AttributeError, ValueError):
            raise ValueError(
                f"The Sequential model {model.name!r} has no input shape: build it with "
                "`keras.Input(...)` as its first layer, or call it once, before explaining it."
            ) from None
    if not _has_graph(model):
        raise ValueError(
            f"Class-activation maps need a Functional or Sequential model, to find the feature "
            f"map in its graph. Received a subclassed model: {type(model).__name__}."
        )
    return model


def _layers(model):
    return [layer for layer in _graph(model).layers
            if not isinstance(layer, keras.layers.InputLayer)]


def _is_map(layer):
    """Whether ``layer`` outputs one 4-D tensor (batch and three spatial/channel axes)."""
    try:
        outputs = keras.tree.flatten(layer.output)
    except (AttributeError, ValueError):  # never called
        return False
    return len(outputs) == 1 and len(outputs[0].shape) == 4


def _maps(model):
    """Names of the layers with a 4-D output, nested models' included, in graph order."""
    names = []
    for layer in _layers(model):
        if _has_graph(layer):
            names += _maps(layer)
        if _is_map(layer):
            names.append(layer.name)
    return names


def _find(model, name):
    """The layers from ``model``'s own down to the layer ``name`` (the nested models it lies
    in, then the layer itself), or None where there is no such layer."""
    layers = _layers(model)
    for layer in layers:
        if layer.name == name:
            return [layer]
    for layer in layers:
        if _has_graph(layer):
            path = _find(layer, name)
            if path:
                return [layer, *path]
    return None


def _default_path(model):
    """The deepest feature map: the card's deepest pyramid level for a builder's model
    (``feature_info``, :mod:`keras_arches.backbone`), else the last layer with a 4-D output,
    looked for inside a nested model where that comes last."""
    if getattr(model, "arch", None) is not None:
        name = registry.model_info(model).feature_info[-1]["layer"]
        path = _find(model, name)
        if path and len(path) == 1 and _is_map(path[0]):
            return path
    for layer in reversed(_layers(model)):
        if _has_graph(layer):
            inner = _default_path(layer)
            if inner:
                return [layer, *inner]
        elif _is_map(layer):
            return [layer]
    return None


def _feature_path(model, layer):
    """The path to the explained layer: ``layer`` by name, or the default."""
    if layer is None:
        path = _default_path(model)
        if path is None:
            raise ValueError(f"Model {model.name!r} has no layer with a 4-D output to explain.")
        return path
    if not isinstance(layer, str):
        raise ValueError(f"`layer` must be a layer name or None. Received: layer={layer!r}")
    maps = _maps(model)
    listed = ", ".join(maps[-_LISTED_LAYERS:])
    if len(maps) > _LISTED_LAYERS:
        listed = f"{len(maps)} layers, the deepest {_LISTED_LAYERS}: {listed}"
    path = _find(model, layer)
    if path is None:
        raise ValueError(
            f"Model {model.name!r} has no layer {layer!r}. Layers with a feature map (4-D "
            f"output): {listed or 'none'}."
        )
    if not _is_map(path[-1]):
        shapes = [tuple(t.shape) for t in keras.tree.flatten(path[-1].output)]
        shape = shapes[0] if len(shapes) == 1 else shapes
        raise ValueError(
            f"Layer {layer!r} has no spatial output (its output shape is {shape}); a "
            f"class-activation map needs a 4-D feature map. Layers with one: {listed}."
        )
    return path


def _probe(model, path):
    """The :class:`_Probe` of ``model`` explaining the layer at ``path`` (None: no layer)."""
    key = tuple(layer.name for layer in path or ())
    probes = _PROBES.setdefault(model, {})
    if key not in probes:
        probes[key] = _build_probe(model, path or [])
    return probes[key]


def _build_probe(model, path):
    graph = _graph(model)
    target = path[0] if path else None
    producers, found = {}, {}

    def call(layer, *args, **kwargs):
        child, exposed = None, None
        if _has_graph(layer):
            child = _probe(layer, path[1:] if layer is target else None)
            exposed = child.model(*args, **kwargs)
            flat = [exposed[f"output_{i}"] for i in range(len(keras.tree.flatten(child.structure)))]
            outputs = keras.tree.pack_sequence_as(child.structure, flat)
        else:
            outputs = layer(*args, **kwargs)
        record = _Call(layer, args, child, exposed)
        for tensor in keras.tree.flatten(outputs):
            producers[id(tensor)] = record
        if layer is target:
            if "feature" in found:
                raise ValueError(
                    f"Layer {layer.name!r} is called more than once in {model.name!r}: its "
                    "feature map is ambiguous. Explain a layer that is called once."
                )
            if len(path) > 1:
                found["feature"], found["seam"] = exposed["feature"], child.seam
            else:
                seam = _Seam(name=f"{layer.name}_grad_cam_seam")
                found["feature"], found["seam"] = outputs, seam
                outputs = seam(outputs)
                producers[id(outputs)] = record
        return outputs

    rebuilt = keras.models.clone_model(graph, clone_function=lambda layer: layer,
                                       call_function=call)
    outputs = keras.tree.flatten(rebuilt.output)
    exposed = {f"output_{i}": tensor for i, tensor in enumerate(outputs)}
    if "feature" in found:
        exposed["feature"] = found["feature"]
    exposed["score_input"], score_dense = _score_source(outputs[0], producers)
    cam_feature, cam_dense, cam_problem = _cam_top(outputs[0], producers)
    if cam_feature is not None:
        exposed["cam_feature"] = cam_feature
    pooled = _pooled(outputs[0], producers)
    if pooled is not None:
        exposed["pooled"] = pooled
    return _Probe(
        model=keras.Model(rebuilt.input, exposed, name=f"{model.name}_probe"),
        structure=graph.output, seam=found.get("seam"), score_dense=score_dense,
        cam_dense=cam_dense, cam_problem=cam_problem,
    )


def _is_softmax(layer):
    return isinstance(layer, keras.layers.Softmax) or (
        getattr(layer, "activation", None) is keras.activations.softmax)


def _score_source(output, producers):
    """``(tensor, dense)``: the class score ``y^c`` before softmax. After a softmax layer, its
    input; after a Dense with a softmax activation, its input (``dense`` then gives the scores
    by its kernel and bias); after a nested model, what its rebuilt copy exposes; else the
    output itself."""
    record = producers.get(id(output))
    if record is None:
        return output, None
    if record.child is not None:
        return record.exposed["score_input"], record.child.score_dense
    if isinstance(record.layer, (keras.layers.Activation, keras.layers.Softmax)):
        if _is_softmax(record.layer):
            return record.args[0], None
    elif isinstance(record.layer, keras.layers.Dense) and _is_softmax(record.layer):
        return record.args[0], record.layer
    return output, None


def _skip_dropout(tensor, producers):
    record = producers.get(id(tensor))
    while record is not None and isinstance(record.layer, keras.layers.Dropout):
        tensor = record.args[0]
        record = producers.get(id(tensor))
    return tensor, record


def _pooled(output, producers):
    """The map that ``output`` is the global average of (through dropout), or None."""
    _, record = _skip_dropout(output, producers)
    if record is None:
        return None
    if record.child is not None:
        return record.exposed.get("pooled")
    if (isinstance(record.layer, keras.layers.GlobalAveragePooling2D)
            and not record.layer.keepdims):
        return record.args[0]
    return None


def _cam_top(output, producers):
    """``(map, dense, None)`` when ``output`` is [activation] <- Dense <- [dropout] <- global
    average pooling <- map, else ``(None, None, why not)``."""
    record = producers.get(id(output))
    if record is not None and isinstance(record.layer, (keras.layers.Activation,
                                                        keras.layers.Softmax)):
        record = producers.get(id(record.args[0]))
    if record is not None and record.child is not None:
        child = record.child
        return record.exposed.get("cam_feature"), child.cam_dense, child.cam_problem
    if record is None or not isinstance(record.layer, keras.layers.Dense):
        what = "its input" if record is None else (
            f"{type(record.layer).__name__} {record.layer.name!r}")
        return None, None, f"its output comes from {what}, not from a Dense classifier"
    dense = record.layer
    pooled = _pooled(record.args[0], producers)
    if pooled is None:
        return None, None, (f"its Dense classifier {dense.name!r} is not fed by "
                            "GlobalAveragePooling2D")
    return pooled, dense, None


# -- validation ----------------------------------------------------------------------------


def _check_images(model, images):
    _graph(model)  # a subclassed model: the error that says so
    if not isinstance(images, np.ndarray):
        images = keras.ops.convert_to_numpy(images)
    images = np.asarray(images, "float32")
    if len(model.inputs) != 1:
        raise ValueError(f"Model {model.name!r} has {len(model.inputs)} inputs; class-activation "
                         "maps explain models with one image input.")
    expected = tuple(model.inputs[0].shape)
    if images.ndim != 4 or any(e is not None and e != s
                               for e, s in zip(expected[1:], images.shape[1:])):
        wanted = ", ".join("any" if e is None else str(e) for e in expected[1:])
        raise ValueError(
            f"`images` must be a batch of preprocessed images of shape (batch, {wanted}) for "
            f"model {model.name!r}. Received: shape {images.shape}"
        )
    return images


def _check_output(model, output):
    if output.ndim != 2:
        raise ValueError(
            f"Class-activation maps explain a classifier, whose (first) output is (batch, "
            f"classes); model {model.name!r} outputs {output.shape}."
        )


def _class_indices(class_index, output):
    """Per image, the class explained: ``class_index`` (one for all, or one per image), by
    default each image's top class."""
    batch, classes = output.shape
    if class_index is None:
        return output.argmax(axis=1)
    indices = np.atleast_1d(np.asarray(class_index, dtype=object))
    if (indices.ndim != 1 or len(indices) not in (1, batch)
            or not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool)
                       and 0 <= i < classes for i in indices)):
        raise ValueError(
            f"`class_index` must be None, an integer in [0, {classes}) or one such integer per "
            f"image ({batch}). Received: class_index={class_index!r}"
        )
    return np.broadcast_to(indices.astype("int64"), (batch,)).copy()


# -- the maps ------------------------------------------------------------------------------


def _spatial_axes():
    return (1, 2) if keras.config.image_data_format() == "channels_last" else (2, 3)


def _weighted_sum(feature, weights):
    """``sum_k weights[b, k] * feature[b, k]`` per image, in the current data format."""
    pattern = "bhwk,bk->bhw" if _spatial_axes() == (1, 2) else "bkhw,bk->bhw"
    return np.einsum(pattern, feature.astype("float64"), weights.astype("float64"))


def _normalised(maps):
    """ReLU, then each map divided by its maximum (an all-zero map stays zero)."""
    maps = np.maximum(maps, 0.0)
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0).astype("float32")


def _gradient(function, at):
    """``d function(offset) / d offset`` at ``offset = at``, by the backend's own autodiff."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(at)
            value = function(at)
        return tape.gradient(value, at)
    if backend == "jax":
        import jax

        return jax.grad(function)(at)
    if backend == "torch":
        import torch

        at = at.detach().requires_grad_(True)
        return torch.autograd.grad(function(at), at)[0]
    raise ValueError(f"grad_cam runs on TensorFlow, JAX and PyTorch, not on {backend!r}.")


def feature_layer(model):
    """The layer :func:`grad_cam` explains by default: the model's deepest feature map.

    Args:
        model: a Functional or Sequential classifier.

    Returns:
        The layer's name. For a model a builder made it is the layer of the deepest level of
        the card's ``feature_info`` (the map just before the global pooling or the flattening
        top); for another model, the last layer with a 4-D output, looked for inside a nested
        model (a builder inside a transfer-learning model) where that comes last.

    Raises:
        ValueError: a subclassed model, or one with no 4-D output anywhere.
    """
    return _feature_path(model, None)[-1].name


def grad_cam(model, images, class_index=None, layer=None):
    """Grad-CAM heat maps of a batch of images.

    Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization" (ICCV). With ``A`` the feature map of ``layer`` and ``y^c``
    the class score, ``alpha_k = mean_ij d y^c / d A_k(i, j)`` and the map is
    ``ReLU(sum_k alpha_k A_k)``, divided by its maximum. ``y^c`` is the score before softmax,
    as in the paper: where the model ends in a softmax (a Dense layer with a softmax
    activation, or a Softmax or ``Activation("softmax")`` layer, also inside a nested model)
    the gradient is taken of its input (for the Dense layer, of ``x @ kernel + bias``); any
    other output is used as it is. A model with several outputs is explained by its first.
    The gradient is computed by the backend's autodiff, on TensorFlow, JAX and PyTorch.

    Args:
        model: a Functional or Sequential classifier, e.g. a builder's model, or one with a
            builder nested inside it (``inputs -> ResNet18(include_top=False) -> pooling ->
            Dense``).
        images: preprocessed images (:func:`keras_arches.preprocess_input`), a batch of the
            model's input shape.
        class_index: the class to explain: None (each image's top class), an integer, or one
            integer per image.
        layer: the name of a layer with a 4-D output, also one inside a nested model; by
            default the deepest feature map (:func:`feature_layer`).

    Returns:
        ``(heat_maps, class_indices)``: float32 maps of shape ``(batch, h, w)`` in [0, 1], at
        the layer's spatial size, and the int64 class explained per image.

    Raises:
        ValueError: an unknown layer or one with no spatial output (the message lists the
            layers with one), a class index out of range, images of the wrong rank or shape,
            a subclassed model, or a model whose output is not ``(batch, classes)``.
    """
    images = _check_images(model, images)
    path = _feature_path(model, layer)
    probe = _probe(model, path)
    exposed = probe.model(images, training=False)
    output = keras.ops.convert_to_numpy(exposed["output_0"])
    _check_output(model, output)
    classes = _class_indices(class_index, output)
    chosen = np.eye(output.shape[1], dtype="float32")[classes]
    dense = probe.score_dense

    def score(offset):
        probe.seam.offset = offset
        try:
            scores = probe.model(images, training=False)["score_input"]
        finally:
            probe.seam.offset = None
        if dense is not None:
            scores = keras.ops.matmul(scores, dense.kernel)
            if dense.use_bias:
                scores = scores + dense.bias
        return keras.ops.sum(keras.ops.multiply(keras.ops.cast(scores, "float32"), chosen))

    feature = exposed["feature"]
    gradients = _gradient(score, keras.ops.zeros(keras.ops.shape(feature), "float32"))
    feature = keras.ops.convert_to_numpy(feature)
    weights = keras.ops.convert_to_numpy(gradients).mean(axis=_spatial_axes())
    return _normalised(_weighted_sum(feature, weights)), classes


def class_activation_map(model, images, class_index=None):
    """Class-activation maps (CAM) of a batch of images.

    Zhou et al. 2016, "Learning Deep Features for Discriminative Localization" (CVPR). For a
    network whose top is global average pooling then one Dense classifier (dropout and a
    final activation may come between or after), the map of class ``c`` is
    ``sum_k w_k^c A_k``, with ``A`` the pooled feature map and ``w`` the classifier's kernel
    (the bias, constant over the map, left out as in the paper). It is normalised as
    :func:`grad_cam`'s (positive part over its maximum), so on such a network the two are
    equal (Grad-CAM paper, section 3.1: there ``alpha_k = w_k^c / (h * w)``).

    Args:
        model: a Functional or Sequential classifier with that top, also where it lies
            inside a nested model.
        images: preprocessed images, a batch of the model's input shape.
        class_index: None (each image's top class), an integer, or one integer per image.

    Returns:
        ``(heat_maps, class_indices)``: float32 maps ``(batch, h, w)`` in [0, 1] at the pooled
        map's spatial size, and the int64 class explained per image.

    Raises:
        ValueError: a model whose top is not global average pooling + Dense (the message says
            what it ends in; :func:`grad_cam` explains any classifier), a class index out of
            range, or images of the wrong rank or shape.
    """
    images = _check_images(model, images)
    probe = _probe(model, None)
    if probe.cam_dense is None:
        raise ValueError(
            f"class_activation_map needs a top of global average pooling then one Dense "
            f"classifier, and in model {model.name!r} {probe.cam_problem}. Use "
            "grad_cam(model, images), which explains any classifier."
        )
    exposed = probe.model(images, training=False)
    output = keras.ops.convert_to_numpy(exposed["output_0"])
    _check_output(model, output)
    classes = _class_indices(class_index, output)
    kernel = keras.ops.convert_to_numpy(probe.cam_dense.kernel)
    feature = keras.ops.convert_to_numpy(exposed["cam_feature"])
    return _normalised(_weighted_sum(feature, kernel[:, classes].T)), classes


# -- pictures ------------------------------------------------------------------------------


def overlay(image, heat_map, *, alpha=0.5, colormap="jet"):
    """A heat map, resized to the image (bilinear) and coloured, blended over it.

    Args:
        image: one image in [0, 255], ``(h, w)``, ``(h, w, 1)`` or ``(h, w, 3)``, as
            :func:`keras_arches.load_images` gives it (before preprocessing).
        heat_map: ``(h', w')`` in [0, 1], e.g. one map of :func:`grad_cam`.
        alpha: the weight of the coloured map, in [0, 1].
        colormap: a matplotlib colormap name.

    Returns:
        uint8 RGB ``(h, w, 3)``: ``(1 - alpha) * image + alpha * colormap(map)``.

    Raises:
        ValueError: arrays of the wrong rank, or ``alpha`` outside [0, 1].
    """
    import matplotlib
    from PIL import Image

    image = np.asarray(image, "float32")
    if image.ndim == 2:
        image = image[..., None]
    heat_map = np.asarray(heat_map, "float32")
    if image.ndim != 3 or image.shape[-1] not in (1, 3) or heat_map.ndim != 2:
        raise ValueError(
            "overlay needs one image (h, w[, 1 or 3]) and one heat map (h', w'). Received: "
            f"image {image.shape}, heat_map {heat_map.shape}"
        )
    if not 0 <= alpha <= 1:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: alpha={alpha!r}")
    height, width = image.shape[:2]
    resized = np.asarray(Image.fromarray(heat_map).resize((width, height),
                                                          Image.Resampling.BILINEAR))
    colours = matplotlib.colormaps[colormap](np.clip(resized, 0, 1))[..., :3] * 255.0
    blended = (1 - alpha) * np.broadcast_to(image, (height, width, 3)) + alpha * colours
    return np.clip(np.round(blended), 0, 255).astype("uint8")


def save_overlay(path, image, heat_map, *, title=None, alpha=0.5, colormap="jet", size=4.0,
                 dpi=100):
    """Writes :func:`overlay` of ``image`` and ``heat_map`` to a PNG with a title.

    Drawn on a ``matplotlib.figure.Figure`` with the Agg canvas: ``matplotlib.use`` is never
    called, so the caller's backend and pyplot state stay as they were.

    Args:
        path: the PNG file to write.
        image, heat_map, alpha, colormap: as :func:`overlay`.
        title: text above the picture (lines split on newlines), e.g. the top classes.
        size: the figure's side in inches; the PNG is ``size * dpi`` pixels square.
        dpi: pixels per inch.

    Returns:
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    picture = overlay(image, heat_map, alpha=alpha, colormap=colormap)
    figure = Figure(figsize=(size, size), dpi=dpi)
    FigureCanvasAgg(figure)
    font = 8
    title_height = (title.count("\n") + 1) * font * 1.3 / 72 / size if title else 0.0
    axes = figure.add_axes((0.02, 0.02, 0.96, 0.96 - title_height))
    axes.imshow(picture)
    axes.set_axis_off()
    if title:
        figure.text(0.5, 0.99, title, ha="center", va="top", fontsize=font)
    figure.savefig(os.fspath(path), dpi=dpi)
    return path


# The methods by the names the command line takes (``keras-arches explain --method``).
METHODS = {"grad_cam": grad_cam, "cam": class_activation_map}
