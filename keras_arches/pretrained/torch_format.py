"""Reading ``torch.save`` files without torch, as strictly as ``torch.load(weights_only=True)``.

``torch.save`` writes a pickle whose tensors point at raw storages (PyTorch 2.x
``torch/serialization.py``). Two containers exist:

- the zip format (the default since torch 1.6): ``<root>/data.pkl``, the pickle, and
  ``<root>/data/<key>``, one raw little-endian storage per key (``<root>/byteorder`` may say
  otherwise); a persistent id is ``("storage", StorageType, key, location, numel)``;
- the legacy format (torch < 1.6, and ``_use_new_zipfile_serialization=False``): five pickles
  in a row (magic number, protocol version, system info, the object, the list of storage keys),
  then each storage as an int64 element count and its raw bytes; a persistent id is
  ``("storage", StorageType, key, location, numel, view)``.

The unpickler here resolves only the globals a state dict needs, mapped to numpy stand-ins
(:data:`_ALLOWED`): the tensor and parameter rebuild functions, the typed storage classes, the
ordered dict, ``torch.Size``, ``set`` and ``_codecs.encode`` (how protocol-2 pickles spell
bytes). Every other global,
above all the ones that run code (``os.system``, ``builtins.eval``, ``subprocess``), is refused
with a ``ValueError`` before anything is called, as torch's ``weights_only`` unpickler does.
Storages are read as numpy arrays of their dtype; bfloat16 uses ``ml_dtypes`` (a Keras
dependency). The device a tensor was saved from (``location``) is ignored: everything is read
to the host.
"""

import collections
import io
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

# torch/serialization.py's MAGIC_NUMBER and PROTOCOL_VERSION of the legacy format.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    """What a ``torch.<Dtype>Storage`` global resolves to: the numpy dtype of its elements."""

    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """One storage's elements (a flat numpy array), possibly a view into a larger one."""

    def __init__(self, array):
        self.array = array


def _rebuild_tensor(storage, offset, size, stride, *_):
    """``torch._utils._rebuild_tensor_v2``/``_rebuild_tensor``: a strided view of a storage,
    copied into a contiguous numpy array."""
    if not isinstance(storage, _Storage):
        raise ValueError(f"a tensor is rebuilt from a {type(storage).__name__}, not a storage")
    array = storage.array
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or offset < 0 or any(s < 0 for s in size + stride):
        raise ValueError(f"a tensor has an invalid size {size} or stride {stride}")
    if all(size):
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= array.size:
            raise ValueError(
                f"a tensor of size {size} reads past its storage of {array.size} elements "
                "(the file is truncated or corrupt)"
            )
    else:
        return np.zeros(size, array.dtype)
    itemsize = array.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        array[offset:], shape=size, strides=tuple(s * itemsize for s in stride), writeable=False
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, state=None):
    """``torch._utils._rebuild_parameter(_with_state)``: the parameter's tensor."""
    return data


def _encode(text, encoding="latin1"):
    """``_codecs.encode``: how a protocol-2 pickle writes ``bytes``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError("_codecs.encode is allowed only for latin-1 text")
    return text.encode("latin1")


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("_codecs", "encode"): _encode,
    ("torch", "Size"): tuple,
    ("builtins", "set"): set,
    # Typed storages, also those saved from a GPU (torch.cuda.FloatStorage and so on).
    **{(module, name): _StorageType(name)
       for module in ("torch", "torch.cuda") for name in _STORAGE_DTYPES},
}


def _no_storage(*_):
    raise ValueError("a storage appears where torch writes none")


class _Unpickler(pickle.Unpickler):
    """An unpickler that knows only :data:`_ALLOWED` and hands storages to ``load_storage``;
    ``rebuild`` replaces the tensor rebuild function (legacy files read storages afterwards)."""

    def __init__(self, file, load_storage=_no_storage, rebuild=_rebuild_tensor):
        super().__init__(file, encoding="latin1")
        self._load_storage = load_storage
        self._rebuild = rebuild

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise ValueError(
                f"it names the global {module}.{name}, which a state dict never needs; "
                "only tensors and plain containers are read (as torch.load(weights_only=True) "
                "does), so nothing in the file was run"
            )
        return self._rebuild if found is _rebuild_tensor else found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise ValueError(f"it refers to a {pid[0] if pid else pid!r} record, not a storage")
        return self._load_storage(*pid[1:])


def is_legacy(head):
    """Whether a file's first bytes are a pickle (the legacy torch format starts with one)."""
    return head[:1] == b"\x80"


