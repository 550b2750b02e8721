"""`width_multiplier` on VGG, GoogLeNet and SqueezeNet: every width scaled, nothing else changed."""

import pytest

import keras_arches

CASES = [("vgg16", 32), ("googlenet", 79), ("squeezenet1_1", 64)]


def _widths(model):
    """Output width of every kernel, by weight path (fire modules' inner convs included)."""
    return {w.path: w.shape[-1] for w in model.weights if w.path.endswith("kernel")}


@pytest.mark.parametrize("name, size", CASES)
def test_every_width_is_scaled(name, size):
    base = keras_arches.get_model(name, weights=None, input_shape=(size, size, 3), classes=10)
    half = keras_arches.get_model(
        name, weights=None, input_shape=(size, size, 3), classes=10, width_multiplier=0.5
    )
    full, scaled = _widths(base), _widths(half)
    assert list(full) == list(scaled)  # same layers, same names
    classifiers = {k for k in full if full[k] == 10}
    assert classifiers and all(scaled[k] == 10 for k in classifiers)
    for key in set(full) - classifiers:
        assert scaled[key] == round(full[key] * 0.5), key
    assert half.count_params() < base.count_params() / 2
    assert half.output_shape == base.output_shape


@pytest.mark.parametrize("name, size", CASES)
def test_width_misuse(name, size):
    for bad in (0, -1.0, True, "wide", 9):
        with pytest.raises(ValueError, match="width_multiplier"):
            keras_arches.get_model(name, weights=None, width_multiplier=bad)
    if "imagenet" in keras_arches.model_info(name).weights:
        with pytest.raises(ValueError, match="width_multiplier=1.0"):
            keras_arches.get_model(name, weights="imagenet", width_multiplier=2.0)
