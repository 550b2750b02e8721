"""Published checkpoints end to end, with no network: the real download path against a local
``file://`` URL, the hash check, the conversion cache, ``weights="<tag>"`` and ``"arch.tag"``,
and transfer learning (a new head, 1 or 4 input channels, no top).

The "published" file is a torchvision 0.29 ResNet-18 with random weights and randomised
batch-norm statistics, so the converted model must reproduce torch's logits.
"""

import dataclasses
import hashlib
import os

import keras
import numpy as np
import pytest

import keras_arches
from keras_arches import registry
from keras_arches.weights import adapt_input_kernel

torch = pytest.importorskip("torch", reason="needs the parity extra (torch, torchvision)")
torchvision = pytest.importorskip("torchvision")

pytestmark = pytest.mark.parity
SIZE = 64


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A torchvision ResNet-18 served as resnet18's "tv_in1k" from a file:// URL, and a fresh
    Keras cache (KERAS_HOME)."""
    torch.manual_seed(0)
    reference = torchvision.models.resnet18().eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "published" / "resnet18-random.pth"
    path.parent.mkdir()
    torch.save(reference.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    serve(monkeypatch, path.as_uri(), f"sha256:{digest[:8]}")
    return reference, path


def serve(monkeypatch, url, file_hash, name="resnet18", tag="tv_in1k"):
    """Points the registry's checkpoint ``name.tag`` at ``url``."""
    info = keras_arches.model_info(name)
    checkpoint = dataclasses.replace(info.checkpoint_for(tag), url=url, file_hash=file_hash)
    card = dataclasses.replace(
        info, checkpoints=tuple(checkpoint if c.tag == tag else c for c in info.checkpoints)
    )
    monkeypatch.setitem(registry._REGISTRY, name, card)
    monkeypatch.setattr(info.builder, "info", card)


def images(channels=3, n=2):
    return np.random.default_rng(1).uniform(0, 1, (n, SIZE, SIZE, channels)).astype("float32")


def torch_logits(reference, x):
    with torch.no_grad():
        return reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()


def cached():
    folder = os.path.join(os.environ["KERAS_HOME"], "models", "keras_arches")
    return sorted(f for f in os.listdir(folder) if not f.startswith(".")) if os.path.isdir(
        folder) else []


def test_a_tag_downloads_checks_converts_once_and_matches_torch(published):
    reference, path = published
    model = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3),
                                  classifier_activation=None)
    x = images()
    expected = torch_logits(reference, x)
    ours = np.asarray(model(x))
    assert np.abs(ours - expected).max() / np.abs(expected).max() <= 1e-4
    assert (ours.argmax(-1) == expected.argmax(-1)).all()
    assert cached() == ["resnet18.tv_in1k.pth", "resnet18.tv_in1k.weights.h5"]
    card = keras_arches.model_info(model)
    assert card.checkpoint == "tv_in1k" and keras_arches.data.preprocessing_for(model) == "torch"
    # Converted once: without the source file the cached conversion still loads, by arch.tag.
    os.remove(os.path.join(os.environ["KERAS_HOME"], "models", "keras_arches",
                           "resnet18.tv_in1k.pth"))
    again = keras_arches.get_model("resnet18.tv_in1k", input_shape=(SIZE, SIZE, 3),
                                   classifier_activation=None)
    np.testing.assert_allclose(np.asarray(again(x)), ours, rtol=1e-6, atol=1e-6)
    # "imagenet" is the card's default checkpoint for a non-keras builder.
    default = keras_arches.ResNet18(weights="imagenet", input_shape=(SIZE, SIZE, 3),
                                    classifier_activation=None)
    np.testing.assert_allclose(np.asarray(default(x)), ours, rtol=1e-6, atol=1e-6)


def test_a_tampered_download_is_refused_and_not_cached(published, monkeypatch):
    _, path = published
    serve(monkeypatch, path.as_uri(), "sha256:00000000")
    with pytest.raises(ValueError, match="does not have its published sha256 hash"):
        keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3))
    assert cached() == []


