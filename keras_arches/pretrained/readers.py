"""Reading PyTorch state dicts into numpy arrays.

Three file kinds hold the published checkpoints: safetensors (Hugging Face Hub, read with the
``safetensors`` package's numpy API, no torch needed), torch's own ``.pth``/``.pt``/``.bin``
files (``torch.save``; read with ``torch.load(weights_only=True)``, which unpickles tensors and
plain containers only), and imgclsmob/pytorchcv's ``.pth.zip``, a zip archive holding one such
``.pth``. The kind is recognised from the file's first bytes, not its name.
"""

import os
import tempfile
import zipfile

import ml_dtypes  # noqa: F401  (registers bfloat16 and float8 with numpy, for safetensors)
import safetensors
import safetensors.numpy

ACCEPTED = (
    "a safetensors file (.safetensors), a torch state dict (.pth, .pt, .bin, written by "
    "torch.save) or a pytorchcv .pth.zip (a zip archive holding one .pth)"
)
_NO_TORCH = (
    "Reading {path!r} ({kind}) needs PyTorch: `pip install \"keras-arches[torch]\"`. "
    "Without torch, use the checkpoint's .safetensors file (e.g. the model.safetensors of its "
    "Hugging Face Hub repository), which keras_arches reads with numpy alone."
)
_WRAPPER_KEYS = ("state_dict", "model")
_TORCH_MEMBERS = (".pth", ".pt", ".bin")


def read_state_dict(path):
    """The tensors of the state dict stored at ``path``, as ``{key: numpy.ndarray}``.

    Accepts safetensors files, torch ``.pth``/``.pt``/``.bin`` files and pytorchcv
    ``.pth.zip`` archives (torch files need the ``torch`` extra). A torch checkpoint that wraps
    its state dict under ``"state_dict"`` or ``"model"`` is unwrapped, and a ``"module."`` prefix
    on every key (``nn.DataParallel``) is removed. bfloat16 tensors become float32. Raises
    ``ValueError`` for a missing, truncated or unrecognised file, ``ImportError`` when a torch
    file is given and torch is not installed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"State dict file {path!r} does not exist.")
    with open(path, "rb") as handle:
        head = handle.read(9)
    if zipfile.is_zipfile(path):
        state = _read_zip(path)
    elif len(head) == 9 and head[8:9] == b"{":
        state = _read_safetensors(path)
    elif head[:1] == b"\x80":  # a pickle: torch's format before 1.6
        state = _torch_load(path, "a legacy torch pickle")
    else:
        raise ValueError(
            f"{path!r} is not a readable state dict file (unknown format, or truncated). "
            f"Accepted: {ACCEPTED}."
        )
    return _strip_data_parallel(state)


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


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if any(name.endswith("data.pkl") for name in names):
            return _torch_load(path, "a torch zip checkpoint")
        members = [name for name in names if name.endswith(_TORCH_MEMBERS)]
        if len(members) != 1:
            raise ValueError(
                f"{path!r} is a zip archive but neither a torch checkpoint nor a pytorchcv "
                f".pth.zip holding exactly one .pth file (it holds {names[:5]}). "
                f"Accepted: {ACCEPTED}."
            )
        with tempfile.TemporaryDirectory() as tmp:
            return _torch_load(archive.extract(members[0], tmp), "a pytorchcv .pth.zip", path)


def _import_torch(path, kind):
    try:
        import torch
    except ImportError:
        raise ImportError(_NO_TORCH.format(path=path, kind=kind)) from None
    return torch


def _torch_load(file, kind, path=None):
    path = path or file
    torch = _import_torch(path, kind)
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise ValueError(
            f"{path!r} ({kind}) cannot be read as a state dict: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}. Accepted: {ACCEPTED}."
        ) from None
    return _to_numpy(_unwrap(loaded, path, torch), path, torch)


def _unwrap(loaded, path, torch):
    if not isinstance(loaded, dict):
        raise ValueError(
            f"{path!r} holds a {type(loaded).__name__}, not a state dict (a dict of tensors). "
            "Save `model.state_dict()`, not the model."
        )
    if all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return loaded
    for key in _WRAPPER_KEYS:
        if isinstance(loaded.get(key), dict):
            return loaded[key]
    raise ValueError(
        f"{path!r} holds a dict that is neither a state dict (all values tensors) nor a "
        f"checkpoint wrapping one under {list(_WRAPPER_KEYS)}. Its keys: {list(loaded)[:10]}."
    )


def _to_numpy(state, path, torch):
    arrays = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{path!r}: the state dict entry {key!r} is a {type(value).__name__}, not a "
                "tensor."
            )
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        arrays[key] = value.numpy()
    return arrays


def _strip_data_parallel(state):
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module."):]: value for key, value in state.items()}
    return state
