"""Converted checkpoints compute what their PyTorch source models compute.

For each builder and source layout: the reference model (torchvision 0.29, timm 1.0, pytorchcv
0.0.74) gets random weights, random conv/linear biases and random batch-norm statistics and
affine parameters (gamma of magnitude 0.3-0.7, a fifth negative; beta of magnitude 0.2-0.8;
running statistics set from each layer's actual input, the mean shifted by half a standard
deviation and the variance scaled by 0.5-2), so that a padding, epsilon or layout difference
cannot hide. Gammas above 1 would amplify float32 rounding through the depth (with magnitudes
1.3-2, torch's own float32 logits of Inception v4 are 1.2e-4 away from its float64 ones), and
small ones keep the variances small, which makes an epsilon difference more visible.
Its state dict is written as .safetensors and .pth, read back with ``read_state_dict`` and
loaded with ``load_state_dict``; the logits must agree to max|dlogit| / max|logit| <= 1e-4,
with the same argmax, on a random batch of two. Our model also has the source's parameter count,
batch-norm moving statistics included (Keras counts them).
"""

import copy
import re
import sys
import zipfile

import keras
import numpy as np
import pytest

# TensorFlow (loaded first, through Keras, by conftest) and Triton (loaded by torch._dynamo, which
# torchvision and timm import) each bundle LLVM, and loading Triton after TensorFlow crashes the
# process. These CPU tests need no Triton, so Python is told it is absent (a no-op where it was
# loaded already).
sys.modules.setdefault("triton", None)

from akamaster_resnet import AkamasterResNet  # noqa: E402
from conftest import parity_import  # noqa: E402

torch = parity_import("torch")
torchvision = parity_import("torchvision")
timm = parity_import("timm")
pytorchcv_provider = parity_import("pytorchcv.model_provider")
pytorchcv_resnet_cifar = parity_import("pytorchcv.models.resnet_cifar")
safetensors_torch = parity_import("safetensors.torch")

import keras_arches  # noqa: E402
from keras_arches.pretrained import (  # noqa: E402
    Layout,
    get_layout,
    load_state_dict,
    read_state_dict,
)
from keras_arches.pretrained.layout import rules  # noqa: E402

pytestmark = pytest.mark.parity

TOLERANCE = 1e-4


# -- the reference models ---------------------------------------------------------------------


def _randomise(model, size, seed=0, batch=8):
    """Random biases and batch-norm parameters, the statistics calibrated layer by layer.

    A forward pre-hook sets each batch norm's running statistics from its actual input (the
    upstream layers already randomised), then perturbs them, so the activations stay alive
    through deep networks while no layer sees its exact batch statistics.
    """
    generator = torch.Generator().manual_seed(seed)

    def uniform(n, low, high):
        return low + (high - low) * torch.rand(n, generator=generator)

    def signs(n, negative):
        return torch.where(torch.rand(n, generator=generator) < negative, -1.0, 1.0)

    def calibrate(module, inputs):
        n = module.num_features
        x = inputs[0].double()
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3))
        module.running_mean.copy_(mean + 0.5 * var.sqrt() * torch.randn(n, generator=generator))
        module.running_var.copy_(var * uniform(n, 0.5, 2.0))
        module.weight.copy_(signs(n, 0.2) * uniform(n, 0.3, 0.7))
        module.bias.copy_(signs(n, 0.5) * uniform(n, 0.2, 0.8))

    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    called = set()
    hooks = [m.register_forward_pre_hook(calibrate) for m in norms]
    hooks += [m.register_forward_pre_hook(lambda m, _: called.add(m)) for m in norms]
    model.eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and module.bias is not None:
                module.bias.copy_(uniform(module.bias.shape, -0.2, 0.2))
        model(torch.randn(batch, 3, *size, generator=generator))
        # Batch norms the eval pass never reaches (GoogLeNet's and Inception v3's aux heads run
        # in training only) get random statistics too, so that none keeps its defaults.
        for module in norms:
            if module not in called:
                n = module.num_features
                module.running_mean.copy_(0.5 * torch.randn(n, generator=generator))
                module.running_var.copy_(uniform(n, 0.5, 2.0))
                module.weight.copy_(signs(n, 0.2) * uniform(n, 0.3, 0.7))
                module.bias.copy_(signs(n, 0.5) * uniform(n, 0.2, 0.8))
    for hook in hooks:
        hook.remove()
    assert all(not torch.equal(m.running_var, torch.ones_like(m.running_var)) for m in norms)
    return model


