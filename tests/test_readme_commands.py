"""The README's command-line examples run as written, offline.

Every ``keras-arches ...`` line of the README's ``bash`` blocks (the main job's line aside: it
is the first command of the README, run by hand or by CI's setup) is run in order, in a folder
that holds what the lines name: real photos as ``cat.jpg`` and ``dog.png``, an MNIST test
digit as ``digit3.png`` (``tools/write_mnist_digit.py``), torchvision state
dicts under the names the lines use, an image folder ``my_photos/`` in Keras' layout; the
checkpoints the lines' tags name are served from ``file://`` URLs of random-weight reference
models (the real download path, hash check and conversion, no network).
"""

import hashlib
import os
import re
import shlex
import shutil
import sys

import matplotlib
import pytest
from conftest import parity_import, photo_folder
from PIL import Image
from test_loading import randomise, serve

from keras_arches import cli

torch = parity_import("torch")
torchvision = parity_import("torchvision")
timm = parity_import("timm")
safetensors_torch = parity_import("safetensors.torch")

pytestmark = pytest.mark.parity
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def readme_commands():
    """The README's ``keras-arches`` lines, in order, as argument lists (comments dropped)."""
    with open(README) as handle:
        blocks = re.findall(r"```bash\n(.*?)```", handle.read(), re.S)
    return [shlex.split(line, comments=True) for block in blocks
            for line in block.splitlines() if line.startswith("keras-arches ")]


def _publish(monkeypatch, folder, model, name, tag, file_name):
    path = folder / file_name
    if file_name.endswith(".safetensors"):
        safetensors_torch.save_file(model.state_dict(), str(path))
    else:
        torch.save(model.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    serve(monkeypatch, path.as_uri(), f"sha256:{digest[:8]}", name=name, tag=tag)


@pytest.fixture
def readme_folder(tmp_path, monkeypatch):
    """The working folder the README's lines expect, and the tags they name, served locally."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    work = tmp_path / "work"
    work.mkdir()
    hopper = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    shutil.copy(hopper, work / "cat.jpg")
    with Image.open(hopper) as image:
        image.crop((100, 50, 400, 450)).save(work / "dog.png")
    torch.manual_seed(0)
    torch.save(randomise(torchvision.models.squeezenet1_1()).state_dict(),
               work / "squeezenet1_1-b8a52dc0.pth")
    torch.save(randomise(torchvision.models.resnet18()).state_dict(), work / "resnet18.pth")
    served = tmp_path / "served"
    served.mkdir()
    _publish(monkeypatch, served, randomise(torchvision.models.resnet18()), "resnet18",
             "tv_in1k", "resnet18-random.pth")
    _publish(monkeypatch, served, randomise(timm.create_model("resnet50")), "resnet50",
             "a1_in1k", "resnet50-random.safetensors")
    photo_folder(work / "my_photos", per_class=14)
    sys.path.insert(0, os.path.join(os.path.dirname(README), "tools"))
    try:
        import write_mnist_digit
    finally:
        sys.path.pop(0)
    write_mnist_digit.write_digit(3, work / "digit3.png")
    monkeypatch.chdir(work)
    return work


def test_the_readme_has_command_examples():
    commands = readme_commands()
    assert {argv[1] for argv in commands} >= {"list", "predict", "convert", "finetune", "export"}


def test_every_readme_command_runs_as_written(readme_folder, capsys):
    for argv in readme_commands():
        assert argv[0] == "keras-arches"
        code = cli.main(argv[1:])
        out, err = capsys.readouterr()
        assert code == 0, f"{shlex.join(argv)} exited {code}: {err[-2000:]}"
        assert out.strip(), shlex.join(argv)
