"""From a pretrained checkpoint to the user's own photo folder and back out, offline.

The image folders are generated here in Keras' ``class/image`` layout (and the
``split/class/image`` one); the "published" checkpoint is a torchvision ResNet-18 with random
weights and randomised batch norms served from a ``file://`` URL (tests/test_loading.py's
``published`` fixture), so the whole path runs without a network.
"""

import json
import os
import shutil

import keras
import numpy as np
import pytest
from conftest import FOLDERS, assert_same_weights, parity_import, photo_folder
from PIL import Image
from test_loading import published  # noqa: F401  (the fixture)

import keras_arches
from keras_arches import cli, data, finetuning

torch = parity_import("torch")

pytestmark = pytest.mark.parity
def test_a_keras_layout_folder_is_split_as_keras_splits_it(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=10)
    assert data.folder_layout(root) == "class"
    train, validation = (data.load(root, split) for split in ("train", "validation"))
    assert train.class_names == validation.class_names == tuple(sorted(FOLDERS))
    # Keras' own split of the same folder, at the same share and seed.
    theirs = {
        subset: keras.utils.image_dataset_from_directory(
            root, batch_size=None, validation_split=0.2, subset=subset, seed=data.SPLIT_SEED,
        ).file_paths
        for subset in ("training", "validation")
    }
    assert (train.num_examples, validation.num_examples) == (24, 6)
    for source, subset in ((train, "training"), (validation, "validation")):
        paths = theirs[subset]
        labels = [sorted(FOLDERS).index(os.path.basename(os.path.dirname(p))) for p in paths]
        ours = [(image.shape, int(label)) for image, label in source.dataset]
        assert [label for _, label in ours] == labels
        expected = [np.asarray(Image.open(p).convert("RGB")).shape for p in paths]
        assert [tuple(shape) for shape, _ in ours] == expected
    assert data.test_split(root) == "validation"
    pipelines = data.datasets(root, image_size=(32, 32), channels=3, batch_size=4)
    assert pipelines.class_names == tuple(sorted(FOLDERS)) and pipelines.num_test == 6


def test_a_split_layout_folder_and_a_bad_folder(tmp_path):
    for split in ("train", "test"):
        photo_folder(tmp_path / "photos" / split, per_class=3)
    root = str(tmp_path / "photos")
    assert data.folder_layout(root) == "split"
    train = data.load(root, "train")
    assert train.class_names == tuple(sorted(FOLDERS)) and train.num_examples == 9
    assert data.test_split(root) == "test"
    loose = tmp_path / "loose"
    loose.mkdir()
    Image.new("RGB", (8, 8)).save(loose / "one.jpg")
    with pytest.raises(ValueError, match=r"(?s)has no classes.*photos/cat/1.jpg.*"
                                         r"photos/train/cat/1.jpg"):
        data.load(str(loose), "train")
    with pytest.raises(ValueError, match=r"`validation_split` must be a number in \(0, 1\)"):
        data.load(photo_folder(tmp_path / "keras"), "train", validation_split=1.5)


def _head_and_body(model):
    weights = {w.path: keras.ops.convert_to_numpy(w) for w in model.weights}
    head = {p: v for p, v in weights.items() if p.startswith("predictions/")}
    return head, {p: v for p, v in weights.items() if p not in head}


