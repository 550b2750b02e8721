"""Model cards: one record per architecture, found from a name or from a built model."""

import inspect

import keras
import numpy as np
import pytest

import keras_arches
from keras_arches import data, recipes, registry

TWINS = [c for c in registry.cards() if c.twin.startswith("keras.applications.")]


def _keras_module(twin):
    """The keras.applications module that defines the twin's builder and its preprocess_input."""
    arch = twin.rsplit(".", 1)[-1]
    for module in vars(keras.applications).values():
        if inspect.ismodule(module) and hasattr(module, "preprocess_input"):
            if getattr(module, arch, None) is getattr(keras.applications, arch):
                return module
    raise AssertionError(f"no keras.applications module defines {arch}")


def test_every_card_is_complete():
    # SPEC.md's 38, He et al.'s ResNet-20, 32, 44, 56 and Simonyan & Zisserman's A, A-LRN, B, C.
    assert len(registry.cards()) == 46
    for card in registry.cards():
        assert card.preprocessing in registry.PREPROCESSING, card.name
        assert card.recipe in recipes.RECIPES, card.name
        assert recipes.recipe_for(card.name) is recipes.RECIPES[card.recipe]
        assert card.min_size <= card.default_size
        if card.published_top1 is not None:
            top1, source = card.published_top1
            assert 50 < top1 < 90 and source in ("keras.applications", "torchvision")


def test_every_variant_card_is_complete_and_every_checkpoint_has_its_layout():
    from keras_arches.pretrained import LAYOUTS

    for card in registry.cards():
        assert {c.variant for c in card.checkpoints} <= {None, *card.variants}, card.name
        for variant in (None, *card.variants):
            layout = card.for_variant(variant)
            assert layout.variant == variant and layout.builder is card.builder
            assert layout.preprocessing in registry.PREPROCESSING
            named = set(layout.tags) - {"imagenet"}  # a variant's alias of its default checkpoint
            assert named <= set(card.all_tags) and len(set(card.all_tags)) == len(
                card.all_tags
            ), card.name
            if variant is not None and layout.default_checkpoint is not None:
                assert layout.layout in LAYOUTS and layout.default_checkpoint in layout.tags
            for tag in layout.tags:
                checkpoint = layout.checkpoint_for(tag)
                assert checkpoint is None or checkpoint.layout in LAYOUTS, (card.name, tag)


@pytest.mark.parametrize("card", TWINS, ids=[c.name for c in TWINS])
def test_keras_twins_preprocess_as_keras_does(card):
    """The card's mode gives exactly what keras.applications' own preprocess_input gives."""
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype("float32")
    expected = _keras_module(card.twin).preprocess_input(x.copy())
    np.testing.assert_allclose(data.preprocess(x.copy(), card.preprocessing), expected, atol=1e-5)


def test_the_issue_s_five_models_before_and_after_a_keras_round_trip(tmp_path):
    expected = {"resnet50": "caffe", "resnet18": "torch", "inception_v3": "tf",
                "vgg16": "caffe", "densenet121": "torch"}
    for name, mode in expected.items():
        size = 75 if name == "inception_v3" else 32
        model = keras_arches.get_model(name, weights=None, include_top=False,
                                       input_shape=(size, size, 3))
        path = str(tmp_path / f"{name}.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path, safe_mode=True)
        for m in (model, reloaded):
            info = keras_arches.model_info(m)
            assert (info.name, info.preprocessing, info.checkpoint) == (name, mode, None)
            assert data.preprocessing_for(m) == mode
            assert recipes.recipe_for(m) is recipes.RECIPES[info.recipe]


def test_a_renamed_model_keeps_its_card():
    model = keras_arches.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3),
                               name="my_backbone")
    assert keras_arches.model_info(model).name == "vgg16"
    inference = keras_arches.strip_auxiliary(
        keras_arches.GoogLeNet(weights=None, input_shape=(79, 79, 3), aux_classifiers=True))
    assert keras_arches.model_info(inference).name == "googlenet"


