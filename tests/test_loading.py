"""The one weights loader end to end, with no network: the real download path against local
``file://`` URLs (and a closed port on 127.0.0.1 for a failed download), the hash check, the
conversion cache, ``weights="<tag>"``, ``"arch.tag"`` and ``weights=<path>`` giving the same
model, transfer learning (a new head, 1 or 4 input channels, no top), the layout found from a
state dict's keys, and the default checkpoints loading where torch cannot be imported.

The "published" files are torchvision 0.29 / pytorchcv 0.0.74 models with random weights and
randomised batch-norm statistics, so the converted model must reproduce torch's logits.
"""

import dataclasses
import hashlib
import os

import keras
import numpy as np
import pytest
from conftest import BLOCK_TORCH, parity_import
from test_pretrained_parity import _randomise as calibrated
from test_pretrained_parity import _relative_error

import keras_arches
from keras_arches import registry
from keras_arches.weights import adapt_input_kernel

torch = parity_import("torch")
torchvision = parity_import("torchvision")

pytestmark = pytest.mark.parity
SIZE = 64


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A torchvision ResNet-18 served as resnet18's "tv_in1k" from a file:// URL, and a fresh
    Keras cache (KERAS_HOME)."""
    torch.manual_seed(0)
    reference = randomise(torchvision.models.resnet18())
    path = tmp_path / "published" / "resnet18-random.pth"
    path.parent.mkdir()
    torch.save(reference.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    serve(monkeypatch, path.as_uri(), f"sha256:{digest[:8]}")
    return reference, path


def randomise(reference):
    """``reference`` in eval mode with every batch norm's gamma, beta and statistics drawn at
    random, set directly (so heads that run only in training, such as GoogLeNet's aux heads,
    are randomised too)."""
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return reference.eval()


def relative_error(ours, expected):
    """The parity metric (test_pretrained_parity's), on tensors or arrays."""
    return _relative_error(np.asarray(ours), np.asarray(expected))


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
    # Statistics calibrated on real activations (and random in the aux heads): with arbitrary
    # ones GoogLeNet's logits hardly depend on the image, and a broken stem would go unseen.
    reference = calibrated(
        torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False),
        (SIZE, SIZE))
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
    x = np.random.default_rng(1).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    expected = torch_logits(reference, x)
    # The two images' logits differ on the scale of the logits themselves: a model that ignores
    # its input (a zeroed or scrambled stem) cannot pass the bound below.
    assert np.abs(expected[0] - expected[1]).max() > 0.1 * np.abs(expected).max()
    assert relative_error(model(x), expected) <= 1e-4
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
    # The heads' randomised batch norm (they run only in training in torch) is converted too.
    aux_bn, ours = reference.aux1.conv.bn, with_heads.get_layer("aux1_conv_bn")
    np.testing.assert_allclose(ours.moving_variance.numpy() + ours.epsilon,
                               aux_bn.running_var.numpy() + aux_bn.eps, rtol=1e-6)
    np.testing.assert_allclose(ours.moving_mean.numpy(), aux_bn.running_mean.numpy(), rtol=1e-6)
    for variant in ("cifar10", "imagenet"):  # an explicit contradicting layout
        with pytest.raises(ValueError, match=f"not variant='{variant}'"):
            keras_arches.NiN(weights="cifar10", variant=variant)
def test_a_tag_in_another_layout_builds_and_converts_in_that_layout(tmp_path, monkeypatch):
    """pytorchcv's resnet110_cifar10 (projection shortcuts) served as resnet110's "cifar10": the
    tag chooses the builder's `shortcut="projection"`, for the model and for its conversion."""
    import zipfile

    pytorchcv = parity_import("pytorchcv.model_provider")
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


