"""Telling weights files apart by their bytes, and reading state dicts into numpy, without torch.

Every file a user or a card hands over is recognised from its first bytes, never its name
(:func:`file_kind`): safetensors (an 8-byte header length, then JSON), HDF5 (Keras' ``.h5`` and
``.weights.h5``), zip archives (torch's own format since 1.6, a ``.keras`` archive, or
imgclsmob/pytorchcv's ``.pth.zip`` holding one torch file) and pickles (torch's legacy format,
the ``.th``/``.pth`` files written before torch 1.6). State dicts are read with numpy alone:
safetensors through the ``safetensors`` package's numpy API, torch files through
:mod:`keras_arches.pretrained.torch_format`, which refuses every global a state dict does not
need, as ``torch.load(weights_only=True)`` does.
"""

import dataclasses
import io
import os
import pickle
import struct
import zipfile

import ml_dtypes  # noqa: F401  (registers bfloat16 and float8 with numpy, for safetensors)
import numpy as np
import safetensors
import safetensors.numpy

from keras_arches.pretrained import torch_format

ACCEPTED = (
    "a safetensors file, a torch state dict written by torch.save (zip or legacy format, "
    "whatever its name: .pth, .pt, .bin, .th), a pytorchcv .pth.zip (a zip archive holding one "
    "such file), or a Keras weights file (.h5, .weights.h5, .keras)"
)
_WRAPPER_KEYS = ("state_dict", "model")
_HDF5 = b"\x89HDF\r\n\x1a\n"


@dataclasses.dataclass(frozen=True)
class FileKind:
    """What a weights file is, from its bytes: ``name`` (``"safetensors"``, ``"torch-zip"``,
    ``"torch-legacy"``, ``"pytorchcv-zip"``, ``"keras-h5"``, ``"keras-archive"``), a
    ``description`` for messages, and whether it holds Keras weights (``keras``) or a state dict.
    """

    name: str
    description: str
    keras: bool = False


SAFETENSORS = FileKind("safetensors", "a safetensors file")
TORCH_ZIP = FileKind("torch-zip", "a torch zip checkpoint")
TORCH_LEGACY = FileKind("torch-legacy", "a legacy torch pickle")
PYTORCHCV_ZIP = FileKind("pytorchcv-zip", "a pytorchcv .pth.zip")
KERAS_H5 = FileKind("keras-h5", "a Keras HDF5 weights file", keras=True)
KERAS_ARCHIVE = FileKind("keras-archive", "a .keras archive", keras=True)


def file_kind(path):
    """The :class:`FileKind` of the file at ``path``, from its bytes; ``ValueError`` for a
    missing file or one of no accepted kind (the message lists them)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"Weights file {path!r} does not exist.")
    with open(path, "rb") as handle:
        head = handle.read(16)
    size = os.path.getsize(path)
    if head[:8] == _HDF5:
        return KERAS_H5
    if head[:2] == b"PK" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return _zip_kind(archive.namelist(), path)
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] < size:
        return SAFETENSORS
    if torch_format.is_legacy(head):
        return TORCH_LEGACY
    raise ValueError(
        f"{path!r} is not a weights file of a known kind (its first bytes are {head[:8]!r}; it "
        f"may be truncated or of another format). Accepted, whatever the name: {ACCEPTED}."
    )


def _zip_kind(names, path):
    if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        return TORCH_ZIP
    if "model.weights.h5" in names:
        return KERAS_ARCHIVE
    if len(names) == 1 and not names[0].endswith("/"):
        return PYTORCHCV_ZIP
    raise ValueError(
        f"{path!r} is a zip archive but neither a torch checkpoint (no data.pkl), a .keras "
        f"archive (no model.weights.h5) nor a pytorchcv .pth.zip holding one file (it holds "
        f"{names[:5]}). Accepted, whatever the name: {ACCEPTED}."
    )


def read_state_dict(path):
    """The tensors of the state dict stored at ``path``, as ``{key: numpy.ndarray}``.

    Accepts every state-dict kind of :func:`file_kind`, whatever the file's name, with no torch:
    safetensors, torch's zip and legacy formats, and pytorchcv's ``.pth.zip``. A torch
    checkpoint that wraps its state dict under ``"state_dict"`` or ``"model"`` (with other
    entries such as an epoch) is unwrapped, and a ``"module."`` prefix on every key
    (``nn.DataParallel``) is removed. bfloat16 tensors become float32. Raises ``ValueError`` for a
    missing, truncated, unrecognised or unsafe file (a pickle naming any global a state dict does
    not need, which is refused before anything runs), and for a Keras weights file.
    """
    path = os.fspath(path)
    kind = file_kind(path)
    if kind.keras:
        raise ValueError(
            f"{path!r} is {kind.description}, not a state dict: pass it as `weights=` to the "
            "builder, which loads Keras files by layer name."
        )
    if kind is SAFETENSORS:
        return _read_safetensors(path)
    try:
        if kind is PYTORCHCV_ZIP:
            with zipfile.ZipFile(path) as archive:
                member = io.BytesIO(archive.read(archive.namelist()[0]))
            loaded = torch_format.read(member)
        else:
            with open(path, "rb") as handle:
                loaded = torch_format.read(handle)
    except ValueError as error:
        raise ValueError(
            f"{path!r} ({kind.description}) cannot be read as a state dict: {error}. "
            f"Accepted: {ACCEPTED}."
        ) from None
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, struct.error, IndexError,
            TypeError, KeyError, AttributeError, UnicodeDecodeError) as error:
        # A pickle cut short or scrambled fails inside the unpickler with one of these.
        raise ValueError(
            f"{path!r} ({kind.description}) is truncated or corrupt: {type(error).__name__}: "
            f"{error}. Download it again. Accepted: {ACCEPTED}."
        ) from None
    return _strip_data_parallel(_arrays(_unwrap(loaded, path), path))


def _read_safetensors(path):
    try:
        arrays = safetensors.numpy.load_file(path)
    except (safetensors.SafetensorError, OSError, TypeError, ValueError) as error:
        raise ValueError(
            f"{path!r} looks like a safetensors file but cannot be read ({error}). "
            f"Accepted: {ACCEPTED}."
        ) from None
    # ml_dtypes (imported above, a Keras dependency) gives numpy bfloat16 and float8 types.
    return {
        key: value.astype("float32") if value.dtype.kind not in "fiub" else value
        for key, value in arrays.items()
    }


def _unwrap(loaded, path):
    if not isinstance(loaded, dict):
        raise ValueError(
            f"{path!r} holds a {type(loaded).__name__}, not a state dict (a dict of tensors). "
            "Save `model.state_dict()`, not the model."
        )
    if all(isinstance(v, np.ndarray) for v in loaded.values()):
        return loaded
    for key in _WRAPPER_KEYS:
        if isinstance(loaded.get(key), dict):
            return loaded[key]
    raise ValueError(
        f"{path!r} holds a dict that is neither a state dict (all values tensors) nor a "
        f"checkpoint wrapping one under {list(_WRAPPER_KEYS)}. Its keys: {list(loaded)[:10]}."
    )


def _arrays(state, path):
    arrays = {}
    for key, value in state.items():
        if not isinstance(value, np.ndarray):
            raise ValueError(
                f"{path!r}: the state dict entry {key!r} is a {type(value).__name__}, not a "
                "tensor."
            )
        arrays[key] = value.astype("float32") if value.dtype == ml_dtypes.bfloat16 else value
    return arrays


def _strip_data_parallel(state):
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module."):]: value for key, value in state.items()}
    return state
