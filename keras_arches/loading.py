"""One loader for every ``weights=``: a checkpoint tag, its cached download, or a local file.

Whatever names the weights, they take one path (timm 1.0's ``load_pretrained`` and
torchvision 0.29's ``Weights`` are the models read for it):

1. **A Keras weights file is found.** A tag of keras' own files is downloaded
   (:func:`fetch`); a tag of a published state dict is downloaded and converted once into the
   builder's layout (:func:`converted_file`); a local file is recognised by its bytes
   (:func:`keras_arches.pretrained.readers.file_kind`): a Keras file is used as it is, a state
   dict (safetensors, torch's zip or legacy format, pytorchcv's ``.pth.zip``, whatever the
   name) is converted once, its layout found from its keys (:func:`convert_file`).
2. **It is loaded by layer name** (:func:`keras_arches.weights.load_weights`) with one rule:
   the same classes load everything; other ``classes`` keep a fresh classifier (a new head);
   an input of other than the source's channels adapts the first convolution; a model without
   its top (``include_top=False``, ``features_only=True``) takes everything but the classifier.

Downloads go through ``keras.utils.get_file`` into a scratch folder; only a file whose hash
matches the published one is moved into the cache (``$KERAS_HOME/models/keras_arches``, default
``~/.keras``), so a failed, truncated or tampered download leaves the cache as it was. A failed
download is a :class:`DownloadError` that says where to put the file by hand. Conversions are
cached beside the downloads: ``<arch>.<tag>.weights.h5`` for a tag, ``<arch>.<variant>.<first 16
hex digits of the file's SHA-256>.weights.h5`` for a local file, written under a temporary name
and renamed, so the cache never holds half a file.
"""

import hashlib
import inspect
import os
import tempfile

import keras

from keras_arches.weights import layer_units, load_weights

ALGORITHMS = ("sha256", "sha1")


class DownloadError(ConnectionError):
    """A checkpoint could not be downloaded; the message says how to supply the file instead."""


def _keras_home():
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def cache_dir():
    """The folder where checkpoints and their conversions are kept."""
    return os.path.join(_keras_home(), "models", "keras_arches")


def _digest(path, algorithm="sha256"):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(path, file_hash, url):
    """``file_hash`` is ``"<algorithm>:<hex digest or its prefix>"``."""
    algorithm, _, expected = file_hash.partition(":")
    if algorithm not in ALGORITHMS or not expected:
        raise ValueError(f"A file hash reads 'sha256:<hex>' or 'sha1:<hex>'. Got {file_hash!r}.")
    actual = _digest(path, algorithm)
    if not actual.startswith(expected.lower()):
        raise ValueError(
            f"The file downloaded from {url} does not have its published {algorithm} hash: "
            f"expected {expected}..., got {actual}. It may be corrupt or tampered with; it was "
            "not cached. Retry, or check the URL."
        )


def fetch(url, file_name, file_hash=None):
    """The cached copy of ``url`` as ``file_name``, downloaded and hash-checked if missing.

    A download that fails is a :class:`DownloadError` naming the URL, the hash, the cache path
    and the two ways out.
    """
    final = os.path.join(cache_dir(), file_name)
    if os.path.exists(final):
        if file_hash:
            _check_hash(final, file_hash, final)
        return final
    os.makedirs(cache_dir(), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".download-") as scratch:
        path = _get_file(final, file_hash, (file_name, url), cache_dir=scratch, cache_subdir=".")
        if file_hash:
            _check_hash(path, file_hash, url)
        os.replace(path, final)
    return final


def fetch_keras_file(url, file_hash):
    """A keras.applications weights file, through keras' own cache (``$KERAS_HOME/models``) and
    hash check; a failed download is a :class:`DownloadError` as in :func:`fetch`."""
    name = os.path.basename(url)
    final = os.path.join(_keras_home(), "models", name)
    return _get_file(final, file_hash, (name, url), cache_subdir="models", file_hash=file_hash)


