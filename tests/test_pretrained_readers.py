"""Weights files known by their bytes, and state dicts read with no torch.

The outside truth is torch itself: every torch file here is written by ``torch.save`` (zip and
legacy formats, CPU and GPU storage types, views, every dtype a checkpoint holds) and read back
by our reader in a process where ``import torch`` fails, then compared bit for bit with
``torch.load(weights_only=True)``. A pickle that names a global which runs code is refused, as
torch's ``weights_only`` refuses it, and nothing runs.
"""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import safetensors.numpy
from conftest import BLOCK_TORCH, parity_import

from keras_arches.pretrained import read_state_dict
from keras_arches.pretrained.readers import (
    KERAS_ARCHIVE,
    KERAS_H5,
    PYTORCHCV_ZIP,
    SAFETENSORS,
    TORCH_LEGACY,
    TORCH_ZIP,
    file_kind,
)

torch = parity_import("torch")

ARRAYS = {
    "conv1.weight": np.arange(2 * 3 * 3 * 3, dtype="float32").reshape(2, 3, 3, 3),
    "bn1.running_var": np.array([0.5, 2.0], dtype="float32"),
    "bn1.num_batches_tracked": np.array(7, dtype="int64"),
    "fc.weight": np.ones((4, 2), dtype="float16"),
}


def _assert_same(read, expected=ARRAYS):
    assert sorted(read) == sorted(expected)
    for key, value in expected.items():
        assert read[key].dtype == value.dtype, key
        np.testing.assert_array_equal(read[key], value)


def _every_dtype_and_layout():
    """A state dict with what real checkpoints hold: float32/16, bfloat16, int64 counters,
    bool and uint8 buffers, a 0-d tensor, an empty one, and tensors that are strided views of a
    shared storage (a transposed weight, a column slice, an offset into a larger storage)."""
    generator = torch.Generator().manual_seed(0)
    big = torch.randn(6, 8, generator=generator)
    return {
        "conv.weight": torch.randn(4, 3, 3, 3, generator=generator),
        "half": torch.randn(5, generator=generator).half(),
        "bf16": torch.randn(3, 4, generator=generator).to(torch.bfloat16),
        "bn.num_batches_tracked": torch.tensor(12),
        "mask": torch.tensor([True, False, True]),
        "pixels": torch.arange(6, dtype=torch.uint8),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "transposed": torch.randn(4, 6, generator=generator).t(),
        "columns": big[:, 2:5],
        "offset": big[3],
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=generator)),
    }


def _torch_files(folder):
    """Files of every torch kind, under names that do not say what they are."""
    state = _every_dtype_and_layout()
    files = {}
    files["zip.bin"] = state
    files["legacy.pth"] = state
    torch.save(state, folder / "zip.bin")
    torch.save(state, folder / "legacy.pth", _use_new_zipfile_serialization=False)
    # akamaster's CIFAR ResNets: a legacy .th from a GPU run, the state dict wrapped with the
    # epoch and best accuracy, every key under nn.DataParallel's "module.".
    wrapped = {"epoch": 200, "best_prec1": torch.tensor(91.25),
               "state_dict": {f"module.{k}": v for k, v in state.items()}}
    buffer = io.BytesIO()
    torch.save(wrapped, buffer, _use_new_zipfile_serialization=False)
    gpu = buffer.getvalue().replace(b"ctorch\nFloatStorage\n", b"ctorch.cuda\nFloatStorage\n")
    assert gpu != buffer.getvalue()
    (folder / "resnet20-12fca82f.th").write_bytes(gpu)
    files["resnet20-12fca82f.th"] = state
    # pytorchcv's .pth.zip: a zip archive holding one legacy .pth.
    with zipfile.ZipFile(folder / "nin_cifar10-0743-795b0824.pth.zip", "w") as archive:
        archive.write(folder / "legacy.pth", "nin_cifar10-0743-795b0824.pth")
    files["nin_cifar10-0743-795b0824.pth.zip"] = state
    return files


def _expected(state):
    return {k: (v.float() if v.dtype == torch.bfloat16 else v).detach().numpy()
            for k, v in state.items()}


READ_WITHOUT_TORCH = BLOCK_TORCH + """
import numpy as np
from keras_arches.pretrained import read_state_dict
for path in sys.argv[1:]:
    np.savez(path + ".npz", **read_state_dict(path))
assert not [m for m in sys.modules if m.split(".")[0] == "torch"]
print("read", len(sys.argv) - 1)
"""