def test_unknown_tags_list_the_valid_ones():
    with pytest.raises(ValueError, match="one of .*'tv_in1k'"):
        keras_arches.ResNet18(weights="tv3_in1k")
    with pytest.raises(ValueError, match="Unknown checkpoint 'nope' for resnet18. Known: .*a1"):
        keras_arches.model_info("resnet18.nope")
    with pytest.raises(ValueError, match="contradicts"):
        keras_arches.get_model("resnet18.tv_in1k", weights="a1_in1k")


def test_transfer_learning_new_head_other_channels_and_no_top(published):
    full = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3))
    by_path = {w.path: np.asarray(w) for w in full.weights}

    head = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3), classes=10)
    assert head.output.shape[-1] == 10
    for w in head.weights:
        if not w.path.startswith("predictions"):
            np.testing.assert_array_equal(np.asarray(w), by_path[w.path])

    kernel = by_path["conv1_conv/kernel"]
    grey = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 1))
    np.testing.assert_allclose(grey.get_layer("conv1_conv").kernel, kernel.sum(2, keepdims=True),
                               rtol=1e-6)
    four = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 4))
    expected = np.concatenate([kernel, kernel[:, :, :1]], axis=2) * 3 / 4
    np.testing.assert_allclose(four.get_layer("conv1_conv").kernel, expected, rtol=1e-6)
    # A grey image repeated over RGB gives what the grey model gives.
    x = images(channels=1)
    np.testing.assert_allclose(np.asarray(grey(x)), np.asarray(full(np.repeat(x, 3, axis=-1))),
                               rtol=1e-4, atol=1e-6)

    features = keras_arches.ResNet18(weights="tv_in1k", include_top=False, pooling="avg",
                                     input_shape=(SIZE, SIZE, 3))
    pooled = keras.Model(full.input, full.get_layer("avg_pool").output)
    np.testing.assert_allclose(np.asarray(features(images())), np.asarray(pooled(images())),
                               rtol=1e-5, atol=1e-6)


def test_a_state_dict_path_loads_with_the_card_s_layout(published, tmp_path):
    from safetensors.torch import save_file

    reference, path = published
    tensors = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(tensors, tmp_path / "resnet18.safetensors")
    x = images()
    for file in (path, tmp_path / "resnet18.safetensors"):
        model = keras_arches.ResNet18(weights=str(file), input_shape=(SIZE, SIZE, 3),
                                      classifier_activation=None)
        expected = torch_logits(reference, x)
        assert np.abs(np.asarray(model(x)) - expected).max() / np.abs(expected).max() <= 1e-4


def test_adapt_input_kernel_follows_timm():
    """timm 1.0 ``adapt_input_conv``: sum for one channel; repeat and scale by 3/C for C."""
    kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 5)).astype("float32")
    np.testing.assert_allclose(adapt_input_kernel(kernel, 1), kernel.sum(2, keepdims=True))
    six = adapt_input_kernel(kernel, 6)
    np.testing.assert_allclose(six, np.concatenate([kernel, kernel], axis=2) / 2, rtol=1e-6)
    assert adapt_input_kernel(kernel, 3) is kernel
    with pytest.raises(ValueError, match="Only an RGB"):
        adapt_input_kernel(six, 1)


