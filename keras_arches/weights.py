"""Loading weights files into a model by layer name.

Reads the three layouts a Keras user has: the legacy HDF5 files that
``keras.applications`` publishes (``layer_names`` attribute, one group per
layer), Keras 3 ``.weights.h5`` files, and ``.keras`` archives. Layers are
matched by name; where names differ but the file holds the same weighted layers
in the same order (keras.applications' auto-named layers), they are matched by
order. Every shape is checked before anything is assigned, so a bad file
leaves the model untouched and the error names the layer.

For transfer learning, ``skip`` names model layers that keep their initial weights (a new
classifier), and ``adapt_input`` names the first convolution, whose RGB kernel is adapted to
the model's input channels as timm 1.0 does (``_manipulate.adapt_input_conv``): summed over
RGB for one channel, repeated and scaled by 3/C for C channels.
"""

import contextlib
import os
import tempfile
import zipfile

import h5py
import numpy as np


def adapt_input_kernel(kernel, channels):
    """An HWIO kernel trained on RGB, adapted to ``channels`` input channels (see module doc)."""
    kernel = np.asarray(kernel)
    if kernel.shape[2] == channels:
        return kernel
    if kernel.shape[2] != 3:
        raise ValueError(
            f"Only an RGB (3-channel) first convolution can be adapted to {channels} channels; "
            f"this kernel has {kernel.shape[2]}."
        )
    if channels == 1:
        return kernel.sum(axis=2, keepdims=True)
    repeated = np.tile(kernel, (1, 1, -(-channels // 3), 1))[:, :, :channels]
    return (repeated * (3 / channels)).astype(kernel.dtype)


def _adapted(layer, arrays, adapt_input):
    """The file's arrays for ``layer``, with its kernel adapted if it is the input conv."""
    if layer.name != adapt_input:
        return arrays
    channels = layer.weights[0].shape[2]
    return [adapt_input_kernel(a, channels) if np.ndim(a) == 4 else a for a in arrays]


def load_weights(model, path, skip=(), adapt_input=None):
    """Loads the weights file at ``path`` into ``model``; see the module doc."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Weights file {path!r} does not exist.")
    with _opened(path) as (handle, group, path, tmp):
        if "layer_names" in group.attrs:
            _load_legacy(model, group, path, set(skip), adapt_input)
        elif "layers" in handle:
            _load_keras3(model, handle, path, tmp, set(skip), adapt_input)
        else:
            raise ValueError(
                f"{path!r} is an HDF5 file but holds no Keras weights (neither "
                "a `layer_names` attribute nor a `layers` group)."
            )


def layer_units(path, names):
    """``{name: units}`` for the layers of ``names`` found in the Keras weights file at
    ``path``: the last dimension of each one's first weight (a classifier's classes)."""
    found = {}
    with _opened(os.fspath(path)) as (handle, group, _, _):
        if "layer_names" in group.attrs:
            for name in names:
                weight_names = _decode(group[name].attrs.get("weight_names", [])) if (
                    name in group) else []
                if weight_names:
                    found[name] = int(group[name][weight_names[0]].shape[-1])
        elif "layers" in handle:
            groups = _layer_groups(handle)
            for name in names:
                if name in groups and "0" in groups[name]["vars"]:
                    found[name] = int(groups[name]["vars"]["0"].shape[-1])
    return found


@contextlib.contextmanager
def _opened(path):
    """``(HDF5 handle, its weights group, the HDF5 path, a scratch folder)`` of a Keras weights
    file or ``.keras`` archive; an unreadable file is a ``ValueError``."""
    with tempfile.TemporaryDirectory() as tmp:
        if zipfile.is_zipfile(path):
            path = _weights_from_archive(path, tmp)
        try:
            handle = h5py.File(path, "r")
        except OSError as error:
            raise ValueError(
                f"{path!r} is not a readable weights file (HDF5 `.h5`/`.weights.h5` "
                f"or a `.keras` archive): {error}"
            ) from None
        with handle:
            yield handle, handle["model_weights"] if "model_weights" in handle else handle, \
                path, tmp


def _weights_from_archive(path, tmp):
    with zipfile.ZipFile(path) as archive:
        if "model.weights.h5" not in archive.namelist():
            raise ValueError(f"{path!r} is a zip file but not a `.keras` archive.")
        return archive.extract("model.weights.h5", tmp)


def _decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _match(model_layers, file_names, path):
    """Pairs each weighted model layer with a file entry: by name, else order."""
    missing = [layer.name for layer in model_layers if layer.name not in file_names]
    if not missing:
        return [(layer, layer.name) for layer in model_layers]
    if len(file_names) >= len(model_layers):
        # The same network with other layer names (a top file is allowed to
        # carry extra layers after the body, as a no-top model needs).
        return list(zip(model_layers, file_names))
    raise ValueError(
        f"The weights file {path!r} does not fit this model: it has no layer named "
        f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}, and its "
        f"{len(file_names)} weighted layers are fewer than the model's "
        f"{len(model_layers)}."
    )


def _check_shapes(layer, file_name, got, path):
    expected = [tuple(w.shape) for w in layer.weights]
    got = [tuple(shape) for shape in got]
    if expected != got:
        raise ValueError(
            f"Layer {layer.name!r} cannot take the weights of {file_name!r} in "
            f"{path!r}: the file holds shapes {got}, the layer expects {expected}."
        )


def _load_legacy(model, group, path, skip, adapt_input):
    entries = {}
    for name in _decode(group.attrs["layer_names"]):
        weight_names = _decode(group[name].attrs.get("weight_names", []))
        if weight_names:
            entries[name] = [group[name][w] for w in weight_names]
    model_layers = [layer for layer in model.layers if layer.weights and layer.name not in skip]
    file_names = [name for name in entries if name not in skip]
    pairs = [
        (layer, _adapted(layer, [np.asarray(d) for d in entries[file_name]], adapt_input))
        for layer, file_name in _match(model_layers, file_names, path)
    ]
    for layer, arrays in pairs:
        _check_shapes(layer, layer.name, [a.shape for a in arrays], path)
    for layer, arrays in pairs:
        layer.set_weights(arrays)


def _datasets(group):
    found = {}
    group.visititems(
        lambda key, obj: found.__setitem__(key, obj) if isinstance(obj, h5py.Dataset) else None
    )
    return found


def _shapes(datasets):
    return [tuple(datasets[key].shape) for key in sorted(datasets)]


def _layer_groups(handle):
    """Maps layer name -> group for the top-level layers of a Keras 3 file."""
    groups = {}
    for key, group in handle["layers"].items():
        if "vars" in group and _datasets(group):
            groups[str(group["vars"].attrs.get("name", key))] = group
    return groups


def _load_keras3(model, handle, path, tmp, skip, adapt_input):
    # Write the model's own file so that Keras' layout of every layer (nested
    # sub-layers included) is known, copy matched arrays into it, load that.
    own_path = os.path.join(tmp, "own.weights.h5")
    model.save_weights(own_path)
    source = _layer_groups(handle)
    with h5py.File(own_path, "r+") as own:
        targets = _layer_groups(own)
        by_name = {layer.name: layer for layer in model.layers}
        model_layers = [by_name[name] for name in targets if name not in skip]
        missing = [layer.name for layer in model_layers if layer.name not in source]
        if missing and not (skip or adapt_input):
            # Same structure under other names: Keras' own loader matches it.
            handle.close()
            try:
                model.load_weights(path)
            except Exception as error:  # Keras raises several types here.
                raise ValueError(
                    f"The weights file {path!r} does not fit this model: it has no "
                    f"layer named {', '.join(missing[:5])}, and loading by structure "
                    f"failed: {error}"
                ) from None
            return
        if missing:
            raise ValueError(
                f"The weights file {path!r} does not fit this model: it has no layer named "
                f"{', '.join(missing[:5])}."
            )
        plans = []
        for layer in model_layers:
            src, dst = _datasets(source[layer.name]), _datasets(targets[layer.name])
            arrays = {k: src[k][...] for k in src}
            if layer.name == adapt_input:
                channels = layer.weights[0].shape[2]
                arrays = {k: adapt_input_kernel(a, channels) if a.ndim == 4 else a
                          for k, a in arrays.items()}
            if set(arrays) != set(dst) or any(arrays[k].shape != dst[k].shape for k in dst):
                raise ValueError(
                    f"Layer {layer.name!r} cannot take the weights stored under that "
                    f"name in {path!r}: the file holds shapes "
                    f"{[arrays[k].shape for k in sorted(arrays)]}, the layer expects "
                    f"{_shapes(dst)}."
                )
            plans.append((arrays, dst))
        for arrays, dst in plans:
            for key, dataset in dst.items():
                dataset[...] = arrays[key]
    model.load_weights(own_path)
