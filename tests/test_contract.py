"""The builder contract, checked for every registered model.

A builder added to the registry gets all of these tests: signature, shapes
with and without the top, input tensors, channels_first, logits, the misuse
errors and the parameter count. The default top's probabilities, deterministic names and the
`.keras` / weights-file round trips under `safe_mode=True` are checked with the one build per
backend of tests/test_backends.py. Each test builds as few models as its checks need, so that the
suite stays fast with forty architectures.
"""

import inspect

import keras
import numpy as np
import pytest
from conftest import random_images

import keras_arches
from keras_arches.registry import model_info

MODELS = keras_arches.list_models()
STANDARD = [
    ("include_top", True),
    ("input_tensor", None),
    ("input_shape", None),
    ("pooling", None),
    ("classifier_activation", "softmax"),
]


def _params(names):
    """Marks the registry's slow models so `-m "not slow"` can skip them."""
    return [
        pytest.param(n, marks=pytest.mark.slow) if model_info(n).slow else n for n in names
    ]


def small_shape(info):
    size = info.test_size or info.min_size
    shape = (size, size, info.channels)
    if keras.config.image_data_format() == "channels_first":
        return (info.channels, size, size)
    return shape


def default_classes(info):
    return inspect.signature(info.builder).parameters["classes"].default


def outputs_of(model, x):
    out = model(x, training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize("name", MODELS)
def test_signature_is_keras_applications(name):
    info = model_info(name)
    params = list(inspect.signature(info.builder).parameters.values())
    assert [p.name for p in params[:8]] == [
        "include_top", "weights", "input_tensor", "input_shape", "pooling",
        "classes", "classifier_activation", "name",
    ]
    defaults = {p.name: p.default for p in params}
    for arg, value in STANDARD:
        assert defaults[arg] == value, arg
    assert defaults["name"] == info.name
    assert defaults["weights"] in (None, *info.weights)
    # Architecture options follow the standard arguments, with defaults.
    assert all(p.default is not inspect.Parameter.empty for p in params[8:])
    assert info.paper and info.min_size <= info.default_size
    assert info.params is not None, "every registry entry states its parameter count"


@pytest.mark.parametrize("name", _params(MODELS))
def test_parameter_count_matches_registry(name):
    info = model_info(name)
    model = info.builder(weights=None, classes=info.params_classes)
    assert model.input_shape[1:] == info.default_shape
    assert model.count_params() == info.params


@pytest.mark.parametrize("name", _params(MODELS))
def test_pooling_without_top_and_channels_first(name):
    """Without the top: a 4D map, or its average / maximum under ``pooling``; and the
    channels-first build with the same weights gives the channels-last features."""
    info = model_info(name)
    shape = small_shape(info)
    features = info.builder(weights=None, include_top=False, input_shape=shape)
    assert len(features.output_shape) == 4
    width = features.output_shape[-1]
    pooled = {}
    for pooling in ("max", "avg"):
        pooled[pooling] = info.builder(
            weights=None, include_top=False, input_shape=shape, pooling=pooling
        )
        assert pooled[pooling].output_shape == (None, width)
        assert pooled[pooling].layers[-1].name == f"{pooling}_pool"

    x = random_images(shape)
    expected = outputs_of(pooled["avg"], x)[0]
    weights = pooled["avg"].get_weights()
    keras.config.set_image_data_format("channels_first")
    first = info.builder(
        weights=None, include_top=False, pooling="avg", input_shape=small_shape(info)
    )
    first.set_weights(weights)
    got = outputs_of(first, np.transpose(x, (0, 3, 1, 2)))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", _params(MODELS))
def test_logits_and_input_tensor(name):
    info = model_info(name)
    shape = small_shape(info)
    tensor = keras.Input(shape=shape)
    model = info.builder(
        weights=None, input_tensor=tensor, classes=3, classifier_activation=None
    )
    assert model.inputs[0] is tensor
    logits = outputs_of(model, random_images(shape))[0]
    assert logits.shape == (2, 3)
    assert not np.allclose(logits.sum(axis=-1), 1.0)


def _misuse_cases(info):
    shape = small_shape(info)
    small = info.min_size - 1
    cases = [
        ("bad_pooling", dict(include_top=False, pooling="mean"), "pooling"),
        ("pooling_with_top", dict(pooling="avg", input_shape=shape), "pooling"),
        ("stray_classes", dict(include_top=False, classes=default_classes(info) + 1), "classes"),
        ("zero_classes", dict(classes=0, input_shape=shape), "classes"),
        (
            "bad_activation",
            dict(classifier_activation="nonsense", input_shape=shape),
            "classifier_activation",
        ),
        (
            "too_small",
            dict(include_top=False, input_shape=(small, small, info.channels)),
            f"at least {info.min_size}x{info.min_size}",
        ),
        ("rank", dict(include_top=False, input_shape=shape[:2]), "three"),
        ("dynamic_with_top", dict(input_shape=(None, None, info.channels)), "static"),
        (
            "contradiction",
            dict(
                include_top=False,
                input_tensor=keras.Input(shape),
                input_shape=(shape[0] + 1, shape[1] + 1, shape[2]),
            ),
            "contradicts",
        ),
        ("missing_file", dict(weights="no/such/file.weights.h5"), "no such file"),
        ("include_top_type", dict(include_top="yes"), "include_top"),
    ]
    if "imagenet" in info.weights:
        # (classes other than 1000 with "imagenet" is transfer learning: tests/test_hub.py.)
        cases.append(
            (
                "imagenet_shape",
                dict(
                    weights="imagenet",
                    input_shape=(info.default_size + 1, info.default_size + 1, 3),
                ),
                "input_shape",
            )
        )
    elif "imagenet" not in info.tags:
        # A layout of the builder with ImageNet weights is named (AlexNet's torchvision variant).
        elsewhere = any("imagenet" in info.for_variant(v).tags for v in info.variants)
        message = "in another layout than its default" if elsewhere else "No ImageNet checkpoint"
        cases.append(("no_imagenet", dict(weights="imagenet"), message))
    cases.append(
        ("unknown_tag", dict(weights="no_such_tag"), "no such file, and not a checkpoint")
    )
    return cases


@pytest.mark.parametrize("name", MODELS)
def test_misuse_raises_clear_value_errors(name):
    info = model_info(name)
    for case, arguments, message in _misuse_cases(info):
        arguments = {"weights": None, **arguments}
        with pytest.raises(ValueError, match=message):
            info.builder(**arguments)
            pytest.fail(f"{case} did not raise")
