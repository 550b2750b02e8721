"""Loading weights files into a model by layer name.

Reads the three layouts a Keras user has: the legacy HDF5 files that
``keras.applications`` publishes (``layer_names`` attribute, one group per
layer), Keras 3 ``.weights.h5`` files, and ``.keras`` archives. Layers are
matched by name; where names differ but the file holds the same weighted layers
in the same order (keras.applications' auto-named layers), they are matched by
order. Every shape is checked before anything is assigned, so a bad file
leaves the model untouched and the error names the layer.
"""

import os
import tempfile
import zipfile

import h5py
import numpy as np


def load_weights(model, path):
    """Loads the weights file at ``path`` into ``model``; see the module doc."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Weights file {path!r} does not exist.")
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
            group = handle["model_weights"] if "model_weights" in handle else handle
            if "layer_names" in group.attrs:
                _load_legacy(model, group, path)
            elif "layers" in handle:
                _load_keras3(model, handle, path, tmp)
            else:
                raise ValueError(
                    f"{path!r} is an HDF5 file but holds no Keras weights (neither "
                    "a `layer_names` attribute nor a `layers` group)."
                )


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


def _load_legacy(model, group, path):
    entries = {}
    for name in _decode(group.attrs["layer_names"]):
        weight_names = _decode(group[name].attrs.get("weight_names", []))
        if weight_names:
            entries[name] = [group[name][w] for w in weight_names]
    model_layers = [layer for layer in model.layers if layer.weights]
    pairs = _match(model_layers, list(entries), path)
    for layer, file_name in pairs:
        _check_shapes(layer, file_name, [d.shape for d in entries[file_name]], path)
    for layer, file_name in pairs:
        layer.set_weights([np.asarray(d) for d in entries[file_name]])


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


def _load_keras3(model, handle, path, tmp):
    # Write the model's own file so that Keras' layout of every layer (nested
    # sub-layers included) is known, copy matched arrays into it, load that.
    own_path = os.path.join(tmp, "own.weights.h5")
    model.save_weights(own_path)
    source = _layer_groups(handle)
    with h5py.File(own_path, "r+") as own:
        targets = _layer_groups(own)
        by_name = {layer.name: layer for layer in model.layers}
        model_layers = [by_name[name] for name in targets]
        missing = [layer.name for layer in model_layers if layer.name not in source]
        if missing:
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
        plans = []
        for layer in model_layers:
            src, dst = _datasets(source[layer.name]), _datasets(targets[layer.name])
            if set(src) != set(dst) or any(src[k].shape != dst[k].shape for k in dst):
                raise ValueError(
                    f"Layer {layer.name!r} cannot take the weights stored under that "
                    f"name in {path!r}: the file holds shapes {_shapes(src)}, the "
                    f"layer expects {_shapes(dst)}."
                )
            plans.append((src, dst))
        for src, dst in plans:
            for key, dataset in dst.items():
                dataset[...] = src[key][...]
    model.load_weights(own_path)