def test_torch_files_read_bit_for_bit_with_torch_blocked(tmp_path):
    files = _torch_files(tmp_path)
    paths = [str(tmp_path / name) for name in files]
    run = subprocess.run([sys.executable, "-c", READ_WITHOUT_TORCH, *paths],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"read {len(paths)}" in run.stdout
    for name, state in files.items():
        # torch's own reader, on the very same file, is the truth.
        path = tmp_path / name
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                loaded = torch.load(io.BytesIO(archive.read(archive.namelist()[0])),
                                    weights_only=True)
        else:
            loaded = torch.load(path, weights_only=True, map_location="cpu")
        if "state_dict" in loaded:
            loaded = {k[len("module."):]: v for k, v in loaded["state_dict"].items()}
        expected = _expected(loaded)
        with np.load(f"{path}.npz") as ours:
            assert sorted(ours.files) == sorted(expected), name
            for key, value in expected.items():
                assert ours[key].dtype == value.dtype, (name, key)
                assert ours[key].shape == value.shape, (name, key)
                np.testing.assert_array_equal(ours[key], value, err_msg=f"{name}: {key}")
        assert sorted(expected) == sorted(state)


def test_a_real_pytorchcv_model_reads_as_torch_reads_it(tmp_path):
    models = parity_import("pytorchcv.model_provider")
    state = models.get_model("nin_cifar10", pretrained=False).state_dict()
    torch.save(state, tmp_path / "model.pth", _use_new_zipfile_serialization=False)
    with zipfile.ZipFile(tmp_path / "nin_cifar10.pth.zip", "w") as archive:
        archive.write(tmp_path / "model.pth", "nin_cifar10-0743-795b0824.pth")
    ours = read_state_dict(tmp_path / "nin_cifar10.pth.zip")
    _assert_same(ours, _expected(state))


# -- kinds by bytes ---------------------------------------------------------------------------


def test_every_kind_is_known_by_its_bytes_not_its_name(tmp_path):
    files = _torch_files(tmp_path)
    kinds = {"zip.bin": TORCH_ZIP, "legacy.pth": TORCH_LEGACY,
             "resnet20-12fca82f.th": TORCH_LEGACY,
             "nin_cifar10-0743-795b0824.pth.zip": PYTORCHCV_ZIP}
    assert set(kinds) == set(files)
    misnamed = {}
    for name, kind in kinds.items():
        # The same bytes under a misleading name are still the same kind.
        other = tmp_path / f"misnamed-{kind.name}.h5"
        other.write_bytes((tmp_path / name).read_bytes())
        misnamed[other] = kind
    safetensors.numpy.save_file(ARRAYS, tmp_path / "weights.pth")
    misnamed[tmp_path / "weights.pth"] = SAFETENSORS
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="predictions")])
    model.save_weights(tmp_path / "keras.weights.h5")
    os.replace(tmp_path / "keras.weights.h5", tmp_path / "keras.safetensors")
    misnamed[tmp_path / "keras.safetensors"] = KERAS_H5
    model.save(tmp_path / "model.keras")
    os.replace(tmp_path / "model.keras", tmp_path / "model.pth.zip")
    misnamed[tmp_path / "model.pth.zip"] = KERAS_ARCHIVE
    for path, kind in misnamed.items():
        assert file_kind(path) == kind, path
        if not kind.keras:
            assert read_state_dict(path), path
    _assert_same(read_state_dict(tmp_path / "weights.pth"))
    with pytest.raises(ValueError, match=r"keras\.safetensors' is a Keras HDF5 weights file, "
                                         r"not a state dict: pass it as `weights=`"):
        read_state_dict(tmp_path / "keras.safetensors")


# -- safety -----------------------------------------------------------------------------------