def _get_file(final, published_hash, name_and_url, **options):
    """``keras.utils.get_file(name, url, **options)``, its failure to download a
    :class:`DownloadError` that names ``published_hash`` and ``final``, the cache path the file
    would have had. Keras' own hash check stays a ``ValueError`` (a corrupt download, already
    removed)."""
    url = name_and_url[1]
    try:
        return keras.utils.get_file(*name_and_url, **options)
    except ValueError:
        raise
    except Exception as error:  # Keras wraps every URL and HTTP error in a bare Exception
        reason = " ".join(str(error).split()) or type(error).__name__
        expected = f" (expected {published_hash})" if published_hash else ""
        raise DownloadError(
            f"Could not download {url}{expected}: {reason}. Nothing was written to the cache. "
            f"Either download that URL on a machine that can reach it and pass the file as "
            f"`weights=<path>` (`--weights PATH` on the command line), or put the file at "
            f"{final} and retry."
        ) from None


def _source_file(card, checkpoint):
    """The downloaded source file of ``checkpoint`` (a card's :class:`Checkpoint`)."""
    extension = ".safetensors" if checkpoint.url.endswith(".safetensors") else (
        ".pth.zip" if checkpoint.url.endswith(".zip") else ".pth")
    return fetch(checkpoint.url, f"{card.name}.{checkpoint.tag}{extension}", checkpoint.file_hash)


def converted_file(card, checkpoint):
    """``checkpoint`` converted once into the builder's layout, as a cached ``.weights.h5``."""
    from keras_arches.pretrained import read_state_dict

    final = os.path.join(cache_dir(), f"{card.name}.{checkpoint.tag}.weights.h5")
    if not os.path.exists(final):
        state_dict = read_state_dict(_source_file(card, checkpoint))
        _convert(card.for_variant(checkpoint.variant), state_dict, final)
    return final


def state_dict_variants(card):
    """The builder's variants (None: its default) that have a state-dict key map, in order."""
    return [v for v in (None, *card.variants) if card.for_variant(v).layout]


def convert_file(card, path, variants=None):
    """The state dict at ``path`` converted once into the builder's layout: ``(variant, cached
    .weights.h5)``. ``variants`` are the builder variants to try (None: every one with a key
    map), in turn; the first whose key map the keys fit wins. None fitting is a ``ValueError``
    listing each one tried and the first keys that did not fit."""
    from keras_arches.pretrained import read_state_dict

    candidates = state_dict_variants(card) if variants is None else list(variants)
    if not candidates or any(card.for_variant(v).layout is None for v in candidates):
        raise ValueError(_no_key_map(card, path))
    digest = _digest(path)[:16]
    for candidate in candidates:
        final = _file_conversion(card, candidate, digest)
        if os.path.exists(final):
            return candidate, final
    state_dict = read_state_dict(path)
    failures = []
    for candidate in candidates:
        final = _file_conversion(card, candidate, digest)
        try:
            _convert(card.for_variant(candidate), state_dict, final)
        except ValueError as error:
            failures.append(f"{card.variant_argument}={candidate!r}: {error}")
            continue
        return candidate, final
    if len(failures) == 1:
        raise ValueError(f"{path!r} does not fit {card.name}: {failures[0]}")
    raise ValueError(
        f"{path!r} fits none of {card.name}'s layouts. Tried:\n  " + "\n  ".join(failures)
    )


def _file_conversion(card, variant, digest):
    return os.path.join(cache_dir(), f"{card.name}.{variant or 'default'}.{digest}.weights.h5")


def _no_key_map(card, path):
    from keras_arches import registry

    variants = state_dict_variants(card)
    return (
        f"{card.name} has no state-dict key map to read {path!r} with"
        + (f" (its {card.variant_argument}={variants[0]!r} has one: pass it)" if variants else "")
        + "; models with one: "
        + ", ".join(c.name for c in registry.cards() if state_dict_variants(c))
        + ". A Keras weights file (.h5, .weights.h5, .keras) loads into any model."
    )


def _is_file(weights):
    return isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)


def resolve_variant(card, weights, variant=None):
    """The card a build with ``weights=`` and ``variant=`` uses.

    The rule: a checkpoint chooses its layout. ``variant=None`` takes the layout of the
    checkpoint named by ``weights`` (the default layout for None or a default-layout tag); for
    a local state dict file, the layout its keys fit (a Keras file: the default layout). An
    explicit ``variant`` must agree with a tag's checkpoint, else ``ValueError``
    (:meth:`keras_arches.registry.ModelInfo.for_tag`).
    """
    if variant is None and _is_file(weights) and weights not in card.all_tags:
        return card.for_variant(variant_of_file(card, weights))
    return card.for_tag(weights, variant)