def read_zip(archive):
    """The object pickled in a torch zip checkpoint (an open :class:`zipfile.ZipFile`)."""
    names = archive.namelist()
    pickles = [name for name in names if name.endswith("/data.pkl") or name == "data.pkl"]
    if len(pickles) != 1:
        raise ValueError(f"a torch zip checkpoint holds one data.pkl; this holds {len(pickles)}")
    root = pickles[0][: -len("data.pkl")]
    order = "little"
    if f"{root}byteorder" in names:
        order = archive.read(f"{root}byteorder").decode("ascii").strip()
    cache = {}

    def load_storage(storage_type, key, location, numel, *view):
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"a storage of unknown type {storage_type!r}")
        if key not in cache:
            try:
                raw = archive.read(f"{root}data/{key}")
            except KeyError:
                raise ValueError(f"its storage {key!r} is missing (truncated archive)") from None
            dtype = storage_type.dtype.newbyteorder("<" if order == "little" else ">")
            if len(raw) % dtype.itemsize:
                raise ValueError(f"its storage {key!r} has a partial element (corrupt)")
            cache[key] = _Storage(np.frombuffer(raw, dtype).astype(storage_type.dtype))
        return cache[key]

    return _Unpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load()


def _check_legacy_header(handle):
    """Reads the three header pickles of a legacy torch file: magic, protocol, system info."""
    magic = _Unpickler(handle).load()
    if magic != LEGACY_MAGIC:
        raise ValueError("it is a pickle but not a torch checkpoint (no torch magic number)")
    protocol = _Unpickler(handle).load()
    if protocol != LEGACY_PROTOCOL:
        raise ValueError(f"it has torch's legacy protocol {protocol!r}, not {LEGACY_PROTOCOL}")
    _Unpickler(handle).load()  # system info: a dict of plain values


def _read_legacy_storages(handle, storages):
    """Reads the storages that follow the object, in the order of the file's key list."""
    keys = _Unpickler(handle).load()
    if not isinstance(keys, list):
        raise ValueError("its list of storage keys is missing")
    for key in keys:
        if key not in storages:
            raise ValueError(f"it stores {key!r}, which no tensor refers to")
        storage_type, storage = storages[key]
        header = handle.read(8)
        if len(header) != 8:
            raise ValueError(f"its storage {key!r} is truncated")
        (count,) = struct.unpack("<q", header)
        raw = handle.read(count * storage_type.dtype.itemsize)
        if count < 0 or len(raw) != count * storage_type.dtype.itemsize:
            raise ValueError(f"its storage {key!r} is truncated")
        storage.array = np.frombuffer(raw, storage_type.dtype.newbyteorder("<")).astype(
            storage_type.dtype)


def _link_legacy(views, pending):
    """Points the storage views at their roots, then rebuilds the deferred tensors."""
    for storage, root, offset in views:
        if root.array is None:
            raise ValueError("a storage view refers to a storage that is not in the file")
        storage.array = root.array[offset:]
    for placeholder, storage, offset, size, stride in pending:
        if storage.array is None:
            raise ValueError("a tensor refers to a storage that is not in the file")
        placeholder.value = _rebuild_tensor(storage, offset, size, stride)


def read_legacy(handle):
    """The object in a legacy-format torch file (an open binary file)."""
    _check_legacy_header(handle)
    storages = {}  # key -> (storage type, numel); filled in as the pickle refers to them
    views = []

    def load_storage(storage_type, key, location, numel, view=None):
        if not isinstance(storage_type, _StorageType):
            raise ValueError(f"a storage of unknown type {storage_type!r}")
        root = storages.setdefault(key, (storage_type, _Storage(None)))[1]
        if view is None:
            return root
        _, offset, _ = view
        storage = _Storage(None)
        views.append((storage, root, int(offset)))
        return storage

    # Tensors are rebuilt after the storages are read: rebuild lazily.
    pending = []

    def deferred(storage, offset, size, stride, *rest):
        placeholder = _Deferred()
        pending.append((placeholder, storage, offset, size, stride))
        return placeholder

    result = _Unpickler(handle, load_storage, deferred).load()
    _read_legacy_storages(handle, storages)
    _link_legacy(views, pending)
    return _resolve(result)


class _Deferred:
    """A tensor of a legacy file, rebuilt once its storage has been read."""

    value = None


def _resolve(value):
    """``value`` with every :class:`_Deferred` tensor replaced by its array."""
    if isinstance(value, _Deferred):
        return value.value
    if isinstance(value, dict):
        resolved = type(value)((k, _resolve(v)) for k, v in value.items())
        return resolved
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(v) for v in value)
    return value


def read(handle):
    """The object saved by ``torch.save`` in the open binary file ``handle`` (either format),
    with tensors as numpy arrays. ``ValueError`` for anything else, and for any global a state
    dict does not need."""
    head = handle.read(4)
    handle.seek(0)
    if head[:2] == b"PK":
        with zipfile.ZipFile(handle) as archive:
            return read_zip(archive)
    if is_legacy(head):
        return read_legacy(handle)
    raise ValueError("it is neither a torch zip checkpoint nor a legacy torch pickle")
