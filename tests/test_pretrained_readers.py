"""read_state_dict: safetensors without torch; torch .pth/.pt and pytorchcv .pth.zip through
torch; clear errors for corrupt files and for torch files without torch."""

import sys
import zipfile

import numpy as np
import pytest
import safetensors.numpy

from keras_arches.pretrained import read_state_dict

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


def _torch_state(torch, arrays=ARRAYS):
    return {key: torch.from_numpy(value.copy()) for key, value in arrays.items()}


def test_safetensors_round_trip(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(ARRAYS, path)
    _assert_same(read_state_dict(path))
    _assert_same(read_state_dict(str(path)))


def test_safetensors_needs_no_torch(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(ARRAYS, path)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    _assert_same(read_state_dict(path))


@pytest.mark.parametrize("name", ["model.pth", "model.pt", "pytorch_model.bin", "no_suffix"])
def test_torch_files(tmp_path, name):
    torch = pytest.importorskip("torch")
    path = tmp_path / name
    torch.save(_torch_state(torch), path)
    _assert_same(read_state_dict(path))


def test_legacy_torch_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "old.pth"
    torch.save(_torch_state(torch), path, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:1] == b"\x80"
    _assert_same(read_state_dict(path))


def test_pytorchcv_pth_zip(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(_torch_state(torch), tmp_path / "resnet-0633-b00d1c8e.pth")
    path = tmp_path / "resnet-0633-b00d1c8e.pth.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(tmp_path / "resnet-0633-b00d1c8e.pth", "resnet-0633-b00d1c8e.pth")
    _assert_same(read_state_dict(path))


@pytest.mark.parametrize("wrapper", ["state_dict", "model"])
def test_wrapped_checkpoints_are_unwrapped(tmp_path, wrapper):
    torch = pytest.importorskip("torch")
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({wrapper: _torch_state(torch), "epoch": 90, "arch": "resnet18"}, path)
    _assert_same(read_state_dict(path))


def test_data_parallel_prefix_is_removed(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pth"
    torch.save({f"module.{k}": v for k, v in _torch_state(torch).items()}, path)
    _assert_same(read_state_dict(path))


def test_bfloat16_becomes_float32(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    values = torch.tensor([1.5, -2.0, 0.1])
    state = {"w": values.to(torch.bfloat16)}
    expected = values.to(torch.bfloat16).float().numpy()
    safetensors.torch.save_file(state, tmp_path / "bf16.safetensors")
    torch.save(state, tmp_path / "bf16.pth")
    for name in ("bf16.safetensors", "bf16.pth"):
        read = read_state_dict(tmp_path / name)["w"]
        assert read.dtype == np.float32
        np.testing.assert_array_equal(read, expected)


# -- refusals -----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_state_dict(tmp_path / "nothing.safetensors")


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x00" * 64])
def test_unknown_file(tmp_path, content):
    path = tmp_path / "weights.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"weights\.bin.*Accepted: a safetensors file"):
        read_state_dict(path)


def test_truncated_safetensors(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(ARRAYS, path)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"model\.safetensors.*cannot be read"):
        read_state_dict(path)


def test_truncated_torch_file(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pth"
    torch.save(_torch_state(torch), path)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"model\.pth"):
        read_state_dict(path)


def test_a_pickled_module_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "whole_model.pth"
    torch.save(torch.nn.Linear(2, 2), path)  # a module, not a state dict: weights_only refuses
    with pytest.raises(ValueError, match=r"whole_model\.pth.*cannot be read as a state dict"):
        read_state_dict(path)


def test_a_dict_without_tensors_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "arch": "resnet18"}, path)
    with pytest.raises(ValueError, match=r"neither a state dict.*\['epoch', 'arch'\]"):
        read_state_dict(path)


def test_a_zip_with_two_checkpoints_is_refused(tmp_path):
    path = tmp_path / "two.pth.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.pth", b"x")
        archive.writestr("b.pth", b"y")
    with pytest.raises(ValueError, match=r"two\.pth\.zip.*exactly one \.pth"):
        read_state_dict(path)


@pytest.mark.parametrize("kind", ["zip", "pickle", "pth.zip"])
def test_torch_files_without_torch_name_the_extra(tmp_path, monkeypatch, kind):
    # What each kind starts with is enough: the reader must ask for torch before parsing.
    path = tmp_path / f"model.{kind}"
    if kind == "pickle":
        path.write_bytes(b"\x80\x02}q\x00.")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("model.pth" if kind == "pth.zip" else "archive/data.pkl", b"")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r'pip install "keras-arches\[torch\]".*\.safetensors'):
        read_state_dict(path)