def _images(size, seed=1, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=(2, *size, 3))).astype("float32")


def _reference(model, images):
    # Contiguous: pytorchcv's AlexNet/ZFNet flatten with .view, which a transposed layout breaks.
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))).numpy()


def _keras(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


def _relative_error(ours, reference):
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def _save(model, tmp_path, rename=str, pth_zip=False):
    """The state dict as .safetensors and as .pth (its keys renamed by ``rename``), and as
    pytorchcv's .pth.zip (a zip holding the .pth) with ``pth_zip``."""
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    files = [tmp_path / "model.safetensors", tmp_path / "model.pth"]
    safetensors_torch.save_file(state, files[0])
    torch.save({rename(k): v for k, v in state.items()}, files[1])
    if pth_zip:
        files.append(tmp_path / "model.pth.zip")
        with zipfile.ZipFile(files[2], "w") as archive:
            archive.write(files[1], "model-0000-00000000.pth")
    return files


def _torch_count(model):
    """Parameters plus batch-norm running statistics: Keras' ``count_params()`` convention."""
    norms = (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    return sum(p.numel() for p in model.parameters()) + sum(2 * m.num_features for m in norms)


def _pair(builder, reference, layout, size, tmp_path, options=None, image_scale=1.0,
          **save_options):
    """Builds both models (ours with the builder ``options``, e.g. a ``variant``), loads each
    saved file into ours, checks the counts and logits; returns the relative errors per file,
    our model, the source and the test images."""
    options = options or {}
    card = keras_arches.model_info(builder).for_variant(options.get("variant"))
    assert min(size) >= card.min_size
    torch.manual_seed(0)
    source = _randomise(reference(), size)
    images = _images(size, scale=image_scale)
    expected = _reference(source, images)
    # The test means something only if the logits depend on the input.
    assert np.abs(expected[0] - expected[1]).max() > 1e-2 * np.abs(expected).max()
    ours = getattr(keras_arches, builder)(
        weights=None, input_shape=(*size, 3), classes=expected.shape[-1],
        classifier_activation=None, **options,
    )
    if get_layout(layout).fold_bn_scale is None:  # else our batch norms lack the source's gamma
        assert ours.count_params() == _torch_count(source)
    errors = {}
    for path in _save(source, tmp_path, **save_options):
        for variable in ours.weights:  # each file proves itself, not the previous one
            variable.assign(keras.ops.zeros_like(variable))
        conversion = load_state_dict(ours, read_state_dict(path), layout)
        assert not conversion.dropped
        logits = _keras(ours, images)
        errors[path.name] = _relative_error(logits, expected)
        assert errors[path.name] <= TOLERANCE, (path.name, errors[path.name])
        np.testing.assert_array_equal(logits.argmax(-1), expected.argmax(-1))
    print(f"\n{builder} <- {layout}: max|dlogit| / max|logit| = {errors}")
    return errors, ours, source, images


def _torchvision(name, **kwargs):
    return lambda: getattr(torchvision.models, name)(weights=None, **kwargs)


def _timm(name):
    return lambda: timm.create_model(name, pretrained=False)


def _pytorchcv(name):
    return lambda: pytorchcv_provider.get_model(name, pretrained=False)


def _case(builder, reference, layout, size=(64, 64), slow=False, id=None, **options):
    return pytest.param(
        builder, reference, layout, size, options, marks=[pytest.mark.slow] if slow else [],
        id=id or builder,
    )


# (builder, reference model, layout, input size); the very large ones are marked slow.
PAIRS = [
    _case("ResNet18", _torchvision("resnet18"), "torchvision.resnet"),
    _case("ResNet34", _torchvision("resnet34"), "torchvision.resnet"),
    _case("ResNeXt50_32x4d", _torchvision("resnext50_32x4d"), "torchvision.resnet"),
    _case("ResNeXt101_32x8d", _torchvision("resnext101_32x8d"), "torchvision.resnet", slow=True),
    _case("ResNeXt101_64x4d", _torchvision("resnext101_64x4d"), "torchvision.resnet", slow=True),
    _case("WideResNet50_2", _torchvision("wide_resnet50_2"), "torchvision.resnet"),
    _case("WideResNet101_2", _torchvision("wide_resnet101_2"), "torchvision.resnet", slow=True),
    _case("ResNet18", _timm("resnet18"), "timm.resnet", id="ResNet18-timm"),
    _case("SEResNet50", _timm("seresnet50"), "timm.resnet"),
    _case("SEResNeXt50_32x4d", _timm("seresnext50_32x4d"), "timm.resnet"),
    _case("SENet154", _timm("legacy_senet154"), "timm.legacy_senet", slow=True),
    _case("DenseNet169", _torchvision("densenet169"), "torchvision.densenet"),
    _case("DenseNet201", _torchvision("densenet201"), "torchvision.densenet"),
    _case("DenseNet161", _torchvision("densenet161"), "torchvision.densenet"),
    _case("SqueezeNet1_0", _torchvision("squeezenet1_0"), "torchvision.squeezenet"),
    _case("SqueezeNet1_1", _torchvision("squeezenet1_1"), "torchvision.squeezenet"),
    # At 75 px Inception v4 ends on 1x1 maps and float32 rounding alone reaches 5e-5 (float64:
    # 8e-14); at 107 px it is 1.4e-5.
    _case("InceptionV4", _timm("inception_v4"), "timm.inception_v4", (107, 107)),
    _case("InceptionResNetV2", _timm("inception_resnet_v2"), "timm.inception_resnet_v2",
          (75, 75)),
]

# The builders' `variant=` layouts (issue 16), at their smallest inputs.
_TV = dict(variant="torchvision")
LAYOUT_PAIRS = [
    _case("ResNet50", _torchvision("resnet50"), "torchvision.resnet", (32, 32), **_TV),
    _case("ResNet50", _timm("resnet50"), "timm.resnet", (32, 32), id="ResNet50-timm", **_TV),
    _case("ResNet101", _torchvision("resnet101"), "torchvision.resnet", (32, 32), **_TV),
    _case("ResNet152", _torchvision("resnet152"), "torchvision.resnet", (32, 32), slow=True,
          **_TV),
    _case("InceptionV3", _torchvision("inception_v3", aux_logits=False, init_weights=False),
          "torchvision.inception_v3", (75, 75), **_TV),
    _case("InceptionV3", _timm("inception_v3"), "torchvision.inception_v3", (75, 75),
          id="InceptionV3-timm", **_TV),
]  # Xception's: test_xception_timm_parity_and_keras_pools_are_not_timm_s


@pytest.mark.parametrize("builder, reference, layout, size, options", PAIRS + LAYOUT_PAIRS)
def test_parity(builder, reference, layout, size, options, tmp_path):
    _, ours, _, _ = _pair(builder, reference, layout, size, tmp_path, options)
    assert keras_arches.model_info(ours).variant == options.get("variant")


@pytest.mark.parametrize(
    "builder, reference, variant, tags",
    [
        ("resnet50", _torchvision("resnet50"), "torchvision", ("tv_in1k", "a1_in1k")),
        ("resnet101", _timm("resnet101"), "torchvision", ("tv2_in1k", "gluon_in1k")),
        ("resnet152", _torchvision("resnet152"), "torchvision", ("tv_in1k", "a1h_in1k")),
        ("inception_v3", _timm("inception_v3"), "torchvision", ("tv_in1k", "gluon_in1k")),
        ("xception", _timm("legacy_xception"), "timm", ("tf_in1k",)),
        ("resnet110", _pytorchcv("resnet110_cifar10"), "projection", ("cifar10",)),
        ("resnet20", _pytorchcv("resnet20_cifar10"), "projection", ("cifar10",)),
        ("resnet56", lambda: AkamasterResNet(56), None, ("akamaster_cifar10",)),
    ],
)
def test_a_checkpoint_s_card_counts_its_source_s_parameters(builder, reference, variant, tags):
    # The card of "arch.tag" describes the checkpoint's layout, its count the source model's.
    count = _torch_count(reference())
    default = keras_arches.model_info(builder)
    for tag in tags:
        card = keras_arches.model_info(f"{builder}.{tag}")
        assert (card.variant, card.params, card.checkpoint) == (variant, count, tag)
        assert tag in card.tags and (tag in default.tags) == (variant is None)
        assert tag in default.all_tags
    assert default.variant is None


def test_xception_timm_parity_and_keras_pools_are_not_timm_s(tmp_path):
    # At 75 px block3 pools an 18x18 map. Loaded into the keras twin (its layer names are the
    # variant's), the same state dict gives other logits: Keras' "same" max pool pads an even
    # map at the bottom and right only, timm's pads every side.
    _, ours, source, images = _pair(
        "Xception", _timm("legacy_xception"), "timm.legacy_xception", (75, 75), tmp_path,
        dict(variant="timm"),
    )
    twin = keras_arches.Xception(weights=None, input_shape=(75, 75, 3), classifier_activation=None)
    load_state_dict(twin, read_state_dict(tmp_path / "model.safetensors"), "timm.legacy_xception")
    error = _relative_error(_keras(twin, images), _reference(source, images))
    print(f"Xception's keras layout <- timm.legacy_xception: {error}")
    assert error > 100 * TOLERANCE


def test_inception_v3_without_aux_head_drops_torchvision_s_auxlogits():
    # torchvision's (and timm's tv_in1k) file holds AuxLogits; a model without the head skips it.
    state = {k: v.numpy() for k, v in torchvision.models.inception_v3(
        weights=None, init_weights=False).state_dict().items()}
    ours = keras_arches.InceptionV3(weights=None, variant="torchvision", input_shape=(75, 75, 3))
    conversion = load_state_dict(ours, state, "torchvision.inception_v3")
    assert set(conversion.dropped) == {k for k in state if k.startswith("AuxLogits.")}
    assert len(conversion.dropped) == 14  # two conv + BN units (with counters), the Linear


@pytest.mark.slow
def test_inception_v3_torchvision_aux_head(tmp_path):
    # At 299 px (the aux head's input is mixed7's 17x17): every AuxLogits tensor loads, and the
    # head computes torchvision's AuxLogits on Mixed_6e's output.
    size = (299, 299)
    torch.manual_seed(0)
    source = _randomise(torchvision.models.inception_v3(weights=None, init_weights=False), size)
    with torch.no_grad():  # AuxLogits runs only in training, so _randomise skipped its norms
        for norm in source.AuxLogits.modules():
            if isinstance(norm, torch.nn.BatchNorm2d):
                norm.weight.uniform_(0.3, 0.7)
                norm.bias.uniform_(-0.5, 0.5)
                norm.running_mean.uniform_(-0.5, 0.5)
                norm.running_var.uniform_(0.5, 2.0)
    images = _images(size)
    captured = {}
    hook = source.Mixed_6e.register_forward_hook(lambda m, i, out: captured.update(x=out))
    expected = _reference(source, images)
    hook.remove()
    with torch.no_grad():
        expected_aux = source.AuxLogits(captured["x"]).numpy()
    ours = keras_arches.InceptionV3(weights=None, variant="torchvision", aux_classifiers=True,
                                    classifier_activation=None)
    assert ours.count_params() == _torch_count(source)
    for path in _save(source, tmp_path):
        conversion = load_state_dict(ours, read_state_dict(path), "torchvision.inception_v3")
        assert not conversion.dropped
        logits, aux = (keras.ops.convert_to_numpy(y) for y in ours(images, training=False))
        errors = (_relative_error(logits, expected), _relative_error(aux, expected_aux))
        print(f"\nInceptionV3 torchvision + aux <- {path.name}: {errors}")
        assert max(errors) <= TOLERANCE


def _legacy_densenet_key(key):
    """torchvision's published densenet files spell ``denselayer1.norm1`` ``denselayer1.norm.1``."""
    return re.sub(r"(denselayer\d+)\.(norm|relu|conv)([12])\.", r"\1.\2.\3.", key)


def test_densenet121_parity_with_legacy_keys(tmp_path):
    # The .pth carries torchvision's legacy key spelling; our twin's epsilon is keras' 1.001e-5.
    _, ours, _, _ = _pair(
        "DenseNet121", _torchvision("densenet121"), "torchvision.densenet", (64, 64), tmp_path,
        rename=_legacy_densenet_key,
    )
    assert "features.denseblock1.denselayer1.norm.1.weight" in read_state_dict(
        tmp_path / "model.pth"
    )
    assert {layer.epsilon for layer in ours.layers if hasattr(layer, "epsilon")} == {1.001e-5}


@pytest.mark.parametrize(
    "builder, reference, layout, options",
    [
        ("WideResNet", _pytorchcv("wrn28_10_cifar10"), "pytorchcv.wrn_cifar", {}),
        ("DenseNetBC", _pytorchcv("densenet100_k12_bc_cifar10"), "pytorchcv.densenet_cifar", {}),
        ("ResNet110", _pytorchcv("resnet110_cifar10"), "pytorchcv.resnet_cifar",
         dict(shortcut="projection")),
        ("ResNet20", _pytorchcv("resnet20_cifar10"), "pytorchcv.resnet_cifar",
         dict(shortcut="projection")),
        ("ResNet56", _pytorchcv("resnet56_cifar10"), "pytorchcv.resnet_cifar",
         dict(shortcut="projection")),
        # pytorchcv publishes no 32- or 44-layer file; its generic builder makes the layout.
        ("ResNet32", lambda: pytorchcv_resnet_cifar.get_resnet_cifar(10, 32, False),
         "pytorchcv.resnet_cifar", dict(shortcut="projection")),
    ],
    ids=["WideResNet", "DenseNetBC", "ResNet110", "ResNet20", "ResNet56", "ResNet32"],
)
def test_cifar_parity(builder, reference, layout, options, tmp_path):
    errors, *_ = _pair(builder, reference, layout, (32, 32), tmp_path, options, pth_zip=True)
    assert "model.pth.zip" in errors


def _compressible_key(key):
    """The spelling of one revision of akamaster's resnet.py (``layer1.0.compressible_conv1``)."""
    return re.sub(r"(^|\.)(conv\d|linear)\.", r"\1compressible_\2.", key)


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_akamaster_cifar_parity(depth, tmp_path):
    # Option A against the re-written reference: the count (no parameters in the shortcuts) and
    # the logits; the .pth spells the keys as the repository's "compressible" revision did.
    _, ours, source, _ = _pair(
        f"ResNet{depth}", lambda: AkamasterResNet(depth), "akamaster.resnet_cifar", (32, 32),
        tmp_path, rename=_compressible_key,
    )
    assert "layer2.0.compressible_conv1.weight" in read_state_dict(tmp_path / "model.pth")
    assert keras_arches.model_info(ours).variant is None
    assert not any(layer.name.endswith("_0_conv") for layer in ours.layers)


VGGS = [(builder, name, variant) for builder, name in (
    ("VGG11", "vgg11"), ("VGG13", "vgg13"), ("VGG16", "vgg16"), ("VGG19", "vgg19"))
    for variant in (None, "batch_norm")]


@pytest.mark.parametrize("builder, name, variant", VGGS)
def test_vgg_parity(builder, name, variant, tmp_path):
    # torchvision's eight VGGs (configurations A, B, D, E; ``_bn`` is variant="batch_norm"). At
    # 64x96 the last map is 2x3x512, so fc1's rows must go from torch's C,H,W flattening to
    # Keras' H,W,C. torchvision pools that map to 7x7 (an identity only at 224 px): here the
    # pool is removed and fc1 sized for 2x3x512.
    size = (64, 96)
    if variant:
        name += "_bn"

    def reference():
        model = getattr(torchvision.models, name)(weights=None)
        model.avgpool = torch.nn.Identity()
        model.classifier[0] = torch.nn.Linear(512 * 2 * 3, 4096)
        return model

    _, _, source, images = _pair(
        builder, reference, "torchvision.vgg", size, tmp_path, options=dict(variant=variant)
    )
    notop = getattr(keras_arches, builder)(
        weights=None, include_top=False, input_shape=(*size, 3), variant=variant
    )
    conversion = load_state_dict(
        notop, read_state_dict(tmp_path / "model.safetensors"), "torchvision.vgg"
    )
    assert set(conversion.dropped) == {
        f"classifier.{i}.{kind}" for i in (0, 3, 6) for kind in ("weight", "bias")
    }
    with torch.no_grad():
        features = source.features(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    assert _relative_error(_keras(notop, images), features.transpose(0, 2, 3, 1)) <= TOLERANCE


# -- the reference layouts (builders' `variant=`) ---------------------------------------------


def _torchvision_alexnet_at(map_size):
    """torchvision's alexnet without its adaptive 6x6 pool (an identity only at 224 px), fc6
    sized for the ``map_size`` pool5 map, so that it runs at a small input."""

    def reference():
        model = torchvision.models.alexnet(weights=None)
        model.avgpool = torch.nn.Identity()
        model.classifier[1] = torch.nn.Linear(256 * map_size[0] * map_size[1], 4096)
        return model

    return reference


def _variant(builder, variant, reference, layout, size, slow=False, **options):
    return pytest.param(
        builder, variant, reference, layout, size, options,
        marks=[pytest.mark.slow] if slow else [], id=f"{builder}-{variant}",
    )


# (builder, variant, reference model, layout, input size, _pair options). At 95x127 AlexNet's
# pool5 map is 2x3, so fc6's rows are permuted from C,H,W; its inputs are scaled by 30, else
# PyTorch's default initialisation leaves logits that hardly depend on them. ZFNet's top fixes
# 224 px; its inputs are scaled by 10 so that LRN is far from the identity (at scale 1 the
# default layout is only 1.6e-3 away from pytorchcv's, at 10 it is 0.17 away).
VARIANT_PAIRS = [
    _variant("AlexNet", "torchvision", _torchvision_alexnet_at((2, 3)), "torchvision.alexnet",
             (95, 127), image_scale=30.0),
    _variant("GoogLeNet", "torchvision", _torchvision("googlenet", aux_logits=False,
                                                      init_weights=False),
             "torchvision.googlenet", (64, 64)),
    _variant("ZFNet", "pytorchcv", _pytorchcv("zfnet"), "pytorchcv.zfnet", (224, 224),
             slow=True, image_scale=10.0),
    _variant("NiN", "pytorchcv_cifar", _pytorchcv("nin_cifar10"), "pytorchcv.nin_cifar",
             (32, 32), pth_zip=True),
]


@pytest.mark.parametrize("builder, variant, reference, layout, size, options", VARIANT_PAIRS)
def test_variant_parity(builder, variant, reference, layout, size, options, tmp_path):
    errors, ours, _, _ = _pair(builder, reference, layout, size, tmp_path,
                               options={"variant": variant}, **options)
    assert keras_arches.model_info(ours).variant == variant
    assert errors.keys() >= {"model.safetensors", "model.pth"}


def test_googlenet_torchvision_aux_heads(tmp_path):
    # At 112 px the heads see 7x7 maps, which torchvision's adaptive pool averages over
    # overlapping 2- and 3-pixel windows into 4x4. torchvision runs its heads in training mode
    # only: here they are called on the eval-mode features of inception4a and 4d.
    size = (112, 112)
    torch.manual_seed(0)
    source = _randomise(torchvision.models.googlenet(weights=None, aux_logits=True,
                                                     init_weights=False), size)
    features = {}
    hooks = [getattr(source, block).register_forward_hook(
        lambda module, inputs, output, block=block: features.__setitem__(block, output))
        for block in ("inception4a", "inception4d")]
    images = _images(size)
    main = _reference(source, images)
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        aux = [source.aux1(features["inception4a"]).numpy(),
               source.aux2(features["inception4d"]).numpy()]
    ours = keras_arches.GoogLeNet(weights=None, input_shape=(*size, 3), variant="torchvision",
                                  aux_classifiers=True, classifier_activation=None)
    files = _save(source, tmp_path)
    for path in files:
        conversion = load_state_dict(ours, read_state_dict(path), "torchvision.googlenet")
        assert not conversion.dropped
        errors = [_relative_error(keras.ops.convert_to_numpy(got), expected)
                  for got, expected in zip(ours(images, training=False), [main, *aux])]
        print(f"\nGoogLeNet torchvision [main, aux1, aux2] <- {path.name}: {errors}")
        assert max(errors) <= TOLERANCE
    # Without the heads, exactly their tensors are left out.
    plain = keras_arches.GoogLeNet(weights=None, input_shape=(*size, 3), variant="torchvision",
                                   classifier_activation=None)
    conversion = load_state_dict(plain, read_state_dict(files[0]), "torchvision.googlenet")
    assert {key.split(".")[0] for key in conversion.dropped} == {"aux1", "aux2"}
    assert _relative_error(_keras(plain, images), main) <= TOLERANCE


def _keras_convention_count(model):
    """Parameters plus batch-norm running statistics, as Keras' count_params() counts them."""
    buffers = sum(b.numel() for name, b in model.named_buffers() if "running" in name)
    return sum(p.numel() for p in model.parameters()) + buffers


@pytest.mark.parametrize(
    "builder, options, reference",
    [
        ("AlexNet", {"variant": "torchvision"}, _torchvision("alexnet")),
        ("GoogLeNet", {"variant": "torchvision"},
         _torchvision("googlenet", aux_logits=False, init_weights=False)),
        ("GoogLeNet", {"variant": "torchvision", "aux_classifiers": True},
         _torchvision("googlenet", aux_logits=True, init_weights=False)),
        ("ZFNet", {"variant": "pytorchcv"}, _pytorchcv("zfnet")),
        ("NiN", {"variant": "pytorchcv_cifar", "classes": 10}, _pytorchcv("nin_cifar10")),
    ],
    ids=["AlexNet-torchvision", "GoogLeNet-torchvision", "GoogLeNet-torchvision-aux",
         "ZFNet-pytorchcv", "NiN-pytorchcv_cifar"],
)
def test_variant_parameter_counts(builder, options, reference):
    ours = getattr(keras_arches, builder)(weights=None, **options)
    expected = _keras_convention_count(reference())
    assert ours.count_params() == expected
    if "aux_classifiers" not in options:
        assert keras_arches.model_info(ours).params == expected


# -- what the converter leaves out, and what it refuses ----------------------------------------


@pytest.fixture(scope="module")
def resnet18():
    """A randomised torchvision resnet18, its state dict and its pooled features."""
    torch.manual_seed(0)
    source = _randomise(torchvision.models.resnet18(weights=None), (64, 64))
    backbone = copy.deepcopy(source)
    backbone.fc = torch.nn.Identity()
    images = _images((64, 64))
    state = {k: v.numpy() for k, v in source.state_dict().items()}
    return state, images, _reference(backbone, images)


def _resnet18(**kwargs):
    return keras_arches.ResNet18(weights=None, input_shape=(64, 64, 3), **kwargs)


def test_without_top_the_features_are_the_sources(resnet18):
    state, images, features = resnet18
    ours = _resnet18(include_top=False, pooling="avg")
    conversion = load_state_dict(ours, state, "torchvision.resnet")
    assert conversion.dropped == ("fc.bias", "fc.weight")
    assert _relative_error(_keras(ours, images), features) <= TOLERANCE


def test_drop_classifier_keeps_a_fresh_head(resnet18):
    state, images, features = resnet18
    ours = _resnet18(classes=10, classifier_activation=None)
    head = [w.numpy() for w in ours.get_layer("predictions").weights]
    with pytest.raises(ValueError, match=r"fc\.weight is \(1000, 512\)"):
        load_state_dict(ours, state, "torchvision.resnet")
    conversion = load_state_dict(ours, state, "torchvision.resnet", drop_classifier=True)
    assert conversion.dropped == ("fc.bias", "fc.weight")
    for before, after in zip(head, ours.get_layer("predictions").weights):
        np.testing.assert_array_equal(before, after.numpy())
    body = keras.Model(ours.input, ours.get_layer("avg_pool").output)
    assert _relative_error(_keras(body, images), features) <= TOLERANCE


def _assert_refused(state, match):
    ours = _resnet18()
    before = ours.get_weights()
    with pytest.raises(ValueError, match=match):
        load_state_dict(ours, state, "torchvision.resnet")
    for old, new in zip(before, ours.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_a_missing_key_is_named_and_nothing_is_loaded(resnet18):
    state = dict(resnet18[0])
    del state["layer4.1.bn2.running_var"]
    _assert_refused(
        state, r"missing from the state dict \(1\): layer4\.1\.bn2\.running_var "
               r"\(for conv5_block2_2_bn/moving_variance\)",
    )


def test_an_unexpected_key_is_named_and_nothing_is_loaded(resnet18):
    state = dict(resnet18[0], **{"layer5.0.conv1.weight": np.zeros((8, 8, 3, 3), "float32")})
    _assert_refused(state, r"unused tensors of the state dict \(1\): layer5\.0\.conv1\.weight")


def test_a_shape_mismatch_leaves_the_model_untouched(resnet18):
    # The misfit is in the last block, so an early assignment would show.
    state = dict(resnet18[0], **{"layer4.1.conv2.weight": np.zeros((512, 512, 1, 1), "float32")})
    _assert_refused(
        state, r"layer4\.1\.conv2\.weight is \(512, 512, 1, 1\), conv5_block2_2_conv/kernel "
               r"\(3, 3, 512, 512\) needs \(512, 512, 3, 3\)",
    )


def test_depthwise_conv_layout():
    # A torch depthwise conv (groups = in channels, 2 outputs each) and Keras' DepthwiseConv2D.
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, 8, 3, groups=4).eval()
    inputs = keras.Input((6, 6, 4))
    ours = keras.Model(
        inputs, keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(inputs)
    )
    layout = Layout("test.depthwise", "torch.nn.Conv2d(groups=4)", 1e-5, rules(("dw", "dw")),
                    optional=(), classifier=())
    load_state_dict(ours, {f"dw.{k}": v.detach().numpy() for k, v in conv.state_dict().items()},
                    layout)
    images = np.random.default_rng(1).normal(size=(2, 6, 6, 4)).astype("float32")
    with torch.no_grad():
        expected = conv(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    assert _relative_error(_keras(ours, images), expected.transpose(0, 2, 3, 1)) <= 1e-6


def test_separable_conv_layout():
    # timm's SeparableConv2d (a depthwise `conv1`, 2 outputs per channel, then a biased 1x1
    # `pointwise`) and Keras' SeparableConv2D.
    torch.manual_seed(0)
    source = torch.nn.Sequential()
    source.add_module("conv1", torch.nn.Conv2d(4, 8, 3, groups=4, bias=False))
    source.add_module("pointwise", torch.nn.Conv2d(8, 5, 1))
    inputs = keras.Input((6, 6, 4))
    layer = keras.layers.SeparableConv2D(5, 3, depth_multiplier=2, name="sep")
    ours = keras.Model(inputs, layer(inputs))
    layout = Layout("test.separable", "timm 1.0 SeparableConv2d", 1e-5, rules(("sep", "sep")),
                    optional=(), classifier=())
    state = {f"sep.{k}": v.detach().numpy() for k, v in source.state_dict().items()}
    assert sorted(load_state_dict(ours, state, layout).loaded) == sorted(state)
    images = np.random.default_rng(1).normal(size=(2, 6, 6, 4)).astype("float32")
    with torch.no_grad():
        expected = source.eval()(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    assert _relative_error(_keras(ours, images), expected.transpose(0, 2, 3, 1)) <= 1e-6