def test_akamaster_s_published_file_shape_loads_from_its_tag(tmp_path, monkeypatch):
    """akamaster's files are legacy torch pickles of {"state_dict", "best_prec1"} saved from
    nn.DataParallel ("module." keys), named by their SHA-256 prefix: served as resnet20's
    "akamaster_cifar10", the tag builds option A and computes the reference's logits."""
    from akamaster_resnet import AkamasterResNet

    torch.manual_seed(0)
    reference = AkamasterResNet(20).eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "published" / "resnet20.th"
    path.parent.mkdir()
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}
    torch.save({"state_dict": state, "best_prec1": 91.73}, path,
               _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:2] != b"PK"  # the legacy format, as torch 1.0 wrote it
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    serve(monkeypatch, path.as_uri(), f"sha256:{digest}", name="resnet20",
          tag="akamaster_cifar10")
    model = keras_arches.get_model("resnet20.akamaster_cifar10", classifier_activation=None)
    card = keras_arches.model_info(model)
    assert (card.variant, card.checkpoint, card.layout) == (
        None, "akamaster_cifar10", "akamaster.resnet_cifar")
    checkpoint = card.checkpoint_for("akamaster_cifar10")
    assert (checkpoint.mean, checkpoint.std, checkpoint.top1) == (
        (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 91.73)  # its trainer's; 8.27 % error
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    ours = np.asarray(model(x))
    assert np.abs(ours - expected).max() / np.abs(expected).max() <= 1e-4
    assert cached() == ["resnet20.akamaster_cifar10.pth", "resnet20.akamaster_cifar10.weights.h5"]
    # A changed byte fails the hash check; the cache keeps only the good files.
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "other_home"))
    with pytest.raises(ValueError, match="hash"):
        keras_arches.get_model("resnet20.akamaster_cifar10")
    assert cached() == []


# -- one loader: a tag and a file give the same model ------------------------------------------


def _weights(model, skip=()):
    return {w.path: np.asarray(w) for w in model.weights if not w.path.startswith(skip)}


def _assert_same_weights(a, b, skip=()):
    ours, theirs = _weights(a, skip), _weights(b, skip)
    assert sorted(ours) == sorted(theirs)
    for path, value in ours.items():
        np.testing.assert_array_equal(value, theirs[path], err_msg=path)


BUILDS = {
    "same classes": dict(input_shape=(SIZE, SIZE, 3)),
    "new head": dict(input_shape=(SIZE, SIZE, 3), classes=10),
    "grey": dict(input_shape=(SIZE, SIZE, 1)),
    "four channels": dict(input_shape=(SIZE, SIZE, 4), classes=7),
    "no top": dict(input_shape=(SIZE, SIZE, 3), include_top=False, pooling="avg"),
    "pyramid": dict(input_shape=(SIZE, SIZE, 3), features_only=True),
}