def test_finetune_on_a_folder_then_predict_with_its_names(published, tmp_path, capsys):  # noqa: F811
    root = photo_folder(tmp_path / "photos")
    saved = str(tmp_path / "mine.keras")
    run_dir = str(tmp_path / "run")
    code = cli.main([
        "finetune", "resnet18.tv_in1k", root, "--epochs", "3", "--freeze-epochs", "1",
        "--batch-size", "4", "--steps-per-epoch", "3", "--image-size", "32",
        "--run-dir", run_dir, "--save", saved,
    ])
    assert code == 0, capsys.readouterr().err
    model = keras_arches.load_model(saved)
    assert model.class_names == sorted(FOLDERS)
    assert model.checkpoint == "tv_in1k" and data.preprocessing_for(model) == "torch"
    assert model.output_shape == (None, 3)

    # Phase 1 trained the new head alone: every pretrained weight, batch-norm statistics
    # included, is still the checkpoint's.
    pretrained = keras_arches.ResNet18(weights="tv_in1k", input_shape=(32, 32, 3), classes=3)
    after_head = keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3), classes=3)
    after_head.load_weights(os.path.join(run_dir, "head", "head.weights.h5"))
    head, body = _head_and_body(after_head)
    _, pretrained_body = _head_and_body(pretrained)
    assert sorted(body) == sorted(pretrained_body)
    for path, value in pretrained_body.items():
        np.testing.assert_array_equal(body[path], value, err_msg=path)
    # Phase 2 moved the whole network but its batch norms, kept in inference mode.
    _, final_body = _head_and_body(model)
    norms = {p for p in body if p.split("/")[0].endswith("_bn")}
    assert norms and any(p.endswith("moving_variance") for p in norms)
    for path in norms:
        np.testing.assert_array_equal(final_body[path], body[path], err_msg=path)
    moved = [p for p in body if p not in norms and not np.array_equal(final_body[p], body[p])]
    assert len(moved) == len([p for p in body if p not in norms]), "a layer did not train"
    assert sorted(os.listdir(os.path.join(run_dir, "full", "checkpoints"))) == [
        "best.keras", "last.keras"]

    capsys.readouterr()
    photo = os.path.join(root, "cat", "0.jpg")
    assert cli.main(["predict", saved, photo, "--top", "3"]) == 0
    printed = capsys.readouterr().out
    x = data.preprocess_input(data.load_images([photo], model), model)
    probabilities = keras.ops.convert_to_numpy(model(x))[0]
    ranked = [sorted(FOLDERS)[i] for i in np.argsort(-probabilities)]
    lines = [line.split()[1] for line in printed.splitlines()[1:4]]
    assert lines == ranked, printed
    decoded = keras_arches.decode_predictions(probabilities[None], top=3, model=model)[0]
    assert [name for _, name, _ in decoded] == ranked

    # The app's file: uint8 pixels in, the folder's names beside it, run by LiteRT alone.
    app = tmp_path / "app"
    assert cli.main(["export", saved, "--output", str(app), "--format", "tflite_float32",
                     "--include-preprocessing", "--calibration-data", root]) == 0
    assert (app / "labels.txt").read_text().splitlines() == sorted(FOLDERS)
    config = json.loads((app / "preprocessing.json").read_text())
    assert config["input_size"] == [32, 32, 3] and config["preprocessing_included"] is True
    from ai_edge_litert.interpreter import Interpreter

    (tflite,) = app.glob("*.tflite")
    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    for name in FOLDERS:
        with Image.open(os.path.join(root, name, "1.jpg")) as image:
            pixels = np.asarray(image.convert("RGB").resize((32, 32)), "uint8")[None]
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], pixels)
        interpreter.invoke()
        scores = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
        expected = keras.ops.convert_to_numpy(
            model(data.preprocess(pixels.astype("float32"), "torch")))[0]
        assert np.abs(scores - expected).max() <= 1e-4 * np.ptp(expected) + 1e-6
        assert scores.argmax() == expected.argmax()


def test_finetune_needs_pretrained_weights_and_matching_classes(tmp_path):
    root = photo_folder(tmp_path / "photos", per_class=3)
    with pytest.raises(ValueError, match=r"Fine-tuning needs pretrained weights: pass "
                                         r"'MODEL.TAG' \(the tags of resnet18: .*tv_in1k"):
        finetuning.finetune("resnet18", root)
    other = keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3), classes=5)
    with pytest.raises(ValueError, match=r"has 3 classes \(bird, cat, dog.*classifier has 5"):
        finetuning.finetune(other, root)
    with pytest.raises(ValueError, match=r"`freeze_epochs` must be an integer in \[0, epochs=2"):
        finetuning.finetune(keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3),
                                                  classes=3), root, epochs=2, freeze_epochs=2)


def test_load_model_and_class_names(tmp_path):
    lenet = keras_arches.LeNet5(weights="mnist")
    assert keras_arches.class_names(lenet) == [str(d) for d in range(10)]
    path = str(tmp_path / "lenet.keras")
    lenet.save(path)
    loaded = keras_arches.load_model(path)
    assert loaded.class_names == lenet.class_names
    weights = str(tmp_path / "lenet.weights.h5")
    lenet.save_weights(weights)
    with pytest.raises(ValueError, match=r"a Keras HDF5 weights file, which holds weights but "
                                         r"no model.*get_model\(NAME, weights=path"):
        keras_arches.load_model(weights)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        keras_arches.load_model(str(tmp_path / "missing.keras"))
    unnamed = keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3), classes=3)
    with pytest.raises(ValueError, match=r"records no class names .* set `model.class_names`"):
        keras_arches.decode_predictions(np.ones((1, 3)) / 3, model=unnamed)
    config = json.loads(json.dumps(loaded.get_config()))
    assert config["class_names"] == lenet.class_names


def test_a_run_killed_after_the_first_phase_resumes_in_the_second(tmp_path):
    """The first phase's end is recorded atomically (head.weights.h5, then done.json); a rerun
    starts from it, skips the phase, and ends with the weights of the uninterrupted run."""
    root = photo_folder(tmp_path / "photos", per_class=4)

    def run(name):
        keras.utils.set_random_seed(0)
        model = keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3), classes=3)
        return finetuning.finetune(
            model, root, epochs=2, freeze_epochs=1, batch_size=4, steps_per_epoch=2,
            run_dir=str(tmp_path / "run"), save_path=str(tmp_path / f"{name}.keras"), verbose=0)

    whole = run("whole")
    assert whole.head is not None
    shutil.rmtree(tmp_path / "run" / "full")  # killed after the first phase ended
    resumed = run("resumed")
    assert resumed.head is None  # the first phase was not run again
    assert_same_weights(resumed.model, whole.model)
