"""Feature pyramids and ``output_stride`` against timm 1.0's and torchvision 0.29's backbones.

The reference model gets random, calibrated weights (``test_pretrained_parity._randomise``); its
state dict loads into ``features_only=True`` through ``weights=<path>``, so these tests also show
that checkpoints load into the pyramid model and into dilated networks. timm's
``features_only=True`` (with ``output_stride``) and torchvision's
``replace_stride_with_dilation`` give the maps each level must reproduce.
"""

import numpy as np
import pytest
from test_pretrained_parity import (
    TOLERANCE,
    _images,
    _randomise,
    _relative_error,
    _save,
    timm,
    torch,
    torchvision,
)

import keras_arches

pytestmark = pytest.mark.parity

SIZE = (64, 64)


def _features(reference, images):
    with torch.no_grad():
        return [f.numpy().transpose(0, 2, 3, 1)
                for f in reference(torch.from_numpy(images.transpose(0, 3, 1, 2)))]


@pytest.mark.parametrize("output_stride", [None, 16, 8])
def test_resnet18_pyramid_matches_timm_features_only(output_stride, tmp_path):
    """timm's resnet18 (basic blocks, which timm dilates and torchvision refuses to) with
    ``features_only=True``: its five maps are our P1-P5, or P1-P4 / P1-P3 when dilated."""
    torch.manual_seed(0)
    full = _randomise(timm.create_model("resnet18", pretrained=False), SIZE)
    reference = timm.create_model(
        "resnet18", pretrained=False, features_only=True, output_stride=output_stride or 32,
    ).eval()
    reference.load_state_dict(
        {k: v for k, v in full.state_dict().items() if not k.startswith("fc.")}
    )
    images = _images(SIZE)
    expected = _features(reference, images)
    path = _save(full, tmp_path)[0]
    ours = keras_arches.ResNet18(
        weights=str(path), input_shape=(*SIZE, 3), features_only=True,
        output_stride=output_stride,
    )
    deepest = {None: 5, 16: 4, 8: 3}[output_stride]
    assert list(ours.output) == [f"P{level}" for level in range(1, deepest + 1)]
    got = ours(images, training=False)
    # timm's maps at strides 2, 4, 8, 16, 32 (capped at output_stride): the last of each stride.
    keep = expected[: deepest - 1] + [expected[-1]]
    for key, want in zip(got, keep):
        have = np.asarray(got[key])
        assert have.shape == want.shape, key
        assert _relative_error(have, want) <= TOLERANCE, (key, _relative_error(have, want))


@pytest.mark.parametrize(
    "output_stride, dilate", [(16, [False, False, True]), (8, [False, True, True])]
)
def test_resnext50_dilation_matches_torchvision(output_stride, dilate, tmp_path):
    """torchvision's ``replace_stride_with_dilation`` on bottleneck blocks: the deepest map."""
    torch.manual_seed(0)
    reference = _randomise(
        torchvision.models.resnext50_32x4d(weights=None, replace_stride_with_dilation=dilate),
        SIZE,
    )
    images = _images(SIZE)
    body = torch.nn.Sequential(*list(reference.children())[:-2]).eval()
    with torch.no_grad():
        want = body(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    assert want.shape[1] == SIZE[0] // output_stride
    path = _save(reference, tmp_path)[0]
    ours = keras_arches.ResNeXt50_32x4d(
        weights=str(path), include_top=False, input_shape=(*SIZE, 3),
        output_stride=output_stride,
    )
    have = np.asarray(ours(images, training=False))
    assert have.shape == want.shape
    assert _relative_error(have, want) <= TOLERANCE
