"""The converter's tensor rules against their definitions, with numpy alone (no torch).

The expected outputs are computed from torch's documented formulas: ``BatchNorm2d`` in eval
mode is ``weight * (x - running_mean) / sqrt(running_var + eps) + bias``; ``Conv2d`` is a
cross-correlation with an ``(out, in, kh, kw)`` weight; ``flatten`` on NCHW is C,H,W order.
"""

import keras
import numpy as np
import pytest

from keras_arches.pretrained import LAYOUTS, Layout, load_state_dict
from keras_arches.pretrained.layout import conv_bn_pairs, rules

RNG = np.random.default_rng(0)  # restarted for each test by conftest


def _layout(prefix, bn_epsilon=1e-5, **options):
    return Layout("test", "a hand-written torch state dict", bn_epsilon, prefix,
                  optional=(), classifier=(), **options)


def _torch_batch_norm(x, state, prefix, eps):
    def get(name):
        return state[f"{prefix}.{name}"].astype("float64")

    return get("weight") * (x - get("running_mean")) / np.sqrt(get("running_var") + eps) + get(
        "bias"
    )


def _batch_norm_state(prefix, channels):
    return {
        f"{prefix}.weight": RNG.uniform(0.3, 0.7, channels) * RNG.choice([-1, 1], channels),
        f"{prefix}.bias": RNG.uniform(-0.8, 0.8, channels),
        f"{prefix}.running_mean": RNG.normal(size=channels),
        # Variances near the epsilons, where a difference of epsilon shows.
        f"{prefix}.running_var": np.array([0.0, 1e-5, 1e-4, 1e-3, 1.0])[:channels],
        f"{prefix}.num_batches_tracked": np.array(100),
    }


def test_a_different_epsilon_is_absorbed_exactly():
    inputs = keras.Input((3, 3, 5))
    model = keras.Model(
        inputs, keras.layers.BatchNormalization(epsilon=1e-3, name="norm")(inputs)
    )
    state = _batch_norm_state("bn", 5)
    conversion = load_state_dict(model, state, _layout(rules(("norm", "bn")), bn_epsilon=1e-5))
    assert conversion.epsilon_adjusted == ("norm",)
    x = RNG.normal(size=(2, 3, 3, 5)).astype("float32")
    expected = _torch_batch_norm(x.astype("float64"), state, "bn", 1e-5)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    # Keras' own epsilon would be far off for these variances: the check can fail.
    assert not np.allclose(_torch_batch_norm(x, state, "bn", 1e-3), expected, atol=1e-2)


def _torch_conv2d_same(x_nhwc, weight):
    """torch.nn.functional.conv2d(padding=k // 2), written out (cross-correlation)."""
    out_channels, _, kh, kw = weight.shape
    padded = np.pad(x_nhwc, ((0, 0), (kh // 2,) * 2, (kw // 2,) * 2, (0, 0)))
    height, width = x_nhwc.shape[1:3]
    result = np.zeros((x_nhwc.shape[0], height, width, out_channels))
    for i in range(height):
        for j in range(width):
            patch = padded[:, i:i + kh, j:j + kw, :]  # (n, kh, kw, in)
            result[:, i, j, :] = np.einsum("nhwc,ochw->no", patch, weight)
    return result


def test_a_gamma_is_folded_into_the_conv_before_a_scale_free_batch_norm():
    # keras.applications' Inception twins have no gamma; timm's models do.
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(5, 3, padding="same", use_bias=False, name="unit")(inputs)
    x = keras.layers.BatchNormalization(epsilon=1e-3, scale=False, name="unit_bn")(x)
    model = keras.Model(inputs, x)
    state = {"block.conv.weight": RNG.normal(size=(5, 3, 3, 3)), **_batch_norm_state(
        "block.bn", 5)}
    layout = _layout(
        conv_bn_pairs(lambda name, names: "block" if name == "unit" else None),
        bn_epsilon=1e-3, fold_bn_scale=lambda bn: bn[: -len("_bn")],
    )
    conversion = load_state_dict(model, state, layout)
    assert conversion.folded == ("unit_bn",)
    assert "block.bn.weight" in conversion.loaded
    images = RNG.normal(size=(2, 4, 4, 3))
    conv = _torch_conv2d_same(images, state["block.conv.weight"])
    expected = _torch_batch_norm(conv, state, "block.bn", 1e-3)
    np.testing.assert_allclose(model(images.astype("float32")).numpy(), expected, rtol=1e-4,
                               atol=1e-4)


def test_without_a_fold_rule_the_gamma_is_reported_unused():
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(5, 1, use_bias=False, name="unit")(inputs)
    model = keras.Model(
        inputs, keras.layers.BatchNormalization(scale=False, name="unit_bn")(x)
    )
    state = {"block.conv.weight": RNG.normal(size=(5, 3, 1, 1)), **_batch_norm_state(
        "block.bn", 5)}
    layout = _layout(conv_bn_pairs(lambda name, names: "block" if name == "unit" else None))
    with pytest.raises(ValueError, match=r"unused tensors of the state dict \(1\): block\.bn\."
                                         r"weight"):
        load_state_dict(model, state, layout)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flatten_rows_are_reordered_from_torch_order(data_format):
    shape = (2, 3, 4) if data_format == "channels_last" else (4, 2, 3)
    inputs = keras.Input(shape)
    x = keras.layers.Flatten(data_format=data_format, name="flatten")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(5, name="fc")(x))
    state = {"head.weight": RNG.normal(size=(5, 24)), "head.bias": RNG.normal(size=5)}
    load_state_dict(model, state, _layout(rules(("fc", "head")), flatten={"fc": "flatten"}))
    images = RNG.normal(size=(2, *shape)).astype("float32")
    nchw = images.transpose(0, 3, 1, 2) if data_format == "channels_last" else images
    expected = nchw.reshape(2, -1) @ state["head.weight"].T + state["head.bias"]
    np.testing.assert_allclose(model(images).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_a_layer_without_a_rule_is_named():
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="fc")(inputs)
    model = keras.Model(inputs, keras.layers.LayerNormalization(name="ln")(x))
    state = {"fc.weight": np.ones((4, 3)), "fc.bias": np.ones(4)}
    with pytest.raises(ValueError, match=r"no tensors for \(1\): ln \(LayerNormalization\)"):
        load_state_dict(model, state, _layout(rules(("fc", "fc"))))
    with pytest.raises(ValueError, match=r"ln \(LayerNormalization: no conversion rule\)"):
        load_state_dict(model, state, _layout(rules(("fc", "fc"), ("ln", "ln"))))


def test_bad_arguments():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(4, name="fc")(inputs))
    with pytest.raises(ValueError, match=r"Unknown layout 'torchvision\.resnet50'.*"
                                         r"'torchvision\.resnet'"):
        load_state_dict(model, {}, "torchvision.resnet50")
    with pytest.raises(ValueError, match="`drop_classifier` must be True or False"):
        load_state_dict(model, {}, "torchvision.resnet", drop_classifier="yes")
    with pytest.raises(ValueError, match="`state_dict` must be a mapping"):
        load_state_dict(model, [np.ones(3)], "torchvision.resnet")
    assert "torchvision.resnet" in LAYOUTS