def variant_of_file(card, path):
    """The builder variant a local weights file is in: the default for a Keras file; for a state
    dict, the one variant with a key map, or the one whose key map its keys fit."""
    from keras_arches.pretrained.readers import file_kind

    variants = state_dict_variants(card)
    if file_kind(path).keras or not variants:
        return None
    if len(variants) == 1:
        return variants[0]
    return convert_file(card, path)[0]


def state_dict_classes(card, state_dict):
    """The classes of a state dict's main classifier under ``card``'s key map, or None."""
    from keras_arches.pretrained import get_layout

    layout = get_layout(card.layout)
    module = layout.prefix(layout.classifier[0], frozenset())
    for key, value in state_dict.items():
        name = layout.rename_key(key) if layout.rename_key else key
        if module is not None and name == f"{module}.weight":
            return int(value.shape[0])
    return None


def _convert(card, state_dict, final):
    """Builds ``card``'s reference model (the state dict's classes, the aux heads it carries),
    loads ``state_dict`` strictly and writes the weights to ``final`` atomically."""
    from keras_arches.pretrained import get_layout, load_state_dict

    classes = state_dict_classes(card, state_dict)
    options = {} if card.variant is None else {card.variant_argument: card.variant}
    if classes is not None:
        options["classes"] = classes
    if "aux_classifiers" in inspect.signature(card.builder).parameters:
        layout = get_layout(card.layout)
        prefixes = {layout.prefix(n) for n in layout.optional if n.startswith("aux")} - {None}
        if any(key.startswith(f"{p}.") for p in prefixes for key in state_dict):
            options["aux_classifiers"] = True
    size = card.default_size if card.fixed_size_top else (card.test_size or card.min_size)
    reference = card.builder(weights=None, input_shape=(size, size, card.channels), **options)
    load_state_dict(reference, state_dict, card.layout)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(final), prefix=".convert-",
                                     suffix=".weights.h5", delete=False) as tmp:
        scratch = tmp.name
    try:
        reference.save_weights(scratch)
        os.replace(scratch, final)
    finally:
        if os.path.exists(scratch):
            os.remove(scratch)


def keras_file(card, weights, include_top):
    """``(path of a Keras weights file, its classes or None)`` for a tag or a local file."""
    from keras_arches.pretrained.readers import file_kind

    if weights in card.weights:  # keras' own files, with and without the top
        files = card.weights[weights]
        url, file_hash = ((files.url, files.file_hash) if include_top
                          else (files.notop_url, files.notop_hash))
        return fetch_keras_file(url, file_hash), 1000
    checkpoint = card.checkpoint_for(weights) if isinstance(weights, str) else None
    if checkpoint is not None:
        return converted_file(card, checkpoint), checkpoint.classes
    path = os.fspath(weights)
    if file_kind(path).keras:
        return path, None
    _, converted = convert_file(card, path, [card.variant])
    return converted, None


def load(model, card, weights, *, include_top):
    """Loads ``weights`` (a tag of ``card`` or a path) into ``model``, a build of ``card``'s
    builder, under the rule of the module doc. The model is untouched if anything fails."""
    path, classes = keras_file(card, weights, include_top)
    classifiers = [layer for layer in model.layers
                   if layer.name in card.classifier and layer.weights]
    source = layer_units(path, [layer.name for layer in classifiers])
    if classes is not None and classifiers:
        source.setdefault(classifiers[0].name, classes)
    new_head = any(
        layer.name in source and source[layer.name] != layer.weights[0].shape[-1]
        for layer in classifiers
    )
    channels = model.input_shape[-1 if keras.config.image_data_format() == "channels_last"
                                 else 1]
    load_weights(
        model, path, skip=card.classifier if new_head else (),
        adapt_input=_input_conv(model) if channels != card.channels else None,
    )
    return new_head


def _input_conv(model):
    """The name of the first convolution: the layer whose kernel sees the input channels."""
    for layer in model.layers:
        if layer.weights and len(layer.weights[0].shape) == 4:
            return layer.name
    raise ValueError(f"Model {model.name!r} has no convolution whose input could be adapted.")