def test_preprocess_input_follows_the_checkpoint():
    x = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, 3)).astype("float32")
    torch_mode = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="torch")
    tf_mode = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="tf")
    np.testing.assert_allclose(keras_arches.preprocess_input(x, "resnet18.tv_in1k"), torch_mode,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(keras_arches.preprocess_input(x, "resnet34.ra4_e3600_r224_in1k"),
                               tf_mode, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(keras_arches.preprocess_input(x, "vgg16"),
                               keras.applications.vgg16.preprocess_input(x.copy()), atol=1e-4)
    cifar = keras_arches.preprocess_input(x, "wide_resnet.cifar10")
    mean = np.array((0.4914, 0.4822, 0.4465), "float32")
    std = np.array((0.2023, 0.1994, 0.2010), "float32")
    np.testing.assert_allclose(cifar, (x / 255 - mean) / std, rtol=1e-5)


def test_a_checkpoint_chooses_its_layout_end_to_end(tmp_path, monkeypatch):
    # A random torchvision GoogLeNet, aux heads included, served as googlenet's "tv_in1k":
    # "googlenet.tv_in1k" builds torchvision's layout (not the paper's) and loads it, heads too.
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    reference.eval()
    path = tmp_path / "googlenet-random.pth"
    torch.save(reference.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    info = keras_arches.model_info("googlenet")
    checkpoint = dataclasses.replace(info.checkpoint_for("tv_in1k"), url=path.as_uri(),
                                     file_hash=f"sha256:{digest[:8]}")
    card = dataclasses.replace(info, checkpoints=(checkpoint,))
    monkeypatch.setitem(registry._REGISTRY, "googlenet", card)
    monkeypatch.setattr(keras_arches.GoogLeNet, "info", card)

    model = keras_arches.get_model("googlenet.tv_in1k", input_shape=(SIZE, SIZE, 3),
                                   classifier_activation=None)
    x = images()
    np.testing.assert_allclose(model(x), torch_logits(reference, x), rtol=1e-4, atol=1e-4)
    found = keras_arches.model_info(model)
    expected = ("torchvision", "tv_in1k", "tf")
    assert (found.variant, found.checkpoint, found.preprocessing) == expected
    assert found.checkpoint_for("tv_in1k").mean == (0.5, 0.5, 0.5)  # transform_input
    with_heads = keras_arches.GoogLeNet(weights="tv_in1k", input_shape=(SIZE, SIZE, 3),
                                        aux_classifiers=True)
    # The converted file holds the heads: aux1's fc1, rows in Keras' H,W,C flatten order.
    fc1 = reference.aux1.fc1.weight.detach().numpy().reshape(1024, 128, 4, 4)
    np.testing.assert_array_equal(with_heads.get_layer("aux1_fc1").kernel.numpy(),
                                  fc1.transpose(2, 3, 1, 0).reshape(-1, 1024))
    for variant in ("cifar10", "imagenet"):  # an explicit contradicting layout
        with pytest.raises(ValueError, match=f"not variant='{variant}'"):
            keras_arches.NiN(weights="cifar10", variant=variant)
def test_a_tag_in_another_layout_builds_and_converts_in_that_layout(tmp_path, monkeypatch):
    """pytorchcv's resnet110_cifar10 (projection shortcuts) served as resnet110's "cifar10": the
    tag chooses the builder's `shortcut="projection"`, for the model and for its conversion."""
    import zipfile

    pytorchcv = pytest.importorskip("pytorchcv.model_provider")
    torch.manual_seed(0)
    reference = pytorchcv.get_model("resnet110_cifar10", pretrained=False).eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    pth = tmp_path / "resnet110_cifar10-0369-4d6ca1fc.pth"
    torch.save(reference.state_dict(), pth)
    path = tmp_path / "published" / "resnet110_cifar10-0369-4d6ca1fc.pth.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(pth, pth.name)
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    serve(monkeypatch, path.as_uri(), f"sha1:{digest}", name="resnet110", tag="cifar10")
    model = keras_arches.get_model("resnet110.cifar10", classifier_activation=None)
    card = keras_arches.model_info(model)
    assert (card.variant, card.checkpoint, card.layout) == (
        "projection", "cifar10", "pytorchcv.resnet_cifar"
    )
    assert model.count_params() == card.params
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    ours = np.asarray(model(x))
    assert np.abs(ours - expected).max() / np.abs(expected).max() <= 1e-4
    assert cached() == ["resnet110.cifar10.pth.zip", "resnet110.cifar10.weights.h5"]