def test_a_local_file_and_a_tag_give_the_same_model(published, tmp_path):
    """The published .pth, the same state dict as a legacy .th and as .safetensors, and the
    tag's own conversion as a Keras .weights.h5 and .keras file: every build of BUILDS is the
    tag's, weight for weight (a new head aside, fresh in both)."""
    from safetensors.torch import save_file

    reference, path = published
    state = reference.state_dict()
    torch.save(state, tmp_path / "resnet18.th", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "resnet18.safetensors")
    tagged = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3))
    tagged.save_weights(tmp_path / "resnet18.weights.h5")
    tagged.save(tmp_path / "resnet18.keras")
    every_build = [path, tmp_path / "resnet18.keras"]  # a state dict and a Keras file
    other_kinds = [tmp_path / "resnet18.th", tmp_path / "resnet18.safetensors",
                   tmp_path / "resnet18.weights.h5"]
    for build, kwargs in BUILDS.items():
        by_tag = keras_arches.ResNet18(weights="tv_in1k", **kwargs)
        for file in every_build + (other_kinds if build in ("new head", "grey") else []):
            by_file = keras_arches.ResNet18(weights=str(file), **kwargs)
            if build == "pyramid":
                assert sorted(by_file.output) == sorted(by_tag.output)
            skip = ("predictions",) if kwargs.get("classes") else ()
            _assert_same_weights(by_file, by_tag, skip)
            if skip:  # a fresh head of the asked classes, not the file's 1000
                assert by_file.get_layer("predictions").kernel.shape[-1] == kwargs["classes"]
    x = images()
    by_file = keras_arches.ResNet18(weights=str(tmp_path / "resnet18.th"),
                                    input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    assert relative_error(by_file(x), torch_logits(reference, x)) <= 1e-4


def test_a_state_dict_s_layout_is_found_from_its_keys(tmp_path, monkeypatch):
    """A pytorchcv ZFNet state dict needs no `variant=`: its keys choose the pytorchcv layout.
    Keys that fit no layout are an error that names each layout tried and the keys."""
    pytorchcv = parity_import("pytorchcv.model_provider")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    torch.manual_seed(0)
    source = randomise(pytorchcv.get_model("zfnet", pretrained=False))
    torch.save(source.state_dict(), tmp_path / "zfnet.pth")
    model = keras_arches.ZFNet(weights=str(tmp_path / "zfnet.pth"), include_top=False)
    assert keras_arches.model_info(model).variant == "pytorchcv"
    x = np.random.default_rng(2).normal(size=(1, 224, 224, 3)).astype("float32")
    with torch.no_grad():
        features = source.features(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert relative_error(np.asarray(model(x)).transpose(0, 3, 1, 2), features) <= 1e-4

    torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "resnet18.pth")
    with pytest.raises(ValueError, match=r"(?s)resnet18\.pth' does not fit zfnet: "
                                         r"variant='pytorchcv': The state dict does not fit.*"
                                         r"unused tensors of the state dict.*conv1\.weight"):
        keras_arches.ZFNet(weights=str(tmp_path / "resnet18.pth"))
    assert os.listdir(tmp_path / "keras_home" / "models" / "keras_arches") == [
        f for f in os.listdir(tmp_path / "keras_home" / "models" / "keras_arches")
        if f.startswith("zfnet.pytorchcv.")]  # the failed file left nothing in the cache
    with pytest.raises(ValueError, match=r"lenet5 has no state-dict key map to read .*; models "
                                         r"with one: alexnet, zfnet.*Keras weights file"):
        keras_arches.LeNet5(weights=str(tmp_path / "resnet18.pth"))


def _closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again on leaving: nothing listens there


def test_a_failed_download_says_what_to_do_and_caches_nothing(tmp_path, monkeypatch, capsys):
    from keras_arches import cli
    from keras_arches.loading import DownloadError

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    url = f"http://127.0.0.1:{_closed_port()}/resnet18-f37072fd.pth"
    serve(monkeypatch, url, "sha256:f37072fd")
    cache = tmp_path / "keras_home" / "models" / "keras_arches"
    expected_path = str(cache / "resnet18.tv_in1k.pth")
    with pytest.raises(DownloadError) as raised:
        keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3))
    message = str(raised.value)
    for part in (f"Could not download {url} (expected sha256:f37072fd)", "Connection refused",
                 "pass the file as `weights=<path>`", "`--weights PATH`",
                 f"or put the file at {expected_path} and retry"):
        assert part in message
    assert cached() == [] and not os.listdir(cache)  # no scratch folder left either
    image = tmp_path / "photo.png"
    keras.utils.save_img(image, np.zeros((8, 8, 3), "uint8"))
    assert cli.main(["predict", "resnet18.tv_in1k", str(image)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and url in err
    # The second way out works as the message says: the file placed at that path is used.
    reference = randomise(torchvision.models.resnet18())
    torch.save(reference.state_dict(), expected_path)
    serve(monkeypatch, url, "sha256:" + hashlib.sha256(open(expected_path, "rb").read())
          .hexdigest()[:8])
    model = keras_arches.ResNet18(weights="tv_in1k", input_shape=(SIZE, SIZE, 3),
                                  classifier_activation=None)
    x = images()
    assert relative_error(model(x), torch_logits(reference, x)) <= 1e-4


def _default_checkpoints():
    """(card, checkpoint) of every `weights="imagenet"` default that is a published state dict
    (the keras twins' own files are HDF5 and need no torch either)."""
    for card in registry.cards():
        for variant in (None, *card.variants):
            layout = card.for_variant(variant)
            if "imagenet" in layout.tags and "imagenet" not in layout.weights:
                yield layout, layout.checkpoint_for("imagenet")


def test_every_default_checkpoint_is_a_kind_read_without_torch():
    defaults = list(_default_checkpoints())
    assert len(defaults) == 28  # with torchvision's VGG-11, VGG-13 and the four VGG-BNs
    for card, checkpoint in defaults:
        assert checkpoint.url.endswith((".pth", ".pth.zip", ".safetensors")), card.name


LOAD_WITHOUT_TORCH = BLOCK_TORCH + """
import dataclasses

import numpy as np
import keras_arches
from keras_arches import registry

for line in sys.argv[1:]:
    name, tag, url, size, out = line.split("|")
    card = registry.model_info(name)
    served = dataclasses.replace(card.checkpoint_for(tag), url=url, file_hash=None)
    card = dataclasses.replace(card, checkpoints=(served,))
    registry._REGISTRY[name] = card
    card.builder.info = card
    model = keras_arches.get_model(f"{name}.{tag}", input_shape=(int(size), int(size), 3),
                                   classifier_activation=None)
    x = np.random.default_rng(0).normal(size=(2, int(size), int(size), 3)).astype("float32")
    np.save(out, np.asarray(model(x)))
assert not [m for m in sys.modules if m.split(".")[0] == "torch"]
print("loaded", len(sys.argv) - 1)
"""


def test_default_checkpoints_load_with_torch_blocked(tmp_path):
    """One default of each file kind the defaults come in, through its tag, in a process where
    torch cannot be imported, against torch's own logits: torchvision's ResNet-18 (a zip .pth),
    SqueezeNet 1.1 (the legacy format, as torchvision's 2017 files are), pytorchcv's DenseNet-BC
    (.pth.zip) and timm's SE-ResNet-50 (safetensors)."""
    pytorchcv = parity_import("pytorchcv.model_provider")
    torch.manual_seed(0)
    sources = {
        ("resnet18", "tv_in1k", 64): (randomise(torchvision.models.resnet18()), "zip"),
        ("squeezenet1_1", "tv_in1k", 64): (
            randomise(torchvision.models.squeezenet1_1()), "legacy"),
        ("densenet_bc", "cifar10", 32): (
            randomise(pytorchcv.get_model("densenet100_k12_bc_cifar10", pretrained=False)),
            "pytorchcv"),
        ("seresnet50", "a1_in1k", 64): (
            randomise(parity_import("timm").create_model("seresnet50")), "safetensors"),
    }
    lines, expected = [], {}
    for (name, tag, size), (source, kind) in sources.items():
        pth = tmp_path / f"{name}.pth"
        torch.save(source.state_dict(), pth, _use_new_zipfile_serialization=kind == "zip")
        if kind == "safetensors":
            from safetensors.torch import save_file

            pth = tmp_path / f"{name}.safetensors"
            save_file({k: v.contiguous() for k, v in source.state_dict().items()}, pth)
        if kind == "pytorchcv":
            import zipfile

            with zipfile.ZipFile(tmp_path / f"{name}.pth.zip", "w") as archive:
                archive.write(pth, pth.name)
            pth = tmp_path / f"{name}.pth.zip"
        out = tmp_path / f"{name}.npy"
        lines.append(f"{name}|{tag}|{pth.as_uri()}|{size}|{out}")
        x = np.random.default_rng(0).normal(size=(2, size, size, 3)).astype("float32")
        expected[out] = torch_logits(source, x)
    import subprocess
    import sys

    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras_home")}
    run = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_TORCH, *lines], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"loaded {len(lines)}" in run.stdout
    for out, logits in expected.items():
        assert relative_error(np.load(out), logits) <= 1e-4, out


def test_torchvision_can_be_imported_after_the_package():
    """TensorFlow and Triton both bundle LLVM: Triton after TensorFlow segfaults (exit 139).
    The package loads Triton first where it is installed (keras_arches/_import_order.py)."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", "import keras_arches; import torchvision; import timm; "
         "print(keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3)).count_params())"],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert run.stdout.split()[-1] == "11699112"


def test_predict_at_the_checkpoint_s_test_size(published, tmp_path, monkeypatch, capsys):
    """`predict MODEL.TAG --test-size` builds the model at timm's test_input_size and crops with
    its test_crop_pct (resnet18.a1_in1k: 288 px, crop 1.0, so the shorter side becomes 288)."""
    import re

    from PIL import Image

    from keras_arches import cli, data

    _, path = published
    serve(monkeypatch, path.as_uri(), None, tag="a1_in1k")
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 420, 3), "uint8")).save(image)
    assert cli.main(["predict", "resnet18.a1_in1k", str(image), "--test-size", "--top", "1"]) == 0
    printed = re.search(r"1\. .*\((n\d+)\)", capsys.readouterr().out).group(1)
    model = keras_arches.get_model("resnet18.a1_in1k", input_shape=(288, 288, 3))
    assert data.eval_transform(model).resize == 288  # floor(288 / test_crop_pct 1.0)
    x = data.preprocess_input(data.load_images([image], model), model)
    assert printed == data.imagenet_classes()[int(np.argmax(model(x)))][0]
    assert cli.main(["predict", "resnet18.tv_in1k", str(image), "--test-size"]) == 2
    assert "resnet18.a1_in1k (288 px)" in capsys.readouterr().err
