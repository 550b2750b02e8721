"""Published checkpoints: download with a hash check, cache, and convert once.

Files come through ``keras.utils.get_file`` into a scratch folder; only a file whose hash
matches the published one is moved into the Keras cache (``$KERAS_HOME/models/keras_arches``,
default ``~/.keras``), so a tampered or truncated download leaves the cache as it was. A
source checkpoint is converted once into the builder's layout and cached beside it as
``<arch>.<tag>.weights.h5``; later loads read that file by layer name.
"""

import hashlib
import inspect
import os
import tempfile

import keras

ALGORITHMS = ("sha256", "sha1")


def cache_dir():
    """The folder where checkpoints and their conversions are kept."""
    root = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(root, "models", "keras_arches")


def _check_hash(path, file_hash, url):
    """``file_hash`` is ``"<algorithm>:<hex digest or its prefix>"``."""
    algorithm, _, expected = file_hash.partition(":")
    if algorithm not in ALGORITHMS or not expected:
        raise ValueError(f"A file hash reads 'sha256:<hex>' or 'sha1:<hex>'. Got {file_hash!r}.")
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if not actual.startswith(expected.lower()):
        raise ValueError(
            f"The file downloaded from {url} does not have its published {algorithm} hash: "
            f"expected {expected}..., got {actual}. It may be corrupt or tampered with; it was "
            "not cached. Retry, or check the URL."
        )


def fetch(url, file_name, file_hash=None):
    """The cached copy of ``url`` as ``file_name``, downloaded and hash-checked if missing."""
    final = os.path.join(cache_dir(), file_name)
    if os.path.exists(final):
        if file_hash:
            _check_hash(final, file_hash, final)
        return final
    os.makedirs(cache_dir(), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=".download-") as scratch:
        path = keras.utils.get_file(file_name, url, cache_dir=scratch, cache_subdir=".")
        if file_hash:
            _check_hash(path, file_hash, url)
        os.replace(path, final)
    return final


def checkpoint_file(info, checkpoint):
    """The downloaded source file of ``checkpoint`` (a card's :class:`Checkpoint`)."""
    extension = ".safetensors" if checkpoint.url.endswith(".safetensors") else (
        ".pth.zip" if checkpoint.url.endswith(".zip") else ".pth")
    return fetch(checkpoint.url, f"{info.name}.{checkpoint.tag}{extension}", checkpoint.file_hash)


def _reference_options(info, checkpoint, state_dict):
    """The builder options of the checkpoint's layout: its ``variant``, and the auxiliary heads
    when it carries theirs (so that the converted file holds them too)."""
    from keras_arches.pretrained import get_layout

    options = {} if checkpoint.variant is None else {info.variant_argument: checkpoint.variant}
    if "aux_classifiers" in inspect.signature(info.builder).parameters:
        layout = get_layout(checkpoint.layout)
        prefixes = {layout.prefix(n) for n in layout.optional if n.startswith("aux")} - {None}
        if any(key.startswith(f"{p}.") for p in prefixes for key in state_dict):
            options["aux_classifiers"] = True
    return options


def converted_file(info, checkpoint):
    """``checkpoint`` converted once into the builder's layout, as a cached ``.weights.h5``."""
    from keras_arches.pretrained import load_state_dict, read_state_dict

    final = os.path.join(cache_dir(), f"{info.name}.{checkpoint.tag}.weights.h5")
    if os.path.exists(final):
        return final
    state_dict = read_state_dict(checkpoint_file(info, checkpoint))
    size = info.default_size if info.fixed_size_top else (info.test_size or info.min_size)
    reference = info.builder(
        weights=None, classes=checkpoint.classes, input_shape=(size, size, info.channels),
        **_reference_options(info, checkpoint, state_dict),
    )
    load_state_dict(reference, state_dict, checkpoint.layout)
    with tempfile.NamedTemporaryFile(dir=cache_dir(), suffix=".weights.h5", delete=False) as tmp:
        scratch = tmp.name
    try:
        reference.save_weights(scratch)
        os.replace(scratch, final)
    finally:
        if os.path.exists(scratch):
            os.remove(scratch)
    return final