class _RunsACommand:
    """Pickles as a call of os.system: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _malicious_files(folder, marker):
    payload = pickle.dumps({"conv.weight": _RunsACommand(marker)}, protocol=2)
    legacy = folder / "legacy.pth"
    # The legacy format's pickles, with the object itself replaced by the payload.
    legacy.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
                       + pickle.dumps(1001, protocol=2)
                       + pickle.dumps({"little_endian": True}, protocol=2) + payload)
    first = folder / "first.pth"
    first.write_bytes(payload)  # not even a torch file: a bare pickle
    honest = folder / "honest.pth"
    torch.save({"conv.weight": torch.zeros(2)}, honest)
    zipped = folder / "zipped.pth"
    with zipfile.ZipFile(honest) as source, zipfile.ZipFile(zipped, "w") as target:
        for name in source.namelist():
            data = payload if name.endswith("data.pkl") else source.read(name)
            target.writestr(name, data)
    pytorchcv = folder / "model.pth.zip"
    with zipfile.ZipFile(pytorchcv, "w") as archive:
        archive.write(legacy, "model.pth")
    return [legacy, first, zipped, pytorchcv]


def test_a_pickle_that_names_a_command_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"
    for path in _malicious_files(tmp_path, marker):
        # torch's weights_only reader refuses the same file (the outside truth it is unsafe).
        if not path.name.endswith(".zip"):
            with pytest.raises(pickle.UnpicklingError):
                torch.load(path, weights_only=True)
        with pytest.raises(ValueError, match=r"names the global (posix|os)\.system, which a "
                                             r"state dict never needs.*nothing in the file "
                                             r"was run"):
            read_state_dict(path)
        assert not marker.exists(), path
    # The same payload through plain pickle does run: the test's payload is real.
    pickle.loads(pickle.dumps(_RunsACommand(marker), protocol=2))
    assert marker.exists()


# -- the rest ---------------------------------------------------------------------------------


def test_safetensors_round_trip(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(ARRAYS, path)
    _assert_same(read_state_dict(path))
    _assert_same(read_state_dict(str(path)))


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="nothing.safetensors' does not exist"):
        read_state_dict(tmp_path / "nothing.safetensors")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x00" * 64])
def test_unknown_file(tmp_path, content):
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"weights\.bin' is not a weights file of a known kind.*"
                                         r"Accepted, whatever the name: a safetensors file"):
        read_state_dict(path)


def test_truncated_safetensors(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(ARRAYS, path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"model\.safetensors.*cannot be read"):
        read_state_dict(path)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_truncated_torch_files(tmp_path, legacy):
    path = tmp_path / "model.pth"
    torch.save(_every_dtype_and_layout(), path, _use_new_zipfile_serialization=not legacy)
    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 9):
        path.write_bytes(whole[:cut])
        with pytest.raises(ValueError, match=r"model\.pth.*(truncated|corrupt|known kind)"):
            read_state_dict(path)


def test_a_pickled_module_is_refused(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(torch.nn.Linear(2, 2), path)  # a module, not a state dict: weights_only refuses
    with pytest.raises(ValueError, match=r"whole_model\.pth.*names the global "
                                         r"torch\.nn\.modules\.linear\.Linear"):
        read_state_dict(path)


def test_a_dict_without_tensors_is_refused(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "arch": "resnet18"}, path)
    with pytest.raises(ValueError, match=r"neither a state dict.*\['epoch', 'arch'\]"):
        read_state_dict(path)


@pytest.mark.parametrize("wrapper", ["state_dict", "model"])
def test_wrapped_checkpoints_are_unwrapped(tmp_path, wrapper):
    path = tmp_path / "checkpoint.pth"
    torch.save({wrapper: {k: torch.from_numpy(v) for k, v in ARRAYS.items()}, "epoch": 3}, path)
    _assert_same(read_state_dict(path))


def test_a_zip_with_two_files_is_refused(tmp_path):
    path = tmp_path / "two.pth.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.pth", b"x")
        archive.writestr("b.pth", b"y")
    with pytest.raises(ValueError, match=r"two\.pth\.zip' is a zip archive but neither a torch "
                                         r"checkpoint.*holds \['a.pth', 'b.pth'\]"):
        read_state_dict(path)


def test_the_reader_s_allowlist_is_within_torch_s(tmp_path):
    """Every global we accept is one torch's weights_only unpickler accepts too."""
    from keras_arches.pretrained import torch_format

    allowed = torch._weights_only_unpickler._get_allowed_globals()
    ours = {f"{module}.{name}" for module, name in torch_format._ALLOWED}
    assert ours <= set(allowed), sorted(ours - set(allowed))
    json.dumps(sorted(ours))  # plain names