def test_a_plain_keras_model_has_no_card_and_says_which_default_is_used():
    inputs = keras.Input((8, 8, 3))
    plain = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name="plain")
    with pytest.raises(ValueError, match="'plain' was not built by a keras_arches builder"):
        keras_arches.model_info(plain)
    with pytest.warns(UserWarning, match="using preprocessing 'unit'"):
        assert data.preprocessing_for(plain) == "unit"
    with pytest.raises(ValueError, match="needs `recipe`"):
        keras_arches.train(plain, epochs=1, steps_per_epoch=1)


def test_train_takes_a_built_model_with_its_card_s_recipe_and_preprocessing(
        tmp_path, monkeypatch):
    seen = {}
    original = data.datasets

    def recording(*args, **kwargs):
        seen["preprocessing"] = kwargs["preprocessing"]
        return original(*args, **kwargs)

    monkeypatch.setattr(data, "datasets", recording)
    model = keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3), classes=10)
    result = keras_arches.train(model, epochs=1, batch_size=8, steps_per_epoch=1, test_steps=1,
                                run_dir=str(tmp_path / "run"), verbose=0)
    assert seen["preprocessing"] == "torch"
    assert result.config["recipe"] == "resnet"


VARIANT_CARDS = [(card, variant) for card in registry.cards() for variant in card.variants]


@pytest.mark.parametrize("card, variant", VARIANT_CARDS,
                         ids=[f"{c.name}-{v}" for c, v in VARIANT_CARDS])
def test_every_variant_card_is_complete_and_its_checkpoints_choose_it(card, variant):
    layout = card.for_variant(variant)
    assert layout.variant == variant and layout.name == card.name
    assert layout.preprocessing in registry.PREPROCESSING
    assert layout.min_size <= layout.default_size
    own = [c.tag for c in card.checkpoints if c.variant == variant]
    assert set(own) <= set(layout.tags)
    if layout.default_checkpoint is not None:
        assert layout.default_checkpoint in own
    for tag in own:
        named = keras_arches.model_info(f"{card.name}.{tag}")
        assert (named.variant, named.checkpoint, named.params) == (variant, tag, layout.params)
        assert card.for_tag(tag).variant == variant
        assert tag not in card.tags  # the default layout does not offer it
    with pytest.raises(ValueError, match="`variant` must be one of"):
        card.for_variant("no such layout")


@pytest.mark.parametrize(
    "builder, layout", [("AlexNet", "torchvision"), ("GoogLeNet", "torchvision")]
)
def test_imagenet_in_the_paper_layout_names_the_layout_that_has_it(builder, layout):
    with pytest.raises(ValueError, match=f"variant='{layout}' with `weights='imagenet'`"):
        getattr(keras_arches, builder)(weights="imagenet")


@pytest.mark.parametrize(
    "builder, layout, size",
    [
        ("ResNet50", dict(variant="torchvision"), 32),
        ("InceptionV3", dict(variant="torchvision"), 75),
        ("Xception", dict(variant="timm"), 71),
        ("ResNet110", dict(shortcut="projection"), 32),
    ],
    ids=["ResNet50", "InceptionV3", "Xception", "ResNet110"],
)
def test_a_layout_survives_a_safe_mode_round_trip_with_its_card(builder, layout, size, tmp_path):
    model = getattr(keras_arches, builder)(
        weights=None, input_shape=(size, size, 3), classes=7, **layout
    )
    x = np.random.default_rng(0).uniform(0, 1, (2, size, size, 3)).astype("float32")
    expected = keras.tree.map_structure(np.asarray, model(x, training=False))
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    card = keras_arches.model_info(reloaded)
    assert card.variant == next(iter(layout.values()))
    got = keras.tree.map_structure(np.asarray, reloaded(x, training=False))
    keras.tree.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6), got, expected
    )
